"""Adversarial: malformed ops of every op type from an enrolled member harm no one else -- the
segment is refused with an alert naming the device and the seq; every other device merges; a new
replica joins without crashing; `share status` shows the error."""
from __future__ import annotations

import pytest
from hostile import key_of, op_line, write_segment
from sync_team import Team

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core.sync import engine
from labeldesk.core.sync.status import status
from labeldesk.core.sync.validation import SCHEMAS


@pytest.fixture
def crew(tmp_path):
    t = Team(tmp_path, 3, roles=("annotator", "admin"))
    yield t
    t.close()


def _malformed(op_type: str) -> list[tuple[str | None, object]]:
    """(entity, payload) pairs that break ``op_type``'s schema."""
    out: list[tuple[str | None, object]] = [(ids.new_id(), [1, 2, 3])]          # not an object
    required = [k for k, v in SCHEMAS[op_type].items() if not (isinstance(v, str) and v.endswith("?"))]
    if required:
        out.append((ids.new_id(), {"unrelated": True}))                        # required fields missing
    elif op_type != "project.settings":
        out.append((None, {}))                                                  # no entity
    return out


def _device_problems(p, dev):
    d = next(d for d in status(p, digest=False)["devices"] if d["device_id"] == dev)
    return [x for x in d["problems"] if x["alert"]]


def test_malformed_ops_of_every_type_refuse_only_their_segment(crew, tmp_path, capsys):
    admin, honest, mallory = crew.devices
    key = key_of(admin, crew.user_ids[2])
    bad: dict[str, str] = {}
    for op_type in sorted(SCHEMAS):
        for i, (entity, payload) in enumerate(_malformed(op_type)):
            dev = ids.new_device_id()
            ok = op_line(dev, 1, crew.user_ids[2], "issue.comment", ids.new_id(), {"text": "fine"})
            write_segment(crew.share, admin.id, dev,
                          [ok, op_line(dev, 2, crew.user_ids[2], op_type, entity, payload)], key_id=key)
            bad[dev] = op_type
    # the case: annotation.create without a plane
    dev = ids.new_device_id()
    write_segment(crew.share, admin.id, dev, [op_line(dev, 1, crew.user_ids[2], "annotation.create", ids.new_id(), {
        "annotation": {"asset_id": crew.asset, "layer_id": "x", "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}}})],
        key_id=key)
    bad[dev] = "annotation.create"
    ann = crew.box(honest, x=40)
    crew.sync_all()
    for p in (admin, honest):
        assert p.annotation(ann) is not None                     # the honest device merged
        for dev, op_type in bad.items():
            alerts = _device_problems(p, dev)
            seq = 1 if dev == list(bad)[-1] else 2
            assert alerts and "refused" in alerts[0]["text"] and f"seq {seq}" in alerts[0]["text"], (op_type, alerts)
            assert dev[:8] in alerts[0]["text"]
            assert p.conn.execute("SELECT COUNT(*) FROM ops WHERE dev = ?", (dev,)).fetchone()[0] == 0
    assert crew.digests()[0] == crew.digests()[1]
    # share status shows the error; a new replica joins without crashing
    admin.close()
    assert main(["share", "status", str(crew.root / "dev0")]) == 0
    out = capsys.readouterr().out
    assert "ALERT: refused" in out and "plane is missing" in out
    joined, report = engine.join_share(crew.share, tmp_path / "late")
    try:
        assert joined.annotation(ann) is not None
        assert any("refused" in p for p in report.problems) or _device_problems(joined, list(bad)[0])
    finally:
        joined.close()


def test_an_op_its_type_cannot_apply_refuses_its_segment(crew, monkeypatch):
    """Defence in depth: a value the schema lets through but the op type trips on (KeyError…)."""
    from labeldesk.core.ops import OP_TYPES
    admin, honest, _ = crew.devices
    dev = ids.new_device_id()
    write_segment(crew.share, admin.id, dev,
                  [op_line(dev, 1, crew.user_ids[2], "asset.rename", crew.asset, {"name": "boom"})],
                  key_id=key_of(admin, crew.user_ids[2]))

    class Tripping:
        def apply(self, conn, op, local):
            raise KeyError("surprise")
    monkeypatch.setitem(OP_TYPES, "asset.rename", Tripping())
    ann = crew.box(honest, x=70)
    report = engine.sync_round(honest)
    report = engine.sync_round(admin)
    assert admin.annotation(ann) is not None
    assert any("cannot be applied" in p["text"] and "seq 1" in p["text"] for p in _device_problems(admin, dev))
    assert report.state == "ok"
