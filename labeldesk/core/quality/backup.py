"""Backups of a project store and their restore, both verified.

A backup is a consistent copy made with the SQLite backup API (never a file copy of the live
store), checked with ``PRAGMA integrity_check`` and by re-verifying the hash chain of its op log
and its op count against the project. Restore checks the backup the same way first, then writes
it into a new project folder (or, with ``replace``, puts the current store aside — nothing is
deleted — and writes the backup in its place). A restored store gets a new device id when it is
opened (it lives at another path), so it never publishes ops under the old device's numbers.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeldesk.core.errors import LabeldeskError

SUFFIX = ".labeldesk-backup"


@dataclass
class BackupReport:
    path: Path
    bytes: int
    ops: int
    annotations: int
    sha256: str

    def text(self) -> str:
        return (f"{self.path}: {self.bytes / 1e6:.1f} MB, {self.ops} ops, {self.annotations} annotations; "
                f"integrity ok, op chain verified (sha256 {self.sha256[:16]}…)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | Path) -> BackupReport:
    """Open a backup read-only and check it: integrity, the op log's hash chain, the schema."""
    from labeldesk.core.store import oplog
    path = Path(path)
    if not path.is_file():
        raise LabeldeskError(f"{path}: no such backup file")
    try:
        conn = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LabeldeskError(f"{path}: cannot be opened as a backup ({exc})") from exc
    try:
        conn.row_factory = sqlite3.Row
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise LabeldeskError(f"{path}: the backup is damaged ({ok})")
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ops'").fetchone() is None:
                raise LabeldeskError(f"{path}: not a labeldesk project backup (no op log)")
            chain = oplog.verify_chain(conn)
            ops = int(conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0])
            anns = int(conn.execute("SELECT COUNT(*) FROM annotations WHERE deleted = 0").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise LabeldeskError(f"{path}: not a readable labeldesk backup ({exc})") from exc
    finally:
        conn.close()
    if not getattr(chain, "ok", True):
        raise LabeldeskError(f"{path}: the op log's hash chain does not verify "
                             f"({chain.problem} at op {chain.first_bad})")
    return BackupReport(path, path.stat().st_size, ops, anns, _sha256(path))


def backup(project: Any, dest: str | Path | None = None) -> BackupReport:
    """Write a verified backup to ``dest`` (a file, or a folder for a time-stamped name; default:
    the project's ``backups/`` folder)."""
    dest = Path(dest) if dest is not None else project.root / "backups"
    if dest.is_dir() or dest.suffix == "" and not dest.exists():
        dest.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        dest = dest / f"{project.name}-{stamp}{SUFFIX}"
    if dest.exists():
        raise LabeldeskError(f"{dest}: exists already; a backup never overwrites a file")
    try:
        project.backup(dest)
    except (OSError, sqlite3.Error) as exc:
        raise LabeldeskError(f"{dest}: the backup could not be written ({exc})") from exc
    report = verify(dest)
    ops_now = int(project.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0])
    if report.ops != ops_now:
        raise LabeldeskError(f"{dest}: the backup holds {report.ops} ops, the project {ops_now}")
    return report


def restore(source: str | Path, root: str | Path, *, replace: bool = False) -> Path:
    """Restore a verified backup as the project in folder ``root``; returns the store path."""
    from labeldesk.core.project import LOCK_NAME, STORE_NAME, is_project
    from labeldesk.core.store.lock import ProjectLock
    report = verify(source)
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    store = root / STORE_NAME
    lock = ProjectLock(root / LOCK_NAME)
    lock.acquire()
    try:
        if is_project(root):
            if not replace:
                raise LabeldeskError(f"{root}: a project exists here; restore into a new folder, or add "
                                     f"--replace to put the current store aside and restore over it")
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for suffix in ("", "-wal", "-shm"):
                old = root / (STORE_NAME + suffix)
                if old.exists():
                    os.replace(old, root / f"{STORE_NAME}.before-restore-{stamp}{suffix}")
        src = sqlite3.connect(f"file:{report.path.as_posix()}?mode=ro", uri=True)
        tmp = store.with_name(STORE_NAME + ".partial")
        try:
            target = sqlite3.connect(str(tmp))
            try:
                src.backup(target)
            finally:
                target.close()
        finally:
            src.close()
        os.replace(tmp, store)
    finally:
        lock.release()
    if verify(store).ops != report.ops:
        raise LabeldeskError(f"{store}: the restored store does not match the backup")
    return store
