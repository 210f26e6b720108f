"""Failure modes #14–#19 of docs/sync.md §11 (merge rules), plus blobs, unknown op types and roles."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.geometry import Mask
from labeldesk.core.ops import OpDraft
from labeldesk.core.sync import engine
from labeldesk.core.sync.status import conflicts, resolve, state_digest, status


def _xyxy(p, ann):
    return list(p.annotation(ann).geometry.to_dict()["xyxy"])


def test_fm14_concurrent_edit_same_polygon_keeps_both_and_converges(team):
    a, b = team.devices
    ann = team.box(a, 10)
    team.sync_all()
    team.move(a, ann, 30)
    team.move(b, ann, 60)                                  # concurrently: neither saw the other
    team.sync_all()
    assert _xyxy(a, ann) == _xyxy(b, ann)                  # the same provisional winner everywhere
    winner_op = max((tuple(r) for r in a.conn.execute("SELECT hlc_ms, hlc_ctr, dev, seq, op_id FROM ops WHERE entity = ? AND "
                                               "type = 'annotation.update'", (ann,))))[4]
    assert a.annotation(ann).revision == winner_op
    for p in (a, b):
        [c] = conflicts(p)
        assert c["field"] == "geometry" and c["kind"] == "field" and c["winner"] == winner_op
        values = sorted(cand["value"]["xyxy"][0] for cand in c["candidates"])
        assert values == [30, 60]                          # both values kept
        assert {cand["user_name"] for cand in c["candidates"]} == {"u0", "u1"}
    assert state_digest(a.conn) == state_digest(b.conn)
    loser = next(cand["op_id"] for cand in conflicts(b)[0]["candidates"] if cand["op_id"] != winner_op)
    resolve(b, conflicts(b)[0]["id"], loser, reason="the other outline is right")
    team.sync_all()
    for p in (a, b):
        assert not conflicts(p) and conflicts(p, include_resolved=True)[0]["status"] == "resolved"
        assert _xyxy(p, ann) == [v for v in ([30, 30, 50, 50] if loser.startswith(a.device_id) else [60, 60, 80, 80])]
    assert state_digest(a.conn) == state_digest(b.conn)


@pytest.mark.parametrize("who", ["winner", "loser"])
def test_fm14_edit_made_after_both_values_arrived_supersedes_the_conflict(team, who):
    a, b = team.devices
    ann = team.box(a, 10)
    team.sync_all()
    team.move(a, ann, 30)
    team.move(b, ann, 60)
    team.sync_all()
    assert len(conflicts(a)) == len(conflicts(b)) == 1
    winner_dev = a.annotation(ann).revision.split(":")[0]
    editor = a if (a.device_id == winner_dev) == (who == "winner") else b
    team.move(editor, ann, 90)                  # its author had both values (shown and in the record)
    team.sync_all()
    assert _xyxy(a, ann) == _xyxy(b, ann) == [90, 90, 110, 110]
    assert len(conflicts(a)) == len(conflicts(b)) == 0
    assert state_digest(a.conn) == state_digest(b.conn)
    values = {r[0] for r in a.conn.execute("SELECT payload FROM ops WHERE entity = ? AND type = 'annotation.update'",
                                           (ann,))}
    assert len(values) == 3                     # every value stays in the audit trail


def test_fm14_edit_of_another_field_does_not_hide_a_concurrent_edit(team3):
    a, b, c = team3.devices
    ann = team3.box(a, 10)
    team3.sync_all()
    team3.move(a, ann, 30)
    engine.sync_round(a)
    b.apply(OpDraft("annotation.update", ann, {"set": {"z_order": 2.0}}))   # b has not seen the move
    engine.sync_round(b)
    team3.move(b, ann, 60)                      # b now has a's move: its move supersedes it
    team3.move(c, ann, 80)                      # c has seen neither move: concurrent with both
    team3.sync_all()
    assert len(set(team3.digests())) == 1
    [conflict] = conflicts(a)
    assert sorted(x["value"]["xyxy"][0] for x in conflict["candidates"]) == [60, 80]


def test_different_fields_merge_without_conflict(team):
    a, b = team.devices
    ann = team.box(a, 10)
    cls2 = ids.new_id()
    a.apply(OpDraft("ontology.class.create", cls2, {"class": {"name": "cyst"}}))
    team.sync_all()
    team.move(a, ann, 30)
    b.apply(OpDraft("annotation.update", ann, {"set": {"class_id": cls2}}))
    team.sync_all()
    for p in (a, b):
        got = p.annotation(ann)
        assert got.class_id == cls2 and got.geometry.to_dict()["xyxy"][0] == 30
        assert not conflicts(p)


def test_fm15_edit_beats_concurrent_delete_and_is_flagged(team):
    a, b = team.devices
    ann = team.box(a, 10)
    team.sync_all()
    a.apply(OpDraft("annotation.delete", ann, {}))
    team.move(b, ann, 60)
    team.sync_all()
    for p in (a, b):
        got = p.annotation(ann)
        assert got is not None and not got.deleted and got.geometry.to_dict()["xyxy"][0] == 60
        [c] = conflicts(p)
        assert c["kind"] == "delete" and len(c["candidates"]) == 2
        types = {r[0] for r in p.conn.execute("SELECT type FROM ops WHERE entity = ?", (ann,))}
        assert {"annotation.delete", "annotation.update"} <= types           # audit shows both
        assert status(p)["overridden_deletes"] == 1
    assert state_digest(a.conn) == state_digest(b.conn)
    delete_op = next(c["op_id"] for c in conflicts(a)[0]["candidates"] if c["value"] is True)
    resolve(a, conflicts(a)[0]["id"], delete_op, reason="it was a duplicate")
    team.sync_all()
    assert a.annotation(ann).deleted and b.annotation(ann).deleted


def test_fm15_delete_causally_after_edit_wins(team):
    a, b = team.devices
    ann = team.box(a, 10)
    team.sync_all()
    team.move(b, ann, 60)
    team.sync_all()
    a.apply(OpDraft("annotation.delete", ann, {}))          # a saw the edit, then deleted
    team.sync_all()
    assert a.annotation(ann).deleted and b.annotation(ann).deleted
    assert not conflicts(a) and not conflicts(b)


def _review_team(tmp_path):
    from sync_team import Team
    return Team(tmp_path, 3, roles=("reviewer", "annotator"))


def test_fm16_two_reviewers_disagree_concurrently_item_disputed(tmp_path):
    workflow = pytest.importorskip("labeldesk.core.review.workflow")
    t = _review_team(tmp_path)
    owner, r1, r2 = t.devices
    layer = owner.my_layer_id
    t.box(owner, 10, layer=layer)
    workflow.submit(owner, t.asset, layer)
    t.sync_all()
    workflow.decide(r1, t.asset, layer, "approve")
    workflow.decide(r2, t.asset, layer, "return", reason="missed a lesion")
    t.sync_all()
    states = {workflow.item_state(p.conn, t.asset, layer).state for p in t.devices}
    assert states == {"disputed"}
    assert len(set(t.digests())) == 1
    t.close()


def test_fm17_approval_of_edited_revision_is_stale(tmp_path):
    workflow = pytest.importorskip("labeldesk.core.review.workflow")
    t = _review_team(tmp_path)
    owner, r1, _ = t.devices
    layer = owner.my_layer_id
    ann = t.box(owner, 10, layer=layer)
    workflow.submit(owner, t.asset, layer)
    t.sync_all()
    workflow.decide(r1, t.asset, layer, "approve")
    t.move(owner, ann, 40)                                  # edited concurrently with the approval
    t.sync_all()
    for p in t.devices:
        item = workflow.item_state(p.conn, t.asset, layer)
        assert item.stale and item.state != "approved"
    t.close()


def test_fm18_clock_skew_flagged_and_does_not_dominate(team):
    a, b = team.devices
    ann = team.box(a, 10)
    team.sync_all()
    real = b.clock._now_ms
    b.clock._now_ms = lambda: real() + 2 * 24 * 3600 * 1000          # two days ahead
    team.move(b, ann, 60)
    engine.sync_round(b)
    engine.sync_round(a)
    dev = next(d for d in status(a)["devices"] if d["device_id"] == b.device_id)
    assert dev["clock_ahead_s"] > 24 * 3600
    team.move(a, ann, 90)                                   # after seeing b's op: HLC is past it
    team.sync_all()
    assert _xyxy(a, ann) == _xyxy(b, ann) == [90, 90, 110, 110]
    row = a.conn.execute("SELECT wall, hlc_ms FROM ops WHERE dev = ? AND type = 'annotation.update'",
                         (b.device_id,)).fetchone()
    assert row["wall"] and row["hlc_ms"] > 0                 # audit keeps wall time and HLC


def test_fm19_ops_before_dependencies_wait_in_pending(team3, faulty):
    a, b, c = team3.devices
    cls = ids.new_id()
    a.apply(OpDraft("ontology.class.create", cls, {"class": {"name": "nodule"}}))
    engine.sync_round(a)
    engine.sync_round(b)
    ann = ids.new_id()
    b.apply(OpDraft("annotation.create", ann, {"annotation": {"asset_id": team3.asset, "layer_id": b.my_layer_id,
                                                              "class_id": cls, "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    engine.sync_round(b)
    share = faulty(team3.share)
    late = share.delay(share.segments(a.device_id)[-1])
    engine.sync_round(c)
    assert c.annotation(ann) is None
    assert status(c)["pending"] >= 1
    late.deliver()
    engine.sync_round(c)
    assert c.annotation(ann) is not None and c.annotation(ann).class_id == cls
    assert status(c)["pending"] == 0
    assert len(set(team3.digests())) == 1 or state_digest(c.conn) == state_digest(b.conn)


def test_large_mask_travels_as_blob_and_waits_for_it(team):
    a, b = team.devices
    mask = Mask.from_array(np.indices((200, 200)).sum(0) % 2 == 0)         # 40,000 runs: > 64 KB
    ann = ids.new_id()
    a.apply(OpDraft("annotation.create", ann, {"annotation": {"asset_id": team.asset, "layer_id": a.my_layer_id,
                                                              "geometry": mask.to_dict()}}))
    engine.sync_round(a)
    blobs = list((team.share / "blobs" / "sha256").rglob("*.bin"))
    assert len(blobs) == 1
    seg = sorted((team.share / "devices" / a.device_id / "segments").glob("seg-*"))[-1]
    assert seg.stat().st_size < 64 * 1024
    data = blobs[0].read_bytes()
    blobs[0].write_bytes(data[:100])                        # partial blob: fails its hash
    engine.sync_round(b)
    assert b.annotation(ann) is None and status(b)["pending"] == 1
    blobs[0].write_bytes(data)
    engine.sync_round(b)
    assert b.annotation(ann).geometry.to_dict() == mask.to_dict()


def test_unknown_op_type_is_stored_not_applied(team, faulty):
    a, b = team.devices
    from labeldesk.core.ops import OP_TYPES
    @__import__("labeldesk.core.ops", fromlist=["op_type"]).op_type("future.thing")
    class Future:
        def inverse(self, conn, draft):
            return None

        def apply(self, conn, op, local):
            from labeldesk.core.ops import ChangeSet
            return ChangeSet()
    try:
        a.apply(OpDraft("future.thing", ids.new_id(), {"x": 1}))
        engine.sync_round(a)
    finally:
        del OP_TYPES["future.thing"]
    engine.sync_round(b)
    row = b.conn.execute("SELECT s.state, s.reason FROM ops o JOIN sync_op_state s ON s.op_id = o.op_id "
                         "WHERE o.type = 'future.thing'").fetchone()
    assert row["state"] == "unknown_type" and "newer" in row["reason"]
    assert status(b)["unknown_type"] == 1
    OP_TYPES["future.thing"] = Future()              # the app is updated: the op is applied now
    try:
        engine.sync_round(b)
        assert status(b)["unknown_type"] == 0
    finally:
        del OP_TYPES["future.thing"]


def test_op_by_user_without_role_is_recorded_not_applied(tmp_path):
    from sync_team import Team
    t = Team(tmp_path, 2, roles=("annotator",))
    a, b = t.devices
    with b.transaction() as conn:                          # a tampered store: skips its own role check
        conn.execute("INSERT INTO roles (user_id, role) VALUES (?, 'admin')", (b.user_id,))
    cls = ids.new_id()
    b.apply(OpDraft("ontology.class.create", cls, {"class": {"name": "sneaky"}}))
    engine.sync_round(b)
    engine.sync_round(a)
    assert a.conn.execute("SELECT 1 FROM classes WHERE id = ?", (cls,)).fetchone() is None
    assert a.conn.execute("SELECT 1 FROM ops WHERE entity = ?", (cls,)).fetchone() is not None   # audit keeps it
    dev = next(d for d in status(a)["devices"] if d["device_id"] == b.device_id)
    assert dev["unauthorised"] == 1
    t.close()


def test_hlc_observes_remote_time(team):
    a, b = team.devices
    real = b.clock._now_ms
    b.clock._now_ms = lambda: real() + 60_000
    team.box(b)
    engine.sync_round(b)
    engine.sync_round(a)
    remote = a.conn.execute("SELECT MAX(hlc_ms) FROM ops WHERE dev = ?", (b.device_id,)).fetchone()[0]
    assert a.clock.last.ms >= remote
    assert int(a.conn.execute("SELECT value FROM meta WHERE key = 'hlc'").fetchone()[0].split(",")[0]) >= remote


def test_only_strict_segment_names_are_read(team):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    seg = sorted((team.share / "devices" / a.device_id / "segments").glob("seg-*"))[-1]
    odd = seg.with_name(seg.name.upper())
    seg.rename(odd)
    before = b.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0]
    engine.sync_round(b)
    assert b.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == before
    odd.rename(seg)
    engine.sync_round(b)
    assert b.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == before + 1


def test_segment_format_on_disk(team):
    a, _ = team.devices
    seg = sorted((team.share / "devices" / a.device_id / "segments").glob("seg-*"))[0]
    lines = [json.loads(x) for x in seg.read_text().splitlines()]
    head, foot = lines[0], lines[-1]
    assert head["kind"] == "header" and head["dev"] == a.device_id and head["project"] == a.id
    assert head["prev_segment_sha256"] == "0" * 64 and head["instance_nonce"]
    assert foot["kind"] == "footer" and foot["count"] == len(lines) - 2
    marker = json.loads((team.share / "labeldesk-project.json").read_text())
    assert marker["project_id"] == a.id and marker["min_app_version"] and marker["format"] == "labeldesk-share/1"
    assert not list(team.share.rglob("*.labeldesk*")) or all(p.name != "project.labeldesk" for p in team.share.rglob("*"))


def test_head_json_is_advisory_and_rewritten_only_on_change(team, monkeypatch):
    monkeypatch.setattr(engine, "HEAD_MIN_INTERVAL_S", 0)     # throttling: tests/core/test_sync_tools.py
    a, b = team.devices
    head = team.share / "devices" / a.device_id / "head.json"
    first = json.loads(head.read_text())
    assert first["device_id"] == a.device_id and first["advisory"] and isinstance(first["acks"], dict)
    engine.sync_round(a)                            # may record newer acks
    inode = head.stat().st_ino
    engine.sync_round(a)
    assert head.stat().st_ino == inode              # nothing new: not rewritten
    team.box(a)
    engine.sync_round(a)
    now = json.loads(head.read_text())
    assert now["last_seq"] > first["last_seq"] and now["acks"][b.device_id] > 0


def test_class_replay_does_not_inflate_the_ontology_version(team):
    a, b = team.devices
    a.apply(OpDraft("ontology.class.update", team.cls, {"set": {"name": "from-a"}}))
    b.apply(OpDraft("ontology.class.update", team.cls, {"set": {"name": "from-b"}}))
    team.sync_all()
    applied = a.conn.execute("SELECT COUNT(*) FROM ops WHERE type LIKE 'ontology.%'").fetchone()[0]
    assert a.ontology_version == b.ontology_version == applied
    assert a.classes()[0].name == b.classes()[0].name and len(conflicts(a)) == 1


@pytest.mark.parametrize("change", ["deprecate", "narrow_kinds", "drop_value", "remove_layer"])
def test_fm29_an_ontology_or_layer_change_concurrent_with_an_op_converges(team, change):
    """Admin a changes the ontology (or removes b's layer) while b, not yet told, draws with the old
    rules. Every replica keeps b's annotation (flagged where the class says so): the replica that
    merged the change first must not refuse what b's own replica applied."""
    from labeldesk.core.ontology_io import flagged_annotations
    a, b = team.devices
    layer = b.my_layer_id
    grade = {"key": "grade", "type": "enum", "options": ["low", "high"]}
    a.apply(OpDraft("ontology.class.update", team.cls, {"set": {"attributes": [grade]}}))
    team.sync_all()
    if change == "deprecate":
        a.apply(OpDraft("ontology.class.update", team.cls, {"set": {"deprecated": True}}))
    elif change == "narrow_kinds":
        a.apply(OpDraft("ontology.class.update", team.cls, {"set": {"kinds": ["polygon"]}}))
    elif change == "drop_value":
        a.apply(OpDraft("ontology.class.update", team.cls, {"set": {"attributes": [{**grade, "options": ["low"]}]}}))
    else:
        a.apply(OpDraft("layer.remove", layer, {}))
    made = ids.new_id()
    b.apply(OpDraft("annotation.create", made, {"annotation": {
        "asset_id": team.asset, "layer_id": layer, "class_id": team.cls, "attributes": {"grade": "high"},
        "geometry": {"kind": "box", "xyxy": [10, 10, 30, 30]}}}))
    engine.sync_round(a)                 # a publishes its change first and merges b's op after it
    engine.sync_round(b)
    team.sync_all()
    assert a.annotation(made) is not None and b.annotation(made) is not None
    assert state_digest(a.conn) == state_digest(b.conn)
    if change == "deprecate":
        assert [r for _, r in flagged_annotations(a, team.asset)] == [f"class 'lesion' is deprecated"]
    # a draft made now, with the rules known, is refused as ever
    with pytest.raises(Exception):
        b.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": team.asset, "layer_id": layer, "class_id": team.cls, "attributes": {"grade": "high"},
            "geometry": {"kind": "box", "xyxy": [40, 40, 60, 60]}}}))
