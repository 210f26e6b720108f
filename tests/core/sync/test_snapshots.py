"""Snapshots of the share (docs/sync.md §8, failure mode #32): a new device bootstraps from the
newest valid snapshot plus the segment tails, with the same state as one built from segments."""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import numpy as np
import pytest

from labeldesk.cli import main
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.geometry import Mask
from labeldesk.core.ops import canonical_json
from labeldesk.core.store import repo
from labeldesk.core.sync import engine, snapshot
from labeldesk.core.sync.layout import ShareLayout
from labeldesk.core.sync.status import state_digest
from sync_team import Team


def _work(team, n=3):
    a, b = team.devices
    anns = [team.box(a, 10 + i) for i in range(n)] + [team.box(b, 40 + i) for i in range(n)]
    team.sync_all()
    team.move(a, anns[-1], 90)          # b's annotation, edited by a (admin)
    team.sync_all()
    return anns


def _join(team, name, user=None):
    p, report = engine.join_share(team.share, team.root / name, user=user)
    engine.sync_round(p)
    return p, report


def _snap_dir(team):
    return sorted((team.share / "snapshots").iterdir())[-1]


def test_join_from_snapshot_and_tails_matches_join_from_segments(team):
    a, b = team.devices
    _work(team)
    name, manifest = snapshot.write(a)
    assert manifest["vector"] == {d: c[0] for d, c in snapshot.covered_vector(a.conn).items()}
    # ops after the snapshot reach the joiner through the segment tails
    ann = team.box(b, 120)
    team.sync_all()
    team.move(a, ann, 130)
    team.box(a, 150)
    team.sync_all()
    from_snap, report = _join(team, "from_snap")
    assert repo.get_meta(from_snap.conn, "sync.snapshot") == name
    assert not [p for p in report.problems if "snapshot" in p]
    total = a.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
    assert report.received["ops"] == total - sum(manifest["vector"].values()) == 3     # only the tails were read
    shutil.rmtree(team.share / "snapshots")
    from_segs, _ = _join(team, "from_segs")
    assert repo.get_meta(from_segs.conn, "sync.snapshot") is None
    try:
        team.sync_all()
        want = state_digest(a.conn)
        assert state_digest(b.conn) == want
        assert state_digest(from_segs.conn) == want
        assert state_digest(from_snap.conn) == want
        row = from_snap.conn.execute("SELECT geometry FROM annotations WHERE id = ?", (ann,)).fetchone()
        assert "130" in row[0]
        # the cursors continue the segment chain: both replicas hold every op, no pending ones
        for p in (from_snap, from_segs):
            assert p.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0] == \
                a.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
            assert p.conn.execute("SELECT COUNT(*) FROM sync_pending_lines").fetchone()[0] == 0
    finally:
        from_snap.close()
        from_segs.close()


def test_snapshot_holds_nothing_beyond_its_vector(team):
    a, b = team.devices
    _work(team)
    team.box(b, 60)          # not yet published: b has not synced
    team.box(a, 70)          # not yet published either: a's outbox
    name, manifest = snapshot.write(a)
    assert manifest["state_digest"] is None          # a holds an op outside the vector
    folder = team.share / "snapshots" / name
    assert sorted(p.name for p in folder.iterdir()) == sorted(["manifest.json"] + [f"ops-{d}.jsonl.gz"
                                                                                  for d in manifest["vector"]])
    for dev, last in manifest["vector"].items():
        lines = [json.loads(t) for t in gzip.decompress((folder / f"ops-{dev}.jsonl.gz").read_bytes()).splitlines()]
        assert [line["seq"] for line in lines] == list(range(1, last + 1))
        published = a.conn.execute("SELECT MAX(last_seq) FROM sync_published WHERE dev = ?", (dev,)).fetchone()[0]
        cursor = a.conn.execute("SELECT last_seq FROM sync_cursors WHERE dev = ?", (dev,)).fetchone()
        assert last == max(published or 0, cursor[0] if cursor else 0)
    assert manifest["vector"][a.device_id] < repo.next_seq(a.conn, a.device_id) - 1
    assert manifest["vector"][b.device_id] < repo.next_seq(b.conn, b.device_id) - 1
    team.sync_all()
    p, _ = _join(team, "late")
    try:
        assert repo.get_meta(p.conn, "sync.snapshot") == name
        assert state_digest(p.conn) == state_digest(a.conn) == state_digest(b.conn)
    finally:
        p.close()


