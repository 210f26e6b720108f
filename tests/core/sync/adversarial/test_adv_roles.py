"""Every op type declares who may write it; the check runs when the op is made and again when a
replica merges it from the share. The adversary is an enrolled annotator ("mallory") who writes
ops her roles do not allow into the share: from a tampered store of her own (which skips its own
check) and as hand-made lines signed with her key. Every other replica records them, refuses to
apply them (state ``unauthorised`` with the reason in words) and keeps syncing."""
from __future__ import annotations

import pytest
from hostile import key_of, op_line, write_segment
from sync_team import Team

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.models import registry, tiny
from labeldesk.core.models.manifest import load
from labeldesk.core.ops import OP_TYPES, OpDraft
from labeldesk.core.review.roles import REQUIRED_ROLES
from labeldesk.core.sync import engine
from labeldesk.core.sync.status import status


@pytest.fixture
def crew(tmp_path):
    t = Team(tmp_path, 3, roles=("annotator",))     # u0 admin; u1 honest, u2 mallory: annotators
    yield t
    t.close()


def _manifest(tmp_path, training=None):
    path = tiny.detector(tmp_path / f"det{ids.new_id()[:6]}.onnx", [(32, 32, 10, 10, 0, 0.9)], 1, size=64)
    m = load(tiny.write_manifest(tmp_path / f"det{ids.new_id()[:6]}.json", "detector", {"model": path},
                                 input_size=[64, 64], classes={"lesion": "lesion"}))
    d = dict(m.to_dict(), files={"model": {"path": path.name, "sha256": m.files["model"]["sha256"]}})
    if training is not None:
        d["training"] = training
    return d


def _tamper(p):
    """Mallory's store gives her the admin role behind the op log's back: her own checks pass."""
    with p.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO roles (user_id, role) VALUES (?, 'admin')", (p.user_id,))


def _state(p, entity):
    return p.conn.execute("SELECT s.state, s.reason FROM ops o LEFT JOIN sync_op_state s ON s.op_id = o.op_id "
                          "WHERE o.entity = ? ORDER BY o.hlc_ms DESC LIMIT 1", (entity,)).fetchone()


def _refused_everywhere(crew, devices, entity, words):
    for p in devices:
        row = _state(p, entity)
        assert row is not None, "the op is kept in the audit trail"
        assert row["state"] == "unauthorised" and "'u2'" in row["reason"] and words in row["reason"], dict(row)


def _honest_sync_continues(crew):
    admin, honest, mallory = crew.devices
    ann = crew.box(honest, x=60)
    crew.sync_all()
    for p in crew.devices:
        assert p.annotation(ann) is not None
    assert crew.digests()[0] == crew.digests()[1]       # admin and honest member agree


def test_every_op_type_declares_who_may_write_it():
    import labeldesk.core.op_types  # noqa: F401  (registers the built-in types)
    undeclared = sorted(t for t in OP_TYPES if t not in REQUIRED_ROLES)
    assert undeclared == []


def test_an_annotator_is_refused_locally(crew, tmp_path):
    admin, honest, mallory = crew.devices
    with pytest.raises(OpRejected, match="'u2' may not add a model: needs role reviewer or admin"):
        mallory.apply(OpDraft("model.register", ids.new_id(), {"model": _manifest(tmp_path)}))
    # a classifier trained here from one's own labels may be registered by any member with a role
    mine = ids.new_id()
    mallory.apply(OpDraft("model.register", mine, {"model": _manifest(tmp_path, training={"planes": 3})}))
    mallory.apply(OpDraft("model.retire", mine, {"retired": True}))       # her own model
    theirs = registry.register(admin, load(tiny.write_manifest(
        tmp_path / "a.json", "detector", {"model": tiny.detector(tmp_path / "a.onnx", [(1, 1, 2, 2, 0, .9)], 1, size=64)},
        input_size=[64, 64], classes={"lesion": "lesion"})), {"model": {"path": "a.onnx", "sha256": "0" * 64}})
    crew.sync_all()
    with pytest.raises(OpRejected, match="may not retire or bring back a model: needs role reviewer or admin"):
        mallory.apply(OpDraft("model.retire", theirs.id, {"retired": True}))
    with pytest.raises(OpRejected, match="may not make a release: needs role reviewer or admin"):
        mallory.apply(OpDraft("release.create", ids.new_id(), {"release": {"name": "v1"}}))


