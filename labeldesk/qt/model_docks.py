"""Model assistance in the main window: the Models dock, the AI segment tool (Z), the Models menu,
and the background work they start (embeddings, pre-labeling, learning, propagation).

The window creates it once (``window.models = ModelDocks(window)``, after its tools) and calls
:meth:`ModelDocks.attach` when a project opens. Results that change the project come back to the
GUI thread and go through the edit session (undoable) or the project's one write path.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Plane
from labeldesk.qt.tasks import TaskRunner
from labeldesk.qt.tools.sam_tool import SamAssist, SamTool

LEARN_WINDOW = 15          # the GUI proposes on up to this many slices/frames either side of the current one
RETRAIN_DELAY_MS = 1500


class ModelDocks:
    def __init__(self, window: Any) -> None:
        self.window = window
        self.project: Any = None
        self.assist = SamAssist(window)
        self.tool = SamTool(window.session, self.assist)
        self._panel: Any = None           # the Models panel: built when its dock is first shown or used
        self._tasks: set[TaskRunner] = set()
        self._learning: TaskRunner | None = None
        self._label_signature: Any = None
        self.last_evaluation: Any = None
        self.queue: list[Any] = []
        self._add_tool()
        self.dock = QtWidgets.QDockWidget("Models", window)
        self.dock.setObjectName("models_dock")
        self.dock.setWidget(QtWidgets.QWidget())          # a placeholder until first shown
        # under the asset list: the right column is full (classes, annotations, attributes, review…)
        window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.dock.hide()
        self.dock.visibilityChanged.connect(lambda visible: visible and self.panel)
        self._add_menu()
        self._retrain = QtCore.QTimer(window)
        self._retrain.setSingleShot(True)
        self._retrain.setInterval(RETRAIN_DELAY_MS)
        self._retrain.timeout.connect(self._maybe_retrain)
        self.assist.sig_embedded.connect(lambda _k: self._show_sam_status())
        self.assist.sig_model_changed.connect(lambda _r: self._on_plane_shown(self.window.viewport))
        window.session.sig_annotations_changed.connect(self._on_annotations_changed)
        self._watched: set[Any] = set()
        for view in window.grid.views:
            self._watch(view)
        window.grid.sig_active_changed.connect(self._on_active_changed)

    @property
    def panel(self) -> Any:
        """The Models panel, built (and put in its dock) the first time it is needed."""
        if self._panel is None:
            from labeldesk.qt.panels.model_panel import ModelPanel
            p = self._panel = ModelPanel()
            p.output.setCurrentText(self.assist.output)
            p.sig_add_requested.connect(self.add_model_dialog)
            p.sig_use_sam.connect(self.use_sam)
            p.output.currentTextChanged.connect(lambda text: setattr(self.assist, "output", text))
            p.sig_prelabel.connect(self.prelabel)
            p.sig_learn.connect(self.learn)
            p.sig_evaluate.connect(self.evaluate)
            p.sig_propagate.connect(self.propagate)
            p.sig_save_queue.connect(self.save_queue)
            p.sig_next_in_queue.connect(self.next_in_queue)
            scroll = QtWidgets.QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(p)
            self.dock.setWidget(scroll)
            self.refresh()
        return self._panel

    # ---- wiring ---------------------------------------------------------------------------------
    def _add_tool(self) -> None:
        w = self.window
        w.session.tools[self.tool.name] = self.tool
        act = QtGui.QAction(f"{self.tool.label} ({self.tool.shortcut})", w, checkable=True)
        act.setShortcut(QtGui.QKeySequence(self.tool.shortcut))
        act.triggered.connect(lambda _=False: w.session.set_tool(self.tool.name))
        group = w.tool_actions["select"].actionGroup()
        if group is not None:
            group.addAction(act)
        bar = w.findChild(QtWidgets.QToolBar, "tools_toolbar")
        if bar is not None:
            bar.insertAction(w.tool_actions["scissors"] if "scissors" in w.tool_actions else None, act)
        w.tool_actions[self.tool.name] = act

    def _add_menu(self) -> None:
        w = self.window
        menu = QtWidgets.QMenu("&Models", w)
        help_menu = next((a for a in w.menuBar().actions() if a.text() == "&Help"), None)
        if help_menu is not None:
            w.menuBar().insertMenu(help_menu, menu)
        else:
            w.menuBar().addMenu(menu)
        self.show_action = menu.addAction("Models panel", self.show)
        self.show_action.setShortcut(QtGui.QKeySequence("Ctrl+Alt+M"))
        menu.addAction("Add model…", self.add_model_dialog)
        menu.addAction("Pre-label this asset", lambda: self.prelabel(self.panel.selected(), False))
        menu.addAction("Learn from my labels", self.learn)
        menu.addAction("Evaluate the selected model", lambda: self.evaluate(self.panel.selected()))
        self.menu = menu

    def _watch(self, view: Any) -> None:
        self._watched.add(view)
        view.sig_plane_changed.connect(lambda _p, v=view: self._on_plane_shown(v))

    def _on_active_changed(self, view: Any) -> None:
        if view not in self._watched:
            self._watch(view)
        self._on_plane_shown(view)

    def _on_plane_shown(self, view: Any) -> None:
        if view is self.window.viewport:
            if self.window.session.tool is self.tool and self.tool._key not in (None, self.assist.key(view)):
                self.tool.cancel()              # prompts belong to the plane they were given on
            self.assist.plane_shown(view)
            self._show_sam_status()

    def show(self) -> None:
        first = not self.dock.isVisible()
        self.dock.show()
        self.dock.raise_()
        assets = self.window.findChild(QtWidgets.QDockWidget, "assets_dock")
        if first and assets is not None and not self.dock.isFloating():
            self.window.resizeDocks([assets, self.dock], [2, 3], QtCore.Qt.Orientation.Vertical)
        self.refresh()

    def message(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    # ---- project ----------------------------------------------------------------------------------
    def attach(self, project: Any) -> None:
        self.project = project
        self.assist.record, self.assist.model = None, None
        self.assist.cache = type(self.assist.cache)(self.assist.cache.max_bytes)
        self.refresh()
        from labeldesk.core.models import registry
        sams = registry.list_models(project, "sam")
        if sams:
            try:
                self.use_sam(sams[-1])
            except LabeldeskError as exc:
                self.message(str(exc))

    def refresh(self) -> None:
        if self._panel is None:
            return                          # read when the panel is built
        from labeldesk.core.models import registry
        self._panel.set_records(registry.list_models(self.project) if self.project is not None else [])
        self._show_sam_status()

    def _show_sam_status(self) -> None:
        a = self.assist
        if self._panel is None:
            return
        if a.record is None:
            self.panel.sam_status.setText("AI segment: no SAM model chosen")
            return
        view = self.window.viewport
        if a.loading:
            self.panel.sam_status.setText(f"AI segment: opening {a.record.label}…")
            return
        state = "ready" if a.key(view) in a.cache else ("computing the embedding…" if a.busy(a.key(view)) else "idle")
        self.panel.sam_status.setText(f"AI segment: {a.record.label} · this plane {state} · "
                                      f"{len(a.cache)} plane(s) cached ({a.cache.nbytes >> 20} MB)")

    # ---- actions ----------------------------------------------------------------------------------
    def add_model_dialog(self) -> None:
        if self.project is None:
            return
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Add a model: its manifest",
                                                        "", "Model manifest (*.json)")
        if path:
            self.add_model(path)

    def add_model(self, manifest: str) -> Any:
        from labeldesk.core.models import registry
        try:
            rec = registry.add(self.project, manifest)
        except LabeldeskError as exc:
            QtWidgets.QMessageBox.warning(self.window, "Model refused", str(exc))
            return None
        self.refresh()
        self.message(f"added {rec.task} {rec.label}")
        if rec.task == "sam" and self.assist.record is None:
            self.use_sam(rec)
        return rec

    def use_sam(self, rec: Any) -> None:
        if rec is None:
            self.message("choose a SAM model in the list (Add model… first)")
            return
        try:
            self.assist.set_model(self.project, rec)
        except LabeldeskError as exc:
            self.message(str(exc))
            return
        self._show_sam_status()

    def _run(self, runner: TaskRunner, on_done: Any, title: str | None = None) -> TaskRunner:
        self._tasks.add(runner)
        dialog = None
        if title is not None:
            dialog = QtWidgets.QProgressDialog(title, "Cancel", 0, 100, self.window)
            dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(300)
            dialog.canceled.connect(runner.cancel)
            runner.signals.sig_progress.connect(
                lambda d, t, text: (dialog.setValue(int(100 * d / max(t, 1))), dialog.setLabelText(f"{title}\n{text}")))

        def finish(result: Any) -> None:
            self._tasks.discard(runner)
            if dialog is not None:
                dialog.close()
            on_done(result)

        def failed(text: str) -> None:
            self._tasks.discard(runner)
            if dialog is not None:
                dialog.close()
            self.message(text)
            self.panel.learn_status.setText(text) if runner is self._learning else None
            if runner is self._learning:
                self._learning = None

        runner.signals.sig_finished.connect(finish)
        runner.signals.sig_failed.connect(failed)
        runner.signals.sig_cancelled.connect(lambda: failed("cancelled"))
        return runner.start()

    def prelabel(self, rec: Any, everything: bool = False) -> TaskRunner | None:
        from labeldesk.core.models.prelabel import planes_of, prelabel
        w = self.window
        if self.project is None or rec is None:
            self.message("add a detector or segmenter first (Models ▸ Add model…)")
            return None
        assets = self.project.assets() if everything else (
            [self.project.asset(w.current_asset_id)] if w.current_asset_id else [])
        targets = [(a.id, p) for a in assets for p in planes_of(a)]

        def done(report: Any) -> None:
            state = "cancelled after" if report.cancelled else "ran on"
            self.message(f"{rec.label} {state} {len(report.planes_done)} of {len(targets)} plane(s): "
                         f"{report.predictions} prediction(s); review them in the Predictions panel")
            w.team.after_change()
            w.team.show_predictions()
        return self._run(TaskRunner(prelabel, self.project, rec, targets), done, f"Pre-labeling with {rec.label}")

    # ---- the pixel classifier -------------------------------------------------------------------
    def _signature(self) -> Any:
        w = self.window
        if self.project is None or w.current_asset_id is None:
            return None
        from labeldesk.core.models.pixel_classifier import AREA_KINDS, truth_layers
        return tuple(sorted((a.id, a.revision) for l in truth_layers(self.project)
                            for a in self.project.annotations(w.current_asset_id, layer_id=l)
                            if a.geometry.kind in AREA_KINDS and a.class_id))

    def _on_annotations_changed(self) -> None:
        if self._panel is not None and self._panel.auto_learn.isChecked() and self._learning is None:
            self._retrain.start()

    def _maybe_retrain(self) -> None:
        sig = self._signature()
        if sig and sig != self._label_signature:
            self.learn()

    def learn(self) -> TaskRunner | None:
        """Train (worker thread) and propose; the model is saved as a new version. On a volume or
        video: from its labelled slices/frames, proposing on those around the current one. On a
        2-D image: from the labelled images of the project, proposing on up to
        ``LEARN_WINDOW`` other images."""
        from labeldesk.core.models import pixel_classifier as PC
        from labeldesk.core.models.prelabel import planes_of, read_plane
        w = self.window
        view = w.viewport
        if self.project is None or w.current_asset_id is None or view.source is None:
            self.message("open an asset and label a few slices first")
            return None
        if self._learning is not None:
            return self._learning
        asset = self.project.asset(w.current_asset_id)
        flat = asset.depth == 1 and asset.frames == 1
        peers = [a for a in self.project.assets() if a.kind == "image" and a.depth == 1 and a.frames == 1] \
            if flat and asset.kind == "image" else [asset]
        planes, classes = PC.labelled_planes(self.project, [a.id for a in peers])
        if not planes:
            self.panel.learn_status.setText(PC.NOTHING_TO_LEARN)
            return None
        self._label_signature = self._signature()
        sources: dict[str, Any] = {asset.id: view.source}
        try:
            pairs = [(np.array(read_plane(self.project, lp.asset_id, lp.plane, sources)), lp) for lp in planes]
            done = {(lp.asset_id, lp.plane) for lp in planes}
            here = view.plane
            if len(peers) > 1:
                wanted = [(a.id, Plane()) for a in peers if (a.id, Plane()) not in done][:LEARN_WINDOW]
            else:
                wanted = [(asset.id, p) for p in planes_of(asset) if (asset.id, p) not in done
                          and abs(p.z - here.z) + abs(p.t - here.t) <= LEARN_WINDOW]
            targets = [(a, p, np.array(read_plane(self.project, a, p, sources))) for a, p in wanted]
        except (LabeldeskError, OSError) as exc:
            self.panel.learn_status.setText(str(exc))
            return None
        finally:
            for key, src in sources.items():
                if src is not view.source:
                    src.close()
        names = {c.id: c.name for c in self.project.classes()}

        def work(progress: Any) -> Any:
            clf = PC.fit(pairs, classes, progress=progress)
            out = []
            for i, (asset_id, plane, pixels) in enumerate(targets):
                progress.report(i, len(targets), f"proposing on {plane.key()}")
                out.append((asset_id, plane) + PC.proposals(clf, pixels, names))
            return clf, out

        self.panel.learn_status.setText(f"training on {len(planes)} labelled plane(s)…")
        self._learning = TaskRunner(work)
        return self._run(self._learning, lambda result: self._learned(*result))

    def _learned(self, clf: Any, results: list[Any]) -> None:
        from labeldesk.core import predictions as P
        from labeldesk.core.models import pixel_classifier as PC
        from labeldesk.core.models.prelabel import drafts
        from labeldesk.core.ops import OpDraft
        self._learning = None
        if self.project is None:
            return
        rec = PC.save(self.project, clf, "pixels")
        layer = PC.proposal_layer(self.project, rec)
        places = {(a, p) for a, p, _f, _u in results}
        stale = [OpDraft("annotation.delete", s.prediction.id, {})
                 for a in sorted({a for a, _p in places}) for s in P.predictions(self.project, a, layer)
                 if s.status == "pending" and (a, s.prediction.plane) in places]
        new = [d for a, plane, found, _u in results
               for d in drafts(a, layer, plane, found, clf.classes, rec.name, rec.version)]
        if stale or new:
            self.window.session.commit(stale + new, f"Pixel classifier {rec.version}: proposals")
        worst = max(results, key=lambda r: r[3], default=None)
        t = clf.training
        where = ""
        if worst is not None:
            name = next((x.name for x in self.project.assets() if x.id == worst[0]), "")
            where = f"; least sure: {name} z={worst[1].z} t={worst[1].t} ({worst[3]:.2f})"
        self.panel.learn_status.setText(
            f"{rec.name} v{rec.version}: {t['labelled_pixels']} labelled pixels, {len(new)} proposal(s) on "
            f"{len(results)} plane(s){where}")
        self.refresh()
        self.window.team.after_change()
        if self._signature() != self._label_signature and self.panel.auto_learn.isChecked():
            self._retrain.start()

    # ---- SAM propagation --------------------------------------------------------------------------
    def propagate(self, n: int) -> TaskRunner | None:
        from labeldesk.core.models.sam import propagate
        last = self.tool.last_accepted
        view = self.window.viewport
        if self.assist.model is None or last is None or view.source is None or view.asset_id != last[0]:
            self.message("keep a mask with the AI segment tool (Enter) on this asset first")
            return None
        asset_id, plane, mask = last
        count = view.source.plane_count(plane.axis) if plane.axis else 1
        sides = []
        for step in (1, -1):
            zs = [plane.z + step * k for k in range(1, n + 1) if 0 <= plane.z + step * k < count]
            sides.append([(Plane(z, plane.t, plane.axis), np.array(view.source.read_plane(Plane(z, plane.t, plane.axis))))
                          for z in zs])
        model = self.assist.model

        def work(progress: Any) -> Any:
            return [r for side in sides for r in propagate(model, mask, side)]
        return self._run(TaskRunner(work), lambda results: self._propagated(asset_id, results))

    def _propagated(self, asset_id: str, results: list[Any]) -> None:
        from labeldesk.core.models.prelabel import Found, drafts, predictions_layer
        rec = self.assist.record
        layer = predictions_layer(self.project, f"{rec.name} suggestions")
        cls = self.window.session.active_class_id
        ds = [d for plane, res in results
              for d in drafts(asset_id, layer, plane, [Found(res.geometry(), 0, res.score)], [cls], rec.name, rec.version)]
        if ds:
            self.window.session.commit(ds, f"AI suggestions on {len(ds)} slice(s)")
        self.message(f"suggested the mask on {len(ds)} neighbouring slice(s): accept or reject them in the "
                     "Predictions panel")
        self.window.team.after_change()

    # ---- evaluation and queues ----------------------------------------------------------------------
    def evaluate(self, rec: Any) -> Any:
        from labeldesk.core.models.evaluation import evaluate
        if self.project is None or rec is None:
            self.message("select a model to evaluate")
            return None
        try:
            ev = evaluate(self.project, rec.name, rec.version)
        except LabeldeskError as exc:
            self.panel.summary.setText(str(exc))
            self.panel.show_evaluation(None)
            return None
        self.last_evaluation = ev
        self.panel.show_evaluation(ev)
        return ev

    def save_queue(self, method: str, name: str) -> None:
        from labeldesk.core.models import learning_queue as Q
        if self.project is None:
            return
        try:
            items = Q.build(self.project, method)
            if name:
                Q.save(self.project, name, method, items)
        except LabeldeskError as exc:
            self.panel.queue_status.setText(str(exc))
            return
        self.queue = items
        first = next((it for it in items if it.value is not None), None)
        self.panel.queue_status.setText(f"{len(items)} item(s)" + (f", saved as {name!r}" if name else "")
                                        + (f"; first: z={first.plane.z}" if first and first.plane else ""))

    def next_in_queue(self, name: str) -> None:
        from labeldesk.core.models import learning_queue as Q
        if self.project is None:
            return
        if name:
            try:
                self.queue = Q.load(self.project, name)
            except LabeldeskError as exc:
                self.panel.queue_status.setText(str(exc))
                return
        w = self.window
        here = (w.current_asset_id, w.viewport.plane)
        labelled = self._signature() or ()
        for it in self.queue:
            if (it.asset_id, it.plane) != here:
                self.queue = self.queue[self.queue.index(it) + 1:]
                w.team.open_item(it.asset_id, it.plane)
                self.panel.queue_status.setText(f"{len(self.queue)} left in the queue")
                return
        self.panel.queue_status.setText("the queue is done" if labelled is not None else "")
