"""The zoomed-in layer of the annotation painter as functions of snapshotted inputs: placing a
layer, the strips a shift leaves, drawing runs of shapes clipped to them, and the worker thread
that draws the layer ahead of a pan (``AnnotationPainter._look_ahead``). Nothing here reads the
document: the painter hands over copies (or the document's read-only load buffer), so the worker
cannot see an edit half made.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.qt.viewer.paths import path_from_flat

_worker: ThreadPoolExecutor | None = None


def layer_worker() -> ThreadPoolExecutor:
    """The one thread that draws layers ahead of pans (shared by the viewports, one at a time).
    PySide6 holds the GIL inside QPainter calls, so it takes turns with the GUI thread rather
    than running beside it; its calls are one run of shapes each, short."""
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(1, thread_name_prefix="labeldesk-layer")
    return _worker


def layer_offset(entry: Any, key: tuple, ox: float, oy: float) -> tuple[int, int] | None:
    """Where a cached layer ``(key, origin x, origin y, image)`` has the view (whole device pixels
    from its centre), or None when it is of another state or off by a fraction of a pixel."""
    if entry is None or entry[0] != key:
        return None
    sx, sy = ox - entry[1], oy - entry[2]
    ix, iy = round(sx), round(sy)
    if abs(sx - ix) >= 1e-3 or abs(sy - iy) >= 1e-3:
        return None
    return ix, iy


def layer_device(t: QtGui.QTransform, dpr: float, margin: int, ddx: float, ddy: float) -> QtGui.QTransform:
    """image_xy → pixels of a layer whose origin is (ddx, ddy) device px from the view's."""
    return t * QtGui.QTransform.fromScale(dpr, dpr) * QtGui.QTransform.fromTranslate(margin + ddx, margin + ddy)


def layer_strips(ix: int, iy: int, w: int, h: int) -> list[QtCore.QRect]:
    """What a layer shifted by (ix, iy) does not cover (the corner is in the column strip)."""
    strips = []
    if ix > 0:
        strips.append(QtCore.QRect(0, 0, ix, h))
    elif ix < 0:
        strips.append(QtCore.QRect(w + ix, 0, -ix, h))
    sx0, sw = max(ix, 0), w - abs(ix)
    if iy > 0:
        strips.append(QtCore.QRect(sx0, 0, sw, iy))
    elif iy < 0:
        strips.append(QtCore.QRect(sx0, h + iy, sw, -iy))
    return strips


frame_idle = threading.Event()      # cleared while the GUI thread paints a frame
frame_idle.set()
COPY_BAND = 64                       # rows of the layer copied per call on the worker
YIELD_S = 0.002                      # the worker lets the GUI thread in at least this often


class Stopped(Exception):
    """The layer being drawn ahead was given up (stale, or the pan went elsewhere)."""


def _pause(state: list[float], stop: threading.Event) -> None:
    """Between two short Qt calls on the worker: stop if told to, wait while a frame is painted,
    and every YIELD_S sleep a moment, so a frame that is due takes the GIL at once (PySide6 keeps
    the GIL inside Qt calls; a waiting thread would otherwise wait the interpreter's 5 ms switch
    interval)."""
    if stop.is_set():
        raise Stopped
    frame_idle.wait()
    now = time.perf_counter()
    if now - state[0] >= YIELD_S:
        time.sleep(0.0002)
        frame_idle.wait()
        state[0] = time.perf_counter()


def ahead_layer(base: QtGui.QImage, ix: int, iy: int, jobs: list[tuple], opacity: float,
                stop: threading.Event) -> QtGui.QImage:
    """``shifted_layer`` on the worker, in short calls that give way to the GUI thread's frames;
    raises Stopped soon after ``stop`` is set."""
    state = [time.perf_counter()]
    return shifted_layer(base, ix, iy, jobs, opacity, lambda: _pause(state, stop))


def shifted_layer(base: QtGui.QImage, ix: int, iy: int, jobs: list[tuple], opacity: float,
                  pause: Any = None) -> QtGui.QImage:
    """A new layer: ``base`` moved by (ix, iy) and the strips that came in drawn (``jobs``);
    ``pause``, if given, is called between Qt calls (the copy goes in bands of COPY_BAND rows)."""
    image = QtGui.QImage(base.width(), base.height(), QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    p = QtGui.QPainter(image)
    try:                  # (a painter left active past its image, e.g. by Stopped, crashes Qt)
        p.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_Source)
        if pause is None:
            p.drawImage(QtCore.QPoint(ix, iy), base)
        else:
            for y in range(max(0, iy), min(image.height(), base.height() + iy), COPY_BAND):
                rows = min(COPY_BAND, base.height() + iy - y, image.height() - y)
                p.drawImage(QtCore.QPoint(ix, y), base, QtCore.QRect(0, y - iy, base.width(), rows))
                pause()
    finally:
        p.end()
    paint_runs(image, jobs, opacity, pause)
    return image


def paint_runs(image: QtGui.QImage, jobs: list[tuple], opacity: float, pause: Any = None) -> None:
    """Draw each job's runs clipped to its rect: fills without antialiasing, then 1 px cosmetic
    antialiased outlines (Qt's thick antialiased stroker is ~50x slower)."""
    if not jobs:
        return
    p = QtGui.QPainter(image)
    try:
        for rect, device, parts in jobs:
            p.save()
            p.setClipRect(rect)
            p.setTransform(device)
            for colour, pts, lens in parts:
                if pause is not None:
                    pause()
                path = run_path(pts, lens)
                pen = QtGui.QPen(colour, 1)
                pen.setCosmetic(True)
                fill = QtGui.QColor(colour)
                fill.setAlphaF(opacity)
                p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(fill)
                p.drawPath(path)
                p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
                p.setPen(pen)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                p.drawPath(path)
            p.restore()
    finally:
        p.end()


def run_path(pts: np.ndarray, lens: np.ndarray) -> QtGui.QPainterPath:
    """One path of rings given end to end; rings turned one way and filled by winding, so shapes
    of a run that overlap are filled once, without holes."""
    if len(lens) > 1:
        starts = np.cumsum(lens) - lens
        nxt = np.arange(len(pts)) + 1
        ends = starts + lens
        nxt[ends - 1] = starts
        cross = pts[:, 0] * pts[nxt, 1] - pts[nxt, 0] * pts[:, 1]
        flip = np.add.reduceat(cross, starts) < 0
        if flip.any():
            idx = np.arange(len(pts))
            rev = np.repeat(flip, lens)
            owner_start, owner_end = np.repeat(starts, lens), np.repeat(ends, lens)
            idx[rev] = (owner_start + owner_end - 1 - idx)[rev]
            pts = pts[idx]
    path = path_from_flat(pts, lens)
    path.setFillRule(QtCore.Qt.FillRule.WindingFill)
    return path
