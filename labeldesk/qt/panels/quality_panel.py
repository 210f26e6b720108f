"""The Quality panel: run the label checks (and the data checks), list the findings, open the
annotation of a finding (double-click or Enter), mark a finding "not a problem" (a waiver op)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

COLUMNS = ("check", "asset", "plane", "why")
CHECK_COLOURS = {"duplicate": "#d62728", "tiny": "#ff7f0e", "outlier": "#9467bd", "outside": "#8c564b",
                 "overlap": "#e377c2", "imbalance": "#7f7f7f", "track": "#bcbd22", "slices": "#17becf",
                 "model": "#1f77b4", "attributes": "#2ca02c"}


class FindingsModel(QtCore.QAbstractTableModel):
    """Findings as virtual rows (a project can have thousands)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []
        self.asset_names: dict[str, str] = {}

    def set_findings(self, findings: list[Any], asset_names: dict[str, str]) -> None:
        self.beginResetModel()
        self.rows, self.asset_names = list(findings), asset_names
        self.endResetModel()

    def rowCount(self, parent: Any = QtCore.QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Any = QtCore.QModelIndex()) -> int:  # noqa: N802 - Qt override
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Any, role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Any, role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:
        f = self.rows[index.row()]
        col = COLUMNS[index.column()]
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            if col == "check":
                return f.check
            if col == "asset":
                return self.asset_names.get(f.asset_id or "", "—")
            if col == "plane":
                return "" if not f.plane else f"z {f.plane['z']}  t {f.plane['t']}"
            return f.reason
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and col == "check":
            return QtGui.QColor(CHECK_COLOURS.get(f.check, "#444444"))
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return f"{f.reason}\nkey: {f.key}\nvalue {f.value} (threshold {f.threshold})"
        return None


class QualityPanel(QtWidgets.QWidget):
    """Emits ``sig_open(asset_id, plane dict or None, annotation id or None)`` to open a finding."""

    sig_open = QtCore.Signal(str, object, object)
    sig_message = QtCore.Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.project: Any = None
        self.findings: list[Any] = []
        col = QtWidgets.QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        bar = QtWidgets.QHBoxLayout()
        self.which = QtWidgets.QComboBox()
        self.which.addItem("All label checks", None)
        from labeldesk.core.quality.checks import CHECKS
        for name, (title, _) in CHECKS.items():
            self.which.addItem(title, name)
        self.which.addItem("Data checks (pixels and headers)", "data")
        self.run_button = QtWidgets.QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.show_waived = QtWidgets.QCheckBox("waived too")
        bar.addWidget(self.which, 1)
        bar.addWidget(self.show_waived)
        bar.addWidget(self.run_button)
        col.addLayout(bar)
        self.summary = QtWidgets.QLabel("Run the checks to list possible label problems.")
        self.summary.setWordWrap(True)
        col.addWidget(self.summary)
        self.model = FindingsModel()
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.doubleClicked.connect(lambda idx: self.open_row(idx.row()))
        col.addWidget(self.table, 1)
        buttons = QtWidgets.QHBoxLayout()
        self.open_button = QtWidgets.QPushButton("Open")
        self.open_button.clicked.connect(lambda: self.open_row(self._current()))
        self.waive_button = QtWidgets.QPushButton("Not a problem…")
        self.waive_button.setToolTip("Mark the selected findings not a problem (recorded as an op, shared)")
        self.waive_button.clicked.connect(self.waive_selected)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.waive_button)
        buttons.addStretch(1)
        col.addLayout(buttons)
        QtGui.QShortcut(QtGui.QKeySequence("Return"), self.table, lambda: self.open_row(self._current()))

    def set_project(self, project: Any) -> None:
        self.project = project
        self.model.set_findings([], {})
        self.findings = []

    def _current(self) -> int:
        idx = self.table.currentIndex()
        return idx.row() if idx.isValid() else -1

    def run(self) -> None:
        if self.project is None:
            return
        from labeldesk.core.errors import LabeldeskError
        which = self.which.currentData()
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            if which == "data":
                from labeldesk.core.quality import datachecks
                found, _ = datachecks.run(self.project, include_waived=self.show_waived.isChecked())
            else:
                from labeldesk.core.quality import checks
                found = checks.run(self.project, only=[which] if which else None,
                                   include_waived=self.show_waived.isChecked())
        except LabeldeskError as exc:
            self.summary.setText(f"The checks could not run: {exc}")
            return
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        self.show_findings(found)

    def show_findings(self, found: list[Any]) -> None:
        self.findings = found
        names = {a.id: a.name for a in self.project.assets(include_removed=True)} if self.project else {}
        self.model.set_findings(found, names)
        self.table.resizeColumnsToContents()
        counts: dict[str, int] = {}
        for f in found:
            counts[f.check] = counts.get(f.check, 0) + 1
        self.summary.setText(f"{len(found)} finding(s): " + ", ".join(f"{k} {v}" for k, v in counts.items())
                             if found else "No findings.")

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.findings):
            f = self.findings[row]
            if f.asset_id:
                self.sig_open.emit(f.asset_id, f.plane, f.annotation_id)

    def waive_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()}) or (
            [self._current()] if self._current() >= 0 else [])
        if not rows or self.project is None:
            return
        note, ok = QtWidgets.QInputDialog.getText(self, "Not a problem",
                                                  f"Why are these {len(rows)} finding(s) not a problem?")
        if not ok:
            return
        self.waive([self.findings[r] for r in rows], note)

    def waive(self, findings: list[Any], note: str) -> None:
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.ops import OpDraft
        drafts = [OpDraft("quality.waive", f.key, {"check": f.check, "subject": f.subject, "note": note})
                  for f in findings]
        try:
            self.project.apply_all(drafts)
        except LabeldeskError as exc:
            QtWidgets.QMessageBox.warning(self, "Not a problem", str(exc))
            return
        keys = {f.key for f in findings}
        if not self.show_waived.isChecked():
            self.show_findings([f for f in self.findings if f.key not in keys])
        self.sig_message.emit(f"{len(findings)} finding(s) marked not a problem")
