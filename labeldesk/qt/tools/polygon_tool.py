"""Polygon and polyline: click vertices (or hold the button and drag for freehand), double-click
or Enter to finish, Backspace removes the last vertex, Esc cancels. A self-intersecting polygon
is repaired (largest valid part) and the status bar says so."""
from __future__ import annotations

import math
from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.core.geometry import GeometryError, Polygon, repair_polygon
from labeldesk.qt.tools.base import Tool

FREEHAND_STEP_PX = 3.0


class PolygonTool(Tool):
    name, label, shortcut = "polygon", "Polygon", "P"
    closed = True

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.points: list[tuple[float, float]] = []
        self._dragging = False

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        self.points.append(image_xy)
        self._dragging = True
        self._show(image_xy)
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        if self._dragging and event.buttons() & QtCore.Qt.MouseButton.LeftButton:
            last = self.view.image_to_view(*self.points[-1])
            here = self.view.image_to_view(*image_xy)
            if math.dist((last.x(), last.y()), (here.x(), here.y())) >= FREEHAND_STEP_PX:
                self.points.append(image_xy)          # freehand: the path follows the drag
        self._show(image_xy)
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        self._dragging = False
        return bool(self.points)

    def double_click(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self.points:
            self.finish()
            return True
        return False

    def key(self, event: QtGui.QKeyEvent) -> bool:
        if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter) and self.points:
            self.finish()
            return True
        if event.key() == QtCore.Qt.Key.Key_Backspace and self.points:
            self.points.pop()
            self._show(None)
            return True
        return super().key(event)

    def _show(self, cursor: tuple[float, float] | None) -> None:
        pts = list(self.points) + ([cursor] if cursor else [])
        if self.closed and len(pts) > 2:
            pts = pts + [pts[0]]
        self.painter.preview = pts
        self.view.update()

    def finish(self) -> None:
        pts = [p for i, p in enumerate(self.points) if i == 0 or p != self.points[i - 1]]
        self.cancel()
        if self.closed:
            self._finish_polygon(pts)
        elif len(pts) >= 2:
            self.session.create({"kind": "polyline", "points": [list(p) for p in pts]}, "Draw polyline")
        else:
            self.session.message("polyline not created: it needs two points")

    def _finish_polygon(self, pts: list[tuple[float, float]]) -> None:
        if len(pts) < 3:
            self.session.message("polygon not created: it needs three points")
            return
        try:
            poly = Polygon(tuple(pts))
        except GeometryError as exc:
            if "zero area" in str(exc):
                self.session.message("polygon not created: it has no area")
                return
            try:
                poly = repair_polygon(pts)
            except GeometryError as exc2:
                self.session.message(f"polygon not created: {exc2}")
                return
            self.session.message("the polygon crossed itself: kept its largest valid part")
        self.session.create(poly.to_dict(), "Draw polygon")

    def cancel(self) -> None:
        self.points = []
        self._dragging = False
        super().cancel()


class PolylineTool(PolygonTool):
    name, label, shortcut = "polyline", "Polyline", "L"
    closed = False


class PointsTool(Tool):
    """Each click places one point annotation."""

    name, label, shortcut = "points", "Point", "K"

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        self.session.create({"kind": "points", "points": [list(image_xy)]}, "Place point")
        return True