def test_forged_ops_from_a_tampered_store_are_refused_on_pull(crew, tmp_path):
    admin, honest, mallory = crew.devices
    model = registry.register(admin, load(tiny.write_manifest(
        tmp_path / "a.json", "detector", {"model": tiny.detector(tmp_path / "a.onnx", [(1, 1, 2, 2, 0, .9)], 1, size=64)},
        input_size=[64, 64], classes={"lesion": "lesion"})), {"model": {"path": "a.onnx", "sha256": "0" * 64}})
    crew.sync_all()
    _tamper(mallory)
    outside = ids.new_id()
    mallory.apply(OpDraft("model.register", outside, {"model": _manifest(tmp_path)}))
    mallory.apply(OpDraft("model.retire", model.id, {"retired": True}))
    files = {"labels.json": {"sha256": "a" * 64, "bytes": 10}}
    release = ids.new_id()
    mallory.apply(OpDraft("release.create", release, {"release": {
        "name": "v1", "files": files, "layers": [{"id": mallory.my_layer_id}], "counts": {}}}))
    crew.sync_all()
    _refused_everywhere(crew, (admin, honest), outside, "may not add a model")
    _refused_everywhere(crew, (admin, honest), model.id, "may not retire or bring back a model")
    _refused_everywhere(crew, (admin, honest), release, "may not make a release")
    for p in (admin, honest):
        assert [r.id for r in registry.list_models(p)] == [model.id]          # not retired, nothing added
        assert p.conn.execute("SELECT COUNT(*) FROM releases").fetchone()[0] == 0
        dev = next(d for d in status(p, digest=False)["devices"] if d["device_id"] == mallory.device_id)
        assert dev["unauthorised"] == 3
    _honest_sync_continues(crew)


def test_a_member_whose_roles_were_revoked_may_not_save_a_queue(crew):
    admin, honest, mallory = crew.devices
    from labeldesk.core.review.roles import change_role
    change_role(admin, "u2", "annotator", False, reason="left the team")
    crew.sync_all()
    with pytest.raises(OpRejected, match="'u2' may not save a work queue: needs role"):
        mallory.apply(OpDraft("queue.save", ids.new_id(), {"queue": {"name": "q", "method": "m", "items": []}}))
    _tamper(mallory)
    queue = ids.new_id()
    mallory.apply(OpDraft("queue.save", queue, {"queue": {"name": "q", "method": "m", "items": []}}))
    crew.sync_all()
    _refused_everywhere(crew, (admin, honest), queue, "may not save a work queue")
    assert admin.conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE 'queue.%'").fetchone()[0] == 0
    _honest_sync_continues(crew)


def test_hand_made_lines_signed_by_an_annotator_are_refused(crew):
    """Replayed/forged lines in a new device folder of the share, signed with mallory's key: a
    conflict decision that renames a class, and an adjudication over her own layer."""
    admin, honest, mallory = crew.devices
    key = key_of(admin, crew.user_ids[2])
    dev = ids.new_device_id()
    resolve, adjudicate = ids.new_id(), ids.new_id()
    lines = [
        op_line(dev, 1, crew.user_ids[2], "conflict.resolve", crew.cls, {
            "conflict": "c" * 32, "choice": "x:1", "entity_kind": "class", "field": "name", "value": "hijacked",
            "candidates": ["x:1"]}),
        op_line(dev, 2, crew.user_ids[2], "review.adjudicate", adjudicate, {
            "asset_id": crew.asset, "final_layer_id": mallory.my_layer_id, "sources": {mallory.my_layer_id: "r"},
            "mode": "item", "outcome": "accept"}),
    ]
    write_segment(crew.share, admin.id, dev, lines, key_id=key)
    crew.sync_all()
    for p in (admin, honest):
        assert p.conn.execute("SELECT name FROM classes WHERE id = ?", (crew.cls,)).fetchone()[0] == "lesion"
        rows = {r["entity"]: (r["state"], r["reason"]) for r in p.conn.execute(
            "SELECT o.entity, s.state, s.reason FROM ops o JOIN sync_op_state s ON s.op_id = o.op_id WHERE o.dev = ?",
            (dev,))}
        assert rows[crew.cls][0] == "unauthorised" and "may not resolve a sync conflict" in rows[crew.cls][1]
        assert rows[adjudicate][0] == "unauthorised" and "needs role adjudicator" in rows[adjudicate][1]
    _honest_sync_continues(crew)


