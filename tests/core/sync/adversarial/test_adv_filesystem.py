"""Adversarial: the shared folder's filesystem is hostile -- symbolic links, oversized and sparse
files, complete-but-invalid segments, segments edited after they were merged."""
from __future__ import annotations

import os

import pytest
from hostile import problems
from sync_team import Team

from labeldesk.core.sync import engine
from labeldesk.core.sync.layout import SegmentName


@pytest.fixture
def team(tmp_path):
    t = Team(tmp_path, 2)
    yield t
    t.close()


def _alerts(p, dev):
    from labeldesk.core.sync.status import status
    d = next(d for d in status(p, digest=False)["devices"] if d["device_id"] == dev)
    return [x["text"] for x in d["problems"] if x["alert"]]


@pytest.mark.parametrize("what", ["segments", "blobs"])
def test_a_symlinked_folder_is_never_written_or_read_through(team, tmp_path, what):
    a, b = team.devices
    outside = tmp_path / "outside"
    outside.mkdir()
    if what == "segments":
        target = team.share / "devices" / a.device_id / "segments"
        for f in target.iterdir():
            f.rename(outside / f.name)
    else:
        target = team.share / "blobs"
        os.rename(target, outside / "blobs")
        outside = outside / "blobs"
    if target.exists():
        target.rmdir()
    target.symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.rglob("*"))
    team.box(a, x=33)
    if what == "blobs":          # a payload big enough to travel as a blob
        from labeldesk.core.ops import OpDraft
        a.apply(OpDraft("asset.rename", team.asset, {"name": "n" * 70_000}))
    report = engine.sync_round(a)
    assert report.state == "unsafe" and "symbolic link" in report.message
    assert sorted(p.name for p in outside.rglob("*")) == before           # nothing written out of the share
    report_b = engine.sync_round(b)
    if what == "segments":
        assert any("symbolic link" in t for t in _alerts(b, a.device_id))
    assert report_b.state in ("ok", "unsafe")


def test_an_oversized_sparse_segment_is_refused_unread(team):
    a, b = team.devices
    seg_dir = team.share / "devices" / a.device_id / "segments"
    last = max(SegmentName.parse(p.name).last for p in seg_dir.glob("seg-*.jsonl"))
    big = seg_dir / SegmentName.make(last + 1, last + 1, "a" * 64)
    with open(big, "wb") as f:
        f.truncate(2 * 1024 ** 3)                # 2 GiB, sparse: costs nothing on disk
    engine.sync_round(b)
    texts = _alerts(b, a.device_id)
    assert any("corrupt" in t and "more than such a file can hold" in t for t in texts), texts
    big.unlink()


def test_a_complete_but_invalid_segment_is_corrupt_not_still_being_delivered(team):
    a, b = team.devices
    seg_dir = team.share / "devices" / a.device_id / "segments"
    last = max(SegmentName.parse(p.name).last for p in seg_dir.glob("seg-*.jsonl"))
    for body in (b"this is not json at all\n", b'{"kind":"header"}\n{"kind":"op"}\n{not json}\n'):
        path = seg_dir / SegmentName.make(last + 1, last + 1, "b" * 64)
        path.write_bytes(body)
        engine.sync_round(b)
        texts = _alerts(b, a.device_id)
        assert any(t.startswith("corrupt") for t in texts) and not any("still being delivered" in t for t in texts)
        path.unlink()


def test_a_merged_segment_changed_afterwards_is_reported(team):
    a, b = team.devices
    team.box(a, x=12)
    team.sync_all()
    seg = sorted((team.share / "devices" / a.device_id / "segments").glob("seg-*.jsonl"))[-1]
    original = seg.read_bytes()
    data = bytearray(original)
    data[-10] = ord("0") if data[-10] != ord("0") else ord("1")
    seg.write_bytes(bytes(data))
    report = engine.sync_round(b)
    assert any(p.startswith("changed") and seg.name in p for p in report.problems), report.problems
    # touched but identical: not reported
    seg.write_bytes(original)
    os.utime(seg, ns=(1, 1))
    report = engine.sync_round(b)
    assert not any(p.startswith("changed") for p in report.problems), report.problems


@pytest.mark.parametrize("where", ["segment", "head", "marker"])
def test_a_named_pipe_in_the_share_is_refused_without_waiting_for_a_writer(team, where):
    """Opening a FIFO for reading blocks until someone writes to it: a member who put one where a
    segment, a device head or the project marker is read would hang every member's sync round."""
    import threading
    a, b = team.devices
    if where == "segment":
        seg_dir = team.share / "devices" / a.device_id / "segments"
        last = max(SegmentName.parse(p.name).last for p in seg_dir.glob("seg-*.jsonl"))
        pipe = seg_dir / SegmentName.make(last + 1, last + 1, "b" * 64)
    elif where == "head":
        heads = [p for p in (team.share / "devices" / a.device_id).iterdir() if p.is_file() and "head" in p.name]
        assert heads, list((team.share / "devices" / a.device_id).iterdir())
        pipe = heads[0]
        pipe.unlink()
    else:
        pipe = next(p for p in team.share.iterdir() if p.is_file() and p.suffix == ".json" and "project" in p.name)
        pipe.unlink()
    os.mkfifo(pipe)
    outcome: list[object] = []

    def run() -> None:
        try:
            result = engine.sync_round(b)
            outcome.append(getattr(result, "state", "done") if where == "marker" else "done")
        except Exception as exc:                  # noqa: BLE001 - a clear error is an outcome too
            outcome.append(exc)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():                             # unblock the reader, then fail
        fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(10)
        pytest.fail(f"the sync round waited on the named pipe at {where}")
    assert outcome, "the round neither finished nor failed"
    if where == "marker":                        # the share is not used: the project marker is unreadable
        assert outcome[0] in ("wrong-project", "offline") or "marker" in str(outcome[0]), outcome
    else:
        assert outcome == ["done"], outcome
