"""Failure modes #1–#13 of docs/sync.md §11 (share and identity faults), one named test each."""
from __future__ import annotations

import errno
import os
import shutil
import time

import pytest

from labeldesk.core.project import Project
from labeldesk.core.sync import engine, publisher
from labeldesk.core.sync.status import state_digest, status


def _ann_count(p):
    return p.conn.execute("SELECT COUNT(*) FROM annotations WHERE deleted = 0").fetchone()[0]


def test_fm01_crash_while_writing_temp_is_ignored_and_republished(team, faulty):
    a, b = team.devices
    team.box(a)
    seg_dir = team.share / "devices" / a.device_id / "segments"
    plan = publisher.plan(a)
    stale = seg_dir / f".seg-{plan[0].first:012d}.deadbeef.tmp"      # the crash left half a temp file
    stale.write_bytes(plan[0].data[: len(plan[0].data) // 2])
    fresh = seg_dir / f".seg-{plan[0].first:012d}.cafe.tmp"
    fresh.write_bytes(b"partial")
    old = time.time() - 25 * 3600
    os.utime(stale, (old, old))
    before = _ann_count(b)
    engine.sync_round(b)
    assert _ann_count(b) == before                  # readers ignore temps
    assert not status(b)["devices"][0]["problems"]
    engine.sync_round(a)                            # owner re-publishes from its outbox, sweeps stale temps
    assert not stale.exists() and fresh.exists()
    assert a.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    engine.sync_round(b)
    assert _ann_count(b) == before + 1


@pytest.mark.parametrize("keep", [0, 100, -30])
def test_fm02_torn_segment_waits_without_advancing_cursor(team, faulty, keep):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    share = faulty(team.share)
    seg = share.segments(a.device_id)[-1]
    full = share.truncate(seg, keep if keep >= 0 else seg.stat().st_size + keep)
    cursor = b.conn.execute("SELECT last_seq FROM sync_cursors WHERE dev = ?", (a.device_id,)).fetchone()[0]
    before = _ann_count(b)
    engine.sync_round(b)
    assert _ann_count(b) == before
    assert b.conn.execute("SELECT last_seq FROM sync_cursors WHERE dev = ?", (a.device_id,)).fetchone()[0] == cursor
    problems = status(b)["devices"][0]["problems"]
    assert any(p["text"].startswith("incomplete") and not p["alert"] for p in problems), problems
    with b.transaction() as conn:                   # still incomplete after the grace period: alert
        conn.execute("UPDATE sync_devices SET problems = replace(problems, substr(problems, instr(problems,"
                     " '\"since\": \"') + 10, 20), '2020-01-01T00:00:00Z')")
    engine.sync_round(b)
    assert any(p["alert"] and p["since"].startswith("2020") for p in status(b)["devices"][0]["problems"])
    seg.write_bytes(full)                           # the rest of the bytes arrive
    engine.sync_round(b)
    assert _ann_count(b) == before + 1
    assert not status(b)["devices"][0]["problems"]


def test_fm03_corrupt_segment_alerts_owner_quarantines_and_republishes(team, faulty):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    share = faulty(team.share)
    seg = share.segments(a.device_id)[-1]
    share.flip(seg, at=seg.stat().st_size // 2)
    before = _ann_count(b)
    engine.sync_round(b)
    assert _ann_count(b) == before
    assert any(p["text"].startswith("corrupt") and p["alert"] for p in status(b)["devices"][0]["problems"])
    engine.sync_round(a, verify=True)               # the owner re-hashes its own segments
    assert list((team.share / "quarantine").iterdir())
    assert seg.exists() and publisher.hashlib.sha256(seg.read_bytes()).hexdigest()[:12] in seg.name
    engine.sync_round(b)
    assert _ann_count(b) == before + 1


def test_fm03_truncated_own_segment_is_found_without_verify(team, faulty):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    seg = faulty(team.share).segments(a.device_id)[-1]
    faulty(team.share).truncate(seg, 50)
    engine.sync_round(a)                            # size differs from what we published: re-publish
    engine.sync_round(b)
    assert _ann_count(b) == _ann_count(a)


def test_fm04_crash_after_rename_before_mark_is_recognised(team, monkeypatch, faulty):
    a, b = team.devices
    team.box(a)
    n_before = len(faulty(team.share).segments(a.device_id))

    def crash(*args, **kw):
        raise RuntimeError("power cut")
    monkeypatch.setattr(publisher, "mark_published", crash)
    with pytest.raises(RuntimeError):
        engine.sync_round(a)
    monkeypatch.undo()
    assert a.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    report = engine.sync_round(a)
    assert a.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert len(faulty(team.share).segments(a.device_id)) == n_before + 1       # no duplicate segment
    assert report.rekeyed_to is None and report.fast_forwarded == 0
    engine.sync_round(b)
    assert _ann_count(b) == _ann_count(a)


def test_fm05_crash_inside_merge_transaction_rolls_back(team, monkeypatch):
    a, b = team.devices
    for i in range(3):
        team.box(a, 10 + i)
    engine.sync_round(a)
    from labeldesk.core.sync import bulk_creates, reducer
    calls = {"n": 0}
    real = reducer.apply_one
    real_take = bulk_creates.CreateRun.take

    def flaky(conn, ref):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("crash mid-segment")
        return real(conn, ref)

    def flaky_take(self, ref):              # (in-order creates are queued, not applied one by one)
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("crash mid-segment")
        return real_take(self, ref)
    monkeypatch.setattr(reducer, "apply_one", flaky)
    monkeypatch.setattr(bulk_creates.CreateRun, "take", flaky_take)
    ops_before = b.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
    with pytest.raises(RuntimeError):
        engine.sync_round(b)
    assert b.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0] == ops_before
    assert b.verify_chain().ok
    monkeypatch.undo()
    engine.sync_round(b)
    assert _ann_count(b) == _ann_count(a) and state_digest(a.conn) == state_digest(b.conn)


def test_fm06_sequence_gap_waits_then_applies(team, faulty):
    a, b = team.devices
    team.box(a, 10)
    engine.sync_round(a)
    team.box(a, 40)
    engine.sync_round(a)
    share = faulty(team.share)
    late = share.delay(share.segments(a.device_id)[-2])
    before = _ann_count(b)
    engine.sync_round(b)
    assert _ann_count(b) == before                  # the later segment is NOT applied past the gap
    dev = status(b)["devices"][0]
    assert dev["waiting_for_seq"] is not None and dev["waiting_since"]
    late.deliver()
    engine.sync_round(b)
    assert _ann_count(b) == before + 2
    assert status(b)["devices"][0]["waiting_for_seq"] is None


def test_fm07_duplicate_delivery_is_idempotent(team):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    engine.sync_round(b)
    digest, n_ops = state_digest(b.conn), b.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
    with b.transaction() as conn:                   # a restored cursor: everything is delivered again
        conn.execute("DELETE FROM sync_cursors")
    report = engine.sync_round(b)
    assert report.received.get("duplicates", 0) > 0 and report.received.get("applied", 0) == 0
    assert state_digest(b.conn) == digest
    assert b.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0] == n_ops


@pytest.mark.parametrize("style", ["syncthing", "dropbox"])
def test_fm08_conflict_copies_are_not_data_and_never_an_identity_alert(team, faulty, style):
    """A different conflict copy is one line among the sync-tool files (it was an identity alert
    every round: 256 lines in 50 s); a byte-identical one is ignored altogether (issue 10)."""
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    share = faulty(team.share)
    seg = share.segments(a.device_id)[-1]
    copy = share.conflict_copy(seg, style)
    for _ in range(3):
        engine.sync_round(b)
    assert _ann_count(b) == _ann_count(a)
    dev = status(b)["devices"][0]
    assert [x for x in dev["artefacts"] if copy.name in x] == [f"segments/{copy.name} "
                                                               f"({'syncthing conflict copy' if style == 'syncthing' else 'dropbox conflicted copy'} of {seg.name}, different: ignored)"]
    assert not any(p["alert"] for p in dev["problems"])
    assert b.conn.execute("SELECT COUNT(*) FROM sync_collisions").fetchone()[0] == 0
    copy.write_bytes(seg.read_bytes())                     # byte-identical: not even listed
    engine.sync_round(b)
    assert not status(b)["devices"][0]["artefacts"]


def test_fm09_sync_tool_temp_files_are_ignored(team, faulty):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    made = faulty(team.share).temp_files(a.device_id)
    engine.sync_round(b)
    assert _ann_count(b) == _ann_count(a)
    s = status(b)
    seen = " ".join(s["devices"][0]["artefacts"] + s["share_artefacts"])
    assert all(p.name in seen for p in made), seen
    assert not status(b)["devices"][0]["problems"]


def test_fm10_copied_store_gets_new_identity(team, tmp_path):
    a, b = team.devices
    team.box(a)                                       # unpublished when the store is copied
    root = a.root
    a.close()
    shutil.copytree(root, tmp_path / "copy", ignore=shutil.ignore_patterns("project.lock"))
    a = Project.open(root)
    clone = Project.open(tmp_path / "copy")           # another path: a new device id at open
    assert clone.device_id != a.device_id
    team.devices[0] = a
    team.box(clone, 70)
    engine.sync_round(clone)
    engine.sync_round(a)
    engine.sync_round(b)
    engine.sync_round(clone)
    assert _ann_count(b) == _ann_count(a) == _ann_count(clone) == 2
    assert status(clone)["outbox"] == 0 and status(clone)["held_from_previous_identity"] == 0
    clone.close()


def test_fm10_two_writers_with_one_device_id_rekey_without_loss(team, tmp_path):
    a, b = team.devices
    root = a.root
    a.close()
    shutil.copytree(root, tmp_path / "vm", ignore=shutil.ignore_patterns("project.lock"))
    from labeldesk.core import project as project_mod
    from labeldesk.core.store.connection import connect
    conn = connect(tmp_path / "vm" / "project.labeldesk")     # a VM snapshot: same nonce, same id
    conn.execute("UPDATE meta SET value = ? WHERE key = 'instance_nonce'",
                 (project_mod._instance_nonce((tmp_path / "vm" / "project.labeldesk").resolve()),))
    conn.close()
    a = Project.open(root)
    twin = Project.open(tmp_path / "vm")
    team.devices[0] = a
    assert twin.device_id == a.device_id
    x1, x2 = team.box(a, 10), team.box(twin, 90)
    engine.sync_round(a)
    report = engine.sync_round(twin)
    assert report.rekeyed_to is not None and twin.device_id == report.rekeyed_to
    assert status(twin)["identity_alert"]
    engine.sync_round(twin)
    engine.sync_round(b)
    engine.sync_round(a)
    for p in (a, b):
        assert p.annotation(x1) is not None and p.annotation(x2) is not None
    engine.sync_round(twin)
    assert twin.annotation(x1) is not None and twin.annotation(x2) is not None
    # the other writer's ops under the shared id are materialised from sync_collisions on the twin
    assert status(twin)["twin_ops"] >= 1 and status(twin)["collisions"] == 0
    assert state_digest(twin.conn) == state_digest(a.conn) == state_digest(b.conn)
    twin.close()


def test_fm11_store_restored_from_old_backup_fast_forwards(team, tmp_path):
    a, b = team.devices
    a.backup(tmp_path / "old.labeldesk")
    x = team.box(a, 10)
    engine.sync_round(a)
    root = a.root
    a.close()
    for suffix in ("", "-wal", "-shm"):
        (root / f"project.labeldesk{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.labeldesk", root / "project.labeldesk")
    a = Project.open(root)
    team.devices[0] = a
    assert a.annotation(x) is None
    report = engine.sync_round(a)
    assert report.fast_forwarded >= 1 and report.rekeyed_to is None
    assert a.annotation(x) is not None
    y = team.box(a, 60)                              # a new op gets a seq past the share's
    engine.sync_round(a)
    engine.sync_round(b)
    assert b.annotation(y) is not None and b.annotation(x) is not None


def test_fm12_unmounted_or_wrong_share_stops_sync(team, tmp_path):
    a, b = team.devices
    digest = state_digest(b.conn)
    real = team.share.rename(tmp_path / "moved")
    team.share.mkdir()                                # empty mount point
    report = engine.sync_round(b)
    assert report.state == "offline" and "no project marker" in report.message
    assert state_digest(b.conn) == digest and _ann_count(b) == _ann_count(a)
    shutil.rmtree(team.share)
    shutil.copytree(real, team.share)
    marker = team.share / "labeldesk-project.json"
    marker.write_text(marker.read_text().replace(a.id, "00000000-0000-4000-8000-000000000000"))
    report = engine.sync_round(b)
    assert report.state == "wrong-project" and state_digest(b.conn) == digest
    assert not list((team.share / "devices" / b.device_id / "segments").glob(".seg*"))


def test_fm13_share_offline_for_days_then_publishes_in_order(team, tmp_path):
    a, b = team.devices
    away = team.share.rename(tmp_path / "away")
    made = []
    for day in range(3):
        made.append(team.box(a, 10 + day))
        assert engine.sync_round(a).state == "offline"
    assert status(a)["outbox"] == 3
    away.rename(team.share)
    engine.sync_round(a)
    assert status(a)["outbox"] == 0
    engine.sync_round(b)
    assert all(b.annotation(x) is not None for x in made)
    seqs = [r[0] for r in b.conn.execute("SELECT seq FROM ops WHERE dev = ? ORDER BY local_order", (a.device_id,))]
    assert seqs == sorted(seqs)


def test_fm23_read_only_share_pulls_and_keeps_outbox(team, monkeypatch, refuse_writes):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    team.box(b, 80)
    refuse_writes(team.share)
    report = engine.sync_round(b)
    assert report.state == "read-only"
    assert _ann_count(b) == 2 and status(b)["outbox"] == 1
    monkeypatch.undo()
    engine.sync_round(b)
    engine.sync_round(a)
    assert _ann_count(a) == 2 and status(b)["outbox"] == 0


def test_fm24_disk_full_on_share_retries_later(team, monkeypatch, refuse_writes):
    a, b = team.devices
    team.box(b, 80)
    refuse_writes(team.share, errno.ENOSPC)
    assert engine.sync_round(b).state == "full"
    monkeypatch.undo()
    assert not list((team.share / "devices" / b.device_id / "segments").glob(".seg*"))
    engine.sync_round(b)
    engine.sync_round(a)
    assert _ann_count(a) == 1


def test_fm21_old_or_identical_mtimes_do_not_matter(team, faulty):
    a, b = team.devices
    team.box(a, 10)
    engine.sync_round(a)
    team.box(a, 40)
    engine.sync_round(a)
    for seg in faulty(team.share).segments(a.device_id):
        os.utime(seg, (315532800, 315532800))          # 1980-01-01, all the same (FAT-like)
    engine.sync_round(b)
    assert _ann_count(b) == _ann_count(a) == 2


def test_fm22_file_missing_from_a_stale_listing_is_picked_up_later(team, faulty):
    a, b = team.devices
    team.box(a, 10)
    engine.sync_round(a)
    share = faulty(team.share)
    late = share.delay(share.segments(a.device_id)[-1])   # not listed yet: no negative inference
    engine.sync_round(b)
    assert _ann_count(b) == 0 and state_digest(b.conn) != state_digest(a.conn)
    late.deliver()
    engine.sync_round(b)
    assert state_digest(b.conn) == state_digest(a.conn)


def test_fm26_transient_rename_refusal_is_retried_never_copied_over(team, monkeypatch):
    a, b = team.devices
    team.box(a, 10)
    from labeldesk.core.sync import layout
    real, calls = layout.link_no_replace, []

    def busy(tmp, final):                               # antivirus / OneDrive holding a handle
        calls.append(final)
        if len(calls) < 3:
            exc = PermissionError(13, "sharing violation")
            exc.winerror = 32
            raise exc
        return real(tmp, final)
    monkeypatch.setattr(publisher, "link_no_replace", busy)
    monkeypatch.setattr(publisher.time, "sleep", lambda s: None)
    assert engine.sync_round(a).published_ops == 1
    assert len(calls) == 3
    engine.sync_round(b)
    assert _ann_count(b) == 1


def test_fm26_persistent_refusal_defers_and_keeps_outbox(team, monkeypatch):
    a, b = team.devices
    team.box(a, 10)

    def refuse(tmp, final):
        exc = PermissionError(13, "access denied")
        exc.winerror = 5
        raise exc
    monkeypatch.setattr(publisher, "link_no_replace", refuse)
    monkeypatch.setattr(publisher.time, "sleep", lambda s: None)
    report = engine.sync_round(a)
    assert report.state == "read-only" and status(a)["outbox"] == 1
    assert not list((team.share / "devices" / a.device_id / "segments").glob(".seg-*"))   # temp cleaned
    monkeypatch.undo()
    assert engine.sync_round(a).published_ops == 1


def test_fm11_restored_store_edited_before_first_sync_loses_nothing(team, tmp_path):
    a, b = team.devices
    a.backup(tmp_path / "old.labeldesk")
    x = team.box(a, 10)
    engine.sync_round(a)
    root = a.root
    a.close()
    for suffix in ("", "-wal", "-shm"):
        (root / f"project.labeldesk{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.labeldesk", root / "project.labeldesk")
    a = Project.open(root)
    team.devices[0] = a
    y = team.box(a, 60)                          # reuses the seq of x: same op id, other content
    report = engine.sync_round(a)
    assert report.rekeyed_to is not None
    team.sync_all()
    for p in (a, b):
        assert p.annotation(x) is not None and p.annotation(y) is not None
    assert state_digest(a.conn) == state_digest(b.conn)
