"""WAL checkpoints off the edit path (store/checkpoint.py): the write connection never
checkpoints inside a commit, the checkpoint thread does it, the WAL stays bounded when the thread
falls behind, a ``kill -9`` with every edit still only in the WAL loses nothing, and closing the
project leaves one self-contained store."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from labeldesk.core.ops import OpDraft
from labeldesk.core.project import STORE_NAME, Project
from labeldesk.core.store import checkpoint as ckpt

ANN = "n" * 26
SHELL = [[10.0, 10.0], [60.0, 12.0], [55.0, 50.0], [12.0, 45.0]]


def _edit(i: int) -> OpDraft:
    return OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "polygon",
                                                                   "shell": [[x + i % 5, y] for x, y in SHELL]}}})


def _with_annotation(p: Project, asset: str) -> None:
    p.apply(OpDraft("annotation.create", ANN, {"annotation": {
        "asset_id": asset, "layer_id": p.my_layer_id, "geometry": {"kind": "polygon", "shell": SHELL}}}))


def _wal_frames(p: Project) -> tuple[int, int, int]:
    return ckpt.checkpoint(p.conn, "PASSIVE")


def _until(pred, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def test_the_write_connection_does_not_checkpoint_in_a_commit(project, image_asset):
    assert project.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    assert project.conn.execute("PRAGMA journal_size_limit").fetchone()[0] == ckpt.SIZE_LIMIT
    _with_annotation(project, image_asset)
    project._checkpointer.close()            # no thread: what the commits alone leave behind
    for i in range(300):
        project.apply(_edit(i))
    busy, frames, copied = _wal_frames(project)
    # SQLite's default would have checkpointed every 1,000 pages inside a commit; all are still here
    assert busy == 0 and frames > 1000 and copied == frames


def test_the_thread_checkpoints_after_a_run_of_edits(project, image_asset):
    _with_annotation(project, image_asset)
    before = project._checkpointer.checkpoints
    for i in range(ckpt.WAKE_EVERY):
        project.apply(_edit(i))
    assert _until(lambda: project._checkpointer.checkpoints > before)
    assert project._checkpointer.last_error is None
    busy, frames, copied = _wal_frames(project)
    assert busy == 0 and copied == frames                    # nothing left that the thread had not copied
    assert project.checkpoint(wait=30) is True               # on request (the core function the GUI may call)
    assert project.checkpoint()[0] == 0                      # and on the calling thread


def test_the_wal_stays_bounded_when_the_thread_falls_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "WAKE_EVERY", 8)
    monkeypatch.setattr(ckpt, "HARD_LIMIT", 256 * 1024)
    monkeypatch.setattr(ckpt, "SIZE_LIMIT", 128 * 1024)
    sizes = {}
    for bounded in (True, False):
        if not bounded:
            monkeypatch.setattr(ckpt, "HARD_LIMIT", 1 << 40)
        p = Project.create(tmp_path / str(bounded), user_name="alice")
        p._checkpointer.close()              # the thread has stopped (or cannot keep up)
        from tests.core.conftest import add_image_asset
        _with_annotation(p, add_image_asset(p))
        p.checkpoint()                       # (what creating the project left in the WAL)
        top = 0
        for i in range(400):
            p.apply(_edit(i))
            top = max(top, ckpt.wal_size(p.store_path))
        sizes[bounded] = (top, p._checkpointer.inline_checkpoints)
        assert p.verify_chain().ok and p.integrity_check() == "ok"
        p.close()
    (bounded_top, inline), (unbounded_top, none) = sizes[True], sizes[False]
    assert inline > 0 and none == 0
    # at most WAKE_EVERY commits of growth past the limit before the writer checkpoints
    assert bounded_top < 256 * 1024 + 8 * 64 * 1024
    assert unbounded_top > 4 * bounded_top


def test_the_wal_index_says_how_many_frames_the_wal_holds(project, image_asset):
    """The WAL's frames, read from its index: what SQLite itself reports, and back to a few once
    the WAL starts again from its beginning, while the file keeps its size."""
    _with_annotation(project, image_asset)
    project._checkpointer.close()
    project.checkpoint()
    for i in range(20):
        project.apply(_edit(i))
    frames = ckpt.wal_frames(project.store_path)
    busy, log, copied = _wal_frames(project)                 # (everything copied back)
    assert busy == 0 and frames == log == copied > 20
    size = ckpt.wal_size(project.store_path)
    project.apply(_edit(21))                                 # the WAL starts again
    assert ckpt.wal_frames(project.store_path) < frames // 4
    assert ckpt.wal_size(project.store_path) == size
    assert ckpt.wal_frames(project.root / "nowhere.labeldesk") is None


def _burst(p: Project, n: int) -> int:
    from tests.core.conftest import add_image_asset
    _with_annotation(p, add_image_asset(p))
    p.checkpoint()
    top = 0
    for i in range(n):
        p.apply(_edit(i))
        top = max(top, p._checkpointer.wal_bytes())
    return top


def test_during_a_burst_the_thread_catches_up_before_the_writer_checkpoints(tmp_path, monkeypatch):
    """At the limit the thread copies the WAL back while edits go on; the writer then checkpoints
    the rest between two commits and the WAL starts again: bounded, every edit kept."""
    monkeypatch.setattr(ckpt, "WAKE_EVERY", 8)
    monkeypatch.setattr(ckpt, "CATCH_UP_COMMITS", 64)
    monkeypatch.setattr(ckpt, "HARD_LIMIT", 256 * 1024)
    inline_when = []
    real_inline = ckpt.Checkpointer._inline
    monkeypatch.setattr(ckpt.Checkpointer, "_inline", lambda self: (
        inline_when.append(self._s.caught_up or self._s.commits - self._s.asked_at), real_inline(self)))
    caught = []
    real_catch_up = ckpt._catch_up
    monkeypatch.setattr(ckpt, "_catch_up", lambda s: (real_catch_up(s), caught.append(s.checkpoints)))
    p = Project.create(tmp_path / "p", user_name="alice")
    top = _burst(p, 400)
    c = p._checkpointer
    assert caught and inline_when and c.last_error is None
    # the writer checkpoints once the thread has caught up (or, at the latest, CATCH_UP_COMMITS later)
    assert all(w is True or w >= 64 for w in inline_when)
    assert c.inline_checkpoints == len(inline_when) >= 2
    # at most WAKE_EVERY + CATCH_UP_COMMITS commits of growth past the limit (an edit: < 64 KiB)
    assert top < 256 * 1024 + (8 + 64 + 1) * 64 * 1024
    frames = []                          # the writer's checkpoint starts the WAL again at once
    real_restart = ckpt.restart
    monkeypatch.setattr(ckpt, "restart", lambda conn: (real_restart(conn), frames.append(ckpt.wal_frames(p.store_path))))
    for i in range(200):
        p.apply(_edit(i))
    assert frames and max(frames) <= 2
    assert p.verify_chain().ok and p.integrity_check() == "ok"
    assert p.counts()["ops"] == len(list(p.ops()))
    p.close()


def test_the_writer_checkpoints_anyway_when_the_thread_does_not_catch_up(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "WAKE_EVERY", 8)
    monkeypatch.setattr(ckpt, "CATCH_UP_COMMITS", 16)
    monkeypatch.setattr(ckpt, "HARD_LIMIT", 256 * 1024)
    monkeypatch.setattr(ckpt, "_catch_up", lambda s: None)     # a thread that never reports back
    p = Project.create(tmp_path / "p", user_name="alice")
    top = _burst(p, 300)
    c = p._checkpointer
    assert c.inline_checkpoints > 0 and c.catch_ups == 0
    # at most WAKE_EVERY + CATCH_UP_COMMITS commits of growth past the limit
    assert top < 256 * 1024 + 24 * 64 * 1024
    assert p.verify_chain().ok and p.integrity_check() == "ok"
    p.close()


def test_close_stops_the_thread_and_removes_the_wal(tmp_path):
    p = Project.create(tmp_path / "p", user_name="alice")
    thread = p._checkpointer._thread
    assert thread is not None and thread.is_alive()
    from tests.core.conftest import add_image_asset
    _with_annotation(p, add_image_asset(p))
    for i in range(50):
        p.apply(_edit(i))
    p.close()
    assert not thread.is_alive()
    assert not (tmp_path / "p" / (STORE_NAME + "-wal")).exists()
    with Project.open(tmp_path / "p") as again:
        assert again.annotation(ANN).geometry.to_dict()["shell"][0] == [14.0, 10.0]


def test_a_project_dropped_without_close_ends_its_thread(tmp_path):
    import gc
    p = Project.create(tmp_path / "p", user_name="alice")
    thread = p._checkpointer._thread
    lock = p._lock
    del p
    gc.collect()
    thread.join(30)
    assert not thread.is_alive()
    lock.release()


WRITER = r"""
import sys
from labeldesk.core.store import checkpoint as ckpt
ckpt.WAKE_EVERY = 10 ** 9          # the thread never wakes and the writer never checks: every
ckpt.TIMER = 10 ** 6               # committed edit is in the WAL only when the process is killed
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
p = Project.open(sys.argv[1])
ann, n = sys.argv[2], int(sys.argv[3])
for i in range(n):
    a = p.apply(OpDraft("annotation.update", ann, {"set": {"z_order": float(i)}}))
    print(a.op.op_id, flush=True)
