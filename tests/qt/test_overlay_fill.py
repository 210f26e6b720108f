"""The overlay of many shapes drawn by several threads is the picture one thread draws, pixel for
pixel (overlapping shapes of several classes, drawing order, outlines on top, any opacity), and a
whole plane's overlay as the painter renders it is the same either way."""
from __future__ import annotations

import numpy as np
import pytest

from labeldesk.qt.viewer import overlay_fill


def _stars(n: int, side: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    polys = []
    for x, y, r in zip(rng.uniform(0, side, n), rng.uniform(0, side, n), rng.uniform(3, 30, n)):
        k = np.where(np.arange(16) % 2 == 0, 1.0, 0.45) * r
        ring = np.stack([x + k * np.cos(t), y + k * np.sin(t)], 1) * 8          # shift 3
        polys.append(np.rint(ring).astype(np.int32))
    return polys, rng.integers(0, 4, n).tolist()


@pytest.mark.parametrize("opacity", [0.35, 1.0, 0.001, 0.0])
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_a_split_drawing_is_the_one_thread_drawing(opacity, threads):
    polys, codes = _stars(3000, 300, 11)
    colours = {0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255), 3: (0, 0, 0)}       # black too
    fills = {c: (b * opacity, g * opacity, r * opacity, 255 * opacity) for c, (b, g, r) in colours.items()}
    lines = {c: (b, g, r, 255) for c, (b, g, r) in colours.items()}
    one = np.zeros((300, 300, 4), np.uint8)
    overlay_fill.draw_rings(one, polys, codes, fills, lines, 3, threads=1)
    split = np.zeros_like(one)
    overlay_fill.draw_rings(split, polys, codes, fills, lines, 3, threads=threads)
    assert one[..., 3].any() and np.array_equal(one, split)


def test_the_painter_renders_a_whole_plane_the_same_split_or_not(monkeypatch):
    """AnnotationPainter.render_raster of a document of overlapping stars of three classes."""
    from types import SimpleNamespace

    from PySide6 import QtGui

    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    polys, codes = _stars(2500, 500, 5)
    rings = [p / 8.0 for p in polys]
    lens = np.array([len(r) for r in rings])
    buf = np.concatenate(rings)
    n = len(rings)
    doc = SimpleNamespace(
        ringed=np.ones(n, bool), class_code=np.array(codes, np.int32), ids=[str(i) for i in range(n)],
        bounds=np.array([[*r.min(0), *r.max(0)] for r in rings]),
        classes=SimpleNamespace(values=["a", "b", "c", "d"]),
        gather=lambda rows: (buf, lens) if len(rows) == n else (np.concatenate([rings[r] for r in rows]), lens[rows]))
    painter = AnnotationPainter()
    painter.colours = {"a": "#ff0000", "b": "#00ff00", "c": "#0000ff", "d": "#202020"}
    painter.doc, painter.rows, painter.bounds = doc, np.arange(n), doc.bounds
    painter.colour = lambda cls: QtGui.QColor(painter.colours[cls])
    monkeypatch.setattr(overlay_fill, "PARALLEL_MIN", 10**9)
    one = painter.render_raster(500, 500, 1.0)[1]
    monkeypatch.setattr(overlay_fill, "PARALLEL_MIN", 100)
    monkeypatch.setattr(overlay_fill.os, "cpu_count", lambda: 4)
    assert overlay_fill.threads_for(n, one) == 4
    split = painter.render_raster(500, 500, 1.0)[1]
    assert one[..., 3].any() and np.array_equal(one, split)