def _flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _rehash(folder, body):
    body.pop("sha256", None)
    body["sha256"] = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    (folder / "manifest.json").write_text(canonical_json(body) + "\n")


@pytest.mark.parametrize("damage", ["flip-ops", "flip-manifest", "missing", "truncated", "no-manifest",
                                    "wrong-digest", "beyond-vector"])
def test_damaged_snapshot_is_ignored_and_join_still_converges(team, damage):
    a, b = team.devices
    _work(team)
    good, _ = snapshot.write(a)
    team.box(b, 77)
    team.sync_all()
    bad, manifest = snapshot.write(a)
    assert bad > good
    folder = team.share / "snapshots" / bad
    ops_file = folder / f"ops-{b.device_id}.jsonl.gz"
    if damage == "flip-ops":
        _flip(ops_file, len(ops_file.read_bytes()) // 2)
    elif damage == "flip-manifest":
        text = (folder / "manifest.json").read_text()
        (folder / "manifest.json").write_text(text.replace(f'"{b.device_id}":{manifest["vector"][b.device_id]}',
                                                           f'"{b.device_id}":{manifest["vector"][b.device_id] + 1}'))
    elif damage == "missing":
        ops_file.unlink()
    elif damage == "truncated":
        ops_file.write_bytes(ops_file.read_bytes()[:40])
    elif damage == "no-manifest":
        (folder / "manifest.json").unlink()
    elif damage == "wrong-digest":
        # well-formed and hashed, but the state it rebuilds is not the one its writer recorded
        body = json.loads((folder / "manifest.json").read_text())
        body["state_digest"] = "0" * 64
        _rehash(folder, body)
    else:
        # every hash matches, but the ops file holds an op the vector does not cover
        body = json.loads((folder / "manifest.json").read_text())
        lines = gzip.decompress(ops_file.read_bytes()).decode().splitlines()
        extra = json.loads(lines[-1])
        extra["seq"] += 1
        extra["op_id"] = f"{b.device_id}:{extra['seq']:012d}"
        data = gzip.compress(("\n".join(lines + [canonical_json(extra)]) + "\n").encode())
        ops_file.write_bytes(data)
        body["devices"][b.device_id]["sha256"] = hashlib.sha256(data).hexdigest()
        body["state_digest"] = None
        _rehash(folder, body)
    before = sorted(str(p.relative_to(team.share)) for p in team.share.rglob("*"))
    p, report = _join(team, "joiner")
    try:
        assert any("snapshot ignored" in x and bad in x for x in report.problems), report.problems
        assert repo.get_meta(p.conn, "sync.snapshot") == good      # the older valid one
        team.sync_all()
        assert state_digest(p.conn) == state_digest(a.conn) == state_digest(b.conn)
        # nothing on the share was removed or moved
        after = {str(x.relative_to(team.share)) for x in team.share.rglob("*")}
        assert set(before) <= after
    finally:
        p.close()


def test_only_damaged_snapshots_falls_back_to_segments(team):
    a, b = team.devices
    _work(team)
    name, _ = snapshot.write(a)
    _flip(_snap_dir(team) / f"ops-{a.device_id}.jsonl.gz", 30)
    p, report = _join(team, "joiner")
    try:
        assert repo.get_meta(p.conn, "sync.snapshot") is None
        assert any("snapshot ignored" in x for x in report.problems)
        assert state_digest(p.conn) == state_digest(a.conn)
    finally:
        p.close()


def test_foreign_names_in_snapshots_are_ignored(team):
    a, _ = team.devices
    _work(team)
    name, _ = snapshot.write(a)
    stray = team.share / "snapshots" / (name.replace("snap-", "snap-9") + " (conflicted copy)")
    shutil.copytree(team.share / "snapshots" / name, stray)
    assert [s for s in snapshot._names(ShareLayout(team.share))] == [name]


def test_cli_snapshot_admin_only_and_join_uses_it(tmp_path, capsys):
    team = Team(tmp_path, 2, roles=("annotator",))      # device 1's user is no admin
    a, b = team.devices
    try:
        _work(team)
    finally:
        team.close()
    assert main(["share", "snapshot", str(b.root)]) == 1
    assert "only an admin" in capsys.readouterr().err
    assert not (team.share / "snapshots").exists()
    assert main(["share", "snapshot", str(a.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["snapshot"].startswith("snap-") and out["state_digest"]
    assert main(["share", "join", str(team.share), str(tmp_path / "cli_joiner")]) == 0
    assert f"bootstrapped from snapshots/{out['snapshot']}" in capsys.readouterr().out


def test_snapshot_of_unshared_project_is_refused(project):
    with pytest.raises(LabeldeskError, match="not shared"):
        snapshot.write(project)


def test_large_payloads_and_devices_newer_than_the_snapshot(team):
    """A payload that travels as a blob in segments is inline in the snapshot; a device that joined
    after the snapshot is read from its first segment."""
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    a, b = team.devices
    _work(team)
    big = ids.new_id()
    mask = Mask.from_array(np.indices((200, 200)).sum(0) % 2 == 0)         # 40,000 runs: > 64 KB
    b.apply(OpDraft("annotation.create", big, {"annotation": {
        "asset_id": team.asset, "layer_id": b.my_layer_id, "geometry": mask.to_dict()}}))
    team.sync_all()
    assert any((team.share / "blobs" / "sha256").rglob("*.bin"))          # it travelled as a blob
    name, manifest = snapshot.write(a)
    assert manifest["state_digest"] == state_digest(a.conn)
    late, _ = _join(team, "late", user="u1")      # joins after the snapshot, publishes its own ops
    try:
        team.box(late, 33)
        engine.sync_round(late)
        assert late.device_id not in manifest["vector"]
        team.sync_all()
        p, report = _join(team, "joiner")
        try:
            assert repo.get_meta(p.conn, "sync.snapshot") == name
            assert report.received["ops"] == late.conn.execute(
                "SELECT COUNT(*) FROM ops WHERE dev = ?", (late.device_id,)).fetchone()[0] >= 1
            engine.sync_round(late)
            assert state_digest(p.conn) == state_digest(late.conn) == state_digest(a.conn)
            assert p.conn.execute("SELECT 1 FROM annotations WHERE id = ?", (big,)).fetchone()
        finally:
            p.close()
    finally:
        late.close()


def test_line_waiting_for_its_blob_is_kept_in_the_snapshot(team):
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    a, b = team.devices
    _work(team)
    ann = ids.new_id()
    mask = Mask.from_array(np.indices((200, 200)).sum(0) % 2 == 0)
    b.apply(OpDraft("annotation.create", ann, {"annotation": {"asset_id": team.asset, "layer_id": b.my_layer_id,
                                                              "geometry": mask.to_dict()}}))
    engine.sync_round(b)
    blob = next((team.share / "blobs" / "sha256").rglob("*.bin"))
    data = blob.read_bytes()
    blob.write_bytes(data[:100])                            # partial blob: a waits for it
    engine.sync_round(a)
    assert a.conn.execute("SELECT COUNT(*) FROM sync_pending_lines").fetchone()[0] == 1
    name, manifest = snapshot.write(a)
    assert manifest["state_digest"] is None and manifest["vector"][b.device_id] == \
        repo.next_seq(b.conn, b.device_id) - 1
    blob.write_bytes(data)
    p, _ = _join(team, "joiner")
    try:
        assert repo.get_meta(p.conn, "sync.snapshot") == name
        assert p.conn.execute("SELECT 1 FROM annotations WHERE id = ?", (ann,)).fetchone()
        team.sync_all()
        assert state_digest(p.conn) == state_digest(a.conn) == state_digest(b.conn)
    finally:
        p.close()
