"""Adversarial: a hostile member who can write the shared folder (forgery, impersonation, replay,
own-folder injection, revocation, rotation, a replaced marker)."""
from __future__ import annotations

import json
import shutil

import pytest
from hostile import key_of, last_segment, machine, op_line, problems, write_segment
from sync_team import Team

from labeldesk.core import ids
from labeldesk.core.sync import engine, enrolment, keys


@pytest.fixture
def crew(tmp_path):
    t = Team(tmp_path, 3, roles=("annotator",))      # u0 admin; u1, u2 annotators
    yield t
    t.close()


def _users(p) -> set[str]:
    return {r[0] for r in p.conn.execute("SELECT name FROM users")}


def _roles(p, uid) -> set[str]:
    return {r[0] for r in p.conn.execute("SELECT role FROM roles WHERE user_id = ?", (uid,))}


def test_impersonating_the_admin_with_ones_own_key_is_refused(crew):
    admin, mallory = crew.devices[0], crew.devices[2]
    evil = ids.new_device_id()
    lines = [op_line(evil, 1, crew.user_ids[0], "role.grant", crew.user_ids[2], {"role": "admin"}),
             op_line(evil, 2, crew.user_ids[0], "user.add", ids.new_id(), {"name": "mallory2"})]
    write_segment(crew.share, admin.id, evil, lines, key_id=key_of(mallory, crew.user_ids[2]))
    crew.box(crew.devices[1])                           # honest work goes on meanwhile
    crew.sync_all()
    for p in crew.devices[:2]:
        assert "admin" not in _roles(p, crew.user_ids[2]) and "mallory2" not in _users(p)
        texts = problems(p)
        assert any("impersonation" in t and evil[:8] in t for t in texts), texts
        assert p.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 1
    assert len(set(crew.digests()[:2])) == 1


def test_a_forged_signature_and_an_unsigned_segment_are_refused(crew):
    admin = crew.devices[0]
    forged, unsigned = ids.new_device_id(), ids.new_device_id()
    write_segment(crew.share, admin.id, forged,
                  [op_line(forged, 1, crew.user_ids[0], "user.add", ids.new_id(), {"name": "eve"})],
                  key_id=key_of(admin, crew.user_ids[0]), bad_sig=True)
    write_segment(crew.share, admin.id, unsigned,
                  [op_line(unsigned, 1, crew.user_ids[2], "user.add", ids.new_id(), {"name": "trudy"})])
    crew.sync_all()
    for p in crew.devices:
        assert not {"eve", "trudy"} & _users(p)
    texts = problems(crew.devices[1])
    assert any("forged" in t and forged[:8] in t for t in texts), texts
    assert any("not signed" in t and unsigned[:8] in t for t in texts), texts


def test_a_key_nobody_enrolled_waits_and_is_never_applied(crew, tmp_path):
    admin = crew.devices[0]
    with machine(tmp_path / "elsewhere"):
        info = keys.generate(admin.id, crew.user_ids[2], "u2")
        stranger = ids.new_device_id()
        write_segment(crew.share, admin.id, stranger,
                      [op_line(stranger, 1, crew.user_ids[2], "user.add", ids.new_id(), {"name": "ghost"})],
                      key_id=info.key_id)
    crew.sync_all()
    assert "ghost" not in _users(admin)
    from labeldesk.core.sync.status import status
    dev = next(d for d in status(admin, digest=False)["devices"] if d["device_id"] == stranger)
    assert dev["problems"][0]["text"].startswith("waiting") and not dev["problems"][0]["alert"]


def test_replayed_segments_in_another_folder_or_name_are_refused(crew):
    admin, honest = crew.devices[0], crew.devices[1]
    crew.box(honest)
    crew.sync_all()
    seg = sorted((crew.share / "devices" / honest.device_id / "segments").glob("seg-*.jsonl"))[0]
    copy_dev = ids.new_device_id()
    (crew.share / "devices" / copy_dev / "segments").mkdir(parents=True)
    shutil.copy(seg, crew.share / "devices" / copy_dev / "segments" / seg.name)
    renamed = seg.with_name(seg.name[:-18] + "0123456789ab.jsonl")
    shutil.copy(seg, renamed)
    before = crew.digests()
    crew.sync_all()
    assert crew.digests() == before
    texts = problems(admin)
    assert any("names another device" in t for t in texts), texts


def test_a_segment_injected_into_my_own_folder_is_refused_not_restored(crew):
    admin, honest = crew.devices[0], crew.devices[1]
    last, sha = last_segment(crew.share, admin.device_id)
    dev = admin.device_id
    lines = [op_line(dev, last + 1, crew.user_ids[0], "user.add", ids.new_id(), {"name": "mallory"}),
             op_line(dev, last + 2, crew.user_ids[0], "role.grant", crew.user_ids[2], {"role": "admin"})]
    for key in (key_of(crew.devices[2], crew.user_ids[2]), None):     # signed by another key, or unsigned
        path = write_segment(crew.share, admin.id, dev, lines, prev_sha=sha, key_id=key)
        report = engine.sync_round(admin)
        assert report.fast_forwarded == 0 and "mallory" not in _users(admin)
        assert any("own folder" in p and "not restored" in p for p in report.problems), report.problems
        crew.box(admin, x=30 if key else 50)                          # my next real segment, same first seq
        engine.sync_round(admin)
        engine.sync_round(honest)
        assert "mallory" not in _users(honest) and "admin" not in _roles(honest, crew.user_ids[2])
        path.unlink()
        last, sha = last_segment(crew.share, admin.device_id)
    crew.sync_all()
    assert len(set(crew.digests())) == 1
    assert admin.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 2


