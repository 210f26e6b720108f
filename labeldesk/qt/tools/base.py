"""A tool turns mouse and keys on the viewport into core ops (through the edit session)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui


class Tool:
    name = "tool"
    label = "Tool"
    shortcut = ""
    cursor = QtCore.Qt.CursorShape.CrossCursor

    def __init__(self, session: Any) -> None:
        self.session = session

    @property
    def view(self) -> Any:
        return self.session.viewport

    @property
    def painter(self) -> Any:
        return self.session.painter

    def activate(self) -> None:
        self.view.setCursor(self.cursor)

    def deactivate(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        self.painter.preview = None
        self.view.update()

    # Return True when the event was used (the viewport then does not pan).
    def press(self, image_xy: tuple[float, float], event: QtGui.QMouseEvent) -> bool:
        return False

    def move(self, image_xy: tuple[float, float], event: QtGui.QMouseEvent) -> bool:
        return False

    def release(self, image_xy: tuple[float, float], event: QtGui.QMouseEvent) -> bool:
        return False

    def double_click(self, image_xy: tuple[float, float], event: QtGui.QMouseEvent) -> bool:
        return False

    def key(self, event: QtGui.QKeyEvent) -> bool:
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.cancel()
            return True
        return False


class DragTool(Tool):
    """Press, drag, release: ``preview(start, end)`` is shown while dragging and ``finish(start,
    end)`` runs on release (box, ellipse, GrabCut's box)."""

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.start: tuple[float, float] | None = None

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or not self.ready():
            return False
        self.start = image_xy
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self.start is None:
            return False
        self.painter.preview = self.preview(self.start, image_xy)
        self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self.start is None:
            return False
        start, self.start = self.start, None
        self.cancel()
        self.finish(start, image_xy)
        return True

    def cancel(self) -> None:
        self.start = None
        super().cancel()

    def ready(self) -> bool:
        return True

    def preview(self, start: tuple[float, float], end: tuple[float, float]) -> Any:
        """A geometry (or None) to show while dragging."""
        from labeldesk.core.geometry import Box, GeometryError
        try:
            return Box(*start, *end)
        except GeometryError:
            return None

    def finish(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        raise NotImplementedError
