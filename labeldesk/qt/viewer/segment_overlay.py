"""Segments in the viewports: the window's segment state (label maps of the assets shown, the
active segment, visibility and opacity) and the drawing of each visible segment's cut through the
viewport's plane. The painting tools edit the active segment through :meth:`SegmentState.begin`
and :meth:`SegmentState.finish` (one undo step per stroke)."""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core import segments as seg
from labeldesk.core.segment_editor import SegmentEditor


class SegmentState(QtCore.QObject):
    sig_changed = QtCore.Signal()          # segments added, removed, painted, undone, synced

    def __init__(self, window: Any) -> None:
        super().__init__(window if isinstance(window, QtCore.QObject) else None)
        self.window = window
        self.editors: dict[str, SegmentEditor] = {}
        self.hidden: set[str] = set()
        self.opacity = 0.45
        self.active_id: str | None = None
        self._project: Any = None

    # ---- project and editors ------------------------------------------------------------------
    def _attach(self) -> Any:
        project = self.window.project
        if project is not self._project:
            self.editors.clear()
            self.active_id = None
            self._project = project
            if project is not None:
                project.on_applied.append(self._on_applied)
        return project

    def editor(self, asset_id: str) -> SegmentEditor:
        project = self._attach()
        ed = self.editors.get(asset_id)
        if ed is None:
            asset = project.asset(asset_id)
            ed = self.editors[asset_id] = SegmentEditor(project.conn, asset_id, asset.spacing)
        return ed

    def segments(self, asset_id: str | None) -> list[seg.Segment]:
        """The segments this user may see on an asset (blind labeling hides others' layers)."""
        project = self._attach()
        if project is None or asset_id is None:
            return []
        from labeldesk.core.review.assignment import visible_layers
        visible = set(visible_layers(project, project.user_id, asset_id))
        return [s for s in seg.segments(project.conn, asset_id) if s.layer_id in visible]

    def _on_applied(self, changes: Any) -> None:
        if getattr(changes, "segments", None):
            self.refresh()

    def refresh(self) -> None:
        """Reload label maps the store changed (undo, redo, sync) and repaint."""
        for ed in self.editors.values():
            ed.refresh()
        self.sig_changed.emit()
        for v in self.window.grid.views:
            v.update()

    # ---- the active segment -------------------------------------------------------------------
    def target(self, view: Any, erase: bool = False) -> tuple[str | None, list[Any]]:
        """The segment a painting tool edits on ``view`` and the drafts that must go first (a new
        segment of the active class in my layer, when it has none yet)."""
        project = self._attach()
        session = self.window.session
        asset_id, t = view.asset_id, view.plane.t
        mine = [s for s in seg.segments(project.conn, asset_id, project.my_layer_id) if s.t == t]
        active = next((s for s in mine if s.id == self.active_id), None)
        if active is None or (session.active_class_id is not None and active.class_id != session.active_class_id):
            active = next((s for s in mine if s.class_id == session.active_class_id), None)
        if active is not None:
            if active.locked:
                session.message(f"segment {active.name!r} is locked (unlock it in the Segments panel)")
                return None, []
            self.active_id = active.id
            return active.id, []
        if erase:
            return None, []
        return self.new_segment(view)

    def new_segment(self, view: Any) -> tuple[str, list[Any]]:
        """A new segment of the active class (made with the first stroke; "New segment" button)."""
        project = self._attach()
        session = self.window.session
        cls = next((c for c in project.classes() if c.id == session.active_class_id), None)
        same = [s for s in seg.segments(project.conn, view.asset_id) if s.class_id == session.active_class_id]
        base = cls.name if cls is not None else "Segment"
        name = base if not same else f"{base} {len(same) + 1}"
        color = seg.pick_color([s.color for s in seg.segments(project.conn, view.asset_id)], cls.color if cls else None)
        draft = seg.create_draft(view.asset_id, project.my_layer_id, session.active_class_id, name, color, view.plane.t)
        self.editor(view.asset_id).adopt(str(draft.entity))
        self.active_id = str(draft.entity)
        return str(draft.entity), [draft]

    def finish(self, asset_id: str, segment_id: str, first: list[Any], text: str) -> bool:
        """Commit a stroke (and the new segment it started) as one undo step."""
        ed = self.editor(asset_id)
        paint = ed.pending_draft(segment_id)
        drafts = list(first) + ([paint] if paint is not None else [])
        if not drafts or (paint is None and first):
            ed.rollback(segment_id)
            return False
        if self.window.session.commit(drafts, text):
            ed.committed_ok(segment_id)
            self.sig_changed.emit()
            return True
        ed.rollback(segment_id)
        for v in self.window.grid.views:
            v.update()
        return False


def _rgba(mask: np.ndarray, colour: QtGui.QColor, alpha: int) -> tuple[np.ndarray, QtGui.QImage]:
    out = np.zeros(mask.shape + (4,), dtype=np.uint8)
    out[mask] = (colour.red(), colour.green(), colour.blue(), alpha)
    image = QtGui.QImage(out.data, mask.shape[1], mask.shape[0], out.strides[0],
                         QtGui.QImage.Format.Format_RGBA8888)
    return out, image


def paint(painter: QtGui.QPainter, view: Any) -> None:
    """Each visible segment's cut through this viewport's plane, in its colour."""
    state = getattr(view, "segment_state", None)
    if state is None or view.source is None or view.source.info.kind != "volume" or view.asset_id is None:
        return
    shown = [s for s in state.segments(view.asset_id) if s.t == view.plane.t and s.id not in state.hidden]
    if not shown:
        return
    ed = state.editor(view.asset_id)
    cache = getattr(view, "_segment_cache", {})
    keep = {}
    painter.save()
    painter.setTransform(view.image_transform(), True)
    alpha = int(255 * max(0.0, min(1.0, state.opacity)))
    for s in shown:
        ed.map(s.id)
        key = (s.id, ed.stamps.get(s.id, 0), view.plane, s.color, alpha)
        entry = cache.get(key)
        if entry is None:
            mask = ed.plane_mask(s.id, view.plane.axis, view.plane.z)
            if not mask.any():
                keep[key] = None
                continue
            entry = _rgba(mask, QtGui.QColor(s.color), alpha)
        keep[key] = entry
        if entry is not None:
            painter.drawImage(QtCore.QRectF(0, 0, entry[1].width(), entry[1].height()), entry[1])
    painter.restore()
    view._segment_cache = keep