def test_a_revoked_key_keeps_its_earlier_segments_and_loses_later_ones(crew):
    admin, bob, carol = crew.devices
    early = crew.box(bob, x=10)
    engine.sync_round(bob)
    engine.sync_round(admin)
    enrolment.revoke(admin, "u1", reason="laptop stolen")
    late = crew.box(bob, x=60)
    engine.sync_round(bob)                      # published before bob's replica learns of the revocation
    crew.sync_all()
    for p in (admin, carol):
        assert p.annotation(early) is not None and p.annotation(late) is None
    assert any("revoked" in t and bob.device_id[:8] in t for t in problems(admin)), problems(admin)
    # carol merged bob's late segment before the revocation reached her: set aside when it did
    assert carol.conn.execute("SELECT COUNT(*) FROM sync_op_state WHERE state = 'revoked'").fetchone()[0] == 1
    assert crew.digests()[0] == crew.digests()[2]
    # bob's replica can no longer sign: publishing stops with a reason, nothing is lost
    crew.box(bob, x=90)
    engine.sync_round(bob)
    from labeldesk.core.store import repo
    assert "no usable private key" in (repo.get_meta(bob.conn, "sync.publish_blocked") or "")


def _records(p) -> dict[str, set[str]]:
    return {t: {r[0] for r in p.conn.execute(f"SELECT op_id FROM {t}")}
            for t in ("review_records", "issues", "issue_events")}


def test_reviews_and_issues_of_a_revoked_key_go_with_its_ops(crew):
    """A revocation that reaches a replica after the cut-off segments merged takes back their
    review records and issues too (the replica that saw the revocation first never had them)."""
    from labeldesk.core.model import Plane
    from labeldesk.core.review import issues, workflow
    admin, bob, carol = crew.devices
    ann = crew.box(bob, x=10)
    engine.sync_round(bob)
    engine.sync_round(admin)
    engine.sync_round(carol)
    kept = issues.open_issue(bob, crew.asset, Plane(), (5, 5), "kept: before the revocation")
    engine.sync_round(bob)
    engine.sync_round(admin)                     # the revocation keeps what the admin has merged
    engine.sync_round(carol)
    enrolment.revoke(admin, "u1", reason="laptop stolen")
    crew.move(bob, ann, 40)
    workflow.submit(bob, crew.asset, bob.my_layer_id)
    late = issues.open_issue(bob, crew.asset, Plane(), (9, 9), "late: after the revocation")
    issues.comment(bob, kept, "a late comment")
    engine.sync_round(bob)
    engine.sync_round(carol)                     # carol merges bob's late work before the revocation
    assert late in {i.id for i in issues.issues(carol.conn)}
    assert [s.state for s in workflow.item_states(carol.conn, crew.asset) if s.layer_id == bob.my_layer_id] == ["submitted"]
    crew.sync_all()
    for p in (admin, carol):
        assert {i.id for i in issues.issues(p.conn)} == {kept}
        assert not p.conn.execute("SELECT COUNT(*) FROM review_records").fetchone()[0]
        assert p.conn.execute("SELECT COUNT(*) FROM issue_events").fetchone()[0] == 0
        assert p.annotation(ann).geometry.x0 == 10
    assert _records(admin) == _records(carol)
    assert crew.digests()[0] == crew.digests()[2]


def test_rotating_a_key_keeps_the_members_work_flowing(crew):
    admin, bob, carol = crew.devices
    old = key_of(admin, crew.user_ids[1])
    new, revoked = enrolment.rotate(bob)
    assert revoked == [old]
    ann = crew.box(bob, x=70)
    crew.sync_all()
    for p in crew.devices:
        assert p.annotation(ann) is not None
        states = {k["key_id"]: k["state"] for k in enrolment.key_list(p)}
        assert states[old] == "revoked" and states[new] == "enrolled"
    assert len(set(crew.digests())) == 1
    names = sorted(p.name for p in (crew.share / "devices" / bob.device_id / "segments").glob("seg-*.jsonl"))
    signers = [json.loads(open(crew.share / "devices" / bob.device_id / "segments" / n).readline()).get("key")
               for n in names]
    assert signers[-1] == new and old in signers


def test_a_replaced_marker_stops_sync_of_every_replica(crew):
    admin = crew.devices[0]
    marker = crew.share / "labeldesk-project.json"
    body = json.loads(marker.read_text())
    info = keys.generate(admin.id, crew.user_ids[2], "u2")
    body["admin_key"] = {"key_id": info.key_id, "public_key": info.public_key, "user_id": crew.user_ids[2]}
    marker.write_text(json.dumps(body))
    report = engine.sync_round(crew.devices[1])
    assert report.state == "wrong-project" and "replaced" in report.message


def test_a_forged_snapshot_is_skipped_by_a_joiner(crew, tmp_path):
    """Snapshots are signed by the founding admin's key; one written by anyone else (or edited) is
    skipped and the joiner reads the segments instead."""
    from labeldesk.core.sync import snapshot
    admin, _, mallory = crew.devices
    ann = crew.box(admin, x=15)
    engine.sync_round(admin)
    name, _ = snapshot.write(admin)
    engine.sync_round(mallory)
    mallory.clock.tick()
    forged_name, _ = snapshot.write(mallory)       # mallory's snapshot, newer: signed by her own key
    assert forged_name > name
    joined, report = engine.join_share(crew.share, tmp_path / "late")
    try:
        from labeldesk.core.store import repo
        assert repo.get_meta(joined.conn, "sync.snapshot") == name
        assert any("not signed by the founding admin" in p for p in report.problems), report.problems
        assert joined.annotation(ann) is not None
    finally:
        joined.close()
