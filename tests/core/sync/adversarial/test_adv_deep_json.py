"""Adversarial: a member writes op lines whose JSON is nested deeper than any parser's recursion
limit (``json.loads`` raises RecursionError, not ValueError). Only that segment is refused (only
that op, for a payload in a blob: a blob may come after its segment, and replicas that had it and
that waited for it must agree); the sync round goes on for everyone, every honest op merges, and
the replicas agree."""
from __future__ import annotations

import hashlib

import pytest
from hostile import key_of, op_line
from sync_team import Team

from labeldesk.core import ids
from labeldesk.core.ops import canonical_json
from labeldesk.core.sync import keys, segment
from labeldesk.core.sync.status import status

DEEP = 200_000


@pytest.fixture
def crew(tmp_path):
    t = Team(tmp_path, 3, roles=("annotator", "admin"))
    yield t
    t.close()


def _write(share, project_id, dev, encoded, key_id):
    signer = lambda digest: keys.sign(key_id, keys.SEGMENT_CONTEXT, digest)
    name, data = segment.build(project_id, dev, "nonce", segment.GENESIS, 1, len(encoded), [1, 0], encoded,
                               signer, key_id)
    folder = share / "devices" / dev / "segments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def _mallorys_edit(crew):
    """(mallory's key, an honest member's box, a new device, an edit of that box by mallory)."""
    admin, honest, _mallory = crew.devices
    key = key_of(admin, crew.user_ids[2])
    target = crew.box(honest, x=10)
    crew.sync_all()
    dev = ids.new_device_id()
    return key, target, dev, op_line(dev, 1, crew.user_ids[2], "annotation.update", target,
                                     {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}})


def _put_blob(share, data: bytes) -> str:
    """``data`` where the share keeps blobs (any member can write there); its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    folder = share / "blobs" / "sha256" / digest[:2] / digest[2:4]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{digest}.bin").write_bytes(data)
    return digest


@pytest.mark.parametrize("depth", [DEEP, 990])
@pytest.mark.parametrize("where", ["payload", "envelope", "line", "blob", "blob-malformed"])
def test_json_nested_too_deep_refuses_only_its_segment_or_op(crew, where, depth):
    admin, honest, _mallory = crew.devices
    key, target, dev, line = _mallorys_edit(crew)
    deep = "[" * depth + "]" * depth
    envelope = {k: v for k, v in line.items() if k != "payload"}
    if where == "payload":
        encoded = segment.encode_line(envelope, deep)
    elif where == "envelope":
        encoded = segment.encode_line({**envelope, "reason": "@@"}, '{"x": 1}').replace('"@@"', deep)
    elif where.startswith("blob"):                       # a large payload goes to a blob file
        digest = _put_blob(crew.share, (deep if where == "blob" else '{"geometry": [').encode())
        encoded = segment.encode_line({**envelope, "blob": digest}, "null")
    else:
        encoded = deep + "\n"
    _write(crew.share, admin.id, dev, [encoded], key)
    ann = crew.box(honest, x=40)
    crew.sync_all()                                   # no exception: the round finished
    for p in (admin, honest):
        assert p.annotation(ann) is not None
        assert p.conn.execute("SELECT COUNT(*) FROM ops WHERE dev = ?", (dev,)).fetchone()[0] == 0
        if where.startswith("blob"):                  # the op alone, kept with the collisions
            problem = p.conn.execute("SELECT problem FROM sync_collisions WHERE op_id = ?", (line["op_id"],)).fetchone()
            assert problem is not None and "blob is not JSON" in problem[0], problem
            continue
        devices = {d["device_id"]: d for d in status(p, digest=False)["devices"]}
        if dev in devices:
            assert any(x["alert"] for x in devices[dev]["problems"]), devices[dev]
    assert crew.digests()[0] == crew.digests()[1]


@pytest.mark.parametrize("blob_text", ['{"geometry": [', "[" * DEEP + "]" * DEEP, '{"geometry": 5}'])
def test_a_blob_that_comes_later_and_is_not_a_payload_does_not_stop_the_round(crew, blob_text):
    admin, honest, _mallory = crew.devices
    key, target, dev, line = _mallorys_edit(crew)
    envelope = {k: v for k, v in line.items() if k != "payload"}
    data = blob_text.encode()
    digest = hashlib.sha256(data).hexdigest()
    _write(crew.share, admin.id, dev, [segment.encode_line({**envelope, "blob": digest}, "null")], key)
    crew.sync_all()                                   # the line waits for its blob
    _put_blob(crew.share, data)
    ann = crew.box(honest, x=40)
    crew.sync_all()                                   # no exception: the round finished
    for p in (admin, honest):
        assert p.annotation(ann) is not None
        assert p.annotation(target).geometry.to_dict()["xyxy"] != [1, 1, 9, 9]
    assert crew.digests()[0] == crew.digests()[1]


@pytest.mark.parametrize("blob_text", ['{"geometry": [', '{"geometry": 5}'])
def test_a_bad_blob_is_judged_alike_whether_it_came_before_or_after_its_line(crew, blob_text):
    """One replica reads the segment when the blob is already on the share, another before it
    arrives: both refuse that op alone, apply the segment's other op, and agree."""
    from labeldesk.core.sync import engine
    import json
    admin, honest, mallory = crew.devices
    key = key_of(admin, crew.user_ids[2])
    crew.sync_all()
    dev = ids.new_device_id()
    good = ids.new_id()
    made = crew.box(mallory, x=20)                  # a well-formed create, as mallory's app writes it
    payload = json.loads(mallory.conn.execute("SELECT payload FROM ops WHERE entity = ?", (made,)).fetchone()[0])
    first = op_line(dev, 1, crew.user_ids[2], "annotation.create", good, payload)
    second = op_line(dev, 2, crew.user_ids[2], "annotation.update", good,
                     {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}})
    data = blob_text.encode()
    digest = hashlib.sha256(data).hexdigest()
    encoded = [segment.encode_line({k: v for k, v in first.items() if k != "payload"},
                                   canonical_json(first["payload"])),
               segment.encode_line({**{k: v for k, v in second.items() if k != "payload"}, "blob": digest}, "null")]
    _write(crew.share, admin.id, dev, encoded, key)
    engine.sync_round(honest)                        # before the blob: the line waits
    _put_blob(crew.share, data)
    engine.sync_round(admin)                         # with the blob already there
    engine.sync_round(honest)
    crew.sync_all()
    outcome = [(p.conn.execute("SELECT COUNT(*) FROM ops WHERE dev = ?", (dev,)).fetchone()[0],
                p.conn.execute("SELECT COUNT(*) FROM sync_collisions WHERE op_id = ?", (second["op_id"],)).fetchone()[0])
               for p in (admin, honest)]

    assert outcome[0] == outcome[1], outcome
    assert crew.digests()[0] == crew.digests()[1]
