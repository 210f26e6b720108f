"""A pull writes the in-order edits of a segment (update, delete, restore) in bulk
(sync/bulk_edits.py), from rows it reads once per segment: the replica it makes, and the state it
records for every op (applied, refused or pending, and why), are those of applying each op on
its own -- edits of rows created in the same segment, edits made with class rules the receiver
has changed since (a class it deprecated, an attribute value its class no longer allows: applied
and flagged, as on the author's replica), moves between layers, deletes and restores, and ops of
other kinds in between."""
from __future__ import annotations

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.sync import bulk_creates, bulk_edits, engine
from labeldesk.core.sync.status import state_digest


def _states(p, dev):
    return sorted(tuple(r) for r in p.conn.execute(
        "SELECT o.op_id, o.type, s.state, s.reason FROM ops o LEFT JOIN sync_op_state s ON s.op_id = o.op_id"
        " WHERE o.dev = ?", (dev,)))


def _rows(p):
    return sorted(tuple(r) for r in p.conn.execute("SELECT * FROM annotations"))


def _box(team, p, layer, cls, x, attributes=None):
    d = {"asset_id": team.asset, "layer_id": layer, "class_id": cls,
         "geometry": {"kind": "box", "xyxy": [x, x, x + 20, x + 30]}}
    if attributes:
        d["attributes"] = attributes
    return OpDraft("annotation.create", ids.new_id(), {"annotation": d})


def test_bulk_edits_record_what_one_by_one_records(team3, monkeypatch):
    a, b, c = team3.devices
    graded, other = ids.new_id(), ids.new_id()
    second = ids.new_id()
    a.apply_all([
        OpDraft("ontology.class.create", graded, {"class": {"name": "mass", "attributes": [
            {"key": "grade", "type": "enum", "options": ["1", "2"]}]}}),
        OpDraft("ontology.class.create", other, {"class": {"name": "cyst"}}),
        OpDraft("layer.create", second, {"layer": {"name": "second", "kind": "annotator", "owner": a.user_id}}),
    ])
    old = [_box(team3, a, a.my_layer_id, graded, 5 + i) for i in range(30)]
    a.apply_all(old)
    team3.sync_all()
    # b changes the ontology and c merges it, a not yet: a's edits made with the old rules still apply
    b.apply(OpDraft("ontology.class.update", graded, {"set": {"attributes": [
        {"key": "grade", "type": "enum", "options": ["1"]}]}}))
    b.apply(OpDraft("ontology.class.update", other, {"set": {"deprecated": True}}))
    engine.sync_round(b)
    engine.sync_round(c)
    fresh = [_box(team3, a, a.my_layer_id, graded if i % 2 else other, 40 + i) for i in range(20)]
    a.apply_all(fresh)                       # the even ones use the class b deprecated
    edits = []
    for i, d in enumerate(old + fresh):
        ann = d.entity
        kind = i % 7
        if kind == 0:
            edits.append(OpDraft("annotation.update", ann, {"set": {"z_order": float(i)}}))
        elif kind == 1:
            edits.append(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [i, i, i + 9, i + 9]}}}))
        elif kind == 2 and d.payload["annotation"]["class_id"] == graded:
            edits.append(OpDraft("annotation.update", ann, {"set": {"attributes": {"grade": "2" if i % 3 else "1"}}}))
        elif kind in (2, 3):
            edits.append(OpDraft("annotation.update", ann, {"set": {"class_id": other}}))
        elif kind == 4:
            edits.append(OpDraft("annotation.update", ann, {"set": {"layer_id": second}}))
        elif kind == 5:
            edits.append(OpDraft("annotation.delete", ann, {}))
        else:
            edits.append(OpDraft("annotation.delete", ann, {}))
            edits.append(OpDraft("annotation.restore", ann, {}))
    a.apply_all(edits[:40])
    a.apply(OpDraft("issue.open", ids.new_id(), {"asset_id": team3.asset, "text": "look here", "plane": {"z": 0, "t": 0, "axis": "axial"}, "image_xy": [5, 5]}))   # another kind
    a.apply_all(edits[40:])
    a.apply_all([OpDraft("annotation.update", d.entity, {"set": {"z_order": -1.0}}) for d in (old + fresh)[::5]
                 if a.conn.execute("SELECT deleted FROM annotations WHERE id = ?", (d.entity,)).fetchone()[0] == 0])
    engine.sync_round(a)

    taken = []
    real = bulk_edits.EditRun.take
    monkeypatch.setattr(bulk_edits.EditRun, "take", lambda self, ref: taken.append(ref) or real(self, ref))
    engine.sync_round(b)
    in_bulk = sum(1 for ref in taken if ref.state is None)
    assert in_bulk > 30                      # most edits were queued, not applied one by one
    # c: every op applied on its own (no queued creates, no queued edits)
    monkeypatch.setattr(bulk_creates.CreateRun, "take", lambda self, ref: (self.flush(), None)[1])
    monkeypatch.setattr(bulk_edits.EditRun, "take", lambda self, ref: None)
    engine.sync_round(c)

    assert _states(b, a.device_id) == _states(c, a.device_id)
    assert _rows(b) == _rows(c)
    states = _states(b, a.device_id)
    assert not [s for s in states if s[2] not in (None, "overridden")]      # nothing refused, nothing waits
    assert b.verify_chain().ok and c.verify_chain().ok
    team3.sync_all()
    assert len({state_digest(p.conn) for p in (a, b, c)}) == 1              # the author's replica too


