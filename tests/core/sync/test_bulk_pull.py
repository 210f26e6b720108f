"""A pull writes the annotation rows of in-order creates in bulk (sync/bulk_creates.py): the
replica it makes, and the state it records for every op (applied or refused, and why), are those
of applying each op on its own."""
from __future__ import annotations

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.sync import bulk_creates, engine
from labeldesk.core.sync.status import state_digest


def _creates(team, p, n):
    out = []
    for i in range(n):
        j = i % 100
        g = {"kind": "polygon", "shell": [[10 + j, 10], [40 + j, 12], [30 + j, 50]]} if i % 2 else \
            {"kind": "box", "xyxy": [j, j, j + 20, j + 30]}
        out.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": team.asset, "layer_id": p.my_layer_id, "class_id": team.cls, "geometry": g}}))
    return out


def _states(p, dev):
    return sorted(tuple(r) for r in p.conn.execute("SELECT o.op_id, s.state, s.reason FROM ops o LEFT JOIN sync_op_state s "
                                 "ON s.op_id = o.op_id WHERE o.dev = ?", (dev,)))


def _rows(p):
    # (ontology_version is the ontology counter of the replica that applied the row: local)
    cols = [r[1] for r in p.conn.execute("PRAGMA table_info(annotations)") if r[1] != "ontology_version"]
    return sorted(tuple(r) for r in p.conn.execute(f"SELECT {', '.join(cols)} FROM annotations"))


def test_a_bulk_pull_records_what_one_by_one_records(team3, monkeypatch):
    a, b, c = team3.devices
    # b and c have deprecated the class (not yet shared): a's creates, made before a knew, apply there too
    for p in (b, c):
        p.apply(OpDraft("ontology.class.update", team3.cls, {"set": {"deprecated": True}}))
    drafts = _creates(team3, a, 40)
    a.apply_bulk(drafts)
    a.apply_all([OpDraft("annotation.update", d.entity, {"set": {"z_order": 2.0}}) for d in drafts[:5]])
    engine.sync_round(a)
    taken = []
    real = bulk_creates.CreateRun.take
    monkeypatch.setattr(bulk_creates.CreateRun, "take", lambda self, ref: taken.append(ref) or real(self, ref))
    engine.sync_round(b)
    assert len(taken) == 40
    monkeypatch.setattr(bulk_creates.CreateRun, "take", lambda self, ref: (self.flush(), None)[1])
    engine.sync_round(c)
    assert _states(b, a.device_id) == _states(c, a.device_id)
    assert not [s for s in _states(b, a.device_id) if s[1] is not None]   # none refused (docs/sync.md #29)
    assert _rows(b) == _rows(c) and b.verify_chain().ok and c.verify_chain().ok
    team3.sync_all()
    assert len({state_digest(p.conn) for p in (a, b, c)}) == 1


def test_a_bulk_pull_makes_an_identical_replica(team):
    a, b = team.devices
    drafts = _creates(team, a, 300)
    a.apply_bulk(drafts)
    a.apply_all([OpDraft("annotation.update", d.entity, {"set": {"z_order": 1.0}}) for d in drafts[::3]])
    a.apply_all([OpDraft("annotation.delete", d.entity, {}) for d in drafts[::7]])
    team.sync_all()
    assert state_digest(a.conn) == state_digest(b.conn)
    assert _rows(a) == _rows(b)
    assert all(len(list(b.ops(d.entity))) >= 1 for d in drafts)      # history sees every entity
