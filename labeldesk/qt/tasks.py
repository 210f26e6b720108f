"""Run core functions off the GUI thread; results, progress and errors come back as signals."""
from __future__ import annotations

from typing import Any, Callable

from PySide6 import QtCore

from labeldesk.core.errors import Cancelled
from labeldesk.core.tasks import Progress


class _Signals(QtCore.QObject):
    sig_progress = QtCore.Signal(int, int, str)
    sig_finished = QtCore.Signal(object)
    sig_failed = QtCore.Signal(str)
    sig_cancelled = QtCore.Signal()


class TaskRunner(QtCore.QRunnable):
    """``TaskRunner(fn, *args)`` calls ``fn(*args, progress=Progress)`` on the global pool."""

    def __init__(self, fn: Callable[..., Any], *args: Any, with_progress: bool = True) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.with_progress = fn, args, with_progress
        self.signals = _Signals()
        self.progress = Progress(lambda d, t, s: self.signals.sig_progress.emit(d, t, s))

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            kwargs = {"progress": self.progress} if self.with_progress else {}
            result = self.fn(*self.args, **kwargs)
        except Cancelled:
            self.signals.sig_cancelled.emit()
        except Exception as exc:  # delivered to the GUI as a message, never lost
            self.signals.sig_failed.emit(str(exc) or type(exc).__name__)
        else:
            self.signals.sig_finished.emit(result)

    def start(self) -> "TaskRunner":
        QtCore.QThreadPool.globalInstance().start(self)
        return self

    def cancel(self) -> None:
        self.progress.cancel()
