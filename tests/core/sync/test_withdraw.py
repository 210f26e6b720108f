"""Withdrawing the records of set-aside ops keeps the append-only guards of the tables in place."""
from __future__ import annotations

import sqlite3

import pytest

from labeldesk.core.project import Project
from labeldesk.core.sync.withdraw import withdraw_records


def test_append_only_records_are_withdrawn_and_the_guard_stays(tmp_path):
    p = Project.create(tmp_path / "p", "t", user_name="u")
    try:
        with p.transaction() as conn:
            for rid, op in (("r1", "op-revoked"), ("r2", "op-kept")):
                conn.execute("INSERT INTO releases (id, name, op_id, dev, hlc_ms, hlc_ctr, wall, user, layers, files,"
                             " counts, ontology_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                             (rid, rid, op, "d", 1, 0, "w", "u", "[]", "{}", "{}", 1))
            changes = withdraw_records(conn, ["op-revoked"])
        assert changes.releases == {"r1"}
        assert [r[0] for r in p.conn.execute("SELECT id FROM releases")] == ["r2"]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            p.conn.execute("DELETE FROM releases WHERE id = 'r2'")
    finally:
        p.close()
