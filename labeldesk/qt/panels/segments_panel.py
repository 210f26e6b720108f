"""The Segments panel: the segments (3-D label maps) of the volume shown, each with its colour,
name, class, visibility, lock, volume in mL and mean ± SD (HU for CT). The selected row is the
segment the brush, eraser, wand, threshold and GrabCut edit. Buttons: a new segment of the active
class (a second lesion), delete, fill between painted slices (interpolation), and converting the
volume's per-slice masks into segments."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.core import segments as seg
from labeldesk.core.ops import OpDraft

COLUMNS = ("", "name", "class", "visible", "locked", "volume mL", "mean ± SD")


class SegmentsPanel(QtWidgets.QWidget):
    def __init__(self, window: Any, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.state = window.segment_state
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.state.opacity * 100))
        self.opacity.valueChanged.connect(self._on_opacity)
        buttons = QtWidgets.QGridLayout()          # two rows: the dock stays narrow
        self.buttons = {}
        for i, (key, text, slot) in enumerate((("new", "New segment", self.new_segment), ("delete", "Delete", self.delete),
                                               ("fill", "Fill between slices", self.fill_between),
                                               ("convert", "Convert slice masks", self.convert_masks))):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b, i // 2, i % 2)
            self.buttons[key] = b
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        column = QtWidgets.QVBoxLayout(self)
        column.setContentsMargins(2, 2, 2, 2)
        column.addWidget(self.table, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        column.addLayout(row)
        column.addLayout(buttons)
        column.addWidget(self.note)
        self.segments: list[seg.Segment] = []
        self.rows: list[dict[str, str]] = []
        self._stats: dict[Any, str] = {}
        self._filling = False
        self.pending = False             # statistics waited for a volume still loading
        self.state.sig_changed.connect(self.refresh)

    # ---- contents -----------------------------------------------------------------------------
    def _view(self) -> Any:
        return self.window.viewport

    def refresh_if_pending(self) -> None:
        if self.pending:
            self.refresh()

    def refresh(self) -> None:
        self.pending = False
        view = self._view()
        project = self.window.project
        volume = view.source is not None and view.source.info.kind == "volume" and project is not None
        self.segments = self.state.segments(view.asset_id) if volume else []
        names = {c.id: c.name for c in project.classes()} if project is not None else {}
        asset = project.asset(view.asset_id) if volume else None
        self._filling = True
        self.table.setRowCount(len(self.segments))
        self.rows = []
        for r, s in enumerate(self.segments):
            ml = s.volume_ml(asset.spacing if asset else None)
            values = {"": "", "name": s.name, "class": names.get(s.class_id, "(no class)"),
                      "visible": "", "locked": "", "volume mL": f"{ml:.2f}" if ml is not None else f"{s.voxels} vx",
                      "mean ± SD": self._mean(view, s)}
            self.rows.append(values)
            for c, key in enumerate(COLUMNS):
                item = QtWidgets.QTableWidgetItem(values[key])
                if key == "":
                    item.setBackground(QtGui.QColor(s.color))
                if key in ("visible", "locked"):
                    item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
                    on = (s.id not in self.state.hidden) if key == "visible" else s.locked
                    item.setCheckState(QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked)
                self.table.setItem(r, c, item)
            if s.id == self.state.active_id:
                self.table.selectRow(r)
        self._filling = False
        self.table.resizeColumnsToContents()
        masks = 0
        if volume:
            masks = len(self.window.session.visible_annotations(view.asset_id, kind="mask"))
        self.buttons["convert"].setEnabled(masks > 0)
        self.note.setText(f"{masks} per-slice mask(s) on this volume can become segments." if masks else
                          ("" if volume else "Segments are 3-D label maps of volumes."))
        for b in ("new", "delete", "fill"):
            self.buttons[b].setEnabled(volume)

    def _mean(self, view: Any, s: seg.Segment) -> str:
        """Mean ± SD of the rescaled values inside (cached until the segment changes)."""
        ed = self.state.editor(view.asset_id)
        key = (s.id, s.revision, ed.stamps.get(s.id, 0))
        if key not in self._stats:
            voxels = getattr(view.source, "voxels", None)
            if voxels is None or s.voxels == 0:
                return ""
            if not getattr(view.source, "complete", True):     # slices still streaming in
                self.pending = True
                return "loading…"
            stats = seg.statistics(ed.map(s.id), voxels[s.t], tuple(view.source.info.rescale))
            unit = " HU" if view.source.info.meta.get("modality") == "CT" else ""
            self._stats[key] = f"{stats['mean']:.1f} ± {stats['sd']:.1f}{unit}"
        return self._stats[key]

    def selected(self) -> seg.Segment | None:
        rows = self.table.selectionModel().selectedRows()
        return self.segments[rows[0].row()] if rows and rows[0].row() < len(self.segments) else None

    # ---- actions ------------------------------------------------------------------------------
    def _on_selection(self) -> None:
        s = self.selected()
        if s is not None and not self._filling:
            self.state.active_id = s.id
            if s.class_id != self.window.session.active_class_id:
                self.window.session.set_active_class(s.class_id)

    def _on_item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if self._filling or item.row() >= len(self.segments):
            return
        s = self.segments[item.row()]
        on = item.checkState() == QtCore.Qt.CheckState.Checked
        key = COLUMNS[item.column()]
        if key == "visible":
            (self.state.hidden.discard if on else self.state.hidden.add)(s.id)
            for v in self.window.grid.views:
                v.update()
        elif key == "locked" and on != s.locked:
            self.window.session.commit([OpDraft("segment.update", s.id, {"set": {"locked": on}})],
                                       "Lock segment" if on else "Unlock segment")

    def _on_double_click(self, row: int, column: int) -> None:
        s = self.segments[row]
        if COLUMNS[column] == "":
            colour = QtWidgets.QColorDialog.getColor(QtGui.QColor(s.color), self, f"Colour of {s.name}")
            if colour.isValid():
                self.window.session.commit([OpDraft("segment.update", s.id, {"set": {"color": colour.name()}})],
                                           "Segment colour")
        elif COLUMNS[column] == "name":
            name, ok = QtWidgets.QInputDialog.getText(self, "Rename segment", "Name:", text=s.name)
            if ok and name.strip():
                self.window.session.commit([OpDraft("segment.update", s.id, {"set": {"name": name.strip()}})],
                                           "Rename segment")

    def _on_opacity(self, value: int) -> None:
        self.state.opacity = value / 100
        for v in self.window.grid.views:
            v.update()

    def new_segment(self) -> None:
        view = self._view()
        segment_id, drafts = self.state.new_segment(view)
        if self.window.session.commit(drafts, "New segment"):
            self.state.editor(view.asset_id).committed_ok(segment_id)
            self.state.active_id = segment_id
            self.refresh()

    def delete(self) -> None:
        s = self.selected()
        if s is not None:
            self.window.session.commit([OpDraft("segment.delete", s.id, {})], f"Delete segment {s.name}")

    def fill_between(self) -> None:
        """Interpolate the selected segment between its painted slices on the viewport's axis."""
        from labeldesk.core.segment_editor import interpolate_gaps
        s, view = self.selected(), self._view()
        if s is None:
            self.window.session.message("select a segment to fill between its painted slices")
            return
        ed = self.state.editor(view.asset_id)
        axis = {"axial": 0, "coronal": 1, "sagittal": 2}[view.plane.axis]
        ed.replace(s.id, interpolate_gaps(ed.map(s.id), axis))
        if not self.state.finish(view.asset_id, s.id, [], "Fill between slices"):
            self.window.session.message(f"{s.name}: no gaps between painted {view.plane.axis} slices")

    def convert_masks(self) -> None:
        from labeldesk.core.segment_migration import MigrationReport, migration_drafts
        view = self._view()
        report = MigrationReport()
        drafts = migration_drafts(self.window.project, view.asset_id, report)
        if drafts and self.window.session.commit(drafts, "Convert slice masks to segments"):
            self.window.session.message(report.summary())
            self.state.refresh()


def install(window: Any) -> SegmentsPanel:
    from labeldesk.qt.viewer.segment_overlay import SegmentState
    window.segment_state = SegmentState(window)
    panel = SegmentsPanel(window)
    dock = QtWidgets.QDockWidget("Segments", window)
    dock.setObjectName("segments_dock")
    dock.setWidget(panel)
    window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.segments_panel = panel
    window.sig_asset_shown.connect(lambda _a: panel.refresh())
    window.grid.sig_active_changed.connect(lambda _v: panel.refresh())
    window.session.sig_annotations_changed.connect(window.segment_state.refresh)
    return panel
