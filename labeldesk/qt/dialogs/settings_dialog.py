"""File ▸ Settings… (Ctrl+,): theme, mouse wheel, sync interval and who you act as. Everything
is remembered on this computer for the person using it; nothing here changes the project."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.qt import preferences
from labeldesk.qt.theme import THEMES

THEME_KEY = "appearance/theme"
WHEEL_KEY = "viewer/wheel_zooms_volumes"      # the viewer's own setting (bool; default: wheel pages slices)
SYNC_KEY = "team/sync_interval_s"
DEFAULT_SYNC_S = 10


def theme_choice() -> str:
    return str(preferences.value(THEME_KEY, "system"))


def sync_interval_s() -> int:
    return int(preferences.value(SYNC_KEY, DEFAULT_SYNC_S, int))


class SettingsDialog(QtWidgets.QDialog):
    sig_theme_changed = QtCore.Signal(str)
    sig_sync_interval_changed = QtCore.Signal(int)
    sig_user_changed = QtCore.Signal(str)

    def __init__(self, project: Any = None, user_id: str | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.project, self.user_id = project, user_id
        self.theme = QtWidgets.QComboBox()
        for key, text in THEMES:
            self.theme.addItem(text, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(theme_choice())))
        self.wheel = QtWidgets.QComboBox()
        self.wheel.addItem("Wheel pages slices, Ctrl+wheel zooms (as in PACS viewers)", False)
        self.wheel.addItem("Wheel zooms, Ctrl+wheel pages slices", True)
        self.wheel.setCurrentIndex(1 if preferences.value(WHEEL_KEY, False, bool) else 0)
        self.wheel.setToolTip("On volumes (CT, MR). Images zoom with the wheel; Ctrl+wheel steps video frames.")
        self.sync = QtWidgets.QSpinBox()
        self.sync.setRange(2, 3600)
        self.sync.setSuffix(" s")
        self.sync.setValue(sync_interval_s())
        self.sync.setToolTip("How often a shared project publishes your changes and reads the others'")
        self.user = QtWidgets.QComboBox()
        self.user_note = QtWidgets.QLabel()
        self.user_note.setWordWrap(True)
        self._fill_users()
        form = QtWidgets.QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Mouse wheel on volumes", self.wheel)
        form.addRow("Sync every", self.sync)
        form.addRow("Act as", self.user)
        form.addRow("", self.user_note)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.user.currentIndexChanged.connect(self._on_user_changed)
        self.resize(560, 0)

    def _fill_users(self) -> None:
        from labeldesk.qt.identity import roles_text, switch_problem
        self.user.clear()
        if self.project is None:
            self.user.addItem("(no project open)")
            self.user.setEnabled(False)
            self.user_note.setText("Open a project to see its members.")
            return
        for u in self.project.users():
            problem = switch_problem(self.project, u.id)
            self.user.addItem(f"{u.name} — {roles_text(self.project, u.id)}", u.id)
            index = self.user.count() - 1
            if problem:       # shown, but not selectable: the rule is explained in the note
                self.user.model().item(index).setEnabled(False)
                self.user.setItemData(index, problem, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.user.setCurrentIndex(max(0, self.user.findData(self.user_id)))
        self._on_user_changed()

    def _on_user_changed(self, _index: int = 0) -> None:
        import os
        if self.project is None:
            return
        if os.environ.get("LABELDESK_USER"):
            self.user.setEnabled(False)
            self.user_note.setText(f"Chosen by LABELDESK_USER={os.environ['LABELDESK_USER']} (as for the command line).")
            return
        self.user_note.setText("Every change you make is recorded under this name. Acting as another member "
                               "needs their private key on this computer; members whose key is not here "
                               "are greyed out.")

    def accept(self) -> None:
        theme = self.theme.currentData()
        if theme != theme_choice():
            preferences.set_value(THEME_KEY, theme)
            self.sig_theme_changed.emit(theme)
        preferences.set_value(WHEEL_KEY, bool(self.wheel.currentData()))
        if self.sync.value() != sync_interval_s():
            preferences.set_value(SYNC_KEY, self.sync.value())
            self.sig_sync_interval_changed.emit(self.sync.value())
        uid = self.user.currentData()
        if self.project is not None and uid and uid != self.user_id and self.user.isEnabled():
            self.sig_user_changed.emit(uid)
        preferences.settings().sync()
        super().accept()