print("done", flush=True)
sys.stdin.readline()
"""


def test_kill_9_with_every_edit_only_in_the_wal_loses_nothing(tmp_path):
    root = tmp_path / "p"
    with Project.create(root, user_name="alice") as p:
        from tests.core.conftest import add_image_asset
        _with_annotation(p, add_image_asset(p))
        ops_before = p.counts()["ops"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), ANN, "500"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    committed = []
    for line in proc.stdout:
        if line.strip() == "done":
            break
        committed.append(line.strip())
    wal = ckpt.wal_size(root / STORE_NAME)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(committed) == 500
    assert wal > 500 * 4096                         # the edits were in the WAL, not in the store
    with Project.open(root) as p:
        assert p.integrity_check() == "ok" and p.verify_chain().ok
        stored = {o.op_id for o in p.ops()}
        assert all(c in stored for c in committed)
        assert p.counts()["ops"] == ops_before + 500
        assert p.annotation(ANN).z_order == 499.0


CATCHING_UP = r"""
import sys
from labeldesk.core.store import checkpoint as ckpt
ckpt.WAKE_EVERY, ckpt.HARD_LIMIT = 4, 64 * 1024     # a catch-up every few edits
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
p = Project.open(sys.argv[1])
ann = sys.argv[2]
print("ready", flush=True)
i = 0
while True:
    a = p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [1, 1, 9 + i % 7, 9]}}}))
    print(a.op.op_id, flush=True)
    i += 1
