"""The shell of the main window, as a mixin of :class:`labeldesk.qt.main_window.MainWindow`:
docks and menus (and the small API extensions use: ``add_dock``, ``menu``, ``add_menu``), the start
page, files dropped from the file manager, who the window acts as and what their roles allow,
the theme, and the window layout remembered per user."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.qt import identity
from labeldesk.qt.project_files import local_paths


class WindowShell:
    """Needs ``self`` to be a QMainWindow with ``pages``, ``work``, ``_start_page``, ``files``,
    ``identity_label``, ``actions_by_id``, ``team``, ``session`` and ``project``."""
    project: Any
    user_id: str | None

    AREAS = {"left": QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, "right": QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
             "bottom": QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, "top": QtCore.Qt.DockWidgetArea.TopDockWidgetArea}

    def add_dock(self, key: str, title: str, widget: QtWidgets.QWidget, area: str = "right",
                 visible: bool = True) -> QtWidgets.QDockWidget:
        """Add a panel (for extensions too: see labeldesk.qt.extensions); it appears in View ▸ Panels
        and in the remembered layout (object name ``<key>_dock``)."""
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"{key}_dock")
        dock.setWidget(widget)
        self.addDockWidget(self.AREAS[area], dock)
        dock.setVisible(visible)
        self.docks[key] = dock
        return dock

    def menu(self, title: str) -> QtWidgets.QMenu:
        """The menu whose title (without '&') is ``title``; created before Help when missing."""
        bar = self.menuBar()
        for act in bar.actions():
            if act.menu() is not None and act.text().replace("&", "") == title.replace("&", ""):
                return act.menu()
        return self.add_menu(title)

    def add_menu(self, title: str) -> QtWidgets.QMenu:
        menu = QtWidgets.QMenu(title, self)
        menu.setToolTipsVisible(True)
        help_menu = next((a for a in self.menuBar().actions() if a.text().replace("&", "") == "Help"), None)
        self.menuBar().insertMenu(help_menu, menu) if help_menu else self.menuBar().addMenu(menu)
        return menu

    def _scope_viewer_keys(self) -> None:
        """Plain keys of the View menu (arrows, Page Up/Down, Space, letters) act when the viewports
        have the focus: in a list or a tree the arrows move the selection and Space ticks, as
        everywhere else."""
        from labeldesk.qt.actions import ACTIONS
        for spec in ACTIONS:
            if spec.menu == "View" and spec.shortcut and not any(m in spec.shortcut for m in ("Ctrl", "Alt")):
                action = self.actions_by_id[spec.id]
                action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.grid.addAction(action)

    def _build_file_menu(self) -> None:
        file_menu = self.menu("File")
        self.recent_menu = QtWidgets.QMenu("Open &recent", self)
        file_menu.insertMenu(self.actions_by_id["close_project"], self.recent_menu)
        for before in ("add_files", "settings", "quit"):
            file_menu.insertSeparator(self.actions_by_id[before])
        self.files.refresh_recent_menu()

    def _build_panels_menu(self) -> None:
        """View ▸ Panels: every dock, checked when shown (a closed panel comes back from here)."""
        self.panels_menu = QtWidgets.QMenu("&Panels", self)
        self.menu("View").insertMenu(self.menu("View").actions()[0], self.panels_menu)
        self.panels_menu.aboutToShow.connect(self._fill_panels_menu)
        self._fill_panels_menu()

    def _fill_panels_menu(self) -> None:
        self.panels_menu.clear()
        direct = QtCore.Qt.FindChildOption.FindDirectChildrenOnly      # docks and bars are the window's own
        for dock in sorted(self.findChildren(QtWidgets.QDockWidget, options=direct), key=lambda d: d.windowTitle()):
            self.panels_menu.addAction(dock.toggleViewAction())
        self.panels_menu.addSeparator()
        for bar in self.findChildren(QtWidgets.QToolBar, options=direct):
            self.panels_menu.addAction(bar.toggleViewAction())

    @property
    def start_page(self) -> Any:
        """The start page, built on first use: a window opened on a project never builds it."""
        if self._start_page is None:
            from labeldesk.qt.dialogs.start_page import StartPage
            page = StartPage()
            page.sig_new.connect(self.files.new_project)
            page.sig_open.connect(self.files.open_dialog)
            page.sig_demo.connect(self.files.open_demo)
            page.sig_open_path.connect(self.files.open)
            self.pages.insertWidget(0, page)
            self._start_page = page
            if self._start_pending:
                page.refresh()
                self.pages.setCurrentWidget(page)
        return self._start_page

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt override
        if self._start_pending and self._start_page is None:
            self.start_page                     # noqa: B018 - builds and raises it before the first paint
        super().showEvent(event)

    def _show_start_page(self) -> None:
        self._start_pending = True
        if self._start_page is not None:
            self._start_page.refresh()
            self.pages.setCurrentWidget(self._start_page)
        elif self.isVisible():
            self.start_page                     # noqa: B018 - builds and raises it
        self._set_work_visible(False)
        self.setWindowTitle("labeldesk")
        self.identity_label.show_user(None, None)
        identity.gate_actions(self.actions_by_id, None, None)
        for key in ("close_project", "locate_files", "import_annotations", "export_annotations"):
            self.actions_by_id[key].setEnabled(False)

    def _set_work_visible(self, on: bool) -> None:
        """Docks and tool bars belong to the work page; the start page shows alone."""
        direct = QtCore.Qt.FindChildOption.FindDirectChildrenOnly
        for w in (self.findChildren(QtWidgets.QDockWidget, options=direct)
                  + self.findChildren(QtWidgets.QToolBar, options=direct)):
            if w.parent() is self:
                if not on:
                    w.setProperty("shell_hidden", not w.isHidden() or bool(w.property("shell_hidden")))
                    w.hide()
                elif w.property("shell_hidden"):
                    w.setProperty("shell_hidden", False)
                    w.show()

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = local_paths(event.mimeData())
        if not paths:
            return super().dropEvent(event)
        event.acceptProposedAction()
        QtCore.QTimer.singleShot(0, self, lambda: self.files.drop(paths))   # not inside the drag loop

    def set_user(self, user_id: str) -> None:
        """Act as ``user_id`` in this window (Settings ▸ Act as); remembered for this project."""
        problem = identity.switch_problem(self.project, user_id)
        if problem:
            QtWidgets.QMessageBox.warning(self, "Cannot switch user", problem)
            return
        self._save_layout()
        identity.remember_user(self.project, user_id)
        self._apply_user(user_id)
        self._restore_layout()

    def _apply_user(self, user_id: str, note: str | None = None) -> None:
        self.user_id = user_id
        self.project.user_id = user_id          # every op of this window is stamped with this user
        self.identity_label.show_user(self.project, user_id)
        self.team.set_review_user(self.project, user_id)
        self.session.refresh()
        self.gate_actions()
        if note:
            self.statusBar().showMessage(note, 15000)

    def gate_actions(self) -> None:
        identity.gate_actions(self.actions_by_id, self.project, self.user_id)
        for key in ("close_project", "locate_files", "import_annotations", "export_annotations"):
            self.actions_by_id[key].setEnabled(self.project is not None)

    def show_settings(self) -> None:
        from labeldesk.qt.dialogs.settings_dialog import SettingsDialog
        dialog = SettingsDialog(self.project, self.user_id, self)
        dialog.sig_theme_changed.connect(self.set_theme)
        dialog.sig_sync_interval_changed.connect(lambda s: self.team.sync.worker.timer.setInterval(s * 1000))
        dialog.sig_user_changed.connect(self.set_user)
        self.settings_dialog = dialog
        dialog.exec()

    def set_theme(self, choice: str) -> None:
        from labeldesk.qt import icons
        from labeldesk.qt.theme import apply_theme
        apply_theme(choice)
        if self._start_page is not None:
            self._start_page.refresh_icons()
        for act in self.findChildren(QtGui.QAction):     # icons follow the new text colour
            name = act.property("icon_name")
            if name:
                act.setIcon(icons.icon(name))

    def _layout_key(self) -> str:
        return f"layout/{self.user_id or 'none'}"

    def _save_layout(self) -> None:
        from labeldesk.qt import preferences
        if self.pages.currentWidget() is self.work:
            preferences.set_value(self._layout_key(), self.saveState())
        preferences.set_value("layout/geometry", self.saveGeometry())

    def _restore_layout(self) -> None:
        from labeldesk.qt import preferences
        state = preferences.value(self._layout_key())
        if state is not None:
            self.restoreState(state)

    def jump_keyframe(self, step: int) -> None:
        """Alt+. / Alt+,: the next or previous keyframe of the selected annotation's track."""
        from labeldesk.core.tracks import neighbour_keyframe
        ann = self.project.annotation(next(iter(self.session.painter.selected))) \
            if self.project and len(self.session.painter.selected) == 1 else None
        target = neighbour_keyframe(self.project, ann, step) if ann is not None else None
        if target is None:
            self.statusBar().showMessage("Select an annotation of a track to jump between its keyframes", 5000)
            return
        self._on_annotation_panel_jump_requested(target)

