"""Label quality in the main window: the Quality and Dashboard docks, the Quality menu (checks,
data checks, dashboard, guides) and File ▸ Back up…. It only composes panels and dialogs that
call core functions; the window reaches it as ``window.quality``."""
from __future__ import annotations

import time
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.core.model import Plane


class QualityDocks:
    def __init__(self, window: Any) -> None:
        self.window = window
        # the panels are built (and put in their docks) when first needed: every dock here starts
        # hidden, and a window that never shows them does not import or build them
        self._quality: Any = None
        self._organise: Any = None
        self._dashboard: Any = None       # (pyqtgraph: ≈ 0.3 s of a start)
        self._followed: Any = None        # the project the built panels show
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        for key, title, area in (
                ("quality", "Quality", QtCore.Qt.DockWidgetArea.BottomDockWidgetArea),
                ("dashboard", "Dashboard", QtCore.Qt.DockWidgetArea.BottomDockWidgetArea),
                ("organise", "Organise", QtCore.Qt.DockWidgetArea.RightDockWidgetArea)):
            dock = QtWidgets.QDockWidget(title, window)
            dock.setObjectName(f"{key}_dock")
            dock.setWidget(QtWidgets.QWidget())       # a placeholder until first shown
            window.addDockWidget(area, dock)
            dock.hide()
            dock.visibilityChanged.connect(lambda visible, key=key: visible and self._on_dock_shown(key))
            self.docks[key] = dock
        window.sig_asset_shown.connect(lambda a: self._organise.set_asset(a) if self._organise is not None else None)
        self._pending: tuple[str, str, float] | None = None
        self._pending_layer: tuple[str, str] | None = None
        window.sig_asset_shown.connect(self._select_pending)
        self._build_menus()

    @property
    def quality_panel(self) -> Any:
        """The Quality panel, built (and put in its dock) the first time it is needed."""
        if self._quality is None:
            from labeldesk.qt.panels.quality_panel import QualityPanel
            panel = self._quality = QualityPanel()
            panel.sig_open.connect(self.open_finding)
            panel.sig_message.connect(lambda t: self.window.statusBar().showMessage(t, 8000))
            panel.set_project(self._followed)
            self.docks["quality"].setWidget(panel)
        return self._quality

    @property
    def organise_panel(self) -> Any:
        """The Organise panel, built (and put in its dock) the first time it is needed."""
        if self._organise is None:
            from labeldesk.qt.panels.organise_panel import OrganisePanel
            panel = self._organise = OrganisePanel()
            panel.sig_message.connect(lambda t: self.window.statusBar().showMessage(t, 8000))
            panel.sig_filtered.connect(self._list_assets)
            panel.sig_open.connect(self.open_audit)
            if self._followed is not None:
                panel.set_project(self._followed)
                panel.set_asset(self.window.current_asset_id)
            self.docks["organise"].setWidget(panel)
        return self._organise

    def _build_menus(self) -> None:
        w = self.window
        bar = w.menuBar()
        menu = QtWidgets.QMenu("&Quality", w)
        help_action = next((a for a in bar.actions() if a.text() == "&Help"), None)
        bar.insertMenu(help_action, menu) if help_action is not None else bar.addMenu(menu)
        self.actions: dict[str, QtGui.QAction] = {}
        for key, text, shortcut, slot in (
                ("checks", "&Label checks", "Ctrl+Shift+Q", self.show_checks),
                ("data_checks", "&Data checks", "", self.run_data_checks),
                ("dashboard", "Team &dashboard", "Ctrl+Shift+D", self.show_dashboard),
                ("organise", "&Organise: tags, filters, batches, gold, my audits", "Ctrl+Shift+G", self.show_organise),
                (None, None, None, None),
                ("project_guide", "Edit the project &labeling guide…", "", self.edit_project_guide),
                ("class_guide", "Edit the active class's &guide card…", "", self.edit_class_guide)):
            if key is None:
                menu.addSeparator()
                continue
            act = menu.addAction(text, slot)
            if shortcut:
                act.setShortcut(QtGui.QKeySequence(shortcut))
            self.actions[key] = act
        file_menu = next((a.menu() for a in bar.actions() if a.text() == "&File"), None)
        if file_menu is not None:
            quit_action = next((a for a in file_menu.actions() if a.text() == "&Quit"), None)
            backup = QtGui.QAction("&Back up…", w)
            backup.setStatusTip("A verified copy of the project store (restore: `labeldesk restore`)")
            backup.triggered.connect(self.back_up)
            file_menu.insertAction(quit_action, backup)
            self.actions["backup"] = backup

    def _on_dock_shown(self, key: str) -> None:
        self._follow_project()
        getattr(self, f"{key}_panel")               # built with the followed project

    @property
    def dashboard_panel(self) -> Any:
        """The Dashboard panel, built (and put in its dock) the first time it is needed."""
        if self._dashboard is None:
            from labeldesk.qt.panels.dashboard_panel import DashboardPanel
            self._dashboard = DashboardPanel()
            self._dashboard.set_project(self._followed)
            self.docks["dashboard"].setWidget(self._dashboard)
        return self._dashboard

    # ---- project ---------------------------------------------------------------------------
    def _follow_project(self) -> Any:
        """The built panels show the window's project (read when one of them is shown or used)."""
        project = self.window.project
        if self._followed is not project:
            self._followed = project
            if self._quality is not None:
                self._quality.set_project(project)
            if self._dashboard is not None:
                self._dashboard.set_project(project)
            if self._organise is not None:
                self._organise.set_project(project)
                self._organise.set_asset(self.window.current_asset_id)
        return project

    def _show(self, key: str) -> None:
        dock = self.docks[key]
        dock.show()
        dock.raise_()

    def show_checks(self) -> None:
        self._follow_project()
        self._show("quality")
        if self.quality_panel.project is not None:
            self.quality_panel.which.setCurrentIndex(0)
            self.quality_panel.run()

    def run_data_checks(self) -> None:
        self._follow_project()
        self._show("quality")
        if self.quality_panel.project is not None:
            self.quality_panel.which.setCurrentIndex(self.quality_panel.which.count() - 1)
            self.quality_panel.run()

    def show_dashboard(self) -> None:
        self._follow_project()
        self._show("dashboard")
        self.dashboard_panel.refresh()

    def show_organise(self) -> None:
        self._follow_project()
        self._show("organise")
        self.organise_panel.refresh()

    def _list_assets(self, asset_ids: list[str] | None) -> None:
        w = self.window
        if asset_ids is None:
            w.refresh_assets()
            return
        from labeldesk.core.store import repo
        assets = [w.project.asset(i) for i in asset_ids]
        w.asset_panel.set_assets(assets, {a.id: repo.thumbnail(w.project.conn, a.id) for a in assets})

    def open_audit(self, asset_id: str, layer_id: str) -> None:
        """Open an audited item showing the audited layer (not the first review's decision)."""
        w = self.window
        self._pending_layer = (asset_id, layer_id)
        w.team.open_item(asset_id, None)
        if w.viewport.asset_id == asset_id and w.viewport.source is not None:
            self._select_pending(asset_id)

    # ---- opening a finding -----------------------------------------------------------------
    def open_finding(self, asset_id: str, plane: dict[str, Any] | None, annotation_id: str | None) -> None:
        w = self.window
        target = Plane.from_dict(plane) if plane else None
        shown = w.viewport.asset_id == asset_id and w.viewport.source is not None
        self._pending = (asset_id, annotation_id, time.monotonic()) if annotation_id else None
        w.team.open_item(asset_id, target)
        if shown:
            self._select_pending(asset_id)

    def _select_pending(self, asset_id: str) -> None:
        layer, self._pending_layer = self._pending_layer, None
        if layer is not None and layer[0] == asset_id:
            self.window.set_viewport_layer(layer[1])
        # the asset may be shown more than once while it loads (each show clears the selection):
        # the finding's annotation is selected after every show of its asset for a few seconds
        pending = self._pending
        if pending is not None and pending[0] == asset_id and time.monotonic() - pending[2] < 5.0:
            QtCore.QTimer.singleShot(0, lambda: self.window.session.select({pending[1]}))

    # ---- guides and backups ----------------------------------------------------------------
    def edit_project_guide(self) -> None:
        from labeldesk.qt.dialogs.guide_dialog import GuideDialog
        if self.window.project is None:
            return
        self.guide_dialog = GuideDialog(self.window, self.window.project)
        self.guide_dialog.open()

    def edit_class_guide(self) -> None:
        from labeldesk.qt.dialogs.guide_dialog import GuideDialog
        w = self.window
        item = w.ontology_panel.tree.currentItem() if w.project is not None else None
        cid = item.data(0, QtCore.Qt.ItemDataRole.UserRole) if item is not None else None
        if cid is None:
            QtWidgets.QMessageBox.information(w, "Guide card", "Pick a class in the Classes panel first.")
            return
        self.guide_dialog = GuideDialog(w, w.project, cid)
        self.guide_dialog.accepted.connect(self._after_guide_saved)
        self.guide_dialog.open()

    def _after_guide_saved(self) -> None:
        w = self.window
        w.session.refresh_classes()
        w.ontology_panel.set_classes(w.project.classes())

    def back_up(self) -> None:
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.quality import backup
        w = self.window
        if w.project is None:
            return
        default = str(w.project.root / "backups")
        folder = QtWidgets.QFileDialog.getExistingDirectory(w, "Back up the project into…", default)
        if not folder:
            return
        try:
            report = backup.backup(w.project, folder)
        except LabeldeskError as exc:
            QtWidgets.QMessageBox.critical(w, "Back up", str(exc))
            return
        w.statusBar().showMessage(f"Backed up and verified: {report.path}", 15000)
