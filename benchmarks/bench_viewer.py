"""Viewer benchmarks: DCM-1, DCM-6, DCM-7, DCM-8, DCM-9, WSI-1, WSI-3, WSI-4, VID-1, VID-2, VID-3, VID-4.

    python benchmarks/bench_viewer.py [--slices 256] [--repeats 10]

Paint is measured offscreen by grabbing a viewport of the stated size. Baselines (same run):
B1 dcmread + W/L + blit of one file; B7/B8 W/L + cv2.resize + 1:1 blit of one slice; B9 clip +
convertScaleAbs; B10 numpy strided sagittal copy; B16 read the pyramid index + decode its smallest
level; B18 1:1 drawImage of the visible cached tiles; B19 decode of the needed tiles / cores;
B28 raw cap.read loop; B29 set(POS_FRAMES) + read.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, row, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10)
    a = ap.parse_args()
    print(machine())
    from PySide6 import QtCore, QtGui, QtWidgets
    app = QtWidgets.QApplication([])
    import cv2
    import pydicom

    from labeldesk.core.display import window_level
    from labeldesk.core.io import dicom, dicom_scan, pyramid, video
    from labeldesk.core.model import Plane
    from labeldesk.core.samples.ct import write_ct_series
    from labeldesk.core.samples.images import write_large_tiff
    from labeldesk.core.samples.video import write_stamped_clip, read_stamp
    from labeldesk.qt.viewer.tile_loader import TileLoader
    from labeldesk.qt.viewer.viewport_view import ViewportView

    tmp = Path(tempfile.mkdtemp())
    files = write_ct_series(tmp / "ct", n_slices=a.slices, size=512, seed=3)
    target = QtGui.QImage(1080, 1080, QtGui.QImage.Format.Format_RGB32)

    def blit(gray: np.ndarray, side: int) -> None:
        img = cv2.resize(gray, (side, side), interpolation=cv2.INTER_LINEAR)
        q = QtGui.QImage(img.data, side, side, side, QtGui.QImage.Format.Format_Grayscale8)
        p = QtGui.QPainter(target)
        p.drawImage(0, 0, q)
        p.end()

    def b1() -> None:
        ds = pydicom.dcmread(files[len(files) // 2])
        blit(window_level(np.frombuffer(ds.PixelData, np.int16).reshape(512, 512), 40, 400, intercept=-1024), 1080)

    view = ViewportView()
    view.resize(1080, 1080)

    def dcm1() -> None:
        found = dicom_scan.scan([str(tmp / "ct")]).series[0]
        view.set_source(dicom.open_locator(found.locator))
        view.grab()
    print(row("DCM-1", f"open {a.slices}-file series, first slice painted", timed(dcm1, 3), timed(b1, a.repeats),
              "<= 3x B1 and < 100 ms"))

    src = view.source
    sl = src.voxels[0, 100]

    def scroll() -> None:
        view.step_slice(1 if view.plane.z < a.slices - 2 else -(a.slices - 3))
        view.grab()
    print(row("DCM-6", "slice scroll, 1080² viewport", timed(scroll, a.repeats * 3),
              timed(lambda: blit(window_level(sl, 40, 400, intercept=-1024), 1080), a.repeats * 3), "<= 1.5x B7"))
    view.resize(2160, 2160)
    target = QtGui.QImage(2160, 2160, QtGui.QImage.Format.Format_RGB32)
    print(row("DCM-7", "slice scroll, 2160² viewport", timed(scroll, a.repeats * 2),
              timed(lambda: blit(window_level(sl, 40, 400, intercept=-1024), 2160), a.repeats * 2), "<= 2x B8"))
    view.resize(1080, 1080)

    def b9() -> None:
        cv2.convertScaleAbs(np.clip(sl, 824, 1224), alpha=255 / 400, beta=-824 * 255 / 400)
    print(row("DCM-8", "window/level math, 512² int16", timed(lambda: window_level(sl, 40, 400, intercept=-1024),
              a.repeats * 20), timed(b9, a.repeats * 20), "<= 2x B9"))
    print(row("DCM-9", f"sagittal reformat of {a.slices}x512²",
              timed(lambda: src.read_plane(Plane(256, 0, "sagittal")), a.repeats * 5),
              timed(lambda: np.ascontiguousarray(src.voxels[0, :, :, 256]), a.repeats * 5), "<= 1.5x B10"))

    big = write_large_tiff(tmp / "big.tif", 12000, 9000, tile=512)
    pdir = pyramid.build_pyramid(str(big), str(tmp / "pyr"))

    def wsi1() -> None:
        s = pyramid.open_locator({"dir": pdir})
        v = ViewportView()
        v.resize(1920, 1080)
        v.set_source(s)
        v.grab()

    def b16() -> None:
        s = pyramid.PyramidSource(pdir)
        s.read_plane(Plane(), len(s.info.levels) - 1)
    print(row("WSI-1", "open a 12000x9000 pyramid, overview painted", timed(wsi1, a.repeats), timed(b16, a.repeats),
              "<= 2x B16, < 200 ms"))

    loader = TileLoader()
    wv = ViewportView()
    wv.resize(1920, 1080)
    wv.tile_loader = loader
    wv.set_source(pyramid.open_locator({"dir": pdir}))
    wv.zoom, wv.center = 1.0, (6000, 4500)
    wv._display = None
    wv.grab()
    loader.wait()
    wv._display = None
    wv.grab()
    tiles = [wv.source.read_tile(0, c, r) for r in range(7, 11) for c in range(9, 17)]
    img1080 = QtGui.QImage(1920, 1080, QtGui.QImage.Format.Format_RGB32)
    qtiles = [QtGui.QImage(np.ascontiguousarray(t).data, t.shape[1], t.shape[0], t.strides[0],
                           QtGui.QImage.Format.Format_RGB888) for t in tiles]

    def b18() -> None:
        p = QtGui.QPainter(img1080)
        for i, q in enumerate(qtiles):
            p.drawImage((i % 8) * 256, (i // 8) * 256, q)
        p.end()

    def pan() -> None:
        wv.center = (wv.center[0] + 1, wv.center[1])
        wv._display = None
        wv.grab()
    print(row("WSI-3", "pan with warm tiles, 1080p", timed(pan, a.repeats * 3), timed(b18, a.repeats * 3), "<= 1.3x B18"))

    def cold() -> None:
        wv.source.cache.clear()
        wv.center = (random.uniform(1000, 11000), random.uniform(600, 8400))
        wv._display = None
        wv.grab()                       # placeholder frame (coarse level), tiles requested
    placeholder = timed(cold, a.repeats)
    t = time.perf_counter()
    loader.wait()
    full = (time.perf_counter() - t) * 1000

    def b19() -> None:
        wv.source.cache.clear()
        for r in range(5):
            for c in range(8):
                wv.source.read_tile(0, 20 + c, 10 + r)
    b19t = [x / 2 for x in timed(b19, 3)]
    print(row("WSI-4", "jump to an unseen region: placeholder frame", placeholder, b19t, "<= 16.7 ms placeholder"))
    print(f"        full resolution arrived {full:.1f} ms after the placeholder (B19 = {np.median(b19t):.1f} ms)")

    clip = write_stamped_clip(tmp / "clip.mp4", n_frames=300, size=(1280, 720))
    found = video.probe(str(clip))
    vs = video.open_locator(found.locator)
    import cv2 as _cv

    def vid1() -> None:
        vs.drop_cache()
        vs._seek(0)
        for t_ in range(60):
            vs.read_frame(t_)

    def b28() -> None:
        cap = _cv.VideoCapture(str(clip))
        for _ in range(60):
            cap.read()
        cap.release()
    print(row("VID-1", "sequential playback, 60 frames 720p", timed(vid1, 3), timed(b28, 3), "<= 1.2x B28"))
    wrong = sum(read_stamp(vs.read_frame(t_)) != t_ for t_ in random.Random(1).sample(range(300), 40))
    print(f"VID-2   random seeks, 40 frames: {wrong} wrong (target 0)")
    cap = _cv.VideoCapture(str(clip))

    def b29() -> None:
        cap.set(_cv.CAP_PROP_POS_FRAMES, random.randrange(300))
        cap.read()
    seeks = random.Random(2).sample(range(300), 10)
    ours = []
    for t_ in seeks:
        vs.drop_cache()
        ours += timed(lambda: vs.read_frame(t_), 1)
    print(row("VID-3", "random seek, cold", ours, timed(b29, 10), "<= 1.2x B29"))
    vs.read_frame(200)
    back = iter(range(199, 150, -1))
    print(row("VID-4", "step back one frame repeatedly", timed(lambda: vs.read_frame(next(back)), 10),
              timed(b29, 10), "<= 0.2x B29"))
    del app


if __name__ == "__main__":
    main()
