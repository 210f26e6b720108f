"""Help ▸ Keyboard shortcuts: every action of the window grouped by menu, the tools, the editing
keys and the mouse, with a search box (keys, action or notes)."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from labeldesk.qt.actions import ACTIONS

EDITING = (
    ("1 … 9", "Pick the class with that hotkey", ""),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo", "Every edit is saved as it happens"),
    ("Ctrl+C / Ctrl+V", "Copy / paste the selection onto the current plane", ""),
    ("Ctrl+D", "Copy the selection to the next slice or frame", ""),
    ("Ctrl+I", "Make a track of the selected annotations", "Interpolates between them; works on a multi-selection"),
    ("Ctrl+] / Ctrl+[", "Bring to front / send to back", ""),
    ("Ctrl+K / Ctrl+Shift+K", "Classify this slice/frame / the whole asset as the active class", ""),
    ("Del", "Delete the selection", "Locked annotations are kept"),
    ("Enter / double-click", "Finish a polygon, polyline or scissors outline", ""),
    ("Backspace", "Remove the last vertex while drawing", ""),
    ("Esc", "Cancel the shape being drawn, or the loading of a large asset", ""),
    ("[ / ]", "Brush size or wand tolerance", ""),
    ("\\", "Spherical brush across slices on/off", ""),
    ("Alt+click a vertex", "Remove it (select tool)", "Double-click an edge adds one"),
    ("Alt+. / Alt+,", "Next / previous keyframe of the selected track", ""),
)
MOUSE = (
    ("Wheel", "Volumes: next/previous slice; images: zoom at the cursor", "View ▸ Wheel zooms volumes (or Settings) swaps them"),
    ("Ctrl + wheel", "Volumes: zoom at the cursor; video: next/previous frame", ""),
    ("H", "Corner overlays and orientation markers on/off", "Every viewport"),
    ("Drag (left, middle or right button)", "Pan", ""),
    ("Ctrl + left drag", "Window/level", "Horizontal = width, vertical = level"),
    ("Drop files or folders", "Add them to the project", "From the file manager onto the window"),
)
MENU_ORDER = ("File", "Edit", "View", "Tools", "Review", "Team", "Help", "Mouse")


def rows_by_group() -> dict[str, list[tuple[str, str, str]]]:
    from labeldesk.qt.edit_session import TOOLS
    from labeldesk.qt.tools.fill_tool import FillTool
    from labeldesk.qt.tools.measurement_tools import MEASUREMENT_TOOLS
    groups: dict[str, list[tuple[str, str, str]]] = {g: [] for g in MENU_ORDER}
    for a in ACTIONS:
        if a.shortcut:
            groups.setdefault(a.menu, []).append((a.shortcut, a.text.replace("&", ""), a.help))
    groups["Tools"] = [(t.shortcut, f"{t.label} tool", (t.__doc__ or "").strip().splitlines()[0] if t.__doc__ else "")
                       for t in TOOLS + (FillTool,) + MEASUREMENT_TOOLS]
    groups["Edit"] = list(EDITING) + groups.get("Edit", [])
    groups["Mouse"] = list(MOUSE)
    return {g: rows for g, rows in groups.items() if rows}


class ShortcutsDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.search = QtWidgets.QLineEdit(placeholderText="Search keys or actions…")
        self.search.setClearButtonEnabled(True)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["Keys", "Action", "Notes"])
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        for group, rows in rows_by_group().items():
            top = QtWidgets.QTreeWidgetItem([group])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            top.setFirstColumnSpanned(False)
            self.tree.addTopLevelItem(top)
            for keys, action, notes in rows:
                top.addChild(QtWidgets.QTreeWidgetItem([keys, action, notes]))
            top.setExpanded(True)
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(1, 330)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.resize(760, 620)

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                child = top.child(j)
                hit = not needle or any(needle in child.text(c).lower() for c in range(3)) \
                    or needle in top.text(0).lower()
                child.setHidden(not hit)
                shown += hit
            top.setHidden(shown == 0)

    def visible_rows(self) -> list[tuple[str, str, str]]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                child = top.child(j)
                if not top.isHidden() and not child.isHidden():
                    out.append((top.text(0), child.text(0), child.text(1)))
        return out
