"""Adversarial: an enrolled member writes op lines whose envelope fields (type, base, op_id,
entity, hlc, seq, user) have the wrong JSON type. Each such segment is refused on its own; the
sync round goes on, every honest op merges, and the replicas agree."""
from __future__ import annotations

import pytest
from hostile import key_of, op_line, write_segment
from sync_team import Team

from labeldesk.core import ids
from labeldesk.core.sync.status import status

BAD_FIELDS = [
    ("type", ["annotation.update"]), ("type", {"a": 1}), ("type", 7), ("type", None),
    ("base", 5), ("base", [{"x": 1}]), ("base", "op"), ("base", [["a"]]),
    ("op_id", 12), ("op_id", ["x"]), ("entity", ["e"]), ("entity", {"e": 1}),
    ("hlc", "now"), ("hlc", [1]), ("hlc", [[1], 0]), ("seq", "1"), ("user", ["u"]), ("dev", ["d"]),
    ("seen", {"x": [1]}), ("seen", {"x": "a"}), ("seen", [1]), ("blob", [1]), ("blob", {"b": 1}), ("sha256", 5),
    ("wall", 5), ("reason", [1]), ("v", "x"), ("payload", None), ("payload", [1]),
]


@pytest.fixture
def crew(tmp_path):
    t = Team(tmp_path, 3, roles=("annotator", "admin"))
    yield t
    t.close()


@pytest.mark.parametrize("base_type", ["annotation.update", "annotation.create"])
def test_envelope_fields_of_the_wrong_type_refuse_only_their_segment(crew, base_type):
    admin, honest, _mallory = crew.devices
    key = key_of(admin, crew.user_ids[2])
    target = crew.box(honest, x=10)
    crew.sync_all()
    bad = []
    for field, value in BAD_FIELDS:
        dev = ids.new_device_id()
        if base_type == "annotation.update":
            line = op_line(dev, 1, crew.user_ids[2], "annotation.update", target,
                           {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}})
        else:
            line = op_line(dev, 1, crew.user_ids[2], "annotation.create", ids.new_id(), {"annotation": {
                "asset_id": crew.asset, "layer_id": "x", "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}}})
        line[field] = value
        write_segment(crew.share, admin.id, dev, [line], first=1, key_id=key)
        bad.append(dev)
    ann = crew.box(honest, x=40)
    crew.sync_all()                                   # no exception: the round finished
    for p in (admin, honest):
        assert p.annotation(ann) is not None
        devices = {d["device_id"]: d for d in status(p, digest=False)["devices"]}
        for dev in bad:
            assert p.conn.execute("SELECT COUNT(*) FROM ops WHERE dev = ?", (dev,)).fetchone()[0] == 0
            if dev in devices:
                assert any(x["alert"] for x in devices[dev]["problems"]), (dev, devices[dev])
    assert crew.digests()[0] == crew.digests()[1]