def test_edits_of_rows_created_in_the_same_segment(team):
    a, b = team.devices
    drafts = [_box(team, a, a.my_layer_id, team.cls, i) for i in range(200)]
    a.apply_all(drafts)
    a.apply_all([OpDraft("annotation.update", d.entity, {"set": {"geometry": {"kind": "box", "xyxy": [1, 2, 30, 40]}}})
                 for d in drafts[::2]])
    a.apply_all([OpDraft("annotation.delete", d.entity, {}) for d in drafts[::3]])
    a.apply_all([OpDraft("annotation.restore", d.entity, {}) for d in drafts[::9]])
    a.apply_all([OpDraft("annotation.update", d.entity, {"set": {"z_order": 3.0, "keyframe": False}})
                 for d in drafts[1::3]])
    team.sync_all()
    assert state_digest(a.conn) == state_digest(b.conn)
    assert _rows(a) == _rows(b)
    assert not b.conn.execute("SELECT COUNT(*) FROM sync_op_state").fetchone()[0]


def test_a_queued_creates_bounds_are_the_op_types_bounds():
    import random

    from labeldesk.core.op_types.annotations import _bbox
    from labeldesk.core.sync.bulk_creates import _bounds
    rng = random.Random(7)
    for _ in range(500):
        shell = [[rng.choice([rng.uniform(-5, 500), rng.randint(0, 99)]), rng.uniform(0, 300)]
                 for _ in range(rng.randint(3, 12))]
        for g in ({"kind": "polygon", "shell": shell}, {"kind": "polygon", "shell": shell, "holes": []}):
            assert _bounds(g) == _bbox(g)
    for bad in ([[1, 2, 3], [4, 5, 6]], [], [[1], [2]], "ab", [[1, 2], 5]):   # fail alike (then applied one by one)
        outcomes = []
        for f in (_bounds, _bbox):
            try:
                outcomes.append(f({"kind": "polygon", "shell": bad}))
            except Exception as exc:
                outcomes.append(type(exc))
        assert outcomes[0] == outcomes[1]


def test_restores_and_other_ops_between_edits_do_not_read_every_edited_row_again(team):
    a, b = team.devices
    drafts = [_box(team, a, a.my_layer_id, team.cls, i) for i in range(60)]
    a.apply_all(drafts)
    a.apply_all([OpDraft("annotation.delete", d.entity, {}) for d in drafts])
    team.sync_all()
    undo = []
    for i, d in enumerate(drafts):                     # an undo of the delete, with issues opened between
        undo.append(OpDraft("annotation.restore", d.entity, {}))
        undo.append(OpDraft("annotation.update", d.entity, {"set": {"z_order": float(i)}}))
        if i % 10 == 9:
            undo.append(OpDraft("issue.open", ids.new_id(), {"asset_id": team.asset, "text": f"look {i}", "plane": {
                "z": 0, "t": 0, "axis": "axial"}, "image_xy": [5, 5]}))
    a.apply_all(undo)
    engine.sync_round(a)
    sql = []
    b.conn.set_trace_callback(sql.append)
    engine.sync_round(b)
    b.conn.set_trace_callback(None)
    bulk_reads = [q for q in sql if q.startswith("SELECT id, deleted, class_id, layer_id FROM annotations")]
    assert len(bulk_reads) == 1              # once per segment, not once per restore or issue
    rereads = [q for q in sql if q.startswith("SELECT deleted, class_id, layer_id FROM annotations WHERE id = ")]
    assert len(rereads) <= len(drafts)       # after an issue: each row again by itself, when needed
    assert _rows(a) == _rows(b) and state_digest(a.conn) == state_digest(b.conn)
    assert b.conn.execute("SELECT COUNT(*) FROM annotations WHERE deleted = 0").fetchone()[0] == 60
