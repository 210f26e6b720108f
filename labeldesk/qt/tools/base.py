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
