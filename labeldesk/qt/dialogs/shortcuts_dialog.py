"""Help ▸ Keyboard shortcuts: the table in actions.py, plus the mouse gestures."""
from __future__ import annotations

from PySide6 import QtWidgets

from labeldesk.qt.actions import ACTIONS

EDITING = (
    ("1 … 9", "Pick the class with that hotkey"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo (every edit is saved as it happens)"),
    ("Ctrl+C / Ctrl+V", "Copy / paste the selection onto the current plane"),
    ("Ctrl+D", "Copy the selection to the next slice or frame"),
    ("Ctrl+I", "Interpolate between two selected annotations (a track)"),
    ("Ctrl+] / Ctrl+[", "Bring to front / send to back"),
    ("Ctrl+K / Ctrl+Shift+K", "Classify this slice/frame / the whole asset as the active class"),
    ("Del", "Delete the selection (locked annotations are kept)"),
    ("Enter / double-click", "Finish a polygon, polyline or scissors outline"),
    ("Backspace", "Remove the last vertex while drawing"),
    ("Esc", "Cancel the shape being drawn, or the loading of a large asset"),
    ("[ / ]", "Brush size or wand tolerance"),
    ("\\", "Spherical brush across slices on/off"),
    ("Alt+click a vertex", "Remove it (select tool); double-click an edge adds one"),
)
MOUSE = (
    ("Wheel", "Volumes: next/previous slice (View ▸ Wheel zooms volumes swaps); images: zoom at the cursor"),
    ("Ctrl + wheel", "Volumes: zoom at the cursor; video: next/previous frame"),
    ("H", "Corner overlays and orientation markers on/off (every viewport)"),
    ("Drag (left, middle or right button)", "Pan"),
    ("Ctrl + left drag", "Window/level: horizontal = width, vertical = level"),
)


class ShortcutsDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        from labeldesk.qt.edit_session import TOOLS
        rows = [(a.shortcut, a.text.replace("&", ""), a.help) for a in ACTIONS if a.shortcut]
        from labeldesk.qt.tools.fill_tool import FillTool
        from labeldesk.qt.tools.measurement_tools import MEASUREMENT_TOOLS
        rows += [(t.shortcut, f"{t.label} tool", (t.__doc__ or "").strip().splitlines()[0] if t.__doc__ else "")
                 for t in TOOLS + (FillTool,) + MEASUREMENT_TOOLS]
        rows += [(k, v, "") for k, v in EDITING + MOUSE]
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
