"""Draws the current plane's annotations over the viewport and answers hit tests.

Geometry is converted image_xy → view_xy through the viewport's own transform, so what is drawn
is exactly where the core annotation lies. Only annotations whose bounding box meets the visible
rectangle are drawn.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core import geometry as g

DEFAULT_COLOUR = "#ffd000"


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

    def colour(self, class_id: str | None) -> QtGui.QColor:
        return QtGui.QColor(self.colours.get(class_id) or DEFAULT_COLOUR)

    # ---- drawing ------------------------------------------------------------------------------
    def paint(self, painter: QtGui.QPainter, view: Any) -> None:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        tl = view.view_to_image(QtCore.QPointF(0, 0))
        br = view.view_to_image(QtCore.QPointF(view.width(), view.height()))
        vx0, vx1 = sorted((tl[0], br[0]))
        vy0, vy1 = sorted((tl[1], br[1]))
        for ann in self.annotations:
            if ann.id in self.hidden:
                continue
            x0, y0, x1, y1 = ann.geometry.bounds()
            if x1 < vx0 or x0 > vx1 or y1 < vy0 or y0 > vy1:
                continue
            self._draw(painter, view, ann.geometry, self.colour(ann.class_id), ann.id in self.selected)
        if self.preview is not None:
            self._draw_preview(painter, view)

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
        for ann in reversed(self.annotations):
            if ann.id in self.hidden:
                continue
            x0, y0, x1, y1 = ann.geometry.bounds()
            if not (x0 - tolerance <= x <= x1 + tolerance and y0 - tolerance <= y <= y1 + tolerance):
                continue
            shape = ann.geometry.to_shapely()
            if shape.distance(pt) <= tolerance or (ann.geometry.area() > 0 and shape.contains(pt)):
                return ann.id
        return None
