"""Measurement tools: ruler (U), angle (Shift+U), ellipse ROI (J) and freehand ROI (Y). Each makes an
annotation with ``{"measure": kind}`` through one op (undoable, synced, exported, listed in the
Measurements panel); lengths are in mm, ROI statistics in the data's rescaled units (HU for CT)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.core import ids
from labeldesk.core.geometry import GeometryError, Polygon, Polyline, repair_polygon
from labeldesk.core.measure import MEASURE_KEY
from labeldesk.core.ops import OpDraft
from labeldesk.qt.tools.base import DragTool, Tool
from labeldesk.qt.tools.shape_tools import EllipseTool


def create_measurement(session: Any, geometry: Any, kind: str) -> str | None:
    if session.project is None or session.asset_id is None:
        return None
    ann_id = ids.new_id()
    draft = OpDraft("annotation.create", ann_id, {"annotation": {
        "asset_id": session.asset_id, "layer_id": session.project.my_layer_id, "class_id": None,
        "plane": session.viewport.plane.to_dict(), "geometry": geometry.to_dict(),
        "attributes": {MEASURE_KEY: kind}}})
    if session.commit([draft], {"ruler": "Ruler", "angle": "Angle", "roi": "ROI"}[kind]):
        session.select({ann_id})
        return ann_id
    return None


class RulerTool(DragTool):
    name, label, shortcut = "ruler", "Ruler", "U"

    def preview(self, start: tuple[float, float], end: tuple[float, float]) -> Any:
        try:
            return Polyline((start, end))
        except GeometryError:
            return None

    def finish(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        line = self.preview(start, end)
        if line is None or line.length() < 1:
            self.session.message("ruler: drag from one end to the other")
            return
        create_measurement(self.session, line, "ruler")


class AngleTool(Tool):
    """Click the first end, the vertex, then the second end."""
    name, label, shortcut = "angle", "Angle", "Shift+U"      # (N is the AI segment tool)

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.points: list[tuple[float, float]] = []

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        self.points.append(image_xy)
        if len(self.points) == 3:
            points, self.points = self.points, []
            self.cancel()
            try:
                create_measurement(self.session, Polyline(tuple(points)), "angle")
            except GeometryError as exc:
                self.session.message(f"angle: {exc}")
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        try:
            self.painter.preview = Polyline(tuple(self.points) + (image_xy,))
        except GeometryError:
            self.painter.preview = None
        self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        return bool(self.points)

    def cancel(self) -> None:
        self.points = []
        super().cancel()


class RoiTool(EllipseTool):
    name, label, shortcut = "roi", "Ellipse ROI", "J"

    def finish(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        shape = self.preview(start, end)
        if shape is None:
            self.session.message("ROI not created: it has no area")
        else:
            create_measurement(self.session, shape, "roi")


class FreehandRoiTool(Tool):
    name, label, shortcut = "roi_freehand", "Freehand ROI", "Y"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.points: list[tuple[float, float]] = []

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        self.points = [image_xy]
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        self.points.append(image_xy)
        if len(self.points) >= 2:
            self.painter.preview = Polyline(tuple(self.points))
            self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if not self.points:
            return False
        points, self.points = self.points, []
        self.cancel()
        try:
            shape = repair_polygon(points)
        except GeometryError as exc:
            self.session.message(f"ROI: {exc}")
            return True
        if not isinstance(shape, Polygon):
            self.session.message("ROI: draw a closed outline around the region")
            return True
        create_measurement(self.session, shape, "roi")
        return True

    def cancel(self) -> None:
        self.points = []
        super().cancel()


MEASUREMENT_TOOLS = (RulerTool, AngleTool, RoiTool, FreehandRoiTool)


def install(window: Any) -> None:
    """Add the measurement tools and the segment fill tool to the session and the Tools toolbar
    (same exclusive group)."""
    from labeldesk.qt.tools.fill_tool import FillTool
    from PySide6 import QtWidgets
    session = window.session
    toolbar = next(b for b in window.findChildren(QtWidgets.QToolBar) if b.objectName() == "tools_toolbar")
    group = window.tool_actions["select"].actionGroup()
    added = (FillTool,) + MEASUREMENT_TOOLS
    for cls in added:
        session.tools[cls.name] = cls(session)
        act = QtGui.QAction(f"{cls.label} ({cls.shortcut})", window, checkable=True)
        act.setShortcut(QtGui.QKeySequence(cls.shortcut))
        act.triggered.connect(lambda _=False, n=cls.name: session.set_tool(n))
        group.addAction(act)
        window.tool_actions[cls.name] = act
    before = next((a for a in toolbar.actions() if a.isSeparator()), None)
    toolbar.insertActions(before, [window.tool_actions[c.name] for c in added])
