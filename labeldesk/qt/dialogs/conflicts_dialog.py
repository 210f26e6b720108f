"""Sync conflicts: the same field edited on two devices without either seeing the other's edit.
Both values are kept; this dialog shows them side by side and records a person's decision (a
``conflict.resolve`` op, with a reason) through :func:`labeldesk.core.sync.status.resolve`."""
from __future__ import annotations

import json
from typing import Any, Callable

from PySide6 import QtCore, QtWidgets

from labeldesk.core.errors import LabeldeskError

CONFLICT_ROLE = QtCore.Qt.ItemDataRole.UserRole


def _value_text(value: Any) -> str:
    if isinstance(value, dict) and "kind" in value:          # a geometry: say what it is, not every vertex
        pts = value.get("pts") or value.get("rings") or value.get("xyxy")
        return f"{value['kind']} ({len(pts)} values)" if isinstance(pts, list) else str(value["kind"])
    if value is True:
        return "deleted"
    if value is False:
        return "kept (edited)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"


def _ask_reason(parent: QtWidgets.QWidget, title: str, label: str) -> str | None:
    text, ok = QtWidgets.QInputDialog.getText(parent, title, label)
    return text if ok else None


class ConflictsDialog(QtWidgets.QDialog):
    sig_resolved = QtCore.Signal(object)          # the Applied of the conflict.resolve op

    def __init__(self, project: Any, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.ask_reason: Callable[[QtWidgets.QWidget, str, str], str | None] = _ask_reason
        self.setWindowTitle(f"Sync conflicts — {project.name}")
        self.resize(820, 420)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["what", "field", "value", "by", "when (UTC)", "shown now"])
        self.tree.setUniformRowHeights(True)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.keep_button = QtWidgets.QPushButton("Keep this value…")
        self.keep_button.setToolTip("Decide the conflict for the selected value (asks for a reason)")
        close = QtWidgets.QPushButton("Close")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.keep_button)
        row.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("Both values are kept until someone decides; every device shows "
                                          "the same provisional value meanwhile."))
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        self.keep_button.clicked.connect(self.keep_selected)
        close.clicked.connect(self.accept)
        self.tree.itemDoubleClicked.connect(lambda *_: self.keep_selected())
        self.refresh()

    def refresh(self) -> None:
        from labeldesk.core.sync.status import conflicts
        self.tree.clear()
        rows = conflicts(self.project)
        for c in rows:
            top = QtWidgets.QTreeWidgetItem([f"{c['entity_kind']} {c['entity'][:8]}", c["field"], "", "", "", ""])
            top.setFirstColumnSpanned(False)
            for cand in c["candidates"]:
                child = QtWidgets.QTreeWidgetItem(["", "", _value_text(cand.get("value")), cand.get("user_name") or "?",
                                                   str(cand.get("wall", ""))[:19].replace("T", " "),
                                                   "✓" if cand["op_id"] == c["winner"] else ""])
                child.setData(0, CONFLICT_ROLE, (c["id"], cand["op_id"]))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        self.status.setText(f"{len(rows)} open conflict{'s' if len(rows) != 1 else ''}" if rows else "no open conflicts")
        for i in range(self.tree.columnCount()):
            self.tree.resizeColumnToContents(i)

    def choice(self) -> tuple[str, str] | None:
        item = self.tree.currentItem()
        return item.data(0, CONFLICT_ROLE) if item is not None else None

    def keep_selected(self) -> bool:
        from labeldesk.core.sync.status import resolve
        chosen = self.choice()
        if not chosen:
            self.status.setText("Select one of the values first.")
            return False
        reason = self.ask_reason(self, "Decide the conflict", "Why this value?")
        if reason is None:
            return False
        try:
            applied = resolve(self.project, chosen[0], chosen[1], reason=reason or None)
        except LabeldeskError as exc:
            self.status.setText(str(exc))
            return False
        self.sig_resolved.emit(applied)
        self.refresh()
        return True
