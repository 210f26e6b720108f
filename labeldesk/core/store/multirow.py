"""Many rows inserted with few statements: ``INSERT ... VALUES (...), (...), ...``.

``executemany`` runs its statement once per row; a row costs a statement reset and step (and,
on the op log before store version 11, an update of ``sqlite_sequence`` each). One
statement carrying up to :data:`CHUNK` rows writes the same rows in the same order (the same
``local_order`` values, the same triggers and constraint checks), about a fifth faster for the
op log and a quarter for annotation rows (a merged segment: BENCHMARKS.md, "SYNC-1 CPU").

One difference, and the reason callers must be inside a transaction that a failure rolls
back: a statement that fails (a constraint) writes none of its rows, where ``executemany``
would have kept the rows before the failing one.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Sequence

CHUNK = 200           # rows per statement (measured: 100-500 alike; bounded by the variable limit)


def insert_rows(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``conn.executemany(sql, rows)`` for a one-row ``INSERT INTO t (columns) VALUES (...)``, in
    statements of up to :data:`CHUNK` rows (the values group repeated, literals and all)."""
    if not rows:
        return
    head, one = sql.rsplit(" VALUES ", 1)
    width = one.count("?")
    per = max(1, min(CHUNK, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // max(1, width)))
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        if len(chunk) == 1:
            conn.execute(sql, chunk[0])
        else:
            conn.execute(f"{head} VALUES {','.join([one] * len(chunk))}", [v for row in chunk for v in row])
