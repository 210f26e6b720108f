"""NII-1 (open a .nii.gz fully vs gzip.decompress of the same bytes) and NII-4 (memory).

    python benchmarks/bench_nii.py [--size 256] [--repeats 5]
"""
from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import interleaved, machine, row  # noqa: E402

from labeldesk.core.io import nifti  # noqa: E402
from labeldesk.core.samples.volume import write_nifti  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        p = write_nifti(Path(tmp) / "v.nii.gz", shape=(a.size, a.size, a.size))
        data = p.read_bytes()
        loc = {"reader": "nifti", "path": str(p)}
        ours = lambda: np.ascontiguousarray(nifti.open_locator(loc).voxels[0, -1])   # noqa: E731
        x, b = interleaved(lambda: nifti.open_locator(loc),
                           lambda: gzip.decompress(data), a.repeats)
        print(row("NII-1", f"open {a.size}³ int16 .nii.gz fully vs gzip.decompress", x, b, "<= 1.0x B13"))
        ours()
        tracemalloc.start()
        src = nifti.open_locator(loc)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        stored = a.size ** 3 * 2
        print(f"NII-4   memory of the opened volume: held {src.nbytes / stored:.3f}x, peak while opening "
              f"{peak / stored:.3f}x stored dtype x voxels (target <= 1.1x); dtype {src.voxels.dtype}")
        raw = Path(tmp) / "v.nii"
        write_nifti(raw, shape=(a.size, a.size, a.size))
        loc2 = {"reader": "nifti", "path": str(raw)}
        mm = lambda: np.ascontiguousarray(nifti.open_locator(loc2).read_plane())  # noqa: E731
        import nibabel as nib
        base = lambda: np.ascontiguousarray(np.asarray(nib.load(str(raw), mmap=True).dataobj.get_unscaled())[:, :, a.size // 2])  # noqa: E731
        x, b = interleaved(mm, base, a.repeats)
        print(row("NII-3", ".nii open + first axial slice vs mmap + slice copy", x, b, "<= 3x B15"))


if __name__ == "__main__":
    main()
