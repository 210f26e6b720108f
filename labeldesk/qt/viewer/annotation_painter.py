"""Draws the current plane's annotations over the viewport and answers hit tests.

Geometry is converted image_xy → view_xy through the viewport's own transform, so what is drawn
is exactly where the core annotation lies. Bounding boxes live in one numpy array, so culling and
hit tests are vectorised. Up to ``VECTOR_LIMIT`` visible annotations are drawn as vectors; beyond
that (zoomed out over thousands of shapes) a raster overlay of the whole plane, built once per
change from one QPainterPath per class, is blitted like the image itself.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core import geometry as g

DEFAULT_COLOUR = "#ffd000"
VECTOR_LIMIT = 1500
BUCKETS = 32                 # spatial buckets per side for cached vector paths
RASTER_MAX_SIDE = 4096


class AnnotationPainter:
    def __init__(self) -> None:
        self.annotations: list[Any] = []
        self.colours: dict[str | None, str] = {}
        self.selected: set[str] = set()
        self.hidden: set[str] = set()
        self.opacity = 0.25
        self.preview: Any = None          # a geometry or a list of image_xy points being drawn

    def set_annotations(self, annotations: list[Any]) -> None:
        self.annotations = annotations
        live = {a.id for a in annotations}
        self.selected &= live
        self.bounds = (np.array([a.geometry.bounds() for a in annotations], dtype=np.float64)
                       if annotations else np.zeros((0, 4)))
        self._raster = None
        self._scaled = None
        self._buckets = None
        self._index = {a.id: i for i, a in enumerate(annotations)}

    bounds = np.zeros((0, 4))
    _raster: Any = None
    _scaled: Any = None
    _buckets: Any = None
    _index: dict[str, int] = {}

    def visible_indices(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        b = self.bounds
        return np.flatnonzero((b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1))

    def colour(self, class_id: str | None) -> QtGui.QColor:
        return QtGui.QColor(self.colours.get(class_id) or DEFAULT_COLOUR)

    # ---- drawing ------------------------------------------------------------------------------
    def paint(self, painter: QtGui.QPainter, view: Any) -> None:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        tl = view.view_to_image(QtCore.QPointF(0, 0))
        br = view.view_to_image(QtCore.QPointF(view.width(), view.height()))
        vx0, vx1 = sorted((tl[0], br[0]))
        vy0, vy1 = sorted((tl[1], br[1]))
        visible = self.visible_indices(vx0, vy0, vx1, vy1)
        if len(visible) > VECTOR_LIMIT:
            self._paint_raster(painter, view)
            for aid in self.selected:                    # the selection stays crisp on top
                i = self._index.get(aid)
                if i is not None:
                    ann = self.annotations[i]
                    self._draw(painter, view, ann.geometry, self.colour(ann.class_id), True)
        else:
            self._paint_vectors(painter, view, visible)
        if self.preview is not None:
            self._draw_preview(painter, view)

    def _paint_vectors(self, painter: QtGui.QPainter, view: Any, visible: np.ndarray) -> None:
        """Area shapes from cached spatial buckets (one path per bucket and class, built once per
        change) drawn through the view transform; the selection, lines, points and masks one by one."""
        buckets = self._bucket_paths()
        tl = view.view_to_image(QtCore.QPointF(0, 0))
        br = view.view_to_image(QtCore.QPointF(view.width(), view.height()))
        vx0, vx1 = sorted((tl[0], br[0]))
        vy0, vy1 = sorted((tl[1], br[1]))
        painter.save()
        painter.setTransform(view.image_transform())
        for (x0, y0, x1, y1), class_id, path in buckets:
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
        for i in visible:
            ann = self.annotations[i]
            if ann.id not in self.hidden and self._single(ann):
                self._draw(painter, view, ann.geometry, self.colour(ann.class_id), ann.id in self.selected)

    def _single(self, ann: Any) -> bool:
        """Drawn on its own: selected, a mask, a line or points, or a polygon with holes."""
        geom = ann.geometry
        return (ann.id in self.selected or isinstance(geom, (g.Mask, g.Polyline, g.Points))
                or (isinstance(geom, g.Polygon) and bool(geom.holes)))

    def _bucket_paths(self) -> list[tuple[tuple[float, float, float, float], Any, QtGui.QPainterPath]]:
        """(bounds, class, path) per spatial bucket, rebuilt when annotations, selection or
        visibility change."""
        from labeldesk.qt.viewer.paths import path_from_rings
        key = (id(self.annotations), frozenset(self.selected), frozenset(self.hidden))
        if self._buckets is not None and self._buckets[0] == key:
            return self._buckets[1]
        groups: dict[tuple[int, int, Any], list[int]] = {}
        if len(self.bounds):
            b = self.bounds
            x0, y0 = b[:, 0].min(), b[:, 1].min()
            cw = max((b[:, 2].max() - x0) / BUCKETS, 1.0)
            ch = max((b[:, 3].max() - y0) / BUCKETS, 1.0)
            cx = ((b[:, 0] + b[:, 2]) / 2 - x0) // cw
            cy = ((b[:, 1] + b[:, 3]) / 2 - y0) // ch
            for i, ann in enumerate(self.annotations):
                if ann.id in self.hidden or self._single(ann):
                    continue
                groups.setdefault((int(cx[i]), int(cy[i]), ann.class_id), []).append(i)
        out = []
        for (_, _, class_id), members in groups.items():
            mb = self.bounds[members]
            bounds = (mb[:, 0].min(), mb[:, 1].min(), mb[:, 2].max(), mb[:, 3].max())
            out.append((bounds, class_id, path_from_rings([_outline(self.annotations[i].geometry) for i in members])))
        self._buckets = (key, out)
        return out

    # ---- raster overlay for thousands of shapes --------------------------------------------------
    def _paint_raster(self, painter: QtGui.QPainter, view: Any) -> None:
        w, h = view.plane_size()
        key = (w, h, self.opacity, frozenset(self.hidden), len(self.annotations))
        if self._raster is None or self._raster[0] != key:
            self._raster = (key, self.render_raster(w, h))
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
        p = QtGui.QPainter(image)
        p.scale(scale, scale)
        for _bounds, class_id, path in self._bucket_paths():   # the same cached paths as vectors
            colour = self.colour(class_id)
            fill = QtGui.QColor(colour)
            fill.setAlphaF(self.opacity)
            pen = QtGui.QPen(colour, 1)
            pen.setCosmetic(True)
            p.setPen(pen)
            p.setBrush(fill)
            p.drawPath(path)
        p.end()
        return image

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
        for i in self.visible_indices(x - tolerance, y - tolerance, x + tolerance, y + tolerance)[::-1]:
            ann = self.annotations[i]
            if ann.id in self.hidden:
                continue
            shape = ann.geometry.to_shapely()
            if shape.distance(pt) <= tolerance or (ann.geometry.area() > 0 and shape.contains(pt)):
                return ann.id
        return None


def _outline(geom: Any) -> np.ndarray | None:
    """A closed ring (N x 2) standing for the shape in bulk drawing (polygons with holes, lines and
    points are drawn one by one)."""
    if isinstance(geom, g.Polygon):
        return np.asarray(geom.shell, dtype=np.float64) if not geom.holes else None
    if isinstance(geom, g.Box):
        return np.array([(geom.x0, geom.y0), (geom.x1, geom.y0), (geom.x1, geom.y1), (geom.x0, geom.y1)])
    if isinstance(geom, (g.RotatedBox,)):
        return np.asarray(geom.corners())
    if isinstance(geom, g.Ellipse):
        return np.asarray(geom.outline(32))
    if isinstance(geom, g.Mask):
        x0, y0, x1, y1 = geom.bounds()
        return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    return None
