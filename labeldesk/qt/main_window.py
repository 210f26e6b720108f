"""The main window: composition of the asset panel, the viewport and the status bar. No domain
logic here: it calls core functions (on worker threads when they can be slow)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from PySide6 import QtGui

from labeldesk import __version__
from labeldesk.core.store import repo
from labeldesk.qt import identity
from labeldesk.qt.actions import build_actions
from labeldesk.qt.icons import set_icon
from labeldesk.qt.project_files import ProjectFiles
from labeldesk.qt.window_shell import WindowShell
from labeldesk.qt.edit_session import TOOLS, EditSession
from labeldesk.qt.panels.annotation_panel import AnnotationPanel
from labeldesk.qt.dialogs import ontology_dialogs
from labeldesk.qt.panels.asset_panel import AssetPanel
from labeldesk.qt.panels.attribute_panel import AttributePanel
from labeldesk.qt.panels.ontology_panel import OntologyPanel
from labeldesk.qt.tasks import TaskRunner
from labeldesk.qt import window_state
from labeldesk.qt.viewer import linking, navigation
from labeldesk.qt.viewer.playback_bar import PlaybackBar
from labeldesk.qt.viewer.viewport_grid import ViewportGrid


class MainWindow(WindowShell, QtWidgets.QMainWindow):
    sig_asset_shown = QtCore.Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.project: Any = None
        self.current_asset_id: str | None = None
        self.offer_guide = True             # off in screenshot mode
        self._loading: TaskRunner | None = None
        self._tasks: set[TaskRunner] = set()
        self.setWindowTitle("labeldesk")
        self.resize(1400, 900)
        self.grid = ViewportGrid()
        self.links: dict[str, bool] = {}
        self._sources: dict[str, Any] = {}          # asset id -> open source, shared by viewports
        self.playback = PlaybackBar(self.grid.active)
        central = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.grid, 1)
        column.addWidget(self.playback)
        self.work = central
        self._start_page: Any = None                  # built when first shown (not when a project opens)
        self._start_pending = False
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(self.work)
        self.setCentralWidget(self.pages)
        self.setAcceptDrops(True)                     # files and folders from the file manager
        self.files = ProjectFiles(self)
        self.user_id: str | None = None
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self.asset_panel = AssetPanel()
        self.add_dock("assets", "Assets", self.asset_panel, "left")
        self.session = EditSession(self.grid.active, self)
        self.session.views = self.grid.visible_views
        self.ontology_panel = OntologyPanel()
        self.annotation_panel = AnnotationPanel()
        self.attribute_panel = AttributePanel()
        self.add_dock("classes", "Classes", self.ontology_panel, "right")
        self.add_dock("annotations", "Annotations", self.annotation_panel, "right")
        self.add_dock("attributes", "Attributes", self.attribute_panel, "right")
        self.readout = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.readout, 1)
        self.identity_label = identity.IdentityLabel()
        self.identity_label.sig_clicked.connect(self.show_settings)
        self.statusBar().addPermanentWidget(self.identity_label)
        from labeldesk.qt.team import TeamDocks
        self.team = TeamDocks(self)
        from labeldesk.qt.dialogs.settings_dialog import sync_interval_s
        self.team.sync.worker.timer.setInterval(sync_interval_s() * 1000)
        self.actions_by_id = build_actions(self)
        self._build_file_menu()
        self._scope_viewer_keys()
        self._build_tools()
        navigation.install(self)
        self._build_panels_menu()
        from labeldesk.qt import extensions
        for problem in extensions.install_all(self):
            self.statusBar().showMessage(f"extension not loaded: {problem}", 15000)
        from labeldesk.qt.model_docks import ModelDocks
        self.models = ModelDocks(self)
        from labeldesk.qt.quality_docks import QualityDocks
        self.quality = QualityDocks(self)
        self.asset_panel.sig_asset_selected.connect(self._on_asset_panel_asset_selected)
        for view in self.grid.views:
            self._wire_view(view)
        self.grid.sig_active_changed.connect(self._on_grid_active_changed)
        self.grid.tile_loader.sig_tile_failed.connect(lambda why: self.statusBar().showMessage(why, 15000))
        self.grid.sig_asset_dropped.connect(lambda view, asset_id: self.show_asset(asset_id, view))
        self.ontology_panel.sig_class_activated.connect(self.session.set_active_class)
        self.session.sig_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.session.sig_annotations_changed.connect(self._on_session_annotations_changed)
        self.session.sig_document_changed.connect(self.annotation_panel.apply_change)
        self.session.sig_selection_changed.connect(self._on_session_selection_changed)
        from labeldesk.qt.tracks_dock import TracksDock
        self.tracks = TracksDock(self)
        self.attribute_panel.sig_attributes_edited.connect(
            lambda aid, values: self.tracks.edit_attributes(aid, values) or self.session.set_attributes(aid, values))
        self.attribute_panel.sig_class_edited.connect(self._on_attribute_panel_class_edited)
        self.ontology_panel.sig_menu_requested.connect(
            lambda cid, pos: ontology_dialogs.context_menu(self, cid, pos))
        self.session.undo_stack.indexChanged.connect(self._after_undo_redo)
        self.annotation_panel.sig_selection_requested.connect(self.session.select)
        self.annotation_panel.sig_jump_requested.connect(self._on_annotation_panel_jump_requested)
        self.annotation_panel.sig_visibility_changed.connect(self._on_annotation_panel_visibility_changed)
        self.annotation_panel.sig_opacity_changed.connect(self._on_annotation_panel_opacity_changed)
        self.annotation_panel.sig_lock_requested.connect(self._on_annotation_panel_lock_requested)
        self.annotation_panel.sig_group_requested.connect(self._on_annotation_panel_group_requested)
        for name, act in self.tool_actions.items():     # tools other modules added: our icons too
            if act.icon().isNull():
                set_icon(act, name)
            if act.icon().isNull():                     # not drawn yet: its key, same style
                from labeldesk.qt.icons import letter_icon
                act.setIcon(letter_icon(act.shortcut().toString().split("+")[-1] or name[:1].upper()))
            act.setToolTip(act.text())
        self._show_start_page()                # until a project is open

    # ---- the viewport grid ----------------------------------------------------------------------
    @property
    def viewport(self) -> Any:
        """The active viewport: tools, keys and panels act on it."""
        return self.grid.active

    LINKS = (("pan_zoom", "Link pan and zoom"), ("slice", "Link slice position (patient mm)"),
             ("window", "Link window/level"), ("frame", "Link video frame / time"))

    def _wire_view(self, view: Any) -> None:
        view.sig_readout.connect(self.readout.setText)
        view.sig_escape.connect(self.cancel_loading)
        view.sig_view_changed.connect(lambda v=view: self._propagate(v, "pan_zoom"))
        view.sig_window_changed.connect(lambda _c, _w, v=view: self._propagate(v, "window"))
        view.sig_plane_changed.connect(lambda _p, v=view: (self._propagate(v, "slice"), self._propagate(v, "frame")))
        view.sig_crosshair_requested.connect(self._on_view_crosshair_requested)
        view.sig_clicked.connect(lambda v, image_xy: self.team.set_pointer(v, image_xy))
        view.sig_plane_changed.connect(lambda _p, v=view: self.session.refresh_view(v))
        navigation.wire(self, view)

    def _propagate(self, source_view: Any, what: str) -> None:
        linking.propagate(self, source_view, what)

    def show_layer_in_viewport(self) -> None:
        """Choose which layer the active viewport shows (side-by-side review of two annotators)."""
        if self.project is None:
            return
        layers = self.project.layers()
        if self.current_asset_id is not None:         # blind labeling: only the layers you may see
            from labeldesk.core.review.assignment import visible_layers
            visible = set(visible_layers(self.project, self.project.user_id, self.current_asset_id))
            layers = [l for l in layers if l.id in visible]
        names = ["All layers"] + [f"{l.name} ({l.kind})" for l in layers]
        name, ok = QtWidgets.QInputDialog.getItem(self, "Layer", "Show in this viewport:", names, 0, False)
        if ok:
            self.set_viewport_layer(None if name == "All layers" else layers[names.index(name) - 1].id)

    def set_viewport_layer(self, layer_id: Any) -> None:
        self.viewport.layer_id = layer_id
        self.session.refresh()

    def set_layout(self, name: str) -> None:
        before = len(self.grid.views)
        self.grid.set_layout(name)
        for view in self.grid.views[before:]:
            self._wire_view(view)
        self.session.refresh()

    def layout_1x1(self) -> None: self.set_layout("1x1")
    def layout_1x2(self) -> None: self.set_layout("1x2")
    def layout_2x1(self) -> None: self.set_layout("2x1")
    def layout_2x2(self) -> None: self.set_layout("2x2")
    def layout_1x3(self) -> None: self.set_layout("1x3")

    def show_mpr(self) -> None:
        linking.show_mpr(self)

    def set_crosshair(self, asset_id: str, ijk: tuple[int, int, int]) -> None:
        linking.set_crosshair(self, asset_id, ijk)

    def _on_view_crosshair_requested(self, view: Any, image_xy: tuple[float, float]) -> None:
        linking.crosshair_from_click(self, view, image_xy)

    def _on_grid_active_changed(self, view: Any) -> None:
        self.session.attach(view)
        self.playback.viewport = view
        view.sig_plane_changed.connect(self.playback._on_viewport_plane_changed, QtCore.Qt.ConnectionType.UniqueConnection)
        self.playback.source_changed()
        self.current_asset_id = view.asset_id
        self._on_session_annotations_changed()
        if view.asset_id:
            self.asset_panel.list.blockSignals(True)
            self.asset_panel.select(view.asset_id)
            self.asset_panel.list.blockSignals(False)

    def _release_unused_sources(self) -> None:
        used = {id(v.source) for v in self.grid.views if v.source is not None}
        for asset_id, src in list(self._sources.items()):
            if id(src) not in used:
                src.close()
                del self._sources[asset_id]

    def _build_tools(self) -> None:
        """Tools toolbar (single-key shortcuts), undo/redo, and class hotkeys 1–9."""
        bar = self.addToolBar("Tools")
        bar.setObjectName("tools_toolbar")
        bar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonIconOnly)   # names on hover; no shifting
        bar.setIconSize(QtCore.QSize(22, 22))
        group = QtGui.QActionGroup(self)
        self.tool_actions: dict[str, QtGui.QAction] = {}
        for cls in TOOLS:
            act = QtGui.QAction(f"{cls.label} ({cls.shortcut})", self, checkable=True)
            set_icon(act, cls.name)
            act.setToolTip(f"{cls.label} ({cls.shortcut})")
            act.setObjectName(f"tool_{cls.name}")
            act.setShortcut(QtGui.QKeySequence(cls.shortcut))
            act.triggered.connect(lambda _=False, n=cls.name: self.session.set_tool(n))
            group.addAction(act)
            bar.addAction(act)
            self.tool_actions[cls.name] = act
        self.tool_actions["select"].setChecked(True)
        self.session.sig_tool_changed.connect(lambda n: self.tool_actions[n].setChecked(True))
        bar.addSeparator()
        undo = self.session.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
        redo = self.session.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")])
        for act, name in ((undo, "undo"), (redo, "redo")):
            set_icon(act, name)
            bar.addAction(act)
        edit_menu = QtWidgets.QMenu("&Edit", self)
        edit_menu.setToolTipsVisible(True)
        self.menuBar().insertMenu(self.menuBar().actions()[1], edit_menu)     # File, Edit, View, Help
        edit_menu.addActions([undo, redo])
        edit_menu.addSeparator()
        for text, keys, slot in (
                ("&Copy", "Ctrl+C", self.session.copy), ("&Paste", "Ctrl+V", self.session.paste),
                ("Copy to &next slice/frame", "Ctrl+D", self.session.copy_to_next),
                ("&Interpolate between the two selected", "Ctrl+I", self.session.interpolate_selection),
                ("&Delete selected", "Del", self.session.delete_selected),
                ("&Group selected (one instance)", "Ctrl+Alt+G", lambda: self._on_annotation_panel_group_requested(True)),
                ("&Ungroup selected", "Ctrl+Alt+U", lambda: self._on_annotation_panel_group_requested(False)),
                ("Bring to &front", "Ctrl+]", lambda: self.session.reorder(True)),
                ("Send to &back", "Ctrl+[", lambda: self.session.reorder(False)),
                ("Import ontology JSON…", "", lambda: ontology_dialogs.import_json(self)),
                ("Export ontology JSON…", "", lambda: ontology_dialogs.export_json(self)),
                ("Add class…", "", lambda: ontology_dialogs.add_class(self)),
                ("Next keyframe of the track", "Alt+.", lambda: self.jump_keyframe(+1)),
                ("Previous keyframe of the track", "Alt+,", lambda: self.jump_keyframe(-1)),
                ("Classify this slice/frame as the active class", "Ctrl+K", lambda: self.session.classify("plane")),
                ("Classify the whole asset as the active class", "Ctrl+Shift+K", lambda: self.session.classify("asset"))):
            act = edit_menu.addAction(text, slot)
            if text.startswith(("Import ontology", "Add class")):
                self.actions_by_id["import_ontology" if text.startswith("Import") else "add_class"] = act
            if keys:
                act.setShortcut(QtGui.QKeySequence(keys))
                # the viewports and the annotation list (Ctrl+click rows, then Ctrl+I)
                act.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.grid.addAction(act)
                self.annotation_panel.addAction(act)
        layouts = self.addToolBar("Layout")
        layouts.setObjectName("layout_toolbar")
        layouts.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonIconOnly)
        layouts.setIconSize(QtCore.QSize(22, 22))
        for key in ("layout_1x1", "layout_1x2", "layout_2x1", "layout_2x2", "layout_1x3", "mpr"):
            act = self.actions_by_id[key]
            set_icon(act, key)
            act.setIconText("MPR" if key == "mpr" else key.split("_")[1].replace("x", "×"))
            layouts.addAction(act)
        self.addToolBarBreak()
        from labeldesk.qt.tools.options_bar import ToolOptionsBar
        self.tool_options = ToolOptionsBar(self.session, self)
        self.addToolBar(self.tool_options)
        view_menu = next(a.menu() for a in self.menuBar().actions() if a.text() == "&View")
        view_menu.addSeparator()
        for key, text in self.LINKS:
            act = view_menu.addAction(text)
            act.setCheckable(True)
            act.toggled.connect(lambda on, k=key: self.links.__setitem__(k, on))
            self.actions_by_id[f"link_{key}"] = act
        view_menu.addAction("Show layer in this viewport…", self.show_layer_in_viewport)
        self.threshold_low, self.threshold_high = self.tool_options.threshold_low, self.tool_options.threshold_high
        self.undo_action, self.redo_action = undo, redo
        for digit in "123456789":
            sc = QtGui.QShortcut(QtGui.QKeySequence(digit), self)
            sc.activated.connect(lambda d=digit: self._class_hotkey(d))

    def _class_hotkey(self, digit: str) -> None:
        """1–9 make the class with that key the active one (what the next shape is drawn as); with
        the Select tool, the selected annotations are also given that class (one undo step)."""
        if not self.ontology_panel.activate_hotkey(digit):
            return
        session = self.session
        if session.tool is not None and session.tool.name == "select" and session.painter.selected:
            n = len(session.painter.selected)
            name = self.ontology_panel.classes[session.active_class_id].name
            if session.set_class_of_selected(session.active_class_id):
                self.statusBar().showMessage(f"{n} annotation(s) set to {name}", 4000)

    def _on_session_annotations_changed(self) -> None:
        """The Annotations panel follows the open document (an asset whose document is not open
        yet shows none: it opens when the pixels are ready, after the window is up)."""
        doc = self.session.documents.get(self.current_asset_id) if self.project is not None else None
        if doc is None:
            self.annotation_panel.set_document(None, None, {}, {}, set(), set())
            self.tracks.show_document(None, None, {})
            return
        names = {c.id: c.name for c in self.project.classes()}
        authors = {u.id: u.name for u in self.project.users()}
        from labeldesk.core.op_types.classifications import classifications
        self.annotation_panel.set_document(doc, self.session.visible_layers(doc.asset_id), names, authors,
                                           self.session.painter.hidden, self.session.locked)
        layers = self.session.visible_layers(doc.asset_id)
        self.tracks.show_document(doc, layers, names)      # its tracked rows only, kept per change
        self.annotation_panel.show_classifications(classifications(self.project.conn, self.current_asset_id),
                                                   self.viewport.plane)
        self.annotation_panel.show_selection(self.session.painter.selected)

    def _on_session_selection_changed(self, ids: set[str]) -> None:
        self.annotation_panel.show_selection(ids)
        self._show_attributes(ids)

    def _show_attributes(self, ids: set[str]) -> None:
        from labeldesk.core.measure import measure, pixel_size_mm
        ann = self.project.annotation(next(iter(ids))) if self.project and len(ids) == 1 else None
        text = ""
        if ann is not None and not ann.deleted:
            asset = self.project.asset(ann.asset_id)
            calib = self.project.conn.execute("SELECT value FROM meta WHERE key='setting.mm_per_pixel'").fetchone()
            px = pixel_size_mm(asset, ann.plane.axis, float(calib[0]) if calib else None)
            text = measure(ann.geometry, px).text() if ann.geometry.kind != "points" else ""
        else:
            ann = None
        self.attribute_panel.show_annotation(ann, self.project.classes() if self.project else [], text)

    def _on_attribute_panel_class_edited(self, annotation_id: str, class_id: Any) -> None:
        from labeldesk.core.ops import OpDraft
        ann = self.project.annotation(annotation_id)
        cls = next((c for c in self.project.classes() if c.id == class_id), None)
        keys = {d["key"] for d in cls.attributes} if cls else set()
        from labeldesk.core.groups import reserved_attributes
        values = {"class_id": class_id, "attributes": {**{k: v for k, v in ann.attributes.items() if k in keys},
                                                       **reserved_attributes(ann.attributes)}}
        self.session.commit([OpDraft("annotation.update", annotation_id, {"set": values})], "Change class")

    def _after_undo_redo(self, _index: int = 0) -> None:
        # Deferred: the change may come from a widget of these panels, which must not be deleted
        # while its own signal is being delivered.
        QtCore.QTimer.singleShot(0, self, self._refresh_side_panels)

    def _refresh_side_panels(self) -> None:
        self.ontology_panel.set_classes(self.project.classes() if self.project else [])
        if self.project is not None and self.user_id is not None:      # roles may have changed (sync)
            self.identity_label.show_user(self.project, self.user_id)
            self.gate_actions()
        self._show_attributes(self.session.painter.selected)
        self.team.refresh_panels()

    def _on_annotation_panel_visibility_changed(self, hidden: set[str]) -> None:
        self.session.painter.hidden = set(hidden)
        self.viewport.update()

    def _on_annotation_panel_opacity_changed(self, value: float) -> None:
        self.session.painter.opacity = value
        self.viewport.update()

    def _on_annotation_panel_lock_requested(self, lock: bool) -> None:
        chosen = set(self.session.painter.selected)
        self.session.locked = (self.session.locked | chosen) if lock else (self.session.locked - chosen)
        self._on_session_annotations_changed()

    def _on_annotation_panel_group_requested(self, group: bool) -> None:
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.groups import group_drafts, ungroup_drafts
        chosen = self.session.selected_annotations()
        try:
            drafts = group_drafts(chosen) if group else ungroup_drafts(chosen)
        except LabeldeskError as exc:
            self.session.message(str(exc))
            return
        if drafts:
            self.session.commit(drafts, "group" if group else "ungroup")

    def _on_annotation_panel_jump_requested(self, annotation: Any) -> None:
        if annotation.plane != self.viewport.plane:
            self.viewport.set_plane(annotation.plane)
        self.session.select({annotation.id})

    # ---- project ------------------------------------------------------------------------------
    def _close_current(self) -> None:
        if self.project is None:
            return
        self._save_view_state()
        self._save_layout()
        for v in self.grid.views:
            v.set_source(None)
            v.asset_id = None
        self._release_unused_sources()
        self.team.detach()
        self.project.close()
        self.project = None
        self.current_asset_id = None

    def open_project(self, root: str | Path) -> None:
        from labeldesk.core.project import Project, store_upgrade_pending
        self._close_current()
        pending = store_upgrade_pending(root)
        if pending is not None:
            self._upgrade_store(root, *pending)
        self.project = Project.open(root)
        self.setWindowTitle(f"{self.project.name} — labeldesk")
        self._start_pending = False
        self.pages.setCurrentWidget(self.work)
        self._set_work_visible(True)
        user_id, note = identity.chosen_user(self.project)
        self.project.user_id = user_id
        self.session.set_project(self.project)
        self.team.attach(self.project)
        self._apply_user(user_id, note)
        self.docks["annotations"].raise_()          # unless this user's remembered layout says otherwise
        self._restore_layout()
        self.files.opened(self.project.root)
        self.models.attach(self.project)
        self.ontology_panel.set_classes(self.project.classes())
        QtCore.QTimer.singleShot(0, self, self.show_labeling_guide_once)
        self.refresh_assets()
        ids = self.asset_panel.asset_ids()
        if ids:
            if not window_state.restore_session(self):
                self.asset_panel.select(ids[0])
        else:
            self.viewport.set_message("This project has no assets yet: drop files or folders here, "
                                      "or File ▸ Add files… (Ctrl+Shift+A)")
        self.files.link_recorded_paths()

    def _upgrade_store(self, root: str | Path, version: int, newest: int) -> None:
        """A store written by an older labeldesk is upgraded once before it opens (a large op log
        is copied: seconds): on a worker, with a busy dialog, the window painting meanwhile.
        LabeldeskError if it fails (nothing was changed: each step is one transaction)."""
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.project import upgrade_store
        dialog = QtWidgets.QProgressDialog(
            f"Upgrading the store of {Path(root).name} for this version of labeldesk (version {version} → "
            f"{newest}; once, it keeps every op)…", "", 0, 0, self)
        dialog.setWindowTitle("Upgrading the project")
        dialog.setCancelButton(None)               # one transaction per step: let it finish
        dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        loop = QtCore.QEventLoop()
        outcome: list[str | None] = []
        runner = TaskRunner(upgrade_store, root, with_progress=False)
        runner.signals.sig_finished.connect(lambda _r: (outcome.append(None), loop.quit()))
        runner.signals.sig_failed.connect(lambda msg: (outcome.append(msg), loop.quit()))
        self._tasks.add(runner)
        runner.start()
        if not outcome:
            loop.exec()
        self._tasks.discard(runner)
        dialog.reset()
        dialog.deleteLater()
        if outcome and outcome[0] is not None:
            raise LabeldeskError(f"{root}: the store could not be upgraded: {outcome[0]}")

    def close_project(self) -> None:
        """File ▸ Close project: back to the start page (nothing to save: edits are saved as made)."""
        self._close_current()
        self.session.set_project(None)
        self.team.review_panel.set_project(None)
        self.asset_panel.list.blockSignals(True)
        self.asset_panel.set_assets([], {})
        self.asset_panel.list.blockSignals(False)
        self.ontology_panel.set_classes([])
        self.annotation_panel.set_document(None, None, {}, {}, set(), set())
        self.attribute_panel.show_annotation(None, [], "")
        self.user_id = None
        self._show_start_page()

    def refresh_assets(self) -> None:
        assets = self.project.assets()
        thumbs = {a.id: repo.thumbnail(self.project.conn, a.id) for a in assets}
        self.asset_panel.set_assets(assets, thumbs)
        self.files.link_recorded_paths()          # assets that arrived by sync may be here already

    def show_asset(self, asset_id: str, view: Any = None) -> None:
        """Show an asset in a viewport (the active one by default). Pixels open on a worker thread;
        an asset already open in another viewport shares its source (one copy of a volume)."""
        from labeldesk.core.io.registry import open_locator
        view = view or self.viewport
        self.grid.set_active(view)
        self._save_view_state()
        self.asset_panel.list.blockSignals(True)          # keep the list in step with the viewport
        self.asset_panel.select(asset_id)
        self.asset_panel.list.blockSignals(False)
        asset = self.project.asset(asset_id)
        locator = self.project.locator(asset_id)
        self.current_asset_id = asset_id
        view.asset_id = asset_id
        if asset_id in self._sources:
            self._on_source_ready(asset_id, self._sources[asset_id], None, view)
            return
        view.set_source(None)
        self._release_unused_sources()
        self.playback.source_changed()
        self.session.set_asset(asset_id)
        if locator is None:
            view.set_message(f"{asset.name}: its files are not on this computer.\n"
                             "File ▸ Locate files… finds them by content under a folder you choose.")
            return
        view.set_message(f"Loading {asset.name}…")
        if locator.get("reader") == "dicom" or str(locator.get("path", "")).endswith(".nii.gz"):
            self._open_progressive(asset, locator, view)
            return
        runner = TaskRunner(open_locator, locator)
        self._tasks.add(runner)          # a running QRunnable must outlive its Python wrapper
        runner.signals.sig_progress.connect(
            lambda d, t, _s, v=view, n=asset.name: v.set_message(
                f"Loading {n}… {100 * d // max(t, 1)}%  (Esc cancels)") if v.source is None else None)
        runner.signals.sig_cancelled.connect(
            lambda r=runner, v=view, n=asset.name: (self._tasks.discard(r), v.set_message(f"Loading {n} was cancelled")))
        runner.signals.sig_finished.connect(
            lambda src, a=asset_id, r=runner, v=view: self._on_source_ready(a, src, r, v))
        runner.signals.sig_failed.connect(lambda msg, a=asset, r=runner, v=view: self._on_source_failed(a, msg, r, v))
        self._loading = runner
        runner.start()

    def _open_progressive(self, asset: Any, locator: dict[str, Any], view: Any) -> None:
        """DICOM series: the middle slice now, the rest on a worker (the first image does not wait
        for the whole series); viewports repaint when it is complete."""
        from labeldesk.core.errors import LabeldeskError
        if locator.get("reader") == "dicom":
            from labeldesk.core.io.dicom import open_progressive
        else:
            from labeldesk.core.io.nifti import open_progressive
        try:
            source, fill = open_progressive(locator)
        except LabeldeskError as exc:
            view.set_message(f"{asset.name} could not be opened:\n{exc}")
            return
        self._on_source_ready(asset.id, source, None, view)
        runner = TaskRunner(fill)
        self._tasks.add(runner)
        runner.signals.sig_progress.connect(
            lambda d, t, _s, n=asset.name, src=source: self._on_volume_progress(src, n, d, t))
        runner.signals.sig_finished.connect(lambda _src, r=runner: self._on_volume_complete(r))
        runner.signals.sig_failed.connect(lambda msg, r=runner, n=asset.name: (
            self._tasks.discard(r), self.statusBar().showMessage(f"{n}: {msg}", 15000)))
        self._loading = runner
        runner.start()

    def _on_volume_progress(self, source: Any, name: str, done: int, total: int) -> None:
        """Slices that arrived are shown as soon as the viewport's slice is among them."""
        from labeldesk.core.io.nifti import slice_ready
        self.statusBar().showMessage(f"loading {name}: {100 * done // max(total, 1)}%", 2000)
        for v in self.grid.visible_views():
            if v.source is source and v.plane.axis == "axial" and slice_ready(source, v.plane.z, v.plane.t) \
                    and not getattr(v, "_shown_ready", None) == (id(source), v.plane):
                v._shown_ready = (id(source), v.plane)
                v._load_plane()
                if v.window[1] <= 1.0:           # the window was guessed from a slice not yet there
                    v.reset_window()

    def _on_volume_complete(self, runner: TaskRunner) -> None:
        self._tasks.discard(runner)
        if runner is self._loading:
            self._loading = None
        for v in self.grid.views:
            v._load_plane() if v.source is not None and v.source.info.kind == "volume" else None
        self.statusBar().showMessage("volume loaded", 3000)

    def _on_source_ready(self, asset_id: str, source: Any, runner: TaskRunner | None = None, view: Any = None) -> None:
        self._tasks.discard(runner)
        view = view or self.viewport
        if self.project is None or view.asset_id != asset_id:   # the project closed, or the viewport moved on
            if self._sources.get(asset_id) is not source:
                source.close()
            return
        if runner is not None and runner is self._loading:
            self._loading = None
        source = self._sources.setdefault(asset_id, source)
        view.set_source(source)
        self._release_unused_sources()
        if view is self.viewport:
            self._restore_view_state(asset_id)
            self.playback.source_changed()
            self.session.set_asset(asset_id)
            self.session.refresh()
            view.setFocus()
            if getattr(self, "_mpr_next", None) == asset_id:
                self._mpr_next = None
                self.show_mpr()               # the reformat of the newly chosen series
                self._release_unused_sources()
        else:
            view.fit()
            self.session.refresh_view(view)
        # shown with its annotations: at once, or when the worker's read of its document is in
        # (only if the view still shows it: a late read must not pull the panels back to it)
        self.session.when_ready(asset_id, lambda a=asset_id, v=view: self.sig_asset_shown.emit(a)
                                if self.project is not None and v.asset_id == a else None)

    def _on_source_failed(self, asset: Any, message: str, runner: TaskRunner | None = None, view: Any = None) -> None:
        self._tasks.discard(runner)
        view = view or self.viewport
        if view.asset_id != asset.id:
            return
        if runner is self._loading:
            self._loading = None
        view.set_message(f"{asset.name} could not be opened:\n{message}")

    def _on_asset_panel_asset_selected(self, asset_id: str) -> None:
        if self.project is None:
            return
        # the axial/coronal/sagittal reformat of one volume follows the series chosen in the list
        asset = self.project.asset(asset_id)
        self._mpr_next = asset_id if self._showing_mpr() and asset is not None and asset.kind == "volume" else None
        self.show_asset(asset_id)

    def _showing_mpr(self) -> bool:
        views = self.grid.visible_views()
        return (self.grid.layout_name == "1x3" and len(views) == 3 and views[0].source is not None
                and all(v.source is views[0].source and v.crosshair_ijk is not None for v in views)
                and [v.plane.axis for v in views] == ["axial", "coronal", "sagittal"])

    # ---- actions ------------------------------------------------------------------------------
    def add_paths(self, paths: list[str], deidentify: bool = False) -> TaskRunner | None:
        """Add files/folders on a worker with a cancellable progress dialog; report at the end."""
        from functools import partial

        from labeldesk.core.importer import add_paths
        if self.project is None:
            QtWidgets.QMessageBox.information(self, "No project", "Open a project or make a new one first.")
            return None
        dialog = QtWidgets.QProgressDialog("Adding…", "Cancel", 0, 100, self)
        dialog.setWindowTitle("Adding assets")
        dialog.setMinimumDuration(300)
        runner = TaskRunner(partial(add_paths, self.project, paths, deidentify=deidentify))
        self._tasks.add(runner)
        runner.signals.sig_progress.connect(
            lambda d, t, s: (dialog.setMaximum(max(t, 1)), dialog.setValue(d), dialog.setLabelText(s)))
        dialog.canceled.connect(runner.cancel)
        runner.signals.sig_finished.connect(lambda report: self._on_add_finished(report, dialog, runner))
        runner.signals.sig_failed.connect(lambda msg: self._on_add_failed(msg, dialog, runner))
        return runner.start()

    def _on_add_finished(self, report: Any, dialog: QtWidgets.QProgressDialog, runner: TaskRunner) -> None:
        dialog.reset()
        self._tasks.discard(runner)
        self.refresh_assets()
        self.statusBar().showMessage(report.summary(), 10000)
        self.last_report = report
        if report.added and self.current_asset_id is None:
            self.asset_panel.select(report.added[0].id)
        if report.refused or report.review:
            from labeldesk.core.import_summary import lines
            box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "Some files were not added",
                                        report.summary(), QtWidgets.QMessageBox.StandardButton.Ok, self)
            box.setInformativeText("\n".join(f"{Path(p).name}: {r}" for p, r in report.refused[:10]))
            box.setDetailedText("\n".join(lines(report)))      # the same report as `labeldesk add`
            self.add_report_box = box
            box.open()

    def _on_add_failed(self, message: str, dialog: QtWidgets.QProgressDialog, runner: TaskRunner) -> None:
        dialog.reset()
        self._tasks.discard(runner)
        QtWidgets.QMessageBox.critical(self, "Adding failed", message)

    def labeling_guide(self) -> dict[str, Any] | None:
        return window_state.labeling_guide(self)

    def show_labeling_guide_once(self) -> None:
        window_state.show_labeling_guide_once(self)

    def show_labeling_guide(self) -> None:
        window_state.show_labeling_guide(self)

    def cancel_loading(self) -> None:
        """Esc while an asset loads: stop reading it (nothing else changes)."""
        if self._loading is not None:
            self._loading.cancel()
            self._loading = None

    def show_header(self) -> None:
        window_state.show_header(self)

    def _save_view_state(self) -> None:
        window_state.save_view_state(self)

    def _restore_view_state(self, asset_id: str) -> None:
        window_state.restore_view_state(self, asset_id)

    def show_shortcuts(self) -> None:
        from labeldesk.qt.dialogs.shortcuts_dialog import ShortcutsDialog
        ShortcutsDialog(self).exec()

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self, "About labeldesk",
                                    f"labeldesk {__version__}\nOffline-first annotation for images, video, "
                                    "DICOM and NIfTI.")

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self._save_view_state()
        self._save_layout()
        for runner in list(self._tasks):
            runner.cancel()
        QtCore.QThreadPool.globalInstance().waitForDone(5000)
        for v in self.grid.views:
            v.set_source(None)
        self._release_unused_sources()
        if self.project is not None:
            self.team.detach()
            self.project.close()
            self.project = None
        super().closeEvent(event)
