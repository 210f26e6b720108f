"""Select and edit: click selects (Shift adds), drag moves the selection (one undo step per drag),
Delete removes it. A drag on empty space pans."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.qt.tools.base import Tool

HIT_PX = 5.0


class SelectTool(Tool):
    name, label, shortcut = "select", "Select", "V"
    cursor = QtCore.Qt.CursorShape.ArrowCursor

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self._drag_from: tuple[float, float] | None = None
        self._originals: dict[str, Any] = {}
        self._drag_id = 0

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        hit = self.painter.hit(*image_xy, HIT_PX / max(self.view.zoom, 1e-6))
        shift = event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier
        if hit is None:
            if not shift:
                self.session.select(set())
            return False                                   # empty space: the viewport pans
        selected = set(self.painter.selected)
        if shift:
            selected ^= {hit}
        elif hit not in selected:
            selected = {hit}
        self.session.select(selected)
        self._drag_from = image_xy
        self._originals = {a.id: a.geometry for a in self.painter.annotations if a.id in selected}
        self._drag_id += 1
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self._drag_from is None or not self._originals:
            return False
        dx, dy = image_xy[0] - self._drag_from[0], image_xy[1] - self._drag_from[1]
        if abs(dx) < 0.5 and abs(dy) < 0.5:
            return True
        self.session.move(self._originals, dx, dy, merge_key=f"move-{self._drag_id}")
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        used = self._drag_from is not None
        self._drag_from = None
        self._originals = {}
        return used

    def key(self, event: QtGui.QKeyEvent) -> bool:
        if event.key() in (QtCore.Qt.Key.Key_Delete, QtCore.Qt.Key.Key_Backspace) and self.painter.selected:
            self.session.delete_selected()
            return True
        return super().key(event)
