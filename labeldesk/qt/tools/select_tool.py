"""Select and edit: click selects (Shift adds), drag moves the selection (one undo step per drag),
Delete removes it. On a selected polygon or polyline: drag a vertex to move it, double-click an
edge to add a vertex, Alt+click a vertex to remove it. A drag on empty space pans. Locked
annotations are selectable but not editable."""
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
        self._vertex: tuple[Any, int] | None = None

    def _tol(self) -> float:
        return HIT_PX / max(self.view.zoom, 1e-6)

    def _vertex_at(self, image_xy: tuple[float, float]) -> tuple[Any, int] | None:
        """(annotation, vertex index) of a selected polygon/polyline vertex under the cursor."""
        for ann in self.painter.selected_annotations():
            if ann.id in self.session.locked:
                continue
            pts = _vertices(ann.geometry)
            for i, (x, y) in enumerate(pts or ()):
                if abs(x - image_xy[0]) <= self._tol() and abs(y - image_xy[1]) <= self._tol():
                    return ann, i
        return None

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        vertex = self._vertex_at(image_xy)
        if vertex is not None:
            ann, index = vertex
            if event.modifiers() & QtCore.Qt.KeyboardModifier.AltModifier:
                pts = list(_vertices(ann.geometry))
                del pts[index]
                self.session.replace_vertices(ann, pts, "Remove vertex")
                return True
            self._vertex = (ann, index)
            self._drag_id += 1
            return True
        hit = self.painter.hit(*image_xy, self._tol())
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
        self._originals = {a.id: a.geometry for a in self.painter.selected_annotations()
                           if a.id in selected and a.id not in self.session.locked}
        self._drag_id += 1
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self._vertex is not None:
            ann, index = self._vertex
            pts = list(_vertices(ann.geometry))
            pts[index] = image_xy
            self.session.replace_vertices(ann, pts, "Move vertex", merge_key=f"vertex-{self._drag_id}")
            return True
        if self._drag_from is None or not self._originals:
            return False
        dx, dy = image_xy[0] - self._drag_from[0], image_xy[1] - self._drag_from[1]
        if abs(dx) < 0.5 and abs(dy) < 0.5:
            return True
        self.session.move(self._originals, dx, dy, merge_key=f"move-{self._drag_id}")
        return True

    def double_click(self, image_xy: tuple[float, float], event: Any) -> bool:
        """Insert a vertex on the nearest edge of a selected polygon/polyline."""
        import math
        best = None
        for ann in self.painter.selected_annotations():
            pts = _vertices(ann.geometry)
            if not pts or ann.id in self.session.locked:
                continue
            closed = ann.geometry.kind == "polygon"
            edges = list(zip(pts, pts[1:] + pts[:1])) if closed else list(zip(pts, pts[1:]))
            for i, (a, b) in enumerate(edges):
                d = _segment_distance(image_xy, a, b)
                if d <= self._tol() and (best is None or d < best[0]):
                    best = (d, ann, i + 1)
        if best is None:
            return False
        _, ann, at = best
        pts = list(_vertices(ann.geometry))
        pts.insert(at, image_xy)
        self.session.replace_vertices(ann, pts, "Add vertex")
        return math.isfinite(best[0])

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self._vertex is not None:
            self._vertex = None
            return True
        used = self._drag_from is not None
        self._drag_from = None
        self._originals = {}
        return used

    def key(self, event: QtGui.QKeyEvent) -> bool:
        if event.key() in (QtCore.Qt.Key.Key_Delete, QtCore.Qt.Key.Key_Backspace) and self.painter.selected:
            self.session.delete_selected()
            return True
        return super().key(event)


def _vertices(geometry: Any) -> list[tuple[float, float]] | None:
    if geometry.kind == "polygon":
        return list(geometry.shell)
    if geometry.kind == "polyline":
        return list(geometry.points)
    return None


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    import math
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))
