"""insert_rows writes what executemany writes: the same rows in the same order (the same
AUTOINCREMENT keys), across chunk boundaries, with literals in the values group; a failing
statement writes none of its rows (callers are inside a transaction that rolls back)."""
import sqlite3

import pytest

from labeldesk.core.store import multirow
from labeldesk.core.store.multirow import insert_rows

SCHEMA = ("CREATE TABLE t (k INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT NOT NULL UNIQUE, b BLOB, c REAL,"
          " d INTEGER NOT NULL DEFAULT 5, e TEXT)")
SQL = "INSERT INTO t (a, b, c, d, e) VALUES (?,?,?,0,?)"


def _db():
    conn = sqlite3.connect(":memory:")
    conn.execute(SCHEMA)
    conn.execute("INSERT INTO t (a, b, c, e) VALUES ('first', NULL, 1.0, 'x')")
    return conn


@pytest.mark.parametrize("n", [0, 1, 2, multirow.CHUNK - 1, multirow.CHUNK, multirow.CHUNK + 1, 2 * multirow.CHUNK + 37])
def test_same_rows_as_executemany(n):
    rows = [(f"r{i}", bytes([i % 256]) * (i % 5) or None, i / 3, None if i % 2 else f"é{i}") for i in range(n)]
    want, got = _db(), _db()
    want.executemany(SQL, rows)
    insert_rows(got, SQL, rows)
    dump = "SELECT k, a, b, c, d, e FROM t ORDER BY k"
    assert got.execute(dump).fetchall() == want.execute(dump).fetchall()
    assert got.execute("SELECT seq FROM sqlite_sequence").fetchall() == want.execute("SELECT seq FROM sqlite_sequence").fetchall()


def test_a_failing_statement_writes_none_of_its_rows():
    conn = _db()
    rows = [(f"r{i}", None, 0.0, None) for i in range(multirow.CHUNK + 5)] + [("first", None, 0.0, None)]
    with pytest.raises(sqlite3.IntegrityError):
        insert_rows(conn, SQL, rows)
    # the first chunk was written, the chunk holding the duplicate was not
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1 + multirow.CHUNK


def test_chunks_respect_the_variable_limit():
    conn = _db()
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 9)     # two rows of four values per statement
    rows = [(f"r{i}", None, float(i), "e") for i in range(7)]
    insert_rows(conn, SQL, rows)
    assert [r[0] for r in conn.execute("SELECT a FROM t ORDER BY k")] == ["first"] + [f"r{i}" for i in range(7)]
