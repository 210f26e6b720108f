"""Brush and eraser: paint a mask on the current plane. A stroke adds to the selected mask (or the
active class's mask on this plane), else starts a new one; each stroke is one undo step.
``[`` and ``]`` change the size; the eraser removes from the mask under it."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.core.brush import stroke
from labeldesk.core.geometry import Mask
from labeldesk.qt.tools.base import Tool


class BrushTool(Tool):
    name, label, shortcut = "brush", "Brush", "D"
    erase = False

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.points: list[tuple[float, float]] = []

    @property
    def radius(self) -> float:
        return self.session.brush_radius

    def _target(self) -> Any:
        masks = [a for a in self.painter.annotations if a.geometry.kind == "mask"]
        chosen = [a for a in masks if a.id in self.painter.selected]
        if chosen:
            return chosen[0]
        same = [a for a in masks if a.class_id == self.session.active_class_id]
        return same[-1] if same else None

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        self.points = [image_xy]
        self._preview()
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        self.points.append(image_xy)
        self._preview()
        return True

    def _preview(self) -> None:
        w, h = self.view.plane_size()
        self.painter.preview = stroke(None, self.points, self.radius, (w, h))
        self.view.update()

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        points, self.points = self.points, []
        self.painter.preview = None
        w, h = self.view.plane_size()
        target = self._target()
        base = target.geometry if target is not None else None
        result = stroke(base, points, self.radius, (w, h), erase=self.erase)
        if target is None:
            if result is not None and not self.erase:
                self.session.create(result.to_dict(), "Brush")
        elif result is None:
            self.session.delete([target.id], "Erase")
        elif result != base:
            self.session.update_geometry(target.id, result, "Erase" if self.erase else "Brush")
        self.view.update()
        return True

    def key(self, event: QtGui.QKeyEvent) -> bool:
        if event.key() == QtCore.Qt.Key.Key_BracketLeft:
            self.session.set_brush_radius(self.radius / 1.25)
            return True
        if event.key() == QtCore.Qt.Key.Key_BracketRight:
            self.session.set_brush_radius(self.radius * 1.25)
            return True
        return super().key(event)

    def cancel(self) -> None:
        self.points = []
        super().cancel()


class EraserTool(BrushTool):
    name, label, shortcut = "eraser", "Eraser", "E"
    erase = True


def mask_of(geometry: Any) -> Mask | None:
    return geometry if isinstance(geometry, Mask) else None
