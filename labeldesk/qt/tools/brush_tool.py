"""Brush and eraser. On volumes they edit the active *segment* (one 3-D label map per class and
layer, see core/segments.py): every mouse move paints into the label map in memory and the stroke
becomes one ``segment.paint`` op on release (one undo step, however many slices the spherical
brush reached). On images and video frames they paint a mask on the current plane: a stroke adds to
the selected mask (or the active class's mask on this plane), else starts a new one.
``[`` and ``]`` change the size; the eraser removes from the mask under it. On volumes, the
spherical option (toggle with the backslash key) paints a ball: the stroke reaches the neighbouring slices with
the disk radius of the sphere's cross-section there (in mm, so anisotropic slices are right)."""
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
        self.segment: tuple[str, str, list[Any]] | None = None      # asset id, segment id, drafts first

    def _segments(self) -> Any:
        """The window's segment state when the viewport shows a volume (segment painting)."""
        src = self.view.source
        state = getattr(self.view, "segment_state", None)
        return state if state is not None and src is not None and src.info.kind == "volume" else None

    @property
    def radius(self) -> float:
        return self.session.brush_radius

    def _target(self) -> Any:
        masks = self.painter.annotations_of_kind("mask")
        chosen = [a for a in masks if a.id in self.painter.selected]
        if chosen:
            return chosen[0]
        same = [a for a in masks if a.class_id == self.session.active_class_id]
        return same[-1] if same else None

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        state = self._segments()
        if state is not None:
            segment_id, first = state.target(self.view, self.erase)
            if segment_id is None:
                return True                       # nothing to erase, or locked (the state said why)
            self.segment = (self.view.asset_id, segment_id, first)
            self.points = [image_xy]
            self._stamp([image_xy])
            return True
        self.points = [image_xy]
        self._preview()
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        if self.segment is not None:
            self._stamp([self.points[-1], image_xy])
            self.points.append(image_xy)
            return True
        self.points.append(image_xy)
        self._preview()
        return True

    def _stamp(self, points: list[tuple[float, float]]) -> None:
        asset_id, segment_id, _ = self.segment
        plane = self.view.plane
        self._segments().editor(asset_id).stamp(segment_id, plane.axis, plane.z, points, self.radius,
                                                erase=self.erase, sphere=self.session.brush_sphere)
        self.view.update()

    def _preview(self) -> None:
        w, h = self.view.plane_size()
        self.painter.preview = stroke(None, self.points, self.radius, (w, h))
        self.view.update()

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        points, self.points = self.points, []
        if self.segment is not None:
            (asset_id, segment_id, first), self.segment = self.segment, None
            self._segments().finish(asset_id, segment_id, first, "Erase" if self.erase else "Brush")
            self.view.update()
            return True
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
        if event.key() == QtCore.Qt.Key.Key_Backslash:
            self.session.brush_sphere = not self.session.brush_sphere
            self.session.message("spherical brush " + ("on" if self.session.brush_sphere else "off"))
            return True
        if event.key() == QtCore.Qt.Key.Key_BracketLeft:
            self.session.set_brush_radius(self.radius / 1.25)
            return True
        if event.key() == QtCore.Qt.Key.Key_BracketRight:
            self.session.set_brush_radius(self.radius * 1.25)
            return True
        return super().key(event)

    def cancel(self) -> None:
        if self.segment is not None:         # an unfinished stroke (Esc, plane change) leaves nothing
            asset_id, segment_id, _ = self.segment
            self.segment = None
            self._segments().editor(asset_id).rollback(segment_id)
        self.points = []
        super().cancel()


class EraserTool(BrushTool):
    name, label, shortcut = "eraser", "Eraser", "E"
    erase = True


def mask_of(geometry: Any) -> Mask | None:
    return geometry if isinstance(geometry, Mask) else None
