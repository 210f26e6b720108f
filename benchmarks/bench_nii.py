"""NII-1 (open a .nii.gz fully vs B13 = gzip.decompress of the same bytes), NII-4 (memory of an
opened volume vs stored dtype x voxels) and NII-3 (.nii open + first slice vs mmap + slice copy).

    python benchmarks/bench_nii.py [--size 256] [--repeats 5]

``--size 512`` is the 512³ int16 CT-sized volume (268 MB raw; the phantom
compresses better than CT noise, so inflate is faster here than there).
"""
from __future__ import annotations

import argparse
import gc
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


def rss_peak_delta(fn) -> tuple[int, object]:
    """(peak RSS growth in bytes while ``fn`` runs, its result); Linux only (VmHWM reset)."""
    def status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        return 0
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")          # reset the peak to the current RSS
    except OSError:
        return -1, fn()
    before = status("VmRSS:")
    result = fn()
    return status("VmHWM:") - before, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    n = a.size
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        p = write_nifti(Path(tmp) / "v.nii.gz", shape=(n, n, n))
        data = p.read_bytes()
        stored = n ** 3 * 2
        print(f"{n}³ int16 phantom: {stored / 1e6:.0f} MB raw, {len(data) / 1e6:.0f} MB .nii.gz")
        loc = {"reader": "nifti", "path": str(p)}
        ours, base = interleaved(lambda: nifti.open_locator(loc), lambda: gzip.decompress(data), a.repeats)
        print(row("NII-1", f"open {n}³ int16 .nii.gz fully vs gzip.decompress", ours, base, "<= 1.0x B13"))

        gc.collect()
        tracemalloc.start()
        src = nifti.open_locator(loc)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        held, dtype = src.nbytes, src.voxels.dtype
        del src
        rss, src = rss_peak_delta(lambda: nifti.open_locator(loc))
        print(f"NII-4   .nii.gz: held {held / stored:.3f}x, peak while opening {peak / stored:.3f}x (tracemalloc), "
              f"{rss / stored:.3f}x (RSS) of stored dtype x voxels; dtype {dtype} (target <= 1.1x)")
        del src

        raw = Path(tmp) / "v.nii"
        raw.write_bytes(gzip.decompress(data))
        loc2 = {"reader": "nifti", "path": str(raw)}
        gc.collect()
        tracemalloc.start()
        mm = nifti.open_locator(loc2)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"NII-4   .nii:    heap peak while opening {peak / stored:.4f}x (memory-mapped: pages are the "
              f"file's, shared with the page cache); is a map: {not mm.voxels.flags.owndata}")
        del mm

        import nibabel as nib

        def ours_slice() -> None:
            np.ascontiguousarray(nifti.open_locator(loc2).read_plane())

        def base_slice() -> None:
            np.ascontiguousarray(np.asarray(nib.load(str(raw), mmap=True).dataobj.get_unscaled())[:, :, 0])
        x, b = interleaved(ours_slice, base_slice, a.repeats)
        print(row("NII-3", ".nii open + first axial slice vs mmap + slice", x, b, "<= 3x B15"))


if __name__ == "__main__":
    main()
