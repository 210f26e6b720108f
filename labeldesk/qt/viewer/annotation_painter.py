"""Draws the current plane's annotations over the viewport and answers hit tests.

Geometry is converted image_xy → view_xy through the viewport's own transform, so what is drawn
is exactly where the core annotation lies. Bounding boxes live in one numpy array, so culling and
hit tests are vectorised. Up to ``VECTOR_LIMIT`` visible annotations are drawn as vectors; beyond
that (zoomed out over thousands of shapes) a raster overlay of the whole plane, built once per
change from one QPainterPath per class, is blitted like the image itself.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core import geometry as g

DEFAULT_COLOUR = "#ffd000"
VECTOR_LIMIT = 1500
BUCKETS = 32                 # spatial buckets per side for cached vector paths
RASTER_MAX_SIDE = 4096


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
    rebuilds only the spatial buckets (and the part of the raster overlay) the change touched."""

    def __init__(self) -> None:
        self.doc: Any = None
        self.rows = np.zeros(0, np.int64)
        self.colours: dict[str | None, str] = {}
        self._selected: set[str] = set()
        self._hidden: set[str] = set()
        self.opacity = 0.25
        self.preview: Any = None          # a geometry or a list of image_xy points being drawn
        self.bounds = np.zeros((0, 4))
        self._raster: Any = None
        self._scaled: Any = None
        self._grid: Any = None            # (x0, y0, cell w, cell h): fixed while the plane is shown
        self._buckets: dict[int, tuple[tuple[float, float, float, float], Any, QtGui.QPainterPath]] | None = None
        self._key_of: np.ndarray = np.zeros(0, np.int64)     # bucket key per document row (-1: none)
        self._dirty: set[int] = set()
        self._dirty_rect: list[float] | None = None

    # ---- what is shown ------------------------------------------------------------------------
    @property
    def annotations(self) -> Sequence:
        return _Shown(self.doc, self.rows) if self.doc is not None else []

    def show(self, doc: Any, rows: np.ndarray, change: Any = None) -> None:
        same = doc is self.doc and change is not None and self._buckets is not None
        old_rows = self.rows
        self.doc, self.rows = doc, np.asarray(rows, np.int64)
        self.bounds = doc.bounds[self.rows] if doc is not None else np.zeros((0, 4))
        live = set(self._selected)
        self._selected = {a for a in live if doc is not None and a in doc.row_of and doc.alive[doc.row_of[a]]}
        if not same:
            self._grid = None
            self._invalidate()
            return
        touched = set(change.added) | set(change.changed) | set(change.removed)
        touched |= set(np.setxor1d(old_rows, self.rows).tolist())
        self._mark_dirty(touched)

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
        if self.doc is not None and self._buckets is not None:
            self._mark_dirty({self.doc.row_of[a] for a in flipped if a in self.doc.row_of})

    @property
    def hidden(self) -> set[str]:
        return self._hidden

    @hidden.setter
    def hidden(self, ids: set[str]) -> None:
        self._hidden = set(ids)
        self._invalidate()

    def _invalidate(self) -> None:
        self._buckets = None
        self._raster = None
        self._scaled = None
        self._dirty.clear()
        self._dirty_rect = None

    def _mark_dirty(self, rows: set[int]) -> None:
        if not rows or self._buckets is None:
            return
        self._ensure_keys()
        for r in rows:
            if r < len(self._key_of) and self._key_of[r] >= 0:
                self._dirty.add(int(self._key_of[r]))
            b = self.doc.bounds[r]
            self._grow_dirty_rect(b)
        self._recompute_keys(np.fromiter(rows, np.int64, len(rows)))

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
        if len(visible) > VECTOR_LIMIT:
            self._paint_raster(painter, view)
            doc = self.doc
            for aid in self._selected:                    # the selection stays crisp on top
                r = doc.row_of.get(aid)
                if r is not None and doc.alive[r]:
                    self._draw(painter, view, doc.geometry(r), self.colour(doc.class_of(r)), True)
        else:
            self._paint_vectors(painter, view, visible, (vx0, vy0, vx1, vy1))
        if self.preview is not None:
            self._draw_preview(painter, view)

    def _paint_vectors(self, painter: QtGui.QPainter, view: Any, visible: np.ndarray,
                       area: tuple[float, float, float, float]) -> None:
        """Area shapes from cached spatial buckets (one path per bucket and class, built once and
        rebuilt per change) drawn through the view transform; the selection, lines, points, masks
        and polygons with holes one by one."""
        vx0, vy0, vx1, vy1 = area
        painter.save()
        painter.setTransform(view.image_transform())
        for (x0, y0, x1, y1), class_id, path in self._bucket_paths().values():
            if x1 < vx0 or x0 > vx1 or y1 < vy0 or y0 > vy1:
                continue
            colour = self.colour(class_id)
            pen = QtGui.QPen(colour, 1)       # 1 px: Qt's thick antialiased stroker is ~50x slower
            pen.setCosmetic(True)
            fill = QtGui.QColor(colour)
            fill.setAlphaF(self.opacity)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)   # fills: no AA
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawPath(path)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)    # outlines: AA
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        painter.restore()
        doc = self.doc
        for r in self.rows[visible].tolist():
            aid = doc.ids[r]
            if aid not in self._hidden and (aid in self._selected or not doc.ringed[r]):
                self._draw(painter, view, doc.geometry(r), self.colour(doc.class_of(r)), aid in self._selected)

    # ---- spatial buckets ------------------------------------------------------------------------
    def _ensure_keys(self) -> None:
        cap = len(self.doc.alive)
        if len(self._key_of) < cap:
            grown = np.full(cap, -1, np.int64)
            grown[:len(self._key_of)] = self._key_of
            self._key_of = grown

    def _keys(self, rows: np.ndarray) -> np.ndarray:
        """Bucket key of each row (-1: drawn on its own, hidden or not shown)."""
        doc = self.doc
        if self._grid is None:
            b = self.bounds
            x0, y0 = (b[:, 0].min(), b[:, 1].min()) if len(b) else (0.0, 0.0)
            cw = max(((b[:, 2].max() - x0) / BUCKETS) if len(b) else 1.0, 1.0)
            ch = max(((b[:, 3].max() - y0) / BUCKETS) if len(b) else 1.0, 1.0)
            self._grid = (x0, y0, cw, ch)
        x0, y0, cw, ch = self._grid
        bb = doc.bounds[rows]
        cx = np.clip(((bb[:, 0] + bb[:, 2]) / 2 - x0) // cw, 0, BUCKETS - 1).astype(np.int64)
        cy = np.clip(((bb[:, 1] + bb[:, 3]) / 2 - y0) // ch, 0, BUCKETS - 1).astype(np.int64)
        keys = (doc.class_code[rows].astype(np.int64) * BUCKETS + cy) * BUCKETS + cx
        skip = ~doc.ringed[rows]
        if self._selected or self._hidden:
            out = self._selected | self._hidden
            skip |= np.fromiter((doc.ids[r] in out for r in rows.tolist()), bool, len(rows))
        keys[skip] = -1
        return keys

    def _recompute_keys(self, rows: np.ndarray) -> None:
        shown = np.zeros(len(rows), bool)
        shown[np.isin(rows, self.rows)] = True
        keys = self._keys(rows)
        keys[~shown] = -1
        self._key_of[rows] = keys
        self._dirty.update(int(k) for k in keys[keys >= 0])

    def _bucket_paths(self) -> dict[int, tuple[tuple[float, float, float, float], Any, QtGui.QPainterPath]]:
        """bucket key -> (bounds, class, path); built once per plane, then per dirty bucket."""
        if self._buckets is None:
            self._ensure_keys()
            self._key_of[:] = -1
            keys = self._keys(self.rows)
            self._key_of[self.rows] = keys
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]]) if len(sk) else np.zeros(0, np.int64)
            groups = np.split(self.rows[order], starts[1:]) if len(sk) else []
            self._buckets = {}
            for start, members in zip(starts.tolist(), groups):
                if sk[start] >= 0:
                    self._buckets[int(sk[start])] = self._bucket(members)
            self._dirty.clear()
        elif self._dirty:
            for key in self._dirty:
                members = np.flatnonzero(self._key_of == key)
                if len(members):
                    members = members[np.argsort(self.doc.z_order[members], kind="stable")]
                    self._buckets[key] = self._bucket(members)
                else:
                    self._buckets.pop(key, None)
            self._dirty.clear()
        return self._buckets

    def _bucket(self, members: np.ndarray) -> tuple[tuple[float, float, float, float], Any, QtGui.QPainterPath]:
        from labeldesk.qt.viewer.paths import path_from_rings
        doc = self.doc
        mb = doc.bounds[members]
        bounds = (mb[:, 0].min(), mb[:, 1].min(), mb[:, 2].max(), mb[:, 3].max())
        rings = doc.ring
        return bounds, doc.class_of(int(members[0])), path_from_rings([rings(r) for r in members.tolist()])

    # ---- raster overlay for thousands of shapes --------------------------------------------------
    def _paint_raster(self, painter: QtGui.QPainter, view: Any) -> None:
        w, h = view.plane_size()
        key = (w, h, self.opacity, id(self.doc), tuple(sorted(self.colours.items(), key=str)))
        if self._raster is None or self._raster[0] != key:
            self._bucket_paths()
            self._raster = (key, self.render_raster(w, h))
            self._dirty_rect = None
            self._scaled = None
        elif self._dirty_rect is not None:
            self._update_raster(self._raster[1], w, h)
            self._dirty_rect = None
            self._scaled = None
        image = self._raster[1]
        target = QtCore.QRectF(view.image_to_view(0, 0), view.image_to_view(w, h)).normalized()
        size = (round(target.width()), round(target.height()))
        if max(size) <= RASTER_MAX_SIDE:
            # panning at one zoom: scale the overlay once, then every frame is a 1:1 blit
            if self._scaled is None or self._scaled[0] != (key, size):
                self._scaled = ((key, size), image.scaled(size[0], size[1], QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
                                                          QtCore.Qt.TransformationMode.SmoothTransformation))
            painter.drawImage(target.topLeft(), self._scaled[1])
        else:
            painter.drawImage(target, image)

    def render_raster(self, width: int, height: int) -> QtGui.QImage:
        """The whole plane's annotations as one image (at most RASTER_MAX_SIDE on a side)."""
        scale = min(1.0, RASTER_MAX_SIDE / max(width, height))
        image = QtGui.QImage(max(1, int(width * scale)), max(1, int(height * scale)),
                             QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        self._draw_buckets(image, scale, None)
        return image

    def _update_raster(self, image: QtGui.QImage, width: int, height: int) -> None:
        """Redraw only the part of the overlay a change touched (its bounds, all buckets there)."""
        scale = image.width() / max(width, 1)
        x0, y0, x1, y1 = self._dirty_rect
        self._bucket_paths()
        self._draw_buckets(image, scale, (x0 - 2, y0 - 2, x1 + 2, y1 + 2))

    def _draw_buckets(self, image: QtGui.QImage, scale: float, area: Any) -> None:
        p = QtGui.QPainter(image)
        p.scale(scale, scale)
        if area is not None:
            x0, y0, x1, y1 = area
            clip = QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)
            p.setClipRect(clip)
            p.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_Clear)
            p.fillRect(clip, QtCore.Qt.GlobalColor.transparent)
            p.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_SourceOver)
        for (bx0, by0, bx1, by1), class_id, path in self._bucket_paths().values():
            if area is not None and (bx1 < area[0] or bx0 > area[2] or by1 < area[1] or by0 > area[3]):
                continue
            colour = self.colour(class_id)
            fill = QtGui.QColor(colour)
            fill.setAlphaF(self.opacity)
            pen = QtGui.QPen(colour, 1)
            pen.setCosmetic(True)
            p.setPen(pen)
            p.setBrush(fill)
            p.drawPath(path)
        p.end()

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
        p0 = view.image_to_view(mask.x, mask.y)
        p1 = view.image_to_view(mask.x + mask.width, mask.y + mask.height)
        painter.drawImage(QtCore.QRectF(p0, p1).normalized(), img.copy())

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