"""


def test_kill_9_during_catch_ups_loses_nothing(tmp_path):
    """Killed at any moment of bursts that reach the WAL limit again and again (the thread
    catching up, the writer checkpointing, the WAL starting again): nothing committed is lost."""
    root = tmp_path / "p"
    with Project.create(root, user_name="alice") as p:
        from tests.core.conftest import add_image_asset
        _with_annotation(p, add_image_asset(p))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    for run in range(6):
        proc = subprocess.Popen([sys.executable, "-c", CATCHING_UP, str(root), ANN], stdout=subprocess.PIPE,
                                text=True, env=env)
        assert proc.stdout.readline().strip() == "ready"
        committed = []
        end = time.monotonic() + 0.3 + 0.15 * run
        while time.monotonic() < end:
            committed.append(proc.stdout.readline().strip())
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        committed += [c for c in rest.splitlines() if c]
        with Project.open(root) as p:
            assert p.integrity_check() == "ok" and p.verify_chain().ok
            stored = {o.op_id for o in p.ops()}
            assert committed and all(c in stored for c in committed)


def test_the_thread_flushes_the_wal_during_a_burst_without_touching_its_locks(project, image_asset):
    _with_annotation(project, image_asset)
    shared = project._checkpointer._s
    before = shared.syncs
    ckpt._sync_wal(shared)                                  # what the thread does every WAKE_EVERY commits of a burst
    assert shared.syncs == before + 1
    project.apply(_edit(1))                                 # the writer's locks are untouched
    assert project.verify_chain().ok
    missing = ckpt._Shared(project.root / "nowhere.labeldesk")
    ckpt._sync_wal(missing)                                 # no WAL (yet): nothing to flush, no error
    assert missing.syncs == 0


def test_a_catch_up_the_writer_never_finishes_gives_way_to_the_idle_checkpoint(tmp_path, monkeypatch):
    """The burst ends right after the thread caught up (no commit comes to take the writer's
    turn): the thread checkpoints when asked, as ever."""
    monkeypatch.setattr(ckpt, "TIMER", 0.2)
    p = Project.create(tmp_path / "p", user_name="alice")
    from tests.core.conftest import add_image_asset
    _with_annotation(p, add_image_asset(p))
    c = p._checkpointer
    before = c.checkpoints
    s = c._s
    s.asked_at, s.caught_up, s.catch_up = s.commits, False, True     # as the writer asks at the limit
    c.request()
    assert _until(lambda: s.caught_up or not s.catch_up)
    assert p.checkpoint(wait=30) is True
    assert not s.catch_up and c.checkpoints > before and c.inline_checkpoints == 0
    busy, frames, copied = _wal_frames(p)
    assert busy == 0 and copied == frames
    p.close()
