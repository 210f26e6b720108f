"""Drag-to-draw shapes besides the box: ellipse (drag the bounding box) and rotated box (drag the
first edge, then move to set the width, click to finish)."""
from __future__ import annotations

import math
from typing import Any

from PySide6 import QtCore

from labeldesk.core.geometry import Ellipse, GeometryError, RotatedBox
from labeldesk.qt.tools.base import DragTool, Tool


class EllipseTool(DragTool):
    name, label, shortcut = "ellipse", "Ellipse", "O"

    def preview(self, start: tuple[float, float], end: tuple[float, float]) -> Ellipse | None:
        (x0, y0), (x1, y1) = start, end
        try:
            return Ellipse((x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2)
        except GeometryError:
            return None

    def finish(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        shape = self.preview(start, end)
        if shape is None:
            self.session.message("ellipse not created: it has no area")
        else:
            self.session.create(shape.to_dict(), "Draw ellipse")


class RotatedBoxTool(Tool):
    name, label, shortcut = "rotated_box", "Rotated box", "R"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.edge: list[tuple[float, float]] = []

    def _shape(self, cursor: tuple[float, float]) -> RotatedBox | None:
        (ax, ay), (bx, by) = self.edge
        ex, ey = bx - ax, by - ay
        length = math.hypot(ex, ey)
        if length == 0:
            return None
        nx, ny = -ey / length, ex / length                # unit normal of the first edge
        width = (cursor[0] - ax) * nx + (cursor[1] - ay) * ny
        if abs(width) < 1e-6:
            return None
        cx = (ax + bx) / 2 + nx * width / 2
        cy = (ay + by) / 2 + ny * width / 2
        angle = -math.degrees(math.atan2(ey, ex))          # counter-clockwise in image_xy (y down)
        return RotatedBox(cx, cy, length, abs(width), angle)

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        if len(self.edge) == 2:
            shape = self._shape(image_xy)
            self.cancel()
            if shape is None:
                self.session.message("rotated box not created: it has no area")
            else:
                self.session.create(shape.to_dict(), "Draw rotated box")
            return True
        self.edge = [image_xy]
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.edge:
            return False
        if len(self.edge) == 1:
            self.painter.preview = [self.edge[0], image_xy]
        else:
            self.painter.preview = self._shape(image_xy)
        self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if len(self.edge) == 1 and image_xy != self.edge[0]:
            self.edge.append(image_xy)
            return True
        return bool(self.edge)

    def cancel(self) -> None:
        self.edge = []
        super().cancel()
