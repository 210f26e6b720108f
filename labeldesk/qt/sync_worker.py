"""Runs sync rounds without blocking the GUI (docs/sync.md §9).

The SQLite connection belongs to the GUI thread, so a round is split (labeldesk.core.sync.engine):
``prepare`` (DB reads, GUI thread) → ``exchange`` (all share I/O, on the global QThreadPool) →
``commit`` (DB writes, GUI thread, when the worker's result arrives). A periodic QTimer polls
(watchers are only hints); "Sync now" asks for a round at once. While a round is out on a slow,
sleeping or offline share nothing waits for it: the next poll is skipped, the app stays usable,
and :meth:`SyncWorker.stalled_for` tells the panel how long the share has not answered.
"""
from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore

from labeldesk.qt.tasks import TaskRunner

if TYPE_CHECKING:
    from labeldesk.core.sync import engine

SHARE_KEY = "sync.share"       # = engine.SHARE_KEY (a test holds them equal)


def _engine() -> Any:
    """The sync engine, imported when a project has a share (≈ 70 ms of a window start)."""
    from labeldesk.core.sync import engine
    return engine


def share_path(project: Any) -> Any:
    """The project's share folder, or None (read without importing the engine)."""
    from labeldesk.core.store import repo
    return _engine().share_path(project) if repo.get_meta(project.conn, SHARE_KEY) else None

DEFAULT_INTERVAL_MS = 10_000
# Ops read per pass: each pass's merge runs on the GUI thread, so a bootstrap of a large project
# is merged in slices (at least one segment, up to 5,000 ops), with the event loop running between.
PASS_BUDGET = 2_000


class SyncWorker(QtCore.QObject):
    sig_started = QtCore.Signal()
    sig_finished = QtCore.Signal(object)       # SyncReport of the round (report.changes: a ChangeSet)
    sig_failed = QtCore.Signal(str)
    sig_status = QtCore.Signal(object)         # labeldesk.core.sync.status.status(project) after a round

    def __init__(self, project: Any = None, interval_ms: int = DEFAULT_INTERVAL_MS,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.sync_now)
        self._runner: TaskRunner | None = None
        self._plan: engine.RoundPlan | None = None
        self._since: float | None = None
        self._total: engine.SyncReport | None = None
        self._passes = 0

    # ---- control -------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        """A new project (or None): an answer still out for the old one is dropped on arrival."""
        self.project = project
        self._plan = None
        if project is None or share_path(project) is None:
            self.timer.stop()

    def start(self) -> None:
        if self.project is not None and share_path(self.project) is not None:
            self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def busy(self) -> bool:
        return self._runner is not None

    def stalled_for(self) -> float:
        """Seconds the current round has been waiting on the share (0 when idle)."""
        return 0.0 if self._since is None else time.monotonic() - self._since

    def sync_now(self) -> bool:
        """Start a round unless one is out already; False if nothing was started."""
        if self.busy or self.project is None or share_path(self.project) is None:
            return False
        self._total, self._passes = _engine().SyncReport(), 0
        self.sig_started.emit()
        return self._start_pass()

    def _start_pass(self) -> bool:
        try:
            self._plan = _engine().prepare(self.project)
        except Exception as exc:      # e.g. the project was closed; shown, never raised into Qt
            self.sig_failed.emit(str(exc))
            return False
        plan, project = self._plan, self.project
        runner = TaskRunner(functools.partial(_engine().exchange, budget=PASS_BUDGET), plan, with_progress=False)
        runner.signals.sig_finished.connect(lambda ex, p=plan, pr=project: self._on_exchanged(pr, p, ex))
        runner.signals.sig_failed.connect(self._on_failed)
        self._runner, self._since = runner, time.monotonic()
        runner.start()
        return True

    # ---- results (GUI thread) ------------------------------------------------------------------
    def _on_failed(self, message: str) -> None:
        self._runner, self._since = None, None
        self.sig_failed.emit(message)

    def _on_exchanged(self, project: Any, plan: engine.RoundPlan, ex: engine.Exchange) -> None:
        self._runner, self._since = None, None
        if project is not self.project or plan is not self._plan or project.conn is None:
            return                                           # the project changed meanwhile
        try:
            report = _engine().commit(project, plan, ex)
        except Exception as exc:
            self.sig_failed.emit(str(exc))
            return
        assert self._total is not None
        self._total.add(report)
        self._passes += 1
        again = ex.more or bool(ex.own_unknown) or report.rekeyed_to is not None or bool(ex.own_damaged)
        if again and (ex.more or self._passes < 10) and report.state not in ("offline", "wrong-project"):
            self._runner = TaskRunner(lambda: None, with_progress=False)      # busy until the next pass
            QtCore.QTimer.singleShot(0, self._next_pass)
            return
        from labeldesk.core.sync.status import status
        self.sig_finished.emit(self._total)
        self.sig_status.emit(status(project, digest=False))

    def _next_pass(self) -> None:
        self._runner = None
        if self.project is not None:
            self._start_pass()


class SyncBinding(QtCore.QObject):
    """Connects a SyncPanel to a SyncWorker; ``attach(project)`` / ``detach()`` follow the window's
    project (the shape ``TeamDocks.sync`` expects). ``on_changed(changes)`` is called on the GUI
    thread with the ChangeSet of every round that changed something, so the views can refresh."""

    def __init__(self, panel: Any, on_changed: Any = None, interval_ms: int = DEFAULT_INTERVAL_MS,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent if parent is not None else panel)    # dies with the panel by default
        self.panel = panel
        self.worker = SyncWorker(None, interval_ms, self)
        self.on_changed = on_changed
        self.last_report: engine.SyncReport | None = None
        panel.sig_sync_requested.connect(self.worker.sync_now)
        self.worker.sig_started.connect(self._on_started)
        self.worker.sig_status.connect(panel.set_status)
        self.worker.sig_finished.connect(self._on_finished)
        self.worker.sig_failed.connect(self._on_failed)
        self.stall = QtCore.QTimer(self)
        self.stall.setInterval(5_000)
        self.stall.timeout.connect(lambda: panel.set_busy(self.worker.busy, self.worker.stalled_for()))

    def attach(self, project: Any) -> None:
        self.worker.set_project(project)
        if share_path(project):
            from labeldesk.core.sync.status import status
            self.panel.set_status(status(project, digest=False))
        else:
            self.panel.set_status(None)
        self.worker.start()

    def detach(self) -> None:
        self.stall.stop()
        self.worker.stop()
        self.worker.set_project(None)
        self.panel.set_status(None)

    def _on_started(self) -> None:
        self.panel.set_busy(True)
        self.stall.start()                # while a round is out: say so if the share stalls

    def _on_finished(self, report: engine.SyncReport) -> None:
        self.stall.stop()
        self.last_report = report
        self.panel.set_busy(False)
        if report.changes and self.on_changed is not None:
            self.on_changed(report.changes)

    def _on_failed(self, message: str) -> None:
        self.stall.stop()
        self.panel.set_busy(False)
        self.panel.show_alert(f"Sync failed: {message}")
