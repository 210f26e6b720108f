"""SEG-1: one brush mouse move on a 512×512×300 volume, painting a segment (3-D label map).

    python benchmarks/bench_seg.py [--slices 300] [--repeats 200]

What the user waits for at each mouse move: the stroke's new disk stamped into the segment's label
map plus the repaint of a 1000×1000 viewport (image, segment overlay, corner texts), measured by
grabbing the viewport offscreen. Target: < 16.7 ms (one frame at 60 Hz).

Baselines in the same run: B-old, the previous brush's mouse move on a volume (the whole stroke
rasterised again as a 2-D mask preview, then the same repaint); B-paint, the repaint alone (the
floor). Also printed, once per stroke: the commit on release (diff → segment.paint op → SQLite)
and the first load of the label map from the store.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, row, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=200)
    a = ap.parse_args()
    print(machine())
    from PySide6 import QtWidgets
    app = QtWidgets.QApplication([])

    from labeldesk.core import ids
    from labeldesk.core import segments as seg
    from labeldesk.core.brush import stroke
    from labeldesk.core.io.base import SourceInfo
    from labeldesk.core.io.volume import VolumeSource
    from labeldesk.core.model import Plane
    from labeldesk.core.ops import OpDraft
    from labeldesk.core.project import Project
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    from labeldesk.qt.viewer.segment_overlay import SegmentState
    from labeldesk.qt.viewer.viewport_view import ViewportView

    n, size = a.slices, a.size
    rng = np.random.default_rng(0)
    voxels = rng.integers(900, 1200, size=(1, n, size, size), dtype=np.int16)
    project = Project.create(Path(tempfile.mkdtemp()) / "p", "bench", user_name="bench")
    asset_id = ids.new_id()
    project.apply(OpDraft("asset.add", asset_id, {"asset": {
        "kind": "volume", "name": "bench", "content_hash": "sha256:" + asset_id, "width": size, "height": size,
        "depth": n, "frames": 1, "dtype": "int16", "spacing": [0.7, 0.7, 1.0]}},
        local={"locator": {"reader": "raster", "path": "/nowhere"}}))
    info = SourceInfo(kind="volume", width=size, height=size, depth=n, dtype="int16", spacing=(0.7, 0.7, 1.0),
                      affine=((0.7, 0, 0, 0), (0, 0.7, 0, 0), (0, 0, 1.0, 0), (0, 0, 0, 1)),
                      rescale=(1.0, -1024.0), window=(40.0, 400.0), meta={"modality": "CT"})
    view = ViewportView()
    view.resize(1000, 1000)
    view.asset_id = asset_id
    view.set_source(VolumeSource("memory", voxels, info))
    view.overlay = AnnotationPainter()
    commits = []
    session = SimpleNamespace(active_class_id=None, message=print,
                              commit=lambda drafts, text: (commits.append(project.apply_all(drafts)), True)[1])
    window = SimpleNamespace(project=project, session=session, grid=SimpleNamespace(views=[view]))
    state = SegmentState(window)
    view.segment_state = state
    view.set_plane(Plane(n // 2))
    view.grab()

    # a stroke: a circle of mouse positions on the middle slice, 6 px apart, brush radius 10 px
    centre = size / 2
    path = [(centre + 120 * np.cos(t), centre + 120 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, a.repeats)]
    segment_id, first = state.target(view)
    ed = state.editor(asset_id)
    moves = iter(zip(path, path[1:]))

    def ours() -> None:
        p, q = next(moves)
        ed.stamp(segment_id, "axial", view.plane.z, [p, q], 10.0)
        view.grab()

    done: list[tuple[float, float]] = []
    old_moves = iter(path[1:])

    def old() -> None:                       # the previous brush: re-rasterise the whole stroke
        done.append(next(old_moves))
        view.overlay.preview = stroke(None, [path[0]] + done, 10.0, (size, size))
        view.grab()

    def paint_only() -> None:             # the same repaint with nothing painted (display cache kept)
        view.grab()

    # the sphere brush reaches neighbouring slices: its moves cost more
    a_ours, a_old, a_paint = [], [], []
    for _ in range(a.repeats - 1):
        a_ours += timed(ours, 1)
        a_old += timed(old, 1)
        a_paint += timed(paint_only, 1)
    view.overlay.preview = None
    print(row("SEG-1", f"brush move, {size}x{size}x{n}, vs old brush", a_ours, a_old, "< 16.7 ms"))
    print(row("SEG-1", "brush move vs repaint alone (floor)", a_ours, a_paint, "≈ 1x"))
    t0 = time.perf_counter()
    ok = state.finish(asset_id, segment_id, first, "Brush")
    commit_ms = (time.perf_counter() - t0) * 1000
    ball = iter(path[::10])
    sphere = timed(lambda: (ed.stamp(segment_id, "axial", view.plane.z, [next(ball)], 10.0, sphere=True),
                            view.grab()), min(15, len(path[::10])))
    state.finish(asset_id, segment_id, [], "Brush")
    ed.live.pop(segment_id)
    t0 = time.perf_counter()
    ed.reload(segment_id)
    load_ms = (time.perf_counter() - t0) * 1000
    s = seg.segment(project.conn, segment_id)
    pts = iter(zip(path, path[1:]))
    stamp_only = timed(lambda: ed.stamp(segment_id, "axial", view.plane.z, list(next(pts)), 10.0), len(path) - 1)
    print(f"SEG-1   label-map part of a move (stamp only, no repaint) p50 {statistics.median(stamp_only):8.3f} ms")
    print(f"SEG-1   spherical brush move (7 slices) p50 {statistics.median(sphere):8.3f} ms")
    print(f"SEG-1   release: stroke -> segment.paint op committed {commit_ms:8.1f} ms (ok={ok}); "
          f"label map load from the store {load_ms:8.1f} ms; {s.voxels} voxels, {s.volume_ml((0.7, 0.7, 1.0)):.2f} mL")
    app.quit()


if __name__ == "__main__":
    main()
