"""Tracks in the main window: the Tracks dock, keyframe marks on the playback slider, one row per
track in the Annotations list (interpolated frames are in the Tracks dock, not one row each), and
attribute edits of a track's frame routed to the track (or to that frame only)."""
from __future__ import annotations

from typing import Any

from labeldesk.qt.panels.track_panel import KeyframeMarks, TrackPanel


class TracksDock:
    def __init__(self, window: Any) -> None:
        self.window = window
        self.panel = TrackPanel()
        self.dock = window.add_dock("tracks", "Tracks", self.panel, "right")
        window.tabifyDockWidget(window.docks["annotations"], self.dock)
        window.docks["annotations"].raise_()
        self.marks = KeyframeMarks(window.playback.slider)
        self.panel.sig_jump_requested.connect(window._on_annotation_panel_jump_requested)
        self.panel.sig_track_selected.connect(lambda _t: self._mark())
        self.tracks: list[Any] = []
        self._doc: Any = None                 # the document whose tracked rows are cached
        self._layers: Any = None
        self._anns: dict[int, Any] = {}       # row -> Annotation, for the rows in a track
        self._names: dict[Any, str] = {}
        window.session.sig_document_changed.connect(self.apply_change)

    def show_document(self, doc: Any, layers: list[str] | None, class_names: dict[Any, str]) -> None:
        """Show the tracks of ``doc``: its tracked rows are read once, then kept in step by
        :meth:`apply_change` (only the rows a change names are built again)."""
        if doc is None:
            self._doc, self._anns = None, {}
            self.rows_for_list([], class_names)
            return
        if doc is not self._doc or layers != self._layers:
            self._doc, self._layers = doc, layers
            self._anns = {int(r): doc.annotation(int(r)) for r in doc.tracked_rows(layers)}
        self._names = class_names
        self.rows_for_list(list(self._anns.values()), class_names)

    def apply_change(self, doc: Any, change: Any) -> None:
        """Bring the cached track rows in step with a DocumentChange (the changed rows only)."""
        if doc is not self._doc:
            return
        if change.reloaded:
            self._doc = None
            self.show_document(doc, self._layers, self._names)
            return
        touched = change.added + change.changed + change.removed
        if not touched:
            return
        wanted = set(doc.tracked_rows(self._layers).tolist()) if len(touched) > 64 else None
        dirty = False
        for r in touched:
            keep = (r in wanted) if wanted is not None else (
                r in doc.tracked and (self._layers is None or doc.layer_of(r) in self._layers))
            if keep:
                self._anns[r] = doc.annotation(r)
                dirty = True
            elif self._anns.pop(r, None) is not None:
                dirty = True
        if dirty:
            self.rows_for_list(list(self._anns.values()), self._names)

    def rows_for_list(self, annotations: list[Any], class_names: dict[Any, str]) -> list[Any]:
        """Update the dock and the marks from the asset's annotations; returns what the Annotations
        list shows: every annotation except the interpolated frames of tracks."""
        from labeldesk.core.tracks import summaries
        self.tracks = summaries(annotations)
        self.panel.set_tracks(self.tracks, class_names, set(self.window.session.painter.selected))
        self._mark()
        return [a for a in annotations if not a.track_id or a.keyframe]

    def _mark(self) -> None:
        current = self.panel.current_track_id()
        marks, selected = [], set()
        for t in self.tracks:
            for k in t.keyframes:
                marks.append(t.index_of(k))
                if t.track_id == current:
                    selected.add(t.index_of(k))
        self.marks.set_marks(marks, selected)

    def edit_attributes(self, annotation_id: str, values: dict[str, Any]) -> bool:
        """Route an attribute edit: a frame of a track edits the track (or only that frame, as
        chosen in the dock); returns False when the annotation is not in a track."""
        from labeldesk.core.tracks import override_frame, set_track_attributes
        w = self.window
        ann = w.project.annotation(annotation_id) if w.project is not None else None
        if ann is None or not ann.track_id:
            return False
        if self.panel.applies_to_track():
            drafts = set_track_attributes(w.project, ann.track_id, values)
            label = "Set the track's attributes"
        else:
            drafts = override_frame(w.project, ann, values)
            label = "Override attributes on this frame"
        if drafts:
            w.session.commit(drafts, label)
        return True
