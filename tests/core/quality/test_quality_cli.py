"""The quality commands end to end through `labeldesk …` (main), on a small team project."""
from __future__ import annotations

import json

import pytest

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.review import assignment, workflow
from tests.core.conftest import add_image_asset
from tests.core.quality.conftest import add_boxes, make_class
from tests.core.quality.test_team_quality import add_team, own_layer


@pytest.fixture(autouse=True)
def as_alice(monkeypatch):
    monkeypatch.setenv("LABELDESK_USER", "alice")


@pytest.fixture
def team_project(tmp_path):
    p = Project.create(tmp_path / "proj", "test", user_name="alice")
    team = add_team(p)
    cls = make_class(p, "cell")
    assets = [add_image_asset(p, 200, 200) for _ in range(4)]
    for a in assets:
        add_boxes(p, a, cls, [(10, 10, 50, 50), (60, 60, 100, 100)])
    add_boxes(p, assets[0], cls, [(120, 120, 121, 150)])               # a tiny one
    assignment.assign(p, assets, to=[team["bob"]])
    lb = own_layer(p, team["bob"])
    for a in assets:
        p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": a, "layer_id": lb, "class_id": cls, "geometry": {"kind": "box", "xyxy": [10, 10, 50, 52]}}}),
            user=team["bob"])
        workflow.submit(p, a, lb, user=team["bob"])
        workflow.decide(p, a, lb, "approve" if a != assets[3] else "return", user=team["rita"],
                        reason=None if a != assets[3] else "missed one")
    from labeldesk.core.sync import enrolment          # acting as a member (--as) needs their key here
    for name in ("bob", "carol", "rita", "rex"):
        enrolment.make_key(p, team[name])
        enrolment.enrol(p, name)
    root, names = p.root, [x.name for x in p.assets()]
    p.close()
    return root, names


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_waive_and_strict(team_project, capsys):
    root, _ = team_project
    code, out, _ = run(capsys, "check", root, "--only", "tiny")
    assert code == 0 and "tiny cell" in out and "1 finding(s): tiny 1" in out, _
    key = next(line.split()[-1] for line in out.splitlines() if "tiny cell" in line)
    assert run(capsys, "check", root, "--only", "tiny", "--strict")[0] == 3
    code, out, _ = run(capsys, "check", root, "--waive", key, "--note", "a thin vessel")
    assert code == 0 and "1 finding(s) not a problem" in out
    code, out, _ = run(capsys, "check", root, "--only", "tiny", "--strict")
    assert code == 0 and "no findings" in out
    code, out, _ = run(capsys, "check", root, "--set", "tiny_px=50", "--save", "--format", "json", "--only", "tiny")
    data = json.loads(out)
    assert data["thresholds"]["tiny_px"] == 50 and len(data["findings"]) > 4
    code, out, _ = run(capsys, "check", root, "--only", "tiny", "--format", "json")
    assert json.loads(out)["thresholds"]["tiny_px"] == 50               # saved for the project
    code, _, err = run(capsys, "check", root, "--set", "bogus=1")
    assert code == 1 and "unknown check threshold 'bogus'" in err


def test_tags_batches_filters_and_assign(team_project, capsys):
    root, names = team_project
    assert run(capsys, "tag", "set", root, "site=A", "--assets", names[0], names[1])[0] == 0
    assert run(capsys, "tag", "set", root, "site=B", "--where", "tag:site=A", "--as", "bob")[0] == 0
    code, out, _ = run(capsys, "tag", "list", root)
    assert out.strip() == "site: B (2)"
    assert run(capsys, "batch", "create", root, "pilot", "--where", "tag:site=B", "--note", "first two")[0] == 0
    code, out, _ = run(capsys, "batch", "show", root, "pilot")
    assert out.split() == names[:2]
    code, out, _ = run(capsys, "filter", "save", root, "todo-B", "batch:pilot", "order:name", "--queue")
    assert "saved queue 'todo-B': batch:pilot order:name" in out
    code, out, _ = run(capsys, "filter", "list", root)
    assert "queue  todo-B" in out and "(2 asset(s))" in out
    code, out, _ = run(capsys, "filter", "assign", root, "todo-B", "--to", "carol")
    assert "2 new assignment(s)" in out
    code, _, err = run(capsys, "batch", "create", root, "x", "--as", "bob", "--where", "tag:site=B")
    assert code == 1 and "needs role" in err
    code, _, err = run(capsys, "filter", "show", root, "colour:red")
    assert code == 1 and "bad filter term 'colour:red'" in err


