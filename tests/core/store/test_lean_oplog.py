"""The lean op log (store version 11, ``schema_lean_oplog.sql``): a project written by the old code
(store version 10: ``ops`` with AUTOINCREMENT, a rowid outbox), dumped in
``fixtures/project_v10.sql`` by the tree of 2b82f02, opens with every op, the chain verifying,
the outbox kept and published by sync, and edits going on with the same rows an edit wrote."""
from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import STORE_NAME, Project
from labeldesk.core.store import repo
from labeldesk.core.store.migrations import SCHEMA_VERSION, user_version
from labeldesk.core.sync import engine

def old_project(root: Path) -> dict:
    """What the version-10 project made at ``root`` (the ``v10_project`` fixture) held."""
    conn = sqlite3.connect(root / STORE_NAME, isolation_level=None)
    old = {
        "ops": conn.execute("SELECT * FROM ops ORDER BY local_order").fetchall(),
        "outbox": sorted(r[0] for r in conn.execute("SELECT op_id FROM outbox")),
        "autoincrement": "AUTOINCREMENT" in conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'ops'").fetchone()[0],
    }
    conn.close()
    return old


def test_fixture_is_the_old_schema(v10_project, tmp_path):
    old = old_project(v10_project(tmp_path / "p"))
    assert old["autoincrement"] and len(old["ops"]) == 15 and len(old["outbox"]) == 15


def test_old_project_migrates_with_every_op_and_its_outbox(v10_project, tmp_path):
    old = old_project(v10_project(tmp_path / "p"))
    with Project.open(tmp_path / "p") as p:
        conn = p.conn
        assert user_version(conn) == SCHEMA_VERSION
        schema = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('ops', 'outbox')"))
        assert "AUTOINCREMENT" not in schema["ops"] and "WITHOUT ROWID" in schema["outbox"]
        assert {"ops_by_entity", "ops_by_type", "ops_no_update", "ops_no_delete"} <= set(schema)
        assert conn.execute("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'ops'").fetchone()[0] == 0
        assert [tuple(r) for r in conn.execute("SELECT * FROM ops ORDER BY local_order")] == \
            [tuple(r) for r in old["ops"]]
        assert sorted(r[0] for r in conn.execute("SELECT op_id FROM outbox")) == old["outbox"]
        report = p.verify_chain()
        assert report.ok and report.count == 15
        # the rules still hold: append-only, the outbox refers to ops, op ids and (dev, seq) unique
        for sql in ("UPDATE ops SET reason = 'x'", "DELETE FROM ops"):
            try:
                conn.execute(sql)
                raise AssertionError(sql)
            except sqlite3.DatabaseError as exc:
                assert "append-only" in str(exc)
        try:
            conn.execute("INSERT INTO outbox (op_id) VALUES ('nope:1')")
            raise AssertionError("an outbox row without its op")
        except sqlite3.IntegrityError:
            pass
        # edits go on: local order and sequence numbers continue, the chain too
        ann = conn.execute("SELECT id FROM annotations WHERE deleted = 0 ORDER BY id").fetchone()[0]
        last = conn.execute("SELECT MAX(local_order), MAX(seq) FROM ops").fetchone()
        shell = [[50 + 10 * math.cos(i / 8 * 6.283), 50 + 10 * math.sin(i / 8 * 6.283)] for i in range(8)]
        for k in range(3):
            p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "polygon",
                                                                              "shell": [[x + k, y] for x, y in shell]}}}))
        rows = conn.execute("SELECT local_order, seq FROM ops WHERE local_order > ? ORDER BY local_order",
                            (last[0],)).fetchall()
        assert [tuple(r) for r in rows] == [(last[0] + k, last[1] + k) for k in (1, 2, 3)]
        assert p.verify_chain().ok and p.counts()["outbox"] == 18


def test_migrated_project_publishes_its_outbox_to_a_new_device(v10_project, tmp_path):
    old_project(v10_project(tmp_path / "p"))
    p = Project.open(tmp_path / "p")
    try:
        uid = ids.new_id()
        p.apply_all([OpDraft("user.add", uid, {"name": "u1"}), OpDraft("role.grant", uid, {"role": "annotator"})])
        engine.init_share(p, tmp_path / "share")
        engine.sync_round(p)
        assert p.counts()["outbox"] == 0
        q, _ = engine.join_share(tmp_path / "share", tmp_path / "q", user="u1")
        try:
            engine.sync_round(q)
            mine = {o.op_id for o in p.ops()}
            theirs = {o.op_id for o in q.ops()}
            assert mine <= theirs
            annotations = "SELECT id, geometry, deleted FROM annotations ORDER BY id"
            assert [tuple(r) for r in q.conn.execute(annotations)] == [tuple(r) for r in p.conn.execute(annotations)]
            # and a new edit after the migration reaches the other device too
            ann = p.conn.execute("SELECT id FROM annotations WHERE deleted = 0 ORDER BY id").fetchone()[0]
            p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
            engine.sync_round(p)
            engine.sync_round(q)
            assert q.conn.execute("SELECT geometry FROM annotations WHERE id = ?", (ann,)).fetchone()[0] == \
                p.conn.execute("SELECT geometry FROM annotations WHERE id = ?", (ann,)).fetchone()[0]
            assert q.verify_chain().ok
        finally:
            q.close()
    finally:
        p.close()


def test_a_new_project_has_the_lean_op_log(tmp_path):
    with Project.create(tmp_path / "n") as p:
        p.apply(OpDraft("asset.add", ids.new_id(), {"asset": {"kind": "image", "name": "a", "content_hash": "h",
                                                               "width": 8, "height": 8}}))
        sql = p.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'ops'").fetchone()[0]
        assert "AUTOINCREMENT" not in sql
        orders = [r[0] for r in p.conn.execute("SELECT local_order FROM ops ORDER BY local_order")]
        assert orders == list(range(1, len(orders) + 1)) and p.verify_chain().ok


def test_edits_leave_meta_alone_and_a_reopened_project_carries_on(v10_project, tmp_path):
    """``Project.apply`` writes no ``meta`` row: the next sequence number and the clock are
    derived from the log when the project is opened again (or a batch, or sync, asks)."""
    old_project(v10_project(tmp_path / "p"))
    p = Project.open(tmp_path / "p")
    ann = p.conn.execute("SELECT id FROM annotations WHERE deleted = 0 ORDER BY id").fetchone()[0]
    meta_before = p.conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
    for k in range(4):
        p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [k, 1, 9, 9]}}}))
    assert p.conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall() == meta_before
    last = p.conn.execute("SELECT seq, hlc_ms, hlc_ctr FROM ops ORDER BY local_order DESC LIMIT 1").fetchone()
    assert int(repo.get_meta(p.conn, "next_seq")) < last[0]          # meta is behind: derivation is needed
    assert repo.next_seq(p.conn, p.device_id) == last[0] + 1
    p.conn.close()                  # (as a crash would: no close-time writes)
    p._checkpointer.close()
    p._lock.release()
    with Project.open(tmp_path / "p") as q:
        assert (q.clock.last.ms, q.clock.last.counter) >= (last[1], last[2])
        q.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [5, 1, 9, 9]}}}))
        a = q.apply_all([OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [6, 1, 9, 9]}}})])
        seqs = [r[0] for r in q.conn.execute("SELECT seq, hlc_ms, hlc_ctr FROM ops ORDER BY local_order DESC LIMIT 2")]
        assert seqs == [last[0] + 2, last[0] + 1] and a[0].op.hlc > (last[1], last[2])
        assert q.verify_chain().ok
