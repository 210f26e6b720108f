"""The review commands end to end through `labeldesk.cli.main`."""
from __future__ import annotations

import csv
import io
import json

import pytest
from review_team import box

from labeldesk.cli import main
from labeldesk.core.project import Project
from labeldesk.core.review import workflow


@pytest.fixture
def proj(tmp_path, monkeypatch, add_asset):
    monkeypatch.delenv("LABELDESK_USER", raising=False)
    root = tmp_path / "p"
    p = Project.create(root, user_name="alice")
    assets = [add_asset(p), add_asset(p)]
    p.close()
    return str(root), assets


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _team(capsys, root):
    assert run(capsys, "user", "add", root, "bob", "--role", "annotator", "--reason", "hired")[0] == 0
    assert run(capsys, "user", "add", root, "carol", "--role", "annotator", "--reason", "hired")[0] == 0
    assert run(capsys, "user", "add", root, "rita", "--reason", "hired", "--role", "reviewer")[0] == 0
    assert run(capsys, "user", "add", root, "rex", "--role", "reviewer", "--reason", "hired")[0] == 0
    assert run(capsys, "user", "add", root, "ada")[0] == 0
    code, out, _ = run(capsys, "user", "grant", root, "ada", "adjudicator", "--reason", "senior radiologist")
    assert code == 0 and "granted adjudicator to ada" in out
    # acting as a member (--as) needs their private key here: each makes one on this workstation
    # and the admin enrols it (a name alone proves nothing)
    for name in ("bob", "carol", "rita", "rex", "ada"):
        assert run(capsys, "share", "key", "new", root, "--user", name)[0] == 0
        assert run(capsys, "share", "enrol", root, name)[0] == 0


def test_users_roles_and_acting_as(proj, capsys, monkeypatch):
    root, _ = proj
    _team(capsys, root)
    code, out, _ = run(capsys, "user", "list", root, "--json")
    roles = {u["name"]: u["roles"] for u in json.loads(out)}
    assert roles == {"alice": ["adjudicator", "admin", "annotator", "reviewer"], "bob": ["annotator"], "carol": ["annotator"],
                     "rita": ["reviewer"], "rex": ["reviewer"], "ada": ["adjudicator"]}
    # a role change needs a reason
    code, _, err = run(capsys, "user", "add", root, "dan", "--role", "reviewer")
    assert code == 1 and "reason" in err
    # bob is no admin: refused, naming bob, the op and the role
    code, _, err = run(capsys, "user", "grant", root, "bob", "admin", "--reason", "x", "--as", "bob")
    assert code == 1 and "'bob'" in err and "give a role" in err and "role admin" in err
    monkeypatch.setenv("LABELDESK_USER", "bob")
    code, _, err = run(capsys, "user", "revoke", root, "rita", "reviewer", "--reason", "x")
    assert code == 1 and "'bob'" in err
    monkeypatch.delenv("LABELDESK_USER")
    code, out, _ = run(capsys, "user", "revoke", root, "rex", "reviewer", "--reason", "left the team")
    assert code == 0 and "revoked reviewer from rex" in out
    code, _, err = run(capsys, "user", "revoke", root, "alice", "admin", "--reason", "x")
    assert code == 1 and "without an admin" in err


def test_assign_submit_review_queue_adjudicate(proj, capsys):
    root, (a1, a2) = proj
    _team(capsys, root)
    code, _, err = run(capsys, "assign", root, a1, "--to", "bob", "--as", "carol")
    assert code == 1 and "'carol'" in err and "admin or reviewer" in err
    code, out, _ = run(capsys, "assign", root, "--per-asset", "2", "--as", "rita")
    assert code == 0 and "4 new assignments" in out
    with Project.open(root) as p:
        uid = {u.name: u.id for u in p.users()}
        tasks = workflow.item_states(p.conn, a1)
        owners = [t.owner_name for t in tasks]
        for t in tasks:
            box(p, a1, t.layer_id, t.owner_id)
    assert len(owners) == 2
    first, second = owners
    for name in owners:
        code, out, _ = run(capsys, "submit", root, a1, "--as", name)
        assert code == 0 and "submitted" in out
    code, out, _ = run(capsys, "queue", root, "--json")
    queue = json.loads(out)
    assert sorted(e["state"] for e in queue) == ["needs_adjudication", "submitted", "submitted"]
    code, _, err = run(capsys, "review", root, a1, "--layer", first, "--return", "", "--as", "rita")
    assert code == 1 and "reason" in err
    code, out, _ = run(capsys, "review", root, a1, "--layer", first, "--return", "too loose", "--as", "rita")
    assert code == 0 and "returned" in out
    code, out, _ = run(capsys, "review", root, a1, "--layer", second, "--approve", "--as", "rita")
    assert code == 0 and "approved" in out
    code, out, _ = run(capsys, "tasks", root, "--user", first)
    assert "returned" in out and "too loose" in out
    code, _, err = run(capsys, "adjudicate", root, a1, "--from-layer", second, "--reason", "ok", "--as", "rita")
    assert code == 1 and "adjudicator" in err
    code, out, _ = run(capsys, "adjudicate", root, a1, "--from-layer", second, "--reason", "second is right",
                       "--as", "ada")
    assert code == 0 and "1 annotation(s) copied" in out
    code, out, _ = run(capsys, "tasks", root, "--json")
    states = {(t["asset_id"], t["owner"]): t["state"] for t in json.loads(out)}
    assert states[(a1, first)] == states[(a1, second)] == "adjudicated"
    assert sorted(s for (asset, _), s in states.items() if asset == a2) == ["todo", "todo"]
    assert set(owners) <= set(uid)


