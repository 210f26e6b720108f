"""A project opens only where its store can be written: every change is an op written as it is
made, so a read-only project folder (a read-only mount, a folder without write permission, a
store file made read-only) is refused when it is opened, with a message saying why and what to do,
never a traceback and never an edit that seems made but is not saved."""
from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from labeldesk.core.errors import LabeldeskError

READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class ProjectReadOnly(LabeldeskError):
    """The project folder or its store cannot be written here."""


def refusal(root: Path, why: str) -> ProjectReadOnly:
    return ProjectReadOnly(
        f"{root}: the project cannot be opened because it is read-only here ({why}). labeldesk saves every "
        "change into the project as it is made, so it opens a project only where it can write; nothing was "
        "changed. Copy the project folder to a folder you can write and open the copy, or ask for write access.")


def check_folder(root: Path, store: Path) -> None:
    """Refuse a folder or store files this process may not write (``os.access`` also reports a
    read-only file system, even for root)."""
    for path in (root, store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
        if path.exists() and not os.access(path, os.W_OK):
            what = "the folder" if path == root else path.name
            raise refusal(root, f"{what} is not writable")


def lock_error(root: Path, exc: OSError) -> LabeldeskError | None:
    """The refusal for an OSError taking the project's lock file, if it says "read-only"."""
    if exc.errno in READ_ONLY_ERRNOS:
        return refusal(root, f"cannot write the lock file: {exc.strerror or exc}")
    return None


def check_store(root: Path, conn: sqlite3.Connection) -> None:
    """Write nothing, but take the write lock and try a write that is rolled back: a store SQLite
    opened read-only (or on a read-only disk) refuses it."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE meta SET value = value WHERE key = 'project_id'")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "readonly" in text or "read-only" in text or "read only" in text:
            conn.close()
            raise refusal(root, f"the store refuses writes: {text}") from None
        raise
