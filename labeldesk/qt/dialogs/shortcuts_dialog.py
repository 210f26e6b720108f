"""Help ▸ Keyboard shortcuts: the table in actions.py, plus the mouse gestures."""
from __future__ import annotations

from PySide6 import QtWidgets

from labeldesk.qt.actions import ACTIONS

MOUSE = (
    ("Wheel", "Zoom at the cursor"),
    ("Ctrl + wheel", "Next/previous slice (frame for video)"),
    ("Drag (left, middle or right button)", "Pan"),
    ("Ctrl + left drag", "Window/level: horizontal = width, vertical = level"),
)


class ShortcutsDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [(a.shortcut, a.text.replace("&", ""), a.help) for a in ACTIONS if a.shortcut]
        rows += [(k, v, "") for k, v in MOUSE]
        table = QtWidgets.QTableWidget(len(rows), 3)
        table.setHorizontalHeaderLabels(["Keys", "Action", "Notes"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(640, 560)
        self.table = table