def test_backup_and_restore_cli(team_project, capsys, tmp_path):
    root, _ = team_project
    code, out, _ = run(capsys, "backup", root, tmp_path / "bk")
    assert code == 0 and "op chain verified" in out, _
    path = next((tmp_path / "bk").iterdir())
    code, out, _ = run(capsys, "restore", path, tmp_path / "again", "--verify-only")
    assert code == 0 and out.startswith("ok:")
    code, out, _ = run(capsys, "restore", path, tmp_path / "again")
    assert code == 0 and "restored" in out
    code, out, _ = run(capsys, "info", tmp_path / "again")
    assert "hash chain verified" in out
    code, _, err = run(capsys, "restore", tmp_path / "nothing.bak", tmp_path / "x")
    assert code == 1 and "nothing.bak: no such backup file" in err


def test_gold_audit_and_dashboard(team_project, capsys):
    root, names = team_project
    code, out, _ = run(capsys, "gold", "mark", root, names[0], names[1], "--layer", "alice")
    assert code == 0 and "2 gold item(s) marked" in out
    code, out, _ = run(capsys, "gold", "scores", root, "--format", "json")
    rows = json.loads(out)["Gold scores"]
    assert {r["user_name"] for r in rows} == {"bob"} and all(0 < r["score"] < 1 for r in rows)
    code, out, _ = run(capsys, "gold", "qualify", root, "--min-score", "0.2", "--min-items", "2")
    assert "bob" in out and "QUALIFIED" in out
    code, out, _ = run(capsys, "audit-sample", "sample", root, "--share", "1", "--seed", "1")
    assert "3 approved item(s) sent for a blind audit" in out
    code, out, _ = run(capsys, "audit-sample", "list", root, "--as", "rex")
    first = out.split()[0]
    assert "rita" not in out                       # blind: the approving reviewer is not shown
    assert run(capsys, "audit-sample", "record", root, first, "fail", "--note", "missed", "--as", "rex")[0] == 0
    code, out, _ = run(capsys, "audit-sample", "report", root)
    assert "bob" in out and "1.000" in out
    code, out, _ = run(capsys, "dashboard", root, "--objective", "gold_score", ">=0.9",
                       "--objective", "rework_rate", "<=0.5", "--format", "json")
    d = json.loads(out)
    bob = next(r for r in d["Annotators"] if r["annotator"] == "bob")
    assert bob["annotations"] == 4 and bob["items"] == 4 and bob["rework_rate"] == 0.25
    assert bob["audits"] == 1 and bob["audit_pass_rate"] == 0.0
    objectives = {o["metric"]: o for o in d["Objectives"]}
    assert objectives["gold_score"]["met"] is False and objectives["rework_rate"]["met"] is True
    code, out, _ = run(capsys, "dashboard", root, "--format", "csv", "--no-agreement")
    assert out.startswith("table,annotator,") and "Annotators,bob," in out


def test_metrics_pair_without_shared_assets_is_na(tmp_path, capsys):
    p = Project.create(tmp_path / "p", "t", user_name="alice")
    team = add_team(p)
    a, b = add_image_asset(p), add_image_asset(p)
    assignment.assign(p, [a], to=[team["bob"]])
    assignment.assign(p, [b], to=[team["carol"]])
    for asset, who in ((a, "bob"), (b, "carol")):
        p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": own_layer(p, team[who]), "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}),
            user=team[who])
    root = p.root
    p.close()
    code, out, _ = run(capsys, "metrics", root, "--layers", "bob", "carol", "-q")
    pair = next(line for line in out.splitlines() if line.strip().startswith("bob") and "carol" in line)
    assert "1.000" not in pair and "n/a" in pair
