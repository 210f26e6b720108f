"""Highlights where two annotators disagree, drawn over a viewport on top of its annotations.

Fed by :func:`labeldesk.core.review.comparison.compare_layers`: unmatched annotations are outlined
red, low-IoU pairs orange (joined by a dashed line), class mismatches magenta and, optionally,
matched ones thin green. It wraps the viewport's existing overlay object (the
``AnnotationPainter``): ``paint`` draws that first, then the highlights, and every other attribute
(``hit``, ``selected``…) is passed through, so installing it is one assignment::

    view.overlay = ComparisonOverlay(view.overlay)
    view.overlay.set_comparison(compare_layers(...), project.annotations(asset_id, plane))
    view.update()

and ``view.overlay = view.overlay.base`` removes it again.
"""
from __future__ import annotations

from typing import Any, Iterable

from PySide6 import QtCore, QtGui

from labeldesk.core import geometry as g

COLOURS = {"unmatched": "#ff3030", "low_iou": "#ff9900", "class_mismatch": "#e040fb", "matched": "#30d158"}


def outline_rings(geom: Any) -> list[list[tuple[float, float]]]:
    """Closed rings (image_xy) that outline a shape; masks by their bounding box."""
    if isinstance(geom, g.Box):
        return [[(geom.x0, geom.y0), (geom.x1, geom.y0), (geom.x1, geom.y1), (geom.x0, geom.y1)]]
    if isinstance(geom, g.RotatedBox):
        return [list(geom.corners())]
    if isinstance(geom, g.Ellipse):
        return [list(geom.outline(64))]
    if isinstance(geom, g.Polygon):
        return [list(geom.shell)] + [list(h) for h in geom.holes]
    if isinstance(geom, g.Mask):
        x0, y0, x1, y1 = geom.bounds()
        return [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]
    return []


def _centre(geom: Any) -> tuple[float, float]:
    x0, y0, x1, y1 = geom.bounds()
    return ((x0 + x1) / 2, (y0 + y1) / 2)


class ComparisonOverlay:
    OWN = frozenset({"base", "comparison", "shapes", "show_matched", "pen_width"})

    def __init__(self, base: Any = None) -> None:
        self.base = base
        self.comparison: Any = None
        self.shapes: dict[str, Any] = {}      # annotation id -> Annotation (both layers)
        self.show_matched = False
        self.pen_width = 2.5

    def __getattr__(self, name: str) -> Any:
        base = self.__dict__.get("base")
        if base is None:
            raise AttributeError(name)
        return getattr(base, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # the edit session sets the wrapped painter's fields (colours, selected…) through the view
        if name in self.OWN or self.__dict__.get("base") is None:
            object.__setattr__(self, name, value)
        else:
            setattr(self.base, name, value)

    def set_comparison(self, comparison: Any, annotations: Iterable[Any]) -> None:
        """``comparison`` from ``compare_layers``; ``annotations`` of both layers on the shown
        plane (others are skipped)."""
        self.comparison = comparison
        self.shapes = {a.id: a for a in annotations}

    def clear(self) -> None:
        self.comparison = None
        self.shapes = {}

    def highlights(self) -> list[tuple[str, str]]:
        """(annotation id, status) of what will be drawn, in drawing order."""
        if self.comparison is None:
            return []
        order = ("matched", "class_mismatch", "low_iou", "unmatched")
        status = self.comparison.status
        out = [(aid, st) for st in order for aid, s in status.items() if s == st and aid in self.shapes]
        return [(aid, st) for aid, st in out if st != "matched" or self.show_matched]

    def paint(self, painter: QtGui.QPainter, view: Any) -> None:
        if self.base is not None:
            self.base.paint(painter, view)
        if self.comparison is None:
            return
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for aid, st in self.highlights():
            pen = QtGui.QPen(QtGui.QColor(COLOURS[st]), 1.2 if st == "matched" else self.pen_width)
            painter.setPen(pen)
            self._outline(painter, view, self.shapes[aid].geometry)
        dashed = QtGui.QPen(QtGui.QColor(COLOURS["low_iou"]), 1.5, QtCore.Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        for m in self.comparison.result.low_iou:
            a, b = self.shapes.get(m.a), self.shapes.get(m.b)
            if a is not None and b is not None:
                painter.drawLine(view.image_to_view(*_centre(a.geometry)), view.image_to_view(*_centre(b.geometry)))
        painter.restore()

    @staticmethod
    def _outline(painter: QtGui.QPainter, view: Any, geom: Any) -> None:
        if isinstance(geom, g.Polyline):
            painter.drawPolyline(QtGui.QPolygonF([view.image_to_view(x, y) for x, y in geom.points]))
            return
        if isinstance(geom, g.Points):
            for x, y in geom.points:
                painter.drawEllipse(view.image_to_view(x, y), 7, 7)
            return
        for ring in outline_rings(geom):
            painter.drawPolygon(QtGui.QPolygonF([view.image_to_view(x, y) for x, y in ring]))
