"""Intelligent scissors (X): click to set anchors; between anchors the outline follows edges;
double-click or Enter closes the polygon, Backspace drops the last segment, Esc cancels."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.qt.tools.polygon_tool import PolygonTool


class ScissorsTool(PolygonTool):
    name, label, shortcut = "scissors", "Scissors", "X"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.wire: Any = None
        self.segments: list[int] = []      # len(points) at each anchor, for Backspace

    def _ensure_wire(self) -> bool:
        if self.wire is None:
            if self.view._plane_pixels is None:
                self.session.message("scissors work on images, frames and slices, not on tiled large images yet")
                return False
            from labeldesk.core.assist.scissors import LiveWire
            from labeldesk.qt.tools.assist_tools import _display
            self.wire = LiveWire(_display(self.view))
        return True

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or not self._ensure_wire():
            return False
        if self.points:
            self.points.extend(self.wire.path_to(image_xy)[1:])
        else:
            self.points.append(image_xy)
        self.segments.append(len(self.points))
        self.wire.set_anchor(image_xy)
        self._show(None)
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points or self.wire is None:
            return False
        self.painter.preview = list(self.points) + self.wire.path_to(image_xy)[1:]
        self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        return bool(self.points)

    def key(self, event: QtGui.QKeyEvent) -> bool:
        if event.key() == QtCore.Qt.Key.Key_Backspace and len(self.segments) > 1:
            self.segments.pop()
            del self.points[self.segments[-1]:]
            self.wire.set_anchor(self.points[-1])
            self._show(None)
            return True
        return super().key(event)

    def finish(self) -> None:
        if len(self.points) > 2 and self.wire is not None:
            self.points.extend(self.wire.path_to(self.points[0])[1:-1])   # close along edges
        super().finish()

    def cancel(self) -> None:
        self.wire = None
        self.segments = []
        super().cancel()

    def deactivate(self) -> None:
        self.cancel()
