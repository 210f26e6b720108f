"""Decodes pyramid tiles off the GUI thread, visible-first; requests that left the view are dropped.

The viewport asks for the tiles it is missing (already sorted centre-out); jobs run on a small
thread pool and skip any tile that is no longer wanted by the time they start. A finished tile
lands in the source's byte-bounded LRU cache and the viewport is told to repaint. A tile that
cannot be decoded (a damaged pyramid) stays a placeholder, is not asked for again, and is reported
once per source (``sig_tile_failed``: the window shows it in its status bar).
"""
from __future__ import annotations

import threading
from typing import Any

from PySide6 import QtCore


class TileLoader(QtCore.QObject):
    sig_tile_ready = QtCore.Signal()
    sig_tile_failed = QtCore.Signal(str)      # why, once per source

    def __init__(self, threads: int = 2, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._lock = threading.Lock()
        self.wanted: set[tuple] = set()
        self.inflight: set[tuple] = set()
        self.failed: set[tuple] = set()           # never asked for again
        self._reported: set[int] = set()
        self.stats = {"requested": 0, "decoded": 0, "dropped": 0, "failed": 0}

    def request(self, source: Any, keys: list[tuple[int, int, int]]) -> None:
        """Want exactly these (level, col, row) tiles of ``source`` now; earlier wishes lapse."""
        with self._lock:
            self.wanted = {(id(source),) + tuple(k) for k in keys}
            todo = [k for k in keys if (id(source),) + tuple(k) not in self.inflight
                    and (id(source),) + tuple(k) not in self.failed]
            for k in todo:
                self.inflight.add((id(source),) + tuple(k))
        for k in todo:
            self.stats["requested"] += 1
            self.pool.start(lambda s=source, k=k: self._load(s, k))

    def _load(self, source: Any, key: tuple[int, int, int]) -> None:
        full = (id(source),) + tuple(key)
        try:
            with self._lock:
                if full not in self.wanted:
                    self.stats["dropped"] += 1          # scrolled out of view before its turn
                    return
            source.read_tile(*key)                       # decodes into the source's tile cache
            self.stats["decoded"] += 1
            self.sig_tile_ready.emit()
        except Exception as exc:    # a bad tile shows as its placeholder, and is said once
            with self._lock:
                self.failed.add(full)
                self.stats["failed"] += 1
                first = id(source) not in self._reported
                self._reported.add(id(source))
            if first:
                self.sig_tile_failed.emit(f"{str(exc) or type(exc).__name__} (its placeholder is shown)")
        finally:
            with self._lock:
                self.inflight.discard(full)

    def wait(self, msecs: int = 5000) -> bool:
        return self.pool.waitForDone(msecs)
