"""Syncthing as the transport, for real: two Syncthing instances on loopback, two replicas editing
on both sides, one Syncthing paused and later killed with SIGKILL mid-stream, then convergence
with no op missing and nothing reported as a problem that is only a sync tool's own file.

Debian's `syncthing` package is installed by the set-up when apt-get is available (as root);
elsewhere the test is skipped with the reason.
"""
from __future__ import annotations

import time

import pytest

from labeldesk.cli import main
from labeldesk.core.project import Project
from labeldesk.core.sync import engine, enrolment
from labeldesk.core.sync.status import state_digest, status
from labeldesk.core.sync_tools import STIGNORE_KEY
from sync_team import Team
from syncthing_pair import Pair, syncthing_available

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(tmp_path):
    ok, why = syncthing_available()
    if not ok:
        pytest.skip(f"live Syncthing test skipped: {why}")
    p = Pair(tmp_path)
    try:
        p.start()
    except (RuntimeError, TimeoutError) as exc:
        p.stop()
        pytest.fail(f"{exc}\n--- alpha\n{p.a.log_tail()}\n--- beta\n{p.b.log_tail()}")
    yield p
    p.stop()


def _round(project, reports):
    r = engine.sync_round(project)
    reports.append(r)
    return r


def _ops(project) -> int:
    return project.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]


def test_two_replicas_converge_through_syncthing_with_pause_and_kill(tmp_path, pair, capsys):
    # alpha founds the project with a Syncthing folder already set up (.stfolder): accepted
    team = Team.__new__(Team)              # reuse the edit helpers on our own two projects
    a_dir, b_dir = tmp_path / "alpha-project", tmp_path / "beta-project"
    assert main(["init", str(a_dir), "--user", "ana"]) == 0
    a = Project.open(a_dir)
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    team.asset, team.cls, bob = ids.new_id(), ids.new_id(), ids.new_id()
    a.apply_all([OpDraft("asset.add", team.asset, {"asset": {"kind": "image", "name": "a", "content_hash": "h0",
                                                            "width": 200, "height": 200}}),
                 OpDraft("ontology.class.create", team.cls, {"class": {"name": "lesion"}}),
                 OpDraft("user.add", bob, {"name": "bob"}), OpDraft("role.grant", bob, {"role": "annotator"})])
    report = engine.init_share(a, pair.a.folder)
    assert report.state == "ok" and any("found a Syncthing folder" in n for n in report.notes)
    assert STIGNORE_KEY in (pair.a.folder / ".stignore").read_text().splitlines()

    # Syncthing brings the share to beta's folder; bob joins from there
    marker = pair.b.folder / "labeldesk-project.json"
    pair.wait(lambda: marker.exists() and list((pair.b.folder / "devices").glob("*/segments/seg-*.jsonl")),
              90, "the share to reach beta")
    b, report = engine.join_share(pair.b.folder, b_dir, user="bob")
    assert any("Syncthing" in n for n in report.notes)
    assert (pair.b.folder / ".stignore").exists()            # never synced: beta wrote its own
    # bob's signing key request travels to alpha through Syncthing; the admin enrols it
    pair.wait(lambda: _enrolled(a, "bob"), 90, "bob's key request to reach alpha")
    a.my_layer_id, b.my_layer_id
    reports: list = []

    def edits(n: int) -> None:
        for i in range(n):
            team.box(a, 5 + i)
            team.box(b, 50 + i)
        _round(a, reports)
        _round(b, reports)

    edits(5)
    pair.b.pause(pair.a)                                    # beta's Syncthing stops talking to alpha
    edits(5)
    time.sleep(1.5)
    edits(5)
    pair.b.resume(pair.a)
    edits(3)
    pair.a.kill9()                                          # mid-stream: alpha's Syncthing dies
    edits(5)
    pair.a.start()
    edits(3)

    def converged() -> bool:
        pair.a.scan()
        pair.b.scan()
        _round(a, reports)
        _round(b, reports)
        return (_ops(a) == _ops(b) and state_digest(a.conn) == state_digest(b.conn)
                and status(a)["outbox"] == status(b)["outbox"] == 0)

    try:
        pair.wait(converged, 120, "the replicas to converge", step=0.5)
    except TimeoutError:
        last = {k: v for k, v in reports[-1].to_dict().items() if k in ("state", "message", "problems", "received")}
        pytest.fail(f"no convergence: ops {_ops(a)} vs {_ops(b)}; last round {last}; problems "
                    f"{sorted({p for r in reports for p in r.problems})[:5]}\n--- alpha\n{pair.a.log_tail()}"
                    f"\n--- beta\n{pair.b.log_tail()}")
    boxes = "SELECT COUNT(*) FROM annotations WHERE deleted = 0"
    assert a.conn.execute(boxes).fetchone()[0] == b.conn.execute(boxes).fetchone()[0] == 2 * 26
    # nothing reported as a problem, on any round; no sync-tool file counted as one
    problems = [p for r in reports for p in r.problems]
    assert problems == [], problems
    assert all(r.state == "ok" for r in reports[-4:])
    for project in (a, b):
        s = status(project)
        assert all(not d["problems"] for d in s["devices"]), s["devices"]
        assert s["outbox"] == 0 and s["pending"] == 0
    # our temp files never reached the other side: Syncthing skipped them (.stignore)
    for folder in (pair.a.folder, pair.b.folder):
        leftovers = [p.name for p in folder.rglob("*") if ".~ld." in p.name or p.name.startswith(".syncthing.")]
        assert leftovers == [], leftovers
    a.close()
    b.close()
    assert main(["share", "status", str(a_dir)]) == 0
    out = capsys.readouterr().out
    assert "problem" not in out and "ALERT" not in out


def _enrolled(admin, user: str) -> bool:
    """The admin enrols the member's key once its request has arrived (False: not there yet).
    Both replicas of this test share one keyring, so the admin's replica may have enrolled the key
    by itself (its private half is on "this machine"); either way the key must end up enrolled."""
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review.roles import find_user
    uid = find_user(admin.conn, user)
    if admin.conn.execute("SELECT 1 FROM user_keys WHERE user_id = ? AND enrolled_by_op IS NOT NULL",
                          (uid,)).fetchone():
        return True
    try:
        enrolment.enrol(admin, user)
    except LabeldeskError as exc:
        if "no key of user" in str(exc):
            return False
        raise
    return True
