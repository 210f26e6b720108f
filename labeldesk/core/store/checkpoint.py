"""WAL checkpoints off the edit path.

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses ``wal_autocheckpoint``
pages: every hundredth edit or so waited several milliseconds while the WAL was copied back into
the store and both files were synced (the p99 of DB-1). A project's write connection therefore
turns the automatic checkpoint off and a :class:`Checkpointer` runs it instead, on a thread of its
own with its own connection:

* when the writer is idle: woken after every :data:`WAKE_EVERY` commits, and every
  :data:`TIMER` seconds while anything was committed since the last checkpoint, it waits until
  no commit came for :data:`IDLE` seconds (a person editing leaves such gaps all the time);
* ``PASSIVE``: it never waits for, nor blocks, the writer or the readers;
* not during a burst of commits: there a checkpoint competes with the writer for the disk and
  the cores, and cannot let the WAL start again from its beginning anyway (SQLite restarts the
  WAL only when a writer finds it wholly copied back, and every commit adds frames behind the
  checkpoint). During a burst the thread only flushes the WAL written so far to disk (``fsync``,
  every :data:`WAKE_EVERY` commits): syncing the WAL is most of what makes a checkpoint long;
* the WAL cannot grow without bound: during a long burst (a script applying edits one by one,
  never idle) the writer checks the WAL file every :data:`WAKE_EVERY` commits and, once it is
  larger than :data:`HARD_LIMIT` bytes, checkpoints itself (a WAL the thread has flushed: 6–9
  ms measured, once per ≈ 350 edits of a burst, where SQLite's automatic checkpoint took several
  milliseconds once every ≈ 90 edits). ``journal_size_limit`` gives the file back to
  :data:`SIZE_LIMIT` once the WAL restarts;
* at close the thread stops and the write connection, closed last, checkpoints everything and
  removes the WAL (SQLite does so when the last connection closes).

Nothing committed can be lost by this: a checkpoint only copies committed pages from the WAL
into the store; until it has, a reopened store (after a crash, ``kill -9``) reads them from the
WAL, as before. Durability is unchanged (WAL, ``synchronous=NORMAL``).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path

WAKE_EVERY = 64                 # commits between wake-ups (≈ 600 WAL pages of single edits)
IDLE = 0.02                     # seconds without a commit before the thread checkpoints
TIMER = 2.0                     # seconds: a checkpoint of what a few commits left in the WAL
HARD_LIMIT = 16 * 1024 * 1024   # bytes of WAL at which the writer checkpoints itself (a burst)
SIZE_LIMIT = 16 * 1024 * 1024   # journal_size_limit: the WAL file is cut back to this on restart


def wal_path(store: str | Path) -> Path:
    return Path(str(store) + "-wal")


def wal_size(store: str | Path) -> int:
    try:
        return os.stat(wal_path(store)).st_size
    except OSError:
        return 0


def checkpoint(conn: sqlite3.Connection, mode: str = "PASSIVE") -> tuple[int, int, int]:
    """One checkpoint: (busy, frames in the WAL, frames copied back), as SQLite reports it."""
    if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
        raise ValueError(f"unknown checkpoint mode {mode!r}")
    row = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


class _Shared:
    """What the writer and the checkpoint thread share (the thread holds nothing else: a project
    dropped without ``close`` is collected, and its thread ends)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.commits = 0                 # since the project was opened
        self.checkpoints = 0             # run by the thread
        self.inline_checkpoints = 0      # run by the writer (a burst reached the hard limit)
        self.syncs = 0                   # WAL flushes by the thread during a burst
        self.last_error: str | None = None
        self.last_commit = time.monotonic()
        self.dirty = False
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.done = threading.Condition()