def test_an_adjudicator_does_not_adjudicate_over_their_own_layer(crew):
    admin, honest, mallory = crew.devices
    from labeldesk.core.review.roles import change_role
    change_role(admin, "u2", "adjudicator", True, reason="senior")
    final = ids.new_id()
    admin.apply(OpDraft("layer.create", final, {"layer": {"name": "final", "kind": "final"}}))
    crew.sync_all()
    draft = OpDraft("review.adjudicate", ids.new_id(), {
        "asset_id": crew.asset, "final_layer_id": final, "mode": "item", "outcome": "accept",
        "sources": {mallory.my_layer_id: "r1", honest.my_layer_id: "r2"}}, reason="mine is right")
    with pytest.raises(OpRejected, match="may not adjudicate: may not adjudicate over their own layer"):
        mallory.apply(draft)
    _tamper(mallory)      # (admin in her store: still refused, as a reviewer never reviews their own layer)
    with pytest.raises(OpRejected, match="over their own layer"):
        mallory.apply(draft)
    # the honest annotator's layer alone: allowed
    mallory.apply(OpDraft("review.adjudicate", ids.new_id(), {
        "asset_id": crew.asset, "final_layer_id": final, "mode": "item", "outcome": "accept",
        "sources": {honest.my_layer_id: "r2"}}, reason="ok"))
    engine.sync_round(mallory)


def _states(crew, entity):
    return [(_state(p, entity)["state"], p.annotation(entity) is not None) for p in crew.devices]


def test_a_revoke_concurrent_with_an_edit_is_judged_alike_whatever_the_arrival_order(crew):
    """The admin revokes mallory's annotator role while she draws (her device has not merged the
    revoke): the honest replica merges her box before the revoke, the admin after it. Both judge
    the box by the roles she held when drawing it: applied everywhere, the same state digest. Her
    next box, drawn after her device merged the revoke, is refused everywhere."""
    admin, honest, mallory = crew.devices
    from labeldesk.core.review.roles import change_role
    box = crew.box(mallory, x=30)
    change_role(admin, "u2", "annotator", False, reason="moved to another study")
    engine.sync_round(mallory)          # publishes the box
    engine.sync_round(honest)           # box first (the revoke is not on the share yet)
    engine.sync_round(admin)            # revoke first (made here), then the box
    crew.sync_all()
    assert _states(crew, box) == [(None, True)] * 3
    assert len(set(crew.digests())) == 1
    _tamper(mallory)                    # her store lets her draw on; the others refuse it
    later = crew.box(mallory, x=50)
    crew.sync_all()
    for p in (admin, honest):
        row = _state(p, later)
        assert row["state"] == "unauthorised" and "'u2' may not draw" in row["reason"]
    assert crew.digests()[0] == crew.digests()[1]


def test_a_grant_concurrent_with_an_edit_does_not_authorise_it_on_any_replica(crew):
    admin, honest, mallory = crew.devices
    from labeldesk.core.review.roles import change_role
    _tamper(mallory)
    cls = ids.new_id()
    mallory.apply(OpDraft("ontology.class.create", cls, {"class": {"name": "premature"}}))
    change_role(admin, "u2", "admin", True, reason="promoted")
    engine.sync_round(mallory)
    engine.sync_round(honest)           # the class first: refused (not admin yet)
    engine.sync_round(admin)            # the grant first: still refused (made before it)
    crew.sync_all()
    for p in (admin, honest):
        row = _state(p, cls)
        assert row["state"] == "unauthorised" and "may not add a class" in row["reason"]
        assert p.conn.execute("SELECT 1 FROM classes WHERE id = ?", (cls,)).fetchone() is None
    assert crew.digests()[0] == crew.digests()[1]


def test_ops_judged_by_their_causal_roles_are_remembered_per_segment_as_when_checked_one_by_one(crew, monkeypatch):
    """Boxes drawn while a revoke was on its way are judged by the roles held when drawing them;
    inside a segment that judgement is remembered (merge.py ``_authorisation``): the replica
    that remembers and the one that checks each box by itself record the same states."""
    admin, honest, mallory = crew.devices
    from labeldesk.core.review import roles
    from labeldesk.core.review.roles import change_role
    boxes = [crew.box(mallory, x=10 + 8 * i) for i in range(6)]
    change_role(admin, "u2", "annotator", False, reason="moved to another study")
    engine.sync_round(admin)            # publishes the revoke
    engine.sync_round(honest)           # merges it
    engine.sync_round(mallory)          # publishes the boxes (made before it merged the revoke)
    checked = []
    real = roles.authorisation_problem
    monkeypatch.setattr("labeldesk.core.sync.merge.authorisation_problem",
                        lambda conn, op, roles=None: checked.append(op.op_id) or real(conn, op, roles=roles))
    engine.sync_round(admin)            # remembered: one check for the six
    assert len([o for o in checked if o.startswith(mallory.device_id)]) == 1
    monkeypatch.setattr(roles.AuthorisationMemo, "allow", lambda self, key: None)
    checked.clear()
    engine.sync_round(honest)           # each box checked by itself
    assert len([o for o in checked if o.startswith(mallory.device_id)]) == 6
    for box in boxes:
        assert [_state(p, box)["state"] for p in (admin, honest)] == [None, None]
    crew.sync_all()
    assert len(set(crew.digests())) == 1
