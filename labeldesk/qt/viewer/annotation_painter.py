"""Draws the current plane's annotations over the viewport and answers hit tests.

It reads the open document (``labeldesk.core.document``): ``show(doc, rows)`` gives it the rows of
its plane in drawing order; after an applied change ``show(doc, rows, change)`` redraws only what
the change touched. Geometry is converted image_xy → view_xy through the viewport's own transform,
so what is drawn is exactly where the core annotation lies; bounds live in one numpy array, so
culling and hit tests are vectorised. Zoomed out over more than ``VECTOR_LIMIT`` shapes, a raster
overlay of the plane at the view's zoom (OpenCV fills from the document's vertex buffer) is
blitted like the image itself; zoomed in, the visible shapes are drawn with QPainter into a
view-sized layer, in drawing order (runs of consecutive shapes of one class as one path), that is
kept while the zoom stays: a repaint that does not move the view blits it, a pan by whole pixels
shifts it and draws only the strips that came into view, or, on a steady pan, swaps in the layer a
worker drew ahead of it (``vector_layer.py``).
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core import geometry as g
from labeldesk.core.groups import GROUP_KEY, group_of
from labeldesk.qt.viewer.vector_layer import (ahead_layer, frame_idle, layer_device, layer_offset, layer_strips,
                                              layer_worker, paint_runs, run_path, shifted_layer, Stopped)

DEFAULT_COLOUR = "#ffd000"
VECTOR_LIMIT = 1500
RASTER_MAX_SIDE = 4096
RASTER_VIEW_FACTOR = 2       # the raster overlay is used while it is at most this many views wide
LAYER_MARGIN = 160           # view px the zoomed-in layer reaches beyond each side of the view (pans blit)
GROUP_MARGIN = 6             # view px between an instance group's members and its dashed outline
PREPARE_RUNWAY = 2.0         # a pan with at most this many margins left in the layer has the next drawn ahead
                             # (2: as soon as it goes somewhere; the worker gets the most time)
AHEAD = 1.75                 # margins of pan the layer drawn ahead has left when it is swapped in
RERENDER_MS = 150            # after a zoom, the overlay is rendered again once the zoom rested this long

_log = logging.getLogger(__name__)


class _Shown(Sequence):
    """The painter's annotations as a sequence of Annotation objects, built only when asked for
    (tools look at a few; nothing builds 100,000 of them)."""

    def __init__(self, doc: Any, rows: np.ndarray) -> None:
        self.doc, self.rows = doc, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.doc.annotation(int(r)) for r in self.rows[i]]
        return self.doc.annotation(int(self.rows[i]))


class AnnotationPainter:
    """Reads an open :class:`~labeldesk.core.document.Document`: ``show(doc, rows)`` gives it the
    rows of its plane in drawing order; ``show(doc, rows, change)`` after an applied change
    redraws only the part of the raster overlay the change touched (and the zoomed-in layer)."""

    def __init__(self) -> None:
        self.doc: Any = None
        self.rows = np.zeros(0, np.int64)
        self.colours: dict[str | None, str] = {}
        self._selected: set[str] = set()
        self._hidden: set[str] = set()
        self.opacity = 0.25
        self.preview: Any = None          # a geometry or a list of image_xy points being drawn
        self.bounds = np.zeros((0, 4))
        self._raster: Any = None          # (key, QImage, numpy buffer, scale)
        self._zoom_seen: Any = None        # (scale, when first seen) while the zoom changes
        self._runs: Any = None            # (generation, rows, bounds, run of each) drawn in bulk
        self._dirty_rect: list[float] | None = None
        self._gen = 0                     # bumped whenever what the buckets draw may have changed
        self._layer: Any = None           # (key, dx, dy, QImage): the zoomed-in layer of the view
        self.layer_stats = {"full": 0, "shift": 0, "blit": 0, "ahead": 0, "prepared": 0}   # (tests read it)
        self.prepare_ahead = True         # draw the layer ahead of a pan on the worker
        self._ahead: Any = None           # (key, origin x, origin y, Future of the QImage, stop Event)
        self._pan_from: Any = None        # (key, ox, oy) of the last frame of the layer
        self._pan_v = (0.0, 0.0)          # the pan's last move (device px on x and y)
        self.cache_hits = 0               # overlays read from the cache of an unchanged project
        self.prepared_hits = 0            # overlays drawn by the worker that read the document
        self.patched_hits = 0             # cached overlays of an older snapshot patched where rows changed
        self.source: Any = None           # (plane, layers) whose rows are shown, when the caller says

    # ---- what is shown ------------------------------------------------------------------------
    @property
    def annotations(self) -> Sequence:
        return _Shown(self.doc, self.rows) if self.doc is not None else []

    def show(self, doc: Any, rows: np.ndarray, change: Any = None, source: Any = None) -> None:
        """``source``: the (plane, layers) ``rows`` are ``doc.rows_on`` of (the overlay cache keys
        the overlay with it; without it, the plane of the rows with every layer is assumed and
        checked)."""
        self.source = source
        if doc is not None and doc is self.doc and change is None and np.array_equal(rows, self.rows):
            return                              # a refresh that changed nothing keeps every cache
        self._gen += 1
        same = doc is self.doc and change is not None and not change.reloaded and self._built()
        old_rows, old_bounds = self.rows, self.bounds
        self.doc, self.rows = doc, np.asarray(rows, np.int64)
        self.bounds = doc.bounds[self.rows] if doc is not None else np.zeros((0, 4))
        self._shown = np.zeros(len(doc.alive) if doc is not None else 0, bool)
        self._shown[self.rows] = True
        live = set(self._selected)
        self._selected = {a for a in live if doc is not None and a in doc.row_of and doc.alive[doc.row_of[a]]}
        if not same:
            self._invalidate()
            return
        # rows only enter or leave a plane by a change of their own (or a new layer filter,
        # which comes without a change and redraws everything)
        touched = np.unique(np.array(change.added + change.changed + change.removed, np.int64))
        was = np.isin(old_rows, touched)
        for b in old_bounds[was]:                  # where they were (cleared from the overlay)
            self._grow_dirty_rect(b)
        self._mark_dirty(set(touched.tolist()))

    def _built(self) -> bool:
        return self._layer is not None or self._raster is not None

    def set_annotations(self, annotations: list[Any]) -> None:
        """Show nothing (kept for callers that clear the overlay with an empty list)."""
        if annotations:
            raise TypeError("AnnotationPainter reads a Document: use show(doc, rows)")
        self.show(None, np.zeros(0, np.int64))

    @property
    def selected(self) -> set[str]:
        return self._selected

    @selected.setter
    def selected(self, ids: set[str]) -> None:
        ids = set(ids)
        flipped = ids ^ self._selected
        self._selected = ids
        if flipped:
            self._gen += 1
        if self.doc is not None and self._built():
            self._mark_dirty({self.doc.row_of[a] for a in flipped if a in self.doc.row_of})

    @property
    def hidden(self) -> set[str]:
        return self._hidden

    @hidden.setter
    def hidden(self, ids: set[str]) -> None:
        self._hidden = set(ids)
        self._invalidate()

    def _invalidate(self) -> None:
        self._gen += 1
        self._layer = None
        self._raster = None
        self._dirty_rect = None

    def _mark_dirty(self, rows: set[int]) -> None:
        """Rows whose drawing changed: the zoomed-in layer is drawn again, and their area of the
        raster overlay."""
        if not rows or not self._built():
            return
        self._gen += 1
        for r in rows:
            self._grow_dirty_rect(self.doc.bounds[r])

    def _grow_dirty_rect(self, b: Any) -> None:
        if self._dirty_rect is None:
            self._dirty_rect = [float(b[0]), float(b[1]), float(b[2]), float(b[3])]
        else:
            d = self._dirty_rect
            d[0], d[1], d[2], d[3] = min(d[0], b[0]), min(d[1], b[1]), max(d[2], b[2]), max(d[3], b[3])

    def visible_indices(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        b = self.bounds
        return np.flatnonzero((b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1))

    def colour(self, class_id: str | None) -> QtGui.QColor:
        return QtGui.QColor(self.colours.get(class_id) or DEFAULT_COLOUR)

    # ---- drawing ------------------------------------------------------------------------------
    def paint(self, painter: QtGui.QPainter, view: Any) -> None:
        frame_idle.clear()                  # the worker drawing a layer ahead waits meanwhile
        try:
            self._paint(painter, view)
        finally:
            frame_idle.set()

    def _paint(self, painter: QtGui.QPainter, view: Any) -> None:
        if self.doc is None:
            if self.preview is not None:
                self._draw_preview(painter, view)
            return
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        tl = view.view_to_image(QtCore.QPointF(0, 0))
        br = view.view_to_image(QtCore.QPointF(view.width(), view.height()))
        vx0, vx1 = sorted((tl[0], br[0]))
        vy0, vy1 = sorted((tl[1], br[1]))
        visible = self.visible_indices(vx0, vy0, vx1, vy1)
        if len(visible) > VECTOR_LIMIT and self._raster_fits(view):
            self._paint_raster(painter, view)
            doc = self.doc
            for aid in self._selected:                    # the selection stays crisp on top
                r = doc.row_of.get(aid)
                if r is not None and doc.alive[r]:
                    self._draw(painter, view, doc.geometry(r), self.colour(doc.class_of(r)), True)
        else:
            self._paint_vectors(painter, view, visible, (vx0, vy0, vx1, vy1))
        if self._selected:
            self._draw_group_outlines(painter, view)
        if self.preview is not None:
            self._draw_preview(painter, view)

    # ---- instance groups: the selected annotations' groups, outlined as one object ----------
    def group_bounds(self) -> list[tuple[str, int, tuple[float, float, float, float]]]:
        """(group id, first member row, image bounds of its members on this plane) of every group
        a selected annotation belongs to. The members are found by a text search of the rows'
        attributes (a few ms at 100k), once per document state and set of groups."""
        doc = self.doc
        groups: set[str] = set()
        for aid in self._selected:
            r = doc.row_of.get(aid)
            text = doc.attributes_json[r] if r is not None else None
            if text and GROUP_KEY in text and (gid := group_of(doc.attributes(r))):
                groups.add(gid)
        if not groups:
            return []
        key = (self._gen, frozenset(groups))
        cached = getattr(self, "_group_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        needles = {gid: json.dumps(gid) for gid in groups}
        members: dict[str, list[int]] = {gid: [] for gid in groups}
        texts, alive = doc.attributes_json, doc.alive
        for r in self.rows.tolist():
            text = texts[r]
            if not text or GROUP_KEY not in text or not alive[r] or doc.ids[r] in self._hidden:
                continue
            for gid, needle in needles.items():
                if needle in text and group_of(doc.attributes(r)) == gid:
                    members[gid].append(r)
        out = []
        for gid in sorted(groups):
            rows = members[gid]
            if len(rows) > 1:
                b = doc.bounds[rows]
                out.append((gid, rows[0], (float(b[:, 0].min()), float(b[:, 1].min()),
                                           float(b[:, 2].max()), float(b[:, 3].max()))))
        self._group_cache = (key, out)
        return out

    def _draw_group_outlines(self, painter: QtGui.QPainter, view: Any) -> None:
        if self.doc is None:
            return
        for _, row, (x0, y0, x1, y1) in self.group_bounds():
            a, b = view.image_to_view(x0, y0), view.image_to_view(x1, y1)
            rect = QtCore.QRectF(a, b).normalized().adjusted(-GROUP_MARGIN, -GROUP_MARGIN, GROUP_MARGIN, GROUP_MARGIN)
            pen = QtGui.QPen(self.colour(self.doc.class_of(row)), 1.5, QtCore.Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)

    def _paint_vectors(self, painter: QtGui.QPainter, view: Any, visible: np.ndarray,
                       area: tuple[float, float, float, float]) -> None:
        """Area shapes drawn through the view transform into a layer a little larger than the view
        (LAYER_MARGIN on each side), kept while the zoom stays: a repaint that does not move the
        view, or pans it by whole pixels within the margin, only blits it; a longer pan shifts it
        and draws only the strips that came into it. The selection, lines, points, masks and
        polygons with holes are drawn one by one on top."""
        layer, sx, sy = self._vector_layer(view)
        painter.save()
        painter.resetTransform()
        w, h = view.width(), view.height()
        dpr = float(view.devicePixelRatioF()) if hasattr(view, "devicePixelRatioF") else 1.0
        painter.drawImage(QtCore.QRectF(0, 0, w, h), layer,
                          QtCore.QRectF(sx, sy, round(w * dpr), round(h * dpr)))
        painter.restore()
        doc = self.doc
        for r in self.rows[visible].tolist():
            aid = doc.ids[r]
            if aid not in self._hidden and (aid in self._selected or not doc.ringed[r]):
                self._draw(painter, view, doc.geometry(r), self.colour(doc.class_of(r)), aid in self._selected)

    def _vector_layer(self, view: Any) -> tuple[QtGui.QImage, int, int]:
        """The layer (device pixels, cached per zoom) and where the view's top-left is in it.

        Within the margin the layer is blitted. A pan that leaves it takes the layer prepared
        ahead on the worker (``_look_ahead``) when that one is ready and covers the view, else
        shifts the layer here and draws the strips that came in (the same pixels either way)."""
        t = view.image_transform()
        dpr = float(view.devicePixelRatioF()) if hasattr(view, "devicePixelRatioF") else 1.0
        m = round(LAYER_MARGIN * dpr)
        w, h = max(1, round(view.width() * dpr)) + 2 * m, max(1, round(view.height() * dpr)) + 2 * m
        key = (t.m11(), t.m12(), t.m21(), t.m22(), w, h, dpr, self.opacity, self._gen,
               tuple(sorted(self.colours.items(), key=str)))
        ox, oy = t.dx() * dpr, t.dy() * dpr
        cached = self._layer
        at = layer_offset(cached, key, ox, oy)
        if at is not None and abs(at[0]) <= m and abs(at[1]) <= m:      # still inside the layer
            self.layer_stats["blit"] += 1
            self._look_ahead(key, t, dpr, m, w, h, ox, oy)
            return cached[3], m - at[0], m - at[1]
        ahead = self._ready_ahead(key, ox, oy, m)
        if ahead is not None:                                           # swapped in, no drawing
            self._layer, self._ahead = ahead, None
            ix, iy = layer_offset(ahead, key, ox, oy)
            self.layer_stats["ahead"] += 1
            self._look_ahead(key, t, dpr, m, w, h, ox, oy)
            return ahead[3], m - ix, m - iy
        if at is not None and abs(at[0]) < w and abs(at[1]) < h:
            ix, iy = at
            lx, ly = cached[1] + ix, cached[2] + iy       # the view's origin, to whole pixels
            device = layer_device(t, dpr, m, lx - ox, ly - oy)
            image = shifted_layer(cached[3], ix, iy, self._jobs(device, layer_strips(ix, iy, w, h)), self.opacity)
            self._layer = (key, lx, ly, image)
            self.layer_stats["shift"] += 1
            self._look_ahead(key, t, dpr, m, w, h, ox, oy)
            return image, m, m
        image = QtGui.QImage(w, h, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        self._draw_layer(image, t, dpr, m, [QtCore.QRect(0, 0, w, h)])
        self._layer = (key, ox, oy, image)
        self.layer_stats["full"] += 1
        self._look_ahead(key, t, dpr, m, w, h, ox, oy)
        return image, m, m

    # ---- the layer ahead of a pan, drawn on the worker ------------------------------------------
    def _look_ahead(self, key: tuple, t: QtGui.QTransform, dpr: float, m: int, w: int, h: int,
                    ox: float, oy: float) -> None:
        """Once a pan has used a good part of the layer (at most ``PREPARE_RUNWAY`` margins left
        in its direction), start drawing on the worker the layer that has the view, where it
        will leave this one at this pace, ``AHEAD`` margins from its far edge, from a snapshot of what it draws: the current layer (never
        painted again) and the culled rings, colours and transform of the strips that come in.
        Nothing the worker reads is shared with the document, and the result is keyed by the
        painter's generation, so an edit meanwhile makes it stale (dropped, never shown)."""
        last, self._pan_from = self._pan_from, (key, ox, oy)
        if last is not None and last[0][:7] == key[:7]:           # the same zoom and size
            moved = (ox - last[1], oy - last[2])
            if max(abs(moved[0]), abs(moved[1])) >= 0.5:            # (a repaint in place keeps it)
                self._pan_v = moved
        elif last is not None:
            self._pan_v = (0.0, 0.0)
        v = self._pan_v
        dirs = [(d >= 0.5) - (d <= -0.5) for d in v]
        if not self.prepare_ahead or dirs == [0, 0]:
            return
        layer = self._layer
        at = (round(ox - layer[1]), round(oy - layer[2]))
        runway = [m - d * i for d, i in zip(dirs, at)]
        if min(r for r, d in zip(runway, dirs) if d) > PREPARE_RUNWAY * m:
            return
        # where the view will be when it leaves the layer (on the axis it leaves by first), at
        # this pace; the layer ahead has it AHEAD margins from its trailing edge
        frames = min(max(r, 0) / abs(u) for r, u, d in zip(runway, v, dirs) if d)
        leave = [i + u * frames if d else i for i, u, d in zip(at, v, dirs)]
        ahead = self._ahead
        if ahead is not None and ahead[0] == key:
            if all(abs(ahead[k + 1] - layer[k + 1] - leave[k]) <= m for k in (0, 1)):
                return                                   # the one prepared (or on its way) will do
        if ahead is not None:                            # stale, or the pan went elsewhere
            ahead[4].set()
        tx, ty = (round(p + d * (AHEAD - 1) * m) for p, d in zip(leave, dirs))
        target = (key, layer[1] + tx, layer[2] + ty)
        if abs(tx) >= w or abs(ty) >= h:
            return
        device = layer_device(t, dpr, m, target[1] - ox, target[2] - oy)
        jobs = self._jobs(device, layer_strips(tx, ty, w, h))          # snapshot, on this thread
        stop = threading.Event()
        future = layer_worker().submit(ahead_layer, layer[3], tx, ty, jobs, self.opacity, stop)
        self._ahead = (*target, future, stop)
        self.layer_stats["prepared"] += 1

    def _ready_ahead(self, key: tuple, ox: float, oy: float, m: int) -> Any:
        """The layer prepared ahead as a cached layer, when it is drawn, of the current state
        (generation, zoom, colours) and covers the view; else None (a stale one is dropped)."""
        ahead = self._ahead
        if ahead is None:
            return None
        if ahead[0] != key:
            ahead[4].set()
            self._ahead = None
            return None
        if not ahead[3].done():
            return None
        error = ahead[3].exception()
        if error is not None:
            self._ahead = None
            if not isinstance(error, Stopped):
                _log.warning("the layer ahead of the pan could not be drawn: %s", error)
            return None
        entry = (key, ahead[1], ahead[2], ahead[3].result())
        at = layer_offset(entry, key, ox, oy)
        if at is None or abs(at[0]) > m or abs(at[1]) > m:
            return None
        return entry

    def wait_ahead(self, timeout: float | None = None) -> bool:
        """Wait until the layer being prepared ahead (if any) is drawn; True if there is one."""
        ahead = self._ahead
        if ahead is None:
            return False
        ahead[3].exception(timeout)
        return True

    def _jobs(self, device: QtGui.QTransform, rects: list[QtCore.QRect]) -> list[tuple]:
        """What drawing ``rects`` of a layer mapped by ``device`` takes, read from the document
        now: per rect, the runs of the shapes that reach it in drawing order as (colour, rings
        end to end, ring lengths) (copies and read-only buffers: safe to draw on another thread)."""
        inverse, _ok = device.inverted()
        pad = 3 / max(abs(device.m11()) + abs(device.m21()), 1e-9)     # antialiased outline, in image px
        rows, b, run = self._drawn()
        jobs = []
        for rect in rects:
            if rect.isEmpty() or not len(rows):
                continue
            r = inverse.mapRect(QtCore.QRectF(rect))
            vx0, vy0, vx1, vy1 = r.left() - pad, r.top() - pad, r.right() + pad, r.bottom() + pad
            idx = np.flatnonzero((b[:, 2] >= vx0) & (b[:, 0] <= vx1) & (b[:, 3] >= vy0) & (b[:, 1] <= vy1))
            if not len(idx):
                continue
            runs = run[idx]
            cut = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
            parts = []
            for members in np.split(rows[idx], cut[1:]):
                pts, lens = self.doc.gather(members)
                parts.append((self.colour(self.doc.class_of(int(members[0]))), pts, np.array(lens)))
            jobs.append((QtCore.QRect(rect), QtGui.QTransform(device), parts))
        return jobs

    def _draw_layer(self, image: QtGui.QImage, t: QtGui.QTransform, dpr: float, margin: int,
                    rects: list[QtCore.QRect]) -> None:
        """Draw the shapes that reach each of ``rects`` (device pixels of ``image``), clipped to
        it, run by run in drawing order (the runs are fixed for the plane, so a strip drawn later
        matches a full drawing)."""
        paint_runs(image, self._jobs(layer_device(t, dpr, margin, 0.0, 0.0), rects), self.opacity)

    # ---- runs of shapes drawn together -----------------------------------------------------------
    def _drawn(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows the layer draws in bulk, in drawing order (ringed, neither selected nor
        hidden), their bounds, and the run each belongs to: consecutive rows of one class are one
        run, drawn as one path, so overlaps between classes keep the drawing order. Kept until
        what is drawn changes."""
        if self._runs is None or self._runs[0] != self._gen:
            doc, rows = self.doc, self.rows
            rows = rows[doc.ringed[rows]]
            out = self._selected | self._hidden
            if out and len(rows):
                rows = rows[~np.fromiter((doc.ids[r] in out for r in rows.tolist()), bool, len(rows))]
            codes = doc.class_code[rows]
            run = np.cumsum(np.r_[False, codes[1:] != codes[:-1]]) if len(rows) else np.zeros(0, np.int64)
            self._runs = (self._gen, rows, doc.bounds[rows], run)
        return self._runs[1], self._runs[2], self._runs[3]

    def _run_path(self, rows: np.ndarray) -> QtGui.QPainterPath:
        """One path of shapes of one class (see ``run_path``)."""
        return run_path(*self.doc.gather(rows))

    # ---- raster overlay for thousands of shapes --------------------------------------------------
    def _raster_scale(self, view: Any, w: int, h: int) -> float:
        """Resolution of the overlay: the view's zoom (so it is blitted 1:1), at most
        RASTER_MAX_SIDE on a side."""
        zoom = max(float(getattr(view, "zoom", 1.0)), 1 / 64)
        return min(1.0, RASTER_MAX_SIDE / max(w, h, 1), zoom)

    def _raster_fits(self, view: Any) -> bool:
        """The plane at this zoom is at most RASTER_VIEW_FACTOR views wide (zoomed further in, the
        visible buckets are drawn as vectors instead of rasterising a plane many views wide)."""
        w, h = view.plane_size()
        side = float(getattr(view, "zoom", 1.0)) * max(w, h)
        return side <= RASTER_VIEW_FACTOR * max(view.width(), view.height(), 1)

    def _paint_raster(self, painter: QtGui.QPainter, view: Any) -> None:
        """Blit the overlay 1:1. After a zoom the overlay of the previous zoom is drawn stretched
        while the zoom keeps changing, and rendered again once it has rested (RERENDER_MS)."""
        w, h = view.plane_size()
        scale = self._raster_scale(view, w, h)
        key = (w, h, self.opacity, id(self.doc), tuple(sorted(self.colours.items(), key=str)))
        now = time.monotonic()
        if self._raster is None or self._raster[0] != key:
            self._raster = (key, *self._cached_or_rendered(w, h, scale), scale)
            self._dirty_rect = None
        elif self._raster[3] != scale:
            if self._zoom_seen is not None and self._zoom_seen[0] == scale and now - self._zoom_seen[1] >= RERENDER_MS / 1000:
                self._raster = (key, *self._cached_or_rendered(w, h, scale), scale)
                self._dirty_rect = None
            else:
                if self._zoom_seen is None or self._zoom_seen[0] != scale:
                    self._zoom_seen = (scale, now)
                QtCore.QTimer.singleShot(RERENDER_MS + 10, view.update)
        if self._dirty_rect is not None:
            self._draw_raster(self._raster[2], self._raster[3], self._dirty_rect)
            self._dirty_rect = None
        image = self._raster[1]
        target = QtCore.QRectF(view.image_to_view(0, 0), view.image_to_view(w, h)).normalized()
        if any(getattr(view, "flips", lambda: (False, False))()):     # a mirrored volume plane
            painter.save()
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            view.draw_plane_image(painter, 0, 0, w, h, image)
            painter.restore()
        elif (round(target.width()), round(target.height())) == (image.width(), image.height()):
            painter.drawImage(target.topLeft(), image)
        else:
            painter.save()
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(target, image)
            painter.restore()

    def _cached_or_rendered(self, width: int, height: int, scale: float) -> tuple[QtGui.QImage, np.ndarray]:
        """The overlay the worker that read the document drew for exactly this (once), else that
        of an unchanged project from the cache (``overlay_cache.py``), else drawn here (and then
        cached)."""
        from labeldesk.qt.viewer import overlay_cache
        hidden = bool(self._selected or self._hidden)
        shape = (max(1, round(height * scale)), max(1, round(width * scale)))
        prepared = getattr(self.doc, "prepared_overlay", None)
        buf = None
        if prepared is not None:
            self.doc.prepared_overlay = None          # taken once: later drawings are the painter's
            mine = overlay_cache.fingerprint(self.doc, self.rows, width, height, scale, self.opacity,
                                             self.colours, hidden, self.source)
            if mine is not None and mine == prepared[0] and prepared[1].shape[:2] == shape:
                self.prepared_hits += 1
                buf = prepared[1]
        if buf is None:
            buf, how = overlay_cache.obtain(self, width, height, scale)
            self.cache_hits += how == "cache"
            self.patched_hits += how == "patched"
        image = QtGui.QImage(buf.data, buf.shape[1], buf.shape[0], buf.strides[0],
                             QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        return image, buf

    def render_raster(self, width: int, height: int, scale: float | None = None) -> tuple[QtGui.QImage, np.ndarray]:
        """The whole plane's annotations as one premultiplied ARGB image at ``scale`` (and the
        numpy buffer the image wraps, which must outlive it)."""
        if scale is None:
            scale = min(1.0, RASTER_MAX_SIDE / max(width, height, 1))
        buf = np.zeros((max(1, round(height * scale)), max(1, round(width * scale)), 4), np.uint8)
        self._draw_raster(buf, scale, None)
        image = QtGui.QImage(buf.data, buf.shape[1], buf.shape[0], buf.strides[0],
                             QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        return image, buf

    def _draw_raster(self, buf: np.ndarray, scale: float, area: Any, only: np.ndarray | None = None) -> None:
        """Draw the shown rows into ``buf`` (all, or only within ``area`` in image_xy, cleared
        first; ``only``: just these of them, in drawing order, each as a full drawing draws it).
        Ringed shapes go through OpenCV, one fill per shape in drawing order and the outlines per
        class (``overlay_fill.py``: a whole drawing of many split over threads); other shapes
        (holes, lines, points, masks) through QPainter."""
        doc = self.doc
        rows = self.rows if only is None else only
        ox = oy = 0
        target = buf
        if area is not None:
            x0, y0, x1, y1 = area
            ox, oy = max(0, int(math.floor(x0 * scale)) - 2), max(0, int(math.floor(y0 * scale)) - 2)
            ex = min(buf.shape[1], int(math.ceil(x1 * scale)) + 3)
            ey = min(buf.shape[0], int(math.ceil(y1 * scale)) + 3)
            if ex <= ox or ey <= oy:
                return
            target = buf[oy:ey, ox:ex]
            target[:] = 0
            b = self.bounds if only is None else doc.bounds[rows]
            # a shape up to a pixel outside the area still reaches its edge pixels (rounding)
            lo_x, lo_y, hi_x, hi_y = (ox - 1) / scale, (oy - 1) / scale, (ex + 1) / scale, (ey + 1) / scale
            rows = rows[(b[:, 2] >= lo_x) & (b[:, 0] <= hi_x) & (b[:, 3] >= lo_y) & (b[:, 1] <= hi_y)]
        if not len(rows):
            return
        out = self._selected | self._hidden
        if out:
            rows = rows[~np.fromiter((doc.ids[r] in out for r in rows.tolist()), bool, len(rows))]
        ringed = rows[doc.ringed[rows]]
        shift = 3
        k = scale * (1 << shift)
        fills, lines = {}, {}
        for code in np.unique(doc.class_code[ringed]).tolist():
            c = self.colour(doc.classes.values[code])
            a = self.opacity
            fills[code] = (c.blue() * a, c.green() * a, c.red() * a, 255 * a)
            lines[code] = (c.blue(), c.green(), c.red(), 255)
        if len(ringed):
            from labeldesk.qt.viewer import overlay_fill
            pts, lens = doc.gather(ringed)
            xy = pts * k
            np.rint(xy, out=xy)
            ip = xy.astype(np.int32)          # (rint straight into int32 casts element by element: 5x slower)
            if ox or oy:                      # an area: moved in whole pixels after the rounding, so each
                ip -= (ox << shift, oy << shift)    # vertex lands where a full drawing puts it
            ends = np.cumsum(lens).tolist()
            polys = list(map(ip.__getitem__, map(slice, [0] + ends[:-1], ends)))
            # a whole drawing into a cleared buffer may be split over threads (the same pixels)
            threads = overlay_fill.threads_for(len(polys), target) if area is None and only is None else 1
            if threads > 1 and buf.any():
                threads = 1
            overlay_fill.draw_rings(target, polys, doc.class_code[ringed].tolist(), fills, lines, shift, threads)
        others = rows[~doc.ringed[rows]]
        if len(others):
            image = QtGui.QImage(target.data, target.shape[1], target.shape[0], target.strides[0],
                                 QtGui.QImage.Format.Format_ARGB32_Premultiplied)
            p = QtGui.QPainter(image)
            p.translate(-ox, -oy)
            p.scale(scale, scale)
            for r in others.tolist():
                self._draw_plain(p, doc.geometry(r), self.colour(doc.class_of(r)))
            p.end()

    def _draw_plain(self, painter: QtGui.QPainter, geom: Any, colour: QtGui.QColor) -> None:
        """One shape in image_xy (the painter's transform maps it), for the raster overlay."""
        fill = QtGui.QColor(colour)
        fill.setAlphaF(self.opacity)
        pen = QtGui.QPen(colour, 1)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(fill)
        if isinstance(geom, g.Polygon):
            path = QtGui.QPainterPath()
            for ring in (geom.shell, *geom.holes):
                path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(x, y) for x, y in ring]))
                path.closeSubpath()
            path.setFillRule(QtCore.Qt.FillRule.OddEvenFill)
            painter.drawPath(path)
        elif isinstance(geom, g.Polyline):
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawPolyline(QtGui.QPolygonF([QtCore.QPointF(x, y) for x, y in geom.points]))
        elif isinstance(geom, g.Points):
            for x, y in geom.points:
                painter.drawEllipse(QtCore.QPointF(x, y), 2, 2)
        elif isinstance(geom, (g.RotatedBox, g.Ellipse)):
            pts = geom.corners() if isinstance(geom, g.RotatedBox) else geom.outline(64)
            painter.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(x, y) for x, y in pts]))
        elif isinstance(geom, g.Mask):
            x0, y0, x1, y1 = geom.bounds()
            painter.drawRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))

    def _pts(self, view: Any, points: Any) -> QtGui.QPolygonF:
        return QtGui.QPolygonF([view.image_to_view(float(x), float(y)) for x, y in points])

    def _draw(self, painter: QtGui.QPainter, view: Any, geom: Any, colour: QtGui.QColor, selected: bool) -> None:
        pen = QtGui.QPen(colour, 3 if selected else 1.5)
        fill = QtGui.QColor(colour)
        fill.setAlphaF(self.opacity if not selected else min(0.6, self.opacity + 0.2))
        painter.setPen(pen)
        painter.setBrush(fill)
        if isinstance(geom, g.Box):
            painter.drawPolygon(self._pts(view, [(geom.x0, geom.y0), (geom.x1, geom.y0), (geom.x1, geom.y1), (geom.x0, geom.y1)]))
        elif isinstance(geom, g.RotatedBox):
            painter.drawPolygon(self._pts(view, geom.corners()))
        elif isinstance(geom, g.Ellipse):
            painter.drawPolygon(self._pts(view, geom.outline(64)))
        elif isinstance(geom, g.Polygon):
            path = QtGui.QPainterPath()
            for ring in (geom.shell, *geom.holes):
                path.addPolygon(self._pts(view, ring))
                path.closeSubpath()
            path.setFillRule(QtCore.Qt.FillRule.OddEvenFill)
            painter.drawPath(path)
        elif isinstance(geom, g.Polyline):
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawPolyline(self._pts(view, geom.points))
        elif isinstance(geom, g.Points):
            for p in self._pts(view, geom.points):
                painter.drawEllipse(p, 4, 4)
        elif isinstance(geom, g.Mask):
            self._draw_mask(painter, view, geom, fill)
        if selected and hasattr(geom, "shell"):
            painter.setBrush(QtGui.QColor("white"))
            for p in self._pts(view, geom.shell):
                painter.drawRect(QtCore.QRectF(p.x() - 3, p.y() - 3, 6, 6))

    def _draw_mask(self, painter: QtGui.QPainter, view: Any, mask: g.Mask, colour: QtGui.QColor) -> None:
        alpha = (mask.to_array().astype(np.uint8) * int(colour.alpha() or 160))
        rgba = np.zeros(alpha.shape + (4,), np.uint8)
        rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = colour.red(), colour.green(), colour.blue(), alpha
        img = QtGui.QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.strides[0], QtGui.QImage.Format.Format_RGBA8888)
        view.draw_plane_image(painter, mask.x, mask.y, mask.x + mask.width, mask.y + mask.height, img.copy())

    def _draw_preview(self, painter: QtGui.QPainter, view: Any) -> None:
        pen = QtGui.QPen(QtGui.QColor("#00e5ff"), 1.5, QtCore.Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        if isinstance(self.preview, list):
            if len(self.preview) == 1:
                painter.drawEllipse(self._pts(view, self.preview)[0], 3, 3)
            else:
                painter.drawPolyline(self._pts(view, self.preview))
        elif self.preview is not None:
            self._draw(painter, view, self.preview, QtGui.QColor("#00e5ff"), False)

    # ---- hit testing --------------------------------------------------------------------------
    def hit(self, x: float, y: float, tolerance: float) -> str | None:
        """Topmost visible annotation at image_xy (within ``tolerance`` image pixels)."""
        from shapely.geometry import Point
        pt = Point(x, y)
        doc = self.doc
        for i in self.visible_indices(x - tolerance, y - tolerance, x + tolerance, y + tolerance)[::-1]:
            r = int(self.rows[i])
            if doc.ids[r] in self._hidden:
                continue
            geom = doc.geometry(r)
            shape = geom.to_shapely()
            if shape.distance(pt) <= tolerance or (geom.area() > 0 and shape.contains(pt)):
                return doc.ids[r]
        return None

    def annotations_with_attribute(self, key: str) -> list[Any]:
        """Shown annotations that have attribute ``key`` (e.g. measurements), in drawing order;
        remembered until the rows change (a paint does not walk every row)."""
        doc = self.doc
        if doc is None:
            return []
        cache = self.__dict__.setdefault("_with_attribute", {})
        hit = cache.get(key)
        if hit is None or hit[0] is not self.rows or hit[1] != doc.version:
            texts, needle = doc.attributes_json, f'"{key}"'
            rows = [r for r in self.rows.tolist() if texts[r] is not None and needle in texts[r]]
            hit = cache[key] = (self.rows, doc.version, [doc.annotation(r) for r in rows])
        return hit[2]

    def annotations_of_kind(self, kind: str) -> list[Any]:
        """Shown annotations of one geometry kind, in drawing order."""
        doc = self.doc
        if doc is None:
            return []
        return [doc.annotation(r) for r in self.rows.tolist() if doc.kinds[r] == kind]

    def selected_annotations(self) -> list[Any]:
        doc = self.doc
        if doc is None:
            return []
        rows = np.array([doc.row_of[a] for a in self._selected if a in doc.row_of], np.int64)
        rows = rows[np.isin(rows, self.rows)]              # on this plane, in drawing order
        return [doc.annotation(int(r)) for r in sorted(rows.tolist()) if doc.alive[r]]

