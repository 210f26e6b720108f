"""DCM-2 (full series load), DCM-3 (header index of a folder), DCM-4 (compressed series load).

    python benchmarks/bench_dcm.py [--slices 256] [--size 512] [--repeats 5]

Baselines are measured in the same run: B2 = serial dcmread + np.frombuffer loop, B3 = raw read of
the files (warm and cold via POSIX_FADV_DONTNEED), B4 = serial dcmread(stop_before_pixels),
B5 = best single plugin's per-frame decode time x frames / cores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import interleaved, machine, row, timed  # noqa: E402

from labeldesk.core.io import dicom, dicom_scan  # noqa: E402
from labeldesk.core.samples.ct import write_ct_series  # noqa: E402


def drop_cache(files: list[str]) -> None:
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def baseline_pydicom(files: list[str]) -> np.ndarray:
    import pydicom
    slices = [np.frombuffer(pydicom.dcmread(f).PixelData, np.int16) for f in files]
    return np.stack(slices)


def raw_read(files: list[str]) -> int:
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            n += len(fh.read())
    return n


def dcm2(folder: Path, repeats: int) -> None:
    found = dicom_scan.scan([str(folder)]).series[0]
    files = found.locator["files"]
    ours = lambda: dicom.load_series(found.locator)   # noqa: E731
    a, b = interleaved(ours, lambda: baseline_pydicom(files), repeats)
    print(row("DCM-2", f"load {len(files)}x{found.info.width}² vs dcmread+frombuffer", a, b, "<= 0.6x B2"))
    a, b = interleaved(ours, lambda: raw_read(files), repeats)
    print(row("DCM-2", "  same vs raw read of the files (warm)", a, b, "<= 6x B3 warm"))
    cold_a, cold_b = [], []
    for _ in range(max(2, repeats // 2)):
        drop_cache(files)
        cold_a += timed(ours, 1)
        drop_cache(files)
        cold_b += timed(lambda: raw_read(files), 1)
    print(row("DCM-2", "  same vs raw read of the files (cold)", cold_a, cold_b, "<= 1.5x B3 cold"))
    vol = dicom.load_series(found.locator)
    expect = len(files) * found.info.width * found.info.height * 2
    print(f"DCM-10  memory of the loaded series: {vol.nbytes / expect:.3f}x rows*cols*slices*2 (target <= 1.15x)")


def dcm3(root: Path, repeats: int) -> None:
    import pydicom
    files = [str(p) for p in root.rglob("*.dcm")]
    ours = lambda: dicom_scan.scan([str(root)])   # noqa: E731
    base = lambda: [pydicom.dcmread(f, stop_before_pixels=True) for f in files]   # noqa: E731
    a, b = interleaved(ours, base, repeats)
    print(row("DCM-3", f"header index of {len(files)} files, mixed series", a, b, "<= 0.6x B4"))


def dcm4(tmp: Path, slices: int, size: int, repeats: int) -> None:
    from pydicom.pixels import pixel_array
    cores = os.cpu_count() or 1
    for syntax, plugins in (("rle", ("pylibjpeg", "pydicom")), ("jpegls", ("pyjpegls",)), ("j2k", ("pylibjpeg", "pillow"))):
        folder = tmp / f"dcm4-{syntax}"
        write_ct_series(folder, n_slices=slices, size=size, transfer_syntax=syntax, seed=2)
        found = dicom_scan.scan([str(folder)]).series[0]
        files = found.locator["files"]
        per_frame = {}
        for plugin in plugins:
            sample = files[: min(8, len(files))]
            t = timed(lambda: [pixel_array(f, decoding_plugin=plugin) for f in sample], 3)
            per_frame[plugin] = statistics.median(t) / len(sample)
        best = min(per_frame.values())
        ours = timed(lambda: dicom.load_series(found.locator), max(2, repeats // 2))
        b5 = [best * len(files) / cores]
        print(row("DCM-4", f"{syntax} {len(files)}x{size}², best plugin {min(per_frame, key=per_frame.get)}",
                  ours, b5, "<= 1.2x B5"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=256)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compressed-slices", type=int, default=64)
    a = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        t0 = time.perf_counter()
        write_ct_series(t / "ct", n_slices=a.slices, size=a.size, seed=1)
        print(f"(generated {a.slices} slices in {time.perf_counter() - t0:.1f} s)")
        dcm2(t / "ct", a.repeats)
        mixed = t / "mixed"
        for i in range(8):
            write_ct_series(mixed / f"s{i}", n_slices=max(8, a.slices // 4), size=64, seed=i)
        dcm3(mixed, a.repeats)
        dcm4(t, a.compressed_slices, a.size, a.repeats)


if __name__ == "__main__":
    main()