class Checkpointer:
    """Checkpoints the WAL of ``store`` (written by ``conn``) off the thread that commits.

    ``committed()`` is called by the write path after every commit; it costs a counter and, every
    :data:`WAKE_EVERY` commits, an ``Event.set`` and one ``os.stat``. The thread opens a
    connection of its own only to checkpoint, and closes it afterwards."""

    def __init__(self, store: str | Path, conn: sqlite3.Connection, *, thread: bool = True) -> None:
        self.store = Path(store)
        self.conn = conn
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute(f"PRAGMA journal_size_limit = {SIZE_LIMIT}")
        self._s = _Shared(self.store)
        self._thread: threading.Thread | None = None
        if thread:
            self._thread = threading.Thread(target=_run, args=(self._s,), name="labeldesk-checkpoint", daemon=True)
            self._thread.start()
            weakref.finalize(self, _halt, self._s)       # (dropped without close: the thread ends)

    commits = property(lambda self: self._s.commits)
    checkpoints = property(lambda self: self._s.checkpoints)
    inline_checkpoints = property(lambda self: self._s.inline_checkpoints)
    syncs = property(lambda self: self._s.syncs)
    last_error = property(lambda self: self._s.last_error)

    # ---- the write path ----------------------------------------------------------------------
    def committed(self) -> None:
        s = self._s
        s.commits += 1
        s.last_commit = time.monotonic()
        s.dirty = True
        if s.commits % WAKE_EVERY == 0:
            if wal_size(self.store) > HARD_LIMIT:
                s.inline_checkpoints += 1
                try:
                    checkpoint(self.conn)
                except sqlite3.Error as exc:
                    s.last_error = str(exc)
                s.last_commit = time.monotonic()       # (the thread: not idle meanwhile)
            s.wake.set()

    def request(self) -> None:
        """Ask the thread for a checkpoint now (after the writer is quiet)."""
        self._s.dirty = True
        self._s.wake.set()

    def wait(self, timeout: float) -> bool:
        """Ask for a checkpoint and wait until the thread ran one (False: none within timeout)."""
        s = self._s
        if self._thread is None or not self._thread.is_alive():
            return False
        with s.done:
            before = s.checkpoints
            self.request()
            return s.done.wait_for(lambda: s.checkpoints > before, timeout)

    def close(self) -> None:
        """Stop the thread (the write connection, closed afterwards, checkpoints what is left)."""
        _halt(self._s)
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _halt(s: _Shared) -> None:
    s.stop.set()
    s.wake.set()


def _run(s: _Shared) -> None:
    """The checkpoint thread: wait for a wake-up (or the timer), then for the writer to be idle."""
    while not s.stop.is_set():
        woken = s.wake.wait(TIMER)
        if s.stop.is_set():
            break
        if not woken and not s.dirty:
            continue
        s.wake.clear()
        _wait_quiet(s)
        if s.stop.is_set():
            break
        s.dirty = False
        conn = None
        try:
            conn = sqlite3.connect(str(s.store), timeout=0.1, isolation_level=None, check_same_thread=False)
            checkpoint(conn)
            s.checkpoints += 1
        except sqlite3.Error as exc:          # e.g. a disk made read-only: the writer says so
            s.last_error = str(exc)
        finally:
            if conn is not None:
                conn.close()
        with s.done:
            s.done.notify_all()


def _wait_quiet(s: _Shared) -> None:
    """Until no commit came for IDLE seconds, or stop. Meanwhile, every WAKE_EVERY commits of a
    burst, the WAL written so far is flushed to disk (what makes a checkpoint long is syncing
    the WAL: a checkpoint the writer must run at the hard limit then takes a few milliseconds)."""
    while not s.stop.is_set():
        quiet = time.monotonic() - s.last_commit
        if quiet >= IDLE:
            return
        if s.wake.is_set():
            s.wake.clear()
            _sync_wal(s)
        s.stop.wait(IDLE - quiet)


def _sync_wal(s: _Shared) -> None:
    """``fsync`` the WAL file (no lock, no checkpoint: SQLite holds its locks on the store and
    the ``-shm`` file, never on the WAL file, so opening and closing it here releases none)."""
    try:
        fd = os.open(wal_path(s.store), os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
        s.syncs += 1
    except OSError:
        pass
    finally:
        os.close(fd)
