"""Audit dialog: the op log as a table (who, what, when, why), filtered by asset, user and period,
with the hash-chain verification and export to CSV or JSON — the same core code as
`labeldesk audit` (:mod:`labeldesk.core.review.audit`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6 import QtCore, QtGui, QtWidgets

HEADERS = ("when (UTC)", "HLC", "user", "device", "op", "asset", "summary", "reason", "clock", "chain")
ROLE = QtCore.Qt.ItemDataRole.UserRole


def _ask_path(parent: QtWidgets.QWidget, suggested: str) -> str | None:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, "Export the audit trail", suggested,
                                                    "CSV (*.csv);;JSON (*.json)")
    return path or None


class AuditDialog(QtWidgets.QDialog):
    sig_open_asset = QtCore.Signal(str, object)        # asset id, None (the row's asset)

    def __init__(self, project: Any, parent: QtWidgets.QWidget | None = None, *, asset_id: str | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.report: Any = None
        self.ask_path: Callable[[QtWidgets.QWidget, str], str | None] = _ask_path
        self.setWindowTitle(f"Audit trail — {project.name}")
        self.asset_box = QtWidgets.QComboBox()
        self.asset_box.addItem("All assets", None)
        for a in project.assets(include_removed=True):
            self.asset_box.addItem(a.name, a.id)
        self.user_box = QtWidgets.QComboBox()
        self.user_box.addItem("All users", None)
        for u in project.users():
            self.user_box.addItem(u.name, u.id)
        now = QtCore.QDateTime.currentDateTimeUtc()
        self.since_check = QtWidgets.QCheckBox("from")
        self.since_edit = QtWidgets.QDateTimeEdit(now.addDays(-7))
        self.until_check = QtWidgets.QCheckBox("to")
        self.until_edit = QtWidgets.QDateTimeEdit(now)
        for edit in (self.since_edit, self.until_edit):
            if hasattr(edit, "setTimeZone"):            # Qt >= 6.7; setTimeSpec is deprecated there
                edit.setTimeZone(QtCore.QTimeZone.utc())
            else:
                edit.setTimeSpec(QtCore.Qt.TimeSpec.UTC)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss 'UTC'")
            edit.setCalendarPopup(True)
        self.table = QtWidgets.QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.chain_label = QtWidgets.QLabel()
        self.chain_label.setWordWrap(True)
        self.export_button = QtWidgets.QPushButton("Export…")
        self.close_button = QtWidgets.QPushButton("Close")
        filters = QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("Asset"), self.asset_box, QtWidgets.QLabel("User"), self.user_box,
                  self.since_check, self.since_edit, self.until_check, self.until_edit):
            filters.addWidget(w)
        filters.addStretch(1)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.chain_label, 1)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.close_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.resize(1100, 600)
        for box in (self.asset_box, self.user_box):
            box.currentIndexChanged.connect(lambda _i: self.refresh())
        for check in (self.since_check, self.until_check):
            check.toggled.connect(lambda _on: self.refresh())
        for edit in (self.since_edit, self.until_edit):
            edit.dateTimeChanged.connect(lambda _t: self.refresh())
        self.export_button.clicked.connect(self.export)
        self.close_button.clicked.connect(self.accept)
        self.table.itemDoubleClicked.connect(self._on_row_double_clicked)
        if asset_id is not None:
            self.asset_box.setCurrentIndex(max(0, self.asset_box.findData(asset_id)))
        self.refresh()

    def filters(self) -> dict[str, Any]:
        iso = lambda e: e.dateTime().toUTC().toString("yyyy-MM-ddTHH:mm:ss") + "Z"  # noqa: E731
        return {"asset": self.asset_box.currentData(), "user": self.user_box.currentData(),
                "since": iso(self.since_edit) if self.since_check.isChecked() else None,
                "until": iso(self.until_edit) if self.until_check.isChecked() else None}

    def refresh(self) -> None:
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.review import audit
        try:
            self.report = audit.audit(self.project, **self.filters())
        except LabeldeskError as exc:
            self.chain_label.setText(str(exc))
            return
        rows = self.report.rows
        self.table.setRowCount(len(rows))
        bad = QtGui.QBrush(QtGui.QColor("#c62828"))
        for r, row in enumerate(rows):
            values = (row.wall_utc, row.hlc, row.user, row.device[:8], row.type, row.asset, row.summary,
                      row.reason or "", row.clock_flag, "verified" if row.chain_verified else "NOT VERIFIED")
            for c, v in enumerate(values):
                item = QtWidgets.QTableWidgetItem(v)
                if c == 0:
                    item.setData(ROLE, row.asset_id)
                    item.setToolTip(f"op {row.op_id}\nentity {row.entity}\nop hash {row.op_hash}")
                if not row.chain_verified:
                    item.setForeground(bad)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.chain_label.setText(f"{len(rows)} ops shown; {self.report.chain_text()}")
        self.chain_label.setStyleSheet("" if self.report.chain_ok else "color: #c62828; font-weight: bold")

    def export(self, path: str | None = None) -> Path | None:
        """Write the rows shown to ``path`` (asked for when None): JSON for *.json, else CSV."""
        from labeldesk.core.review import audit
        if self.report is None:
            return None
        path = path or self.ask_path(self, str(self.project.root / "audit.csv"))
        if not path:
            return None
        out = Path(path)
        text = audit.to_json(self.report) + "\n" if out.suffix.lower() == ".json" else audit.to_csv(self.report)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.chain_label.setText(f"{out}: cannot write ({exc.strerror or exc})")
            return None
        self.chain_label.setText(f"exported {len(self.report.rows)} ops to {out}; {self.report.chain_text()}")
        return out

    def _on_row_double_clicked(self, item: QtWidgets.QTableWidgetItem) -> None:
        asset_id = self.table.item(item.row(), 0).data(ROLE)
        if asset_id:
            self.sig_open_asset.emit(asset_id, None)