def test_fix_approve_and_stale_approval_in_the_queue(proj, capsys):
    root, (a1, _) = proj
    _team(capsys, root)
    run(capsys, "assign", root, a1, "--to", "bob")
    with Project.open(root) as p:
        layer = workflow.resolve_layer(p.conn, a1, "bob", None)
        ann = box(p, a1, layer, next(u.id for u in p.users() if u.name == "bob"))
    run(capsys, "submit", root, a1, "--as", "bob")
    code, out, _ = run(capsys, "review", root, a1, "--fix-approve", "--as", "rita")
    assert code == 0 and "fix-approve" in out and "approved" in out
    with Project.open(root) as p:
        from labeldesk.core.ops import OpDraft
        p.apply(OpDraft("annotation.delete", ann, {}), user=next(u.id for u in p.users() if u.name == "bob"))
    code, out, _ = run(capsys, "queue", root)
    assert "stale" in out and "1 item(s) need review" in out


def test_issue_commands(proj, capsys):
    root, (a1, _) = proj
    _team(capsys, root)
    code, out, _ = run(capsys, "issue", "open", root, a1, "edge is off", "--at", "10,12", "--z", "0", "--as", "rita")
    assert code == 0
    iid = out.split()[-1]
    assert run(capsys, "issue", "comment", root, iid[:13], "fixed?", "--as", "bob")[0] == 0
    assert run(capsys, "issue", "resolve", root, iid, "--note", "done", "--as", "bob")[0] == 0
    code, out, _ = run(capsys, "issue", "list", root, "--status", "resolved")
    assert "[resolved]" in out and "edge is off" in out and "bob comment: fixed?" in out
    assert run(capsys, "issue", "reopen", root, iid, "--as", "rita")[0] == 0
    code, out, _ = run(capsys, "issue", "list", root, "--json", "--asset", a1)
    [issue] = json.loads(out)
    assert issue["status"] == "open" and issue["image_xy"] == [10.0, 12.0]
    assert [e["kind"] for e in issue["events"]] == ["comment", "resolve", "reopen"]
    code, _, err = run(capsys, "issue", "open", root, a1, "x", "--at", "ten,12")
    assert code == 1 and "X,Y" in err


def test_audit_command_csv_json_and_file(proj, capsys, tmp_path):
    root, (a1, _) = proj
    _team(capsys, root)
    run(capsys, "issue", "open", root, a1, "look", "--at", "1,1", "--as", "rita")
    code, out, err = run(capsys, "audit", root, "--user", "rita")
    assert code == 0 and "hash chain verified" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["type"] for r in rows] == ["issue.open"] and rows[0]["user"] == "rita"
    dest = tmp_path / "audit.json"
    code, out, err = run(capsys, "audit", root, "--asset", a1, "--format", "json", "-o", dest, "--since", "2000-01-01")
    data = json.loads(dest.read_text())
    assert code == 0 and data["chain"]["verified"] and {o["type"] for o in data["ops"]} == {"asset.add", "issue.open"}
    grants = json.loads(run(capsys, "audit", root, "--format", "json")[1])["ops"]
    assert any(o["type"] == "role.grant" and o["reason"] == "senior radiologist" for o in grants)
    code, _, err = run(capsys, "audit", root, "--since", "soon")
    assert code == 1 and "ISO 8601" in err


def test_visible_command_is_blind_for_annotators(proj, capsys):
    root, (a1, _) = proj
    _team(capsys, root)
    run(capsys, "assign", root, a1, "--to", "bob", "--to", "carol")
    code, out, _ = run(capsys, "visible", root, a1, "--as", "bob")
    assert code == 0 and "bob" in out and "carol " not in out and "hidden from bob" in out
    code, out, _ = run(capsys, "visible", root, a1, "--as", "rita")
    assert "bob" in out and "carol" in out and "hidden" not in out
