"""Schema migrations keyed on ``PRAGMA user_version``; each step runs in its own transaction.

``MIGRATIONS[n]`` takes a store from version ``n`` to ``n + 1``: an SQL file in this package or a
Python callable. Add a step; never edit a released one.
"""
from __future__ import annotations

import sqlite3
from importlib import resources
from typing import Callable, Union

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.store.vertices import add_column as add_verts_column

Step = Union[str, Callable[[sqlite3.Connection], None]]

MIGRATIONS: list[Step] = [
    "schema_v1.sql",
    "schema_v2.sql",
    "schema_v3.sql",
    "schema_v4.sql",     # sync: cursors, pending ops, conflicts, devices
    "schema_v5.sql",     # review: tasks/assignments, review decisions, issues and comments
    "schema_v6.sql",     # interchange: prediction provenance, releases
    add_verts_column,    # polygon shells as binary vertex arrays (store/vertices.py)
    "schema_class_codes.sql",   # interchange: stable class label values, codes, coded concepts, keypoints
    "schema_signing_keys.sql", # sync: users' signing keys, merged segments
    "schema_segments.sql",      # segments: 3-D label maps of volumes (core/segments.py)
    "schema_lean_oplog.sql",    # DB-1: ops without AUTOINCREMENT, outbox WITHOUT ROWID (fewer pages per edit)
]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the store to ``target`` step by step; returns the version it started from."""
    start = user_version(conn)
    if start > SCHEMA_VERSION:
        raise LabeldeskError(
            f"this project was written by a newer labeldesk (store version {start}, "
            f"this app knows up to {SCHEMA_VERSION}); update labeldesk to open it")
    for version in range(start, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            run_step(conn, MIGRATIONS[version])
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start


def run_step(conn: sqlite3.Connection, step: Step) -> None:
    if callable(step):
        step(conn)
        return
    script = resources.files("labeldesk.core.store").joinpath(step).read_text("utf-8")
    for stmt in statements(script):     # executescript() would commit: run one by one
        conn.execute(stmt)


def statements(script: str) -> list[str]:
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
