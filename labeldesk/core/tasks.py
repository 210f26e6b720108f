"""Progress and cancellation for long work, shared by the CLI, the GUI and the tests."""
from __future__ import annotations

import threading
from typing import Callable

from labeldesk.core.errors import Cancelled


class Progress:
    """Passed to long-running core functions. ``report`` may be called from any thread.

    ``on_report(done, total, text)`` is called on each report; ``cancel()`` makes the next
    ``check()`` (and ``report``) raise :class:`Cancelled`.
    """

    def __init__(self, on_report: Callable[[int, int, str], None] | None = None) -> None:
        self._on_report = on_report
        self._cancel = threading.Event()

    def report(self, done: int, total: int, text: str = "") -> None:
        if self._on_report is not None:
            self._on_report(done, total, text)
        self.check()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")


NO_PROGRESS = Progress()
