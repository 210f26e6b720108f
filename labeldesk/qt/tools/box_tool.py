"""Box: press at one corner, drag, release at the other."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore

from labeldesk.core.geometry import Box, GeometryError
from labeldesk.qt.tools.base import Tool


class BoxTool(Tool):
    name, label, shortcut = "box", "Box", "B"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.start: tuple[float, float] | None = None

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        self.start = image_xy
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self.start is None:
            return False
        try:
            self.painter.preview = Box(*self.start, *image_xy)
        except GeometryError:
            self.painter.preview = None
        self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self.start is None:
            return False
        start, self.start = self.start, None
        self.cancel()
        if abs(image_xy[0] - start[0]) < 1 or abs(image_xy[1] - start[1]) < 1:
            self.session.message("box not created: it has no area (drag to draw one)")
            return True
        self.session.create({"kind": "box", "xyxy": [*start, *image_xy]}, "Draw box")
        return True

    def cancel(self) -> None:
        self.start = None
        super().cancel()
