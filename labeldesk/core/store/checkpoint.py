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
* not during a burst of commits (but for a catch-up, below): there a checkpoint competes with
  the writer for the disk and the cores, and cannot let the WAL start again from its beginning
  anyway (SQLite restarts the WAL only when a writer finds it wholly copied back, and every
  commit adds frames behind the checkpoint). During a burst the thread only flushes the WAL
  written so far to disk (``fsync``, every :data:`WAKE_EVERY` commits): syncing the WAL is most
  of what makes a checkpoint long;
* the WAL cannot grow without bound: during a long burst (a script applying edits one by one,
  never idle) the writer checks the WAL every :data:`WAKE_EVERY` commits (its frames, read from
  the WAL index: :func:`wal_frames`) and, once it holds more than :data:`HARD_LIMIT` bytes (once
  per ≈ 350 edits of a burst), asks the thread to *catch up*: the thread checkpoints at once,
  while the writer goes on committing, and again for what was committed meanwhile (``PASSIVE``
  never blocks the writer). Only then does the writer checkpoint itself, between two commits,
  so that the WAL can start again from its beginning: what is left by then is the few commits
  since the thread's last pass (copying 16 MiB of WAL back and syncing it took one edit
  18–25 ms on the shared test VM at load 4.7; the writer's share of a caught-up WAL, 7–12 ms
  there). Should the thread not report within :data:`CATCH_UP_COMMITS` commits (stopped, or a
  reader holds the WAL), the writer checkpoints anyway, as before. ``journal_size_limit`` gives
  the file back to :data:`SIZE_LIMIT` once the WAL restarts; that is above what a burst
  reaches, so the restarting commit does not also cut the file (an ``ftruncate`` of a few ms on
  ext4) every time. The restart itself (SQLite writes and syncs the WAL's new header in the first
  transaction that writes afterwards) is done right after the writer's checkpoint, by a write
  that changes nothing (:func:`restart`), not inside the next edit's commit;
* at close the thread stops and the write connection, closed last, checkpoints everything and
  removes the WAL (SQLite does so when the last connection closes).

