"""Team work in the main window: the Review, Agreement, Predictions and Sync docks, the audit
trail, sync conflicts, annotation import/export and sharing. It only composes panels and dialogs that call core
functions; the window reaches it as ``window.team`` (actions use dotted slots ``team.…``)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.core.model import Plane
from labeldesk.qt import preferences


class TeamDocks:
    def __init__(self, window: Any) -> None:
        from labeldesk.qt.panels.review_panel import ReviewPanel
        self.window = window
        self.review_panel = ReviewPanel()
        # the Predictions and Agreement panels are built (and put in their docks) when first shown
        # or used: both docks start hidden
        self._metrics: Any = None
        self._predictions: Any = None
        self._project: Any = None
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        right, bottom = QtCore.Qt.DockWidgetArea.RightDockWidgetArea, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea
        for key, title, widget, area in (("review", "Review", self.review_panel, right),
                                         ("predictions", "Predictions", None, right),
                                         ("agreement", "Agreement", None, bottom)):
            dock = QtWidgets.QDockWidget(title, window)
            dock.setObjectName(f"{key}_dock")
            dock.setWidget(widget if widget is not None else QtWidgets.QWidget())     # a placeholder
            window.addDockWidget(area, dock)
            dock.hide()
            self.docks[key] = dock
        self.docks["predictions"].visibilityChanged.connect(lambda visible: visible and self.prediction_panel)
        self.docks["agreement"].visibilityChanged.connect(lambda visible: visible and self.metrics_panel)
        self._review_stale = False       # the Review panel is read when its dock is next shown
        self.docks["review"].visibilityChanged.connect(lambda visible: visible and self._review_stale and
                                                       self._refresh_review())
        window.tabifyDockWidget(window.findChild(QtWidgets.QDockWidget, "attributes_dock"), self.docks["review"])
        window.tabifyDockWidget(self.docks["review"], self.docks["predictions"])
        self.review_panel.sig_open_asset.connect(self.open_item)
        self.review_panel.sig_changed.connect(lambda _c: self.after_change())
        window.sig_asset_shown.connect(
            lambda a: self._predictions.set_asset(a) if self._predictions is not None else None)
        window.sig_asset_shown.connect(lambda _a: self.clear_comparison())
        window.sig_asset_shown.connect(self._follow_asset)
        window.sig_asset_shown.connect(lambda _a: self.refresh_pins())
        from labeldesk.qt.panels.sync_panel import SyncPanel
        from labeldesk.qt.sync_worker import SyncBinding
        self.sync_panel = SyncPanel()
        dock = QtWidgets.QDockWidget("Sync", window)
        dock.setObjectName("sync_dock")
        dock.setWidget(self.sync_panel)
        window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        dock.hide()
        self.docks["sync"] = dock
        self.sync = SyncBinding(self.sync_panel, on_changed=self._on_synced, parent=window)
        self.sync_panel.sig_conflicts_requested.connect(self.show_conflicts)
        self._pending_plane: tuple[str, Plane] | None = None
        window.sig_asset_shown.connect(self._apply_pending_plane)

    @property
    def metrics_panel(self) -> Any:
        """The Agreement panel, built (and put in its dock) the first time it is needed."""
        if self._metrics is None:
            from labeldesk.qt.panels.metrics_panel import MetricsPanel
            panel = self._metrics = MetricsPanel()
            panel.sig_open_item.connect(self.open_item)
            panel.sig_compare_item.connect(self.compare_item)
            panel.set_project(self._project)
            self.docks["agreement"].setWidget(panel)
        return self._metrics

    @property
    def prediction_panel(self) -> Any:
        """The Predictions panel, built (and put in its dock) the first time it is needed."""
        if self._predictions is None:
            from labeldesk.qt.panels.prediction_panel import PredictionPanel
            w = self.window
            panel = self._predictions = PredictionPanel(apply_drafts=w.session.commit)
            panel.sig_selection_requested.connect(w.session.select)
            panel.sig_changed.connect(lambda _c: self.after_change())
            panel.sig_error.connect(lambda t: w.statusBar().showMessage(t, 8000))
            panel.sig_queue_ordered.connect(self._on_queue_ordered)
            panel.set_project(self._project)
            if self._project is not None:
                panel.set_asset(w.current_asset_id)
            self.docks["predictions"].setWidget(panel)
        return self._predictions

    # ---- project ---------------------------------------------------------------------------
    def attach(self, project: Any) -> None:
        self.set_review_user(project, project.user_id if project is not None else None)
        self._project = project
        if self._metrics is not None:
            self._metrics.set_project(project)
        if self._predictions is not None:
            self._predictions.set_project(project)
        if self.sync is not None:
            self.sync.attach(project)

    def set_review_user(self, project: Any, user_id: str | None) -> None:
        """The Review panel's project and user. Its items are read now when the dock is shown, else
        when it is next shown: the review state of every item hashes every annotation's revision
        (0.2–0.4 s at 100,000), which a window opening with the dock hidden does not pay."""
        if self.docks["review"].isVisible():
            self._review_stale = False
            self.review_panel.set_project(project, user_id)
        else:
            self.review_panel.project = project
            self.review_panel.user_id = user_id or (project.user_id if project is not None else None)
            self._review_stale = True

    def _refresh_review(self) -> None:
        self._review_stale = False
        self.review_panel.refresh()
        if self.window.current_asset_id:
            self._follow_asset(self.window.current_asset_id)

    def detach(self) -> None:
        self._project = None                 # a panel built after the project closed shows none
        if self.sync is not None:
            self.sync.detach()

    def after_change(self) -> None:
        """Something changed the project outside the edit session (review, predictions, sync)."""
        w = self.window
        w.session.refresh_classes()
        w.session.refresh()
        w._refresh_side_panels()
        self.refresh_panels()

    def refresh_pins(self) -> None:
        """Review issues of the assets on screen, drawn where they were pinned."""
        from labeldesk.core.review import issues
        project = self.window.project
        for view in self.window.grid.views:
            pins = []
            if project is not None and view.asset_id:
                pins = [(i.plane, tuple(i.image_xy), i.status == "open") for i in issues.issues(project.conn, view.asset_id)]
            if pins != view.pins:
                view.pins = pins
                view.update()

    def refresh_panels(self) -> None:
        self.refresh_pins()
        if self.window.project is None:
            return
        if self.docks["review"].isVisible():
            self._refresh_review()
        else:
            self._review_stale = True
        if self.docks["predictions"].isVisible():
            self.prediction_panel.refresh()
        if self.docks["agreement"].isVisible():
            self.metrics_panel.refresh()

    def _on_synced(self, changes: Any) -> None:
        """A sync round merged other devices' changes (on the GUI thread)."""
        self.window.session.apply_changes(changes)
        if changes.assets:
            self.window.refresh_assets()
        self.after_change()

    # ---- sharing ---------------------------------------------------------------------------
    def show_sync(self) -> None: self._show("sync")

    def sync_now(self) -> None:
        from labeldesk.core.sync.engine import share_path
        w = self.window
        if not self._need_project():
            return
        if share_path(w.project) is None:
            w.statusBar().showMessage("This project is not shared yet: Team ▸ Share this project…", 8000)
            return
        self._show("sync")
        if not self.sync.worker.sync_now():
            w.statusBar().showMessage("A sync round is already running", 4000)

    def share_project(self, folder: str | None = None) -> bool:
        """Team ▸ Share this project…: publish it to a shared folder (an empty folder on a network
        share or in Syncthing/Dropbox/OneDrive). The SQLite store stays where it is."""
        from labeldesk.core.sync.engine import init_share, share_path
        w = self.window
        if not self._need_project():
            return False
        if share_path(w.project) is not None:
            QtWidgets.QMessageBox.information(w, "Already shared", f"This project is shared through {share_path(w.project)}.")
            return False
        folder = folder or preferences.ask_folder(w, "share", "Shared folder for this project (empty)", parent_of_choice=True)
        if not folder:
            return False
        try:
            report = init_share(w.project, folder)
        except Exception as exc:            # a message, never a crash: the project is unchanged
            QtWidgets.QMessageBox.critical(w, "Cannot share the project", str(exc))
            return False
        self.sync.attach(w.project)
        self._show("sync")
        w.statusBar().showMessage(f"Shared through {folder}: {report.published_ops} changes published"
                                  + "".join(f"; {n}" for n in report.notes), 15000)   # e.g. found a Syncthing folder
        return True

    def join_project(self, folder: str | None = None, dest: str | None = None, user: str | None = None) -> bool:
        """Team ▸ Join a shared project…: make a local replica of a shared project and open it."""
        from labeldesk.core.sync.engine import join_share
        w = self.window
        folder = folder or preferences.ask_folder(w, "share", "The team's shared folder", parent_of_choice=True)
        if not folder:
            return False
        dest = dest or preferences.ask_folder(w, "join", "Where to keep your copy (a local folder)",
                                              parent_of_choice=True)
        if not dest:
            return False
        if user is None:
            user, ok = QtWidgets.QInputDialog.getText(w, "Join", "Your user name in this project "
                                                      "(as the admin added you; empty: choose later):")
            if not ok:
                return False
        try:
            project, report = join_share(folder, dest, user=user or None)
            project.close()
            w.open_project(dest)
            if report.notes:
                w.statusBar().showMessage("; ".join(report.notes), 15000)
        except Exception as exc:
            QtWidgets.QMessageBox.critical(w, "Cannot join the shared project", str(exc))
            return False
        self._show("sync")
        return True

    def show_conflicts(self) -> None:
        from labeldesk.qt.dialogs.conflicts_dialog import ConflictsDialog
        if not self._need_project():
            return
        dialog = ConflictsDialog(self.window.project, self.window)
        dialog.sig_resolved.connect(lambda _a: self.after_change())
        dialog.exec()

    # ---- docks -----------------------------------------------------------------------------
    def _show(self, key: str) -> None:
        dock = self.docks[key]
        dock.show()
        dock.raise_()
        self.refresh_panels()

    def show_review(self) -> None: self._show("review")
    def show_predictions(self) -> None: self._show("predictions")
    def show_agreement(self) -> None: self._show("agreement")

    def approve(self) -> None: self._act("approve")
    def return_item(self) -> None: self._act("return_item")
    def fix_approve(self) -> None: self._act("fix_approve")
    def submit(self) -> None: self._act("submit")
    def adjudicate(self) -> None: self._act("adjudicate")
    def set_pointer(self, view: Any, image_xy: tuple[float, float]) -> None:
        """The last point clicked in a viewport: where Review ▸ New issue here… pins an issue."""
        self._pointer = (view.asset_id, view.plane, (float(image_xy[0]), float(image_xy[1])))
        self.review_panel.set_pointer(view.plane, self._pointer[2])

    def new_issue(self) -> bool:
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.review import issues
        w = self.window
        asset_id = w.current_asset_id
        if w.project is None or asset_id is None:
            return False
        self._show("review")
        pointer = getattr(self, "_pointer", None)
        if pointer is not None and pointer[0] == asset_id:
            plane, xy = pointer[1], pointer[2]
        else:
            asset = w.project.asset(asset_id)
            plane, xy = w.viewport.plane, (asset.width / 2, asset.height / 2)
        text = self.review_panel.ask_text(w, "New issue", f"What is wrong at ({xy[0]:.0f}, {xy[1]:.0f})?")
        if not text:
            return False
        try:
            issues.open_issue(w.project, asset_id, plane, xy, text, user=w.project.user_id)
        except LabeldeskError as exc:
            w.statusBar().showMessage(str(exc), 10000)
            return False
        self.after_change()
        return True

    def _act(self, name: str) -> None:
        if self.window.project is None:
            return
        self._show("review")
        if self.window.current_asset_id and self.review_panel.selected() is None:
            self.review_panel.select(self.window.current_asset_id)
        getattr(self.review_panel, name)()

    def open_item(self, asset_id: str, plane: Any) -> None:
        w = self.window
        if w.viewport.asset_id == asset_id and w.viewport.source is not None:
            if plane is not None and plane != w.viewport.plane:
                w.viewport.set_plane(plane)
            return
        self._pending_plane = (asset_id, plane) if plane is not None else None
        w.show_asset(asset_id)

    def _follow_asset(self, asset_id: str) -> None:
        """The Review panel follows the asset on screen (its item, issues and buttons)."""
        sel = self.review_panel.selected()
        if sel is None or sel[0] != asset_id:
            self.review_panel.select(asset_id)

    def _apply_pending_plane(self, asset_id: str) -> None:
        pending, self._pending_plane = self._pending_plane, None
        if pending is not None and pending[0] == asset_id and self.window.viewport.asset_id == asset_id:
            self.window.viewport.set_plane(pending[1])

    def _on_queue_ordered(self, asset_ids: list[str]) -> None:
        from labeldesk.core.store import repo
        w = self.window
        assets = [w.project.asset(i) for i in asset_ids] if asset_ids else w.project.assets()
        w.asset_panel.set_assets(assets, {a.id: repo.thumbnail(w.project.conn, a.id) for a in assets})

    # ---- dual-label comparison overlay -----------------------------------------------------
    def compare_item(self, asset_id: str, plane: Any, layer_a: str, layer_b: str) -> None:
        self._comparison = (asset_id, plane, layer_a, layer_b)
        self.open_item(asset_id, plane)
        QtCore.QTimer.singleShot(0, self._draw_comparison)

    def _draw_comparison(self) -> None:
        from labeldesk.core.review.comparison import compare_layers
        from labeldesk.qt.viewer.comparison_overlay import ComparisonOverlay
        w = self.window
        asset_id, plane, a, b = getattr(self, "_comparison", (None, None, None, None))
        view = w.viewport
        if asset_id is None or view.asset_id != asset_id or view.overlay is None:
            return
        p = plane or view.plane
        if not isinstance(view.overlay, ComparisonOverlay):
            view.overlay = ComparisonOverlay(view.overlay)
        result = compare_layers(w.project, asset_id, a, b, plane=p, iou=self.metrics_panel.iou.value())
        view.overlay.set_comparison(result, w.project.annotations(asset_id, plane=p))
        view.update()
        w.statusBar().showMessage("Comparison: unmatched red, low IoU orange, class mismatch magenta "
                                  "(View ▸ Clear comparison)", 10000)

    def clear_comparison(self) -> None:
        from labeldesk.qt.viewer.comparison_overlay import ComparisonOverlay
        for view in self.window.grid.views:
            if isinstance(view.overlay, ComparisonOverlay):
                view.overlay = view.overlay.base
                view.update()

    # ---- dialogs ---------------------------------------------------------------------------
    def _need_project(self) -> bool:
        if self.window.project is None:
            QtWidgets.QMessageBox.information(self.window, "No project", "Open or create a project first.")
            return False
        return True

    def show_audit(self) -> None:
        from labeldesk.qt.dialogs.audit_dialog import AuditDialog
        if not self._need_project():
            return
        dialog = AuditDialog(self.window.project, self.window, asset_id=self.window.current_asset_id)
        dialog.sig_open_asset.connect(lambda a, _p: self.window.show_asset(a))
        dialog.exec()

    def import_annotations(self) -> None:
        from labeldesk.qt.dialogs.interchange_dialog import ImportDialog
        if not self._need_project():
            return
        dialog = ImportDialog(self.window.project, self.window)
        dialog.sig_project_changed.connect(lambda: (self.after_change(), self.window.refresh_assets()))
        dialog.exec()

    def export_annotations(self) -> None:
        from labeldesk.qt.dialogs.interchange_dialog import ExportDialog
        if not self._need_project():
            return
        ExportDialog(self.window.project, self.window).exec()
