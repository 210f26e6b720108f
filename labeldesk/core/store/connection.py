"""Opening the local SQLite store: WAL, synchronous=NORMAL, foreign keys, busy timeout."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from labeldesk.core.store.migrations import migrate


def connect(path: str | Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit ``BEGIN IMMEDIATE``)."""
    if read_only:
        conn = sqlite3.connect(f"file:{Path(path).as_posix()}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not read_only:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise OSError(f"{path}: could not switch the store to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    return conn


def backup(conn: sqlite3.Connection, dest: str | Path) -> Path:
    """A consistent snapshot through the SQLite backup API (never copy the live file)."""
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        tmp.unlink()
    target = sqlite3.connect(str(tmp))
    try:
        conn.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")   # one self-contained file (no -wal/-shm)
        ok = target.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise OSError(f"{dest}: backup failed its integrity check: {ok}")
    finally:
        target.close()
    tmp.replace(dest)
    return dest


def integrity_check(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
