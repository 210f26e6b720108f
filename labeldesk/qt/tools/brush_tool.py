"""Brush and eraser: paint a mask on the current plane. A stroke adds to the selected mask (or the
active class's mask on this plane), else starts a new one; each stroke is one undo step.
``[`` and ``]`` change the size; the eraser removes from the mask under it. On volumes, the
spherical option (toggle with the backslash key) paints a ball: the stroke reaches the neighbouring slices with
the disk radius of the sphere's cross-section there (in mm, so anisotropic slices are right)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.core.brush import stroke
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Plane
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
        masks = self.painter.annotations_of_kind("mask")
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
        info = self.view.source.info
        if self.session.brush_sphere and info.kind == "volume" and info.spacing:
            self._sphere(points)
            return True
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

    def _sphere(self, points: list[tuple[float, float]]) -> None:
        """One undo step painting the stroke on every slice the ball reaches."""
        import math

        from labeldesk.core import ids
        from labeldesk.core.measure import pixel_size_mm
        from labeldesk.core.ops import OpDraft
        project, plane = self.session.project, self.view.plane
        asset = project.asset(self.session.asset_id)
        sx, _ = pixel_size_mm(asset, plane.axis)
        depth_mm = {"axial": asset.spacing[2], "coronal": asset.spacing[1], "sagittal": asset.spacing[0]}[plane.axis]
        r_mm = self.radius * sx
        reach = int(r_mm // depth_mm)
        w, h = self.view.plane_size()
        drafts = []
        for dz in range(-reach, reach + 1):
            z = plane.z + dz
            if not 0 <= z < self.view.source.plane_count(plane.axis):
                continue
            r_px = math.sqrt(max(r_mm ** 2 - (dz * depth_mm) ** 2, 0.0)) / sx
            there = Plane(z, plane.t, plane.axis)
            masks = [a for a in project.annotations(asset.id, there)
                     if a.geometry.kind == "mask" and a.class_id == self.session.active_class_id]
            base = masks[-1].geometry if masks else None
            result = stroke(base, points, max(r_px, 0.5), (w, h), erase=self.erase)
            if masks and result is None:
                drafts.append(OpDraft("annotation.delete", masks[-1].id, {}))
            elif masks and result != base:
                drafts.append(OpDraft("annotation.update", masks[-1].id, {"set": {"geometry": result.to_dict()}}))
            elif not masks and result is not None and not self.erase:
                drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                    "asset_id": asset.id, "layer_id": project.my_layer_id, "class_id": self.session.active_class_id,
                    "plane": there.to_dict(), "geometry": result.to_dict(), "attributes": {}}}))
        if drafts:
            self.session.commit(drafts, f"Sphere {'erase' if self.erase else 'brush'} ({len(drafts)} slices)")

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
        self.points = []
        super().cancel()


class EraserTool(BrushTool):
    name, label, shortcut = "eraser", "Eraser", "E"
    erase = True


def mask_of(geometry: Any) -> Mask | None:
    return geometry if isinstance(geometry, Mask) else None