Nothing committed can be lost by this: a checkpoint only copies committed pages from the WAL
into the store; until it has, a reopened store (after a crash, ``kill -9``) reads them from the
WAL, as before. Durability is unchanged (WAL, ``synchronous=NORMAL``).
"""
from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import weakref
from pathlib import Path

WAKE_EVERY = 64                 # commits between wake-ups (≈ 600 WAL pages of single edits)
IDLE = 0.02                     # seconds without a commit before the thread checkpoints
TIMER = 2.0                     # seconds: a checkpoint of what a few commits left in the WAL
HARD_LIMIT = 16 * 1024 * 1024   # bytes of WAL at which the thread catches up and the writer then checkpoints
CATCH_UP_COMMITS = 4 * WAKE_EVERY   # commits the writer waits for the thread's catch-up at most
CATCH_UP_PASSES = 3             # the thread's checkpoints in one catch-up at most (each: what came meanwhile)
SIZE_LIMIT = 32 * 1024 * 1024   # journal_size_limit: the WAL file is cut back to this on restart


def wal_path(store: str | Path) -> Path:
    return Path(str(store) + "-wal")


def wal_size(store: str | Path) -> int:
    try:
        return os.stat(wal_path(store)).st_size
    except OSError:
        return 0


def wal_frames(store: str | Path) -> int | None:
    """The frames the WAL holds now: ``mxFrame`` of the wal-index header, a native-order 32-bit
    integer at byte 16 of the ``-shm`` file (https://sqlite.org/walformat.html, "The WAL-Index
    Header"); None when it cannot be read. Unlike the WAL file's size, it drops to zero when the
    WAL starts again from its beginning (SQLite reuses the file without shortening it)."""
    try:
        fd = os.open(str(store) + "-shm", os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        head = os.pread(fd, 4, 16) if hasattr(os, "pread") else (os.lseek(fd, 16, 0), os.read(fd, 4))[1]
    except OSError:
        return None
    finally:
        os.close(fd)
    return int.from_bytes(head, sys.byteorder) if len(head) == 4 else None


def restart(conn: sqlite3.Connection) -> None:
    """Let the WAL start again from its beginning now, after a checkpoint that copied all of it
    back: SQLite does so (writing and syncing the WAL's new header) in the first transaction that
    writes a page after such a checkpoint, so a write that changes nothing here saves the next
    edit's commit that sync. The write: the header's application id set to what it is (a row
    updated to its own value writes no page). Outside any transaction of the caller's."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        conn.execute(f"PRAGMA application_id = {app_id}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
        self.catch_up = False            # the writer asks the thread to copy the WAL back now
        self.caught_up = False           # ... and the thread has
        self.asked_at = 0                # (commits then)
        self.catch_ups = 0               # catch-ups the thread finished
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.done = threading.Condition()


class Checkpointer:
    """Checkpoints the WAL of ``store`` (written by ``conn``) off the thread that commits.

    ``committed()`` is called by the write path after every commit; it costs a counter and, every
    :data:`WAKE_EVERY` commits, an ``Event.set`` and a read of 4 bytes of the WAL index. The thread opens a
    connection of its own only to checkpoint, and closes it afterwards."""

    def __init__(self, store: str | Path, conn: sqlite3.Connection, *, thread: bool = True) -> None:
        self.store = Path(store)
        self.conn = conn
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute(f"PRAGMA journal_size_limit = {SIZE_LIMIT}")
        self._frame = int(conn.execute("PRAGMA page_size").fetchone()[0]) + 24     # (a WAL frame's bytes)
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
    catch_ups = property(lambda self: self._s.catch_ups)
    last_error = property(lambda self: self._s.last_error)

    # ---- the write path ----------------------------------------------------------------------
    def committed(self) -> None:
        s = self._s
        s.commits += 1
        s.last_commit = time.monotonic()
        s.dirty = True
        if s.catch_up and (s.caught_up or s.commits - s.asked_at >= CATCH_UP_COMMITS):
            self._inline()                      # (meanwhile the thread, caught up, waits)
            s.catch_up = s.caught_up = False
        if s.commits % WAKE_EVERY == 0:
            if not s.catch_up and self.wal_bytes() > HARD_LIMIT:
                if self._thread is not None and self._thread.is_alive():
                    s.asked_at = s.commits
                    s.caught_up = False
                    s.catch_up = True
                else:
                    self._inline()
            s.wake.set()

    def wal_bytes(self) -> int:
        """The bytes of WAL the store holds now (the file's size when the WAL index cannot be read)."""
        frames = wal_frames(self.store)
        return frames * self._frame if frames is not None else wal_size(self.store)

    def _inline(self) -> None:
        """The writer's own checkpoint, between two commits; once it has copied everything back,
        the WAL starts again from its beginning right away (:func:`restart`), in this edit's
        wake rather than inside the next edit's commit."""
        s = self._s
        s.inline_checkpoints += 1
        try:
            busy, frames, copied = checkpoint(self.conn)
            if busy == 0 and frames > 0 and copied == frames:
                restart(self.conn)
        except sqlite3.Error as exc:
            s.last_error = str(exc)
        s.last_commit = time.monotonic()       # (the thread: not idle meanwhile)

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
    """The checkpoint thread: wait for a wake-up (or the timer), then for the writer to be idle;
    a catch-up the writer asks for is run at once."""
    while not s.stop.is_set():
        if not s.catch_up or s.caught_up:       # (caught up: the writer's turn; the thread waits)
            woken = s.wake.wait(TIMER)
            if s.stop.is_set():
                break
            if not woken and not s.dirty:
                continue
            s.wake.clear()
        if s.catch_up:
            if not s.caught_up:
                _catch_up(s)
                with s.done:
                    s.done.notify_all()
                continue
            if time.monotonic() - s.last_commit < IDLE:
                continue                        # the writer's turn, at its next commit
            s.catch_up = s.caught_up = False    # it went idle first: an idle checkpoint, as ever
        _wait_quiet(s)
        if s.stop.is_set():
            break
        if s.catch_up:                          # asked meanwhile: run it first
            continue
        s.dirty = False
        _checkpoint_once(s)
        with s.done:
            s.done.notify_all()


def _checkpoint_once(s: _Shared) -> tuple[int, int, int] | None:
    """One PASSIVE checkpoint on a connection of the thread's own; None on an error (kept)."""
    conn = None
    try:
        conn = sqlite3.connect(str(s.store), timeout=0.1, isolation_level=None, check_same_thread=False)
        result = checkpoint(conn)
        s.checkpoints += 1
        return result
    except sqlite3.Error as exc:          # e.g. a disk made read-only: the writer says so
        s.last_error = str(exc)
        return None
    finally:
        if conn is not None:
            conn.close()


def _catch_up(s: _Shared) -> None:
    """Copy the WAL back while the writer goes on: once, then again for what it committed
    meanwhile (each pass is shorter), then tell the writer, which checkpoints the rest itself."""
    for _ in range(CATCH_UP_PASSES):
        before = s.commits
        result = _checkpoint_once(s)
        if result is None or result[0] != 0 or s.stop.is_set():
            break
        if s.commits - before <= WAKE_EVERY // 4:          # little came meanwhile: the writer's share is small
            break
    s.catch_ups += 1
    s.caught_up = True


def _wait_quiet(s: _Shared) -> None:
    """Until no commit came for IDLE seconds, or stop. Meanwhile, every WAKE_EVERY commits of a
    burst, the WAL written so far is flushed to disk (what makes a checkpoint long is syncing
    the WAL: a checkpoint the writer must run at the hard limit then takes a few milliseconds)."""
    while not s.stop.is_set() and not s.catch_up:
        quiet = time.monotonic() - s.last_commit
        if quiet >= IDLE:
            return
        if s.wake.wait(IDLE - quiet):           # (set by the writer every WAKE_EVERY commits, and by stop)
            s.wake.clear()
            if not s.stop.is_set() and not s.catch_up:
                _sync_wal(s)


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
