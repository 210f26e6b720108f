from __future__ import annotations

import csv
import io
import json

import pytest
from review_team import add_team, box

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Plane
from labeldesk.core.review import adjudication, assignment, audit, issues, workflow


def _story(project, add_asset):
    team = add_team(project)
    a1, a2 = add_asset(project), add_asset(project)
    [task] = assignment.assign(project, [a1], to=[team["bob"]])
    box(project, a1, task.layer_id, team["bob"])
    box(project, a2, project.my_layer_id, team["alice"])
    workflow.submit(project, a1, task.layer_id, user=team["bob"])
    workflow.decide(project, a1, task.layer_id, "return", user=team["rita"], reason="wrong class")
    issues.open_issue(project, a1, Plane(), (3, 4), "look here", user=team["rita"])
    return team, a1, a2, task


def test_audit_filters_by_asset_user_and_period(project, add_asset):
    team, a1, a2, task = _story(project, add_asset)
    everything = audit.audit(project)
    assert everything.chain_ok and everything.ops_checked == project.counts()["ops"] == len(everything.rows)
    by_asset = audit.audit(project, asset=a1)
    assert by_asset.rows and all(r.asset_id == a1 for r in by_asset.rows)
    assert {"asset.add", "task.assign", "annotation.create", "review.submit", "review.decide", "issue.open"} <= \
        {r.type for r in by_asset.rows}
    by_rita = audit.audit(project, user="rita")
    assert [r.type for r in by_rita.rows] == ["review.decide", "issue.open"]
    decide = by_rita.rows[0]
    assert decide.reason == "wrong class" and decide.user == "rita" and decide.device == project.device_id
    assert decide.summary.startswith("return layer bob") and decide.chain_verified
    wall = decide.wall_utc
    assert audit.audit(project, since="2999-01-01").rows == []
    assert len(audit.audit(project, until="2000-01-01").rows) == 0
    assert audit.audit(project, user="rita", since=wall, until=wall).rows[0].op_id == decide.op_id
    assert audit.audit(project, until=wall[:10]).rows               # a bare date means the whole day
    with pytest.raises(LabeldeskError, match="ISO 8601"):
        audit.audit(project, since="yesterday")
    with pytest.raises(LabeldeskError, match="no single user"):
        audit.audit(project, user="nobody")


def test_csv_and_json_exports_carry_the_chain_verification(project, add_asset):
    _story(project, add_asset)
    report = audit.audit(project, user="rita")
    rows = list(csv.DictReader(io.StringIO(audit.to_csv(report))))
    assert tuple(rows[0].keys()) == audit.COLUMNS
    assert rows[0]["type"] == "review.decide" and rows[0]["reason"] == "wrong class"
    assert rows[0]["chain_verified"] == "true" and len(rows[0]["op_hash"]) == 64
    data = json.loads(audit.to_json(report))
    assert data["chain"]["verified"] is True and data["count"] == 2
    assert data["ops"][1]["summary"].startswith("issue at image_xy (3, 4)")


def test_a_tampered_log_shows_in_the_export(project, add_asset):
    _story(project, add_asset)
    conn = project.conn
    conn.execute("DROP TRIGGER ops_no_update")            # what an attacker with the file could do
    conn.execute("UPDATE ops SET reason = 'looked fine' WHERE type = 'review.decide'")
    report = audit.audit(project)
    assert not report.chain_ok and "does not match" in report.problem
    bad = next(r for r in report.rows if r.type == "review.decide")
    assert not bad.chain_verified and report.first_bad == bad.op_id
    assert all(r.chain_verified for r in report.rows if r.local_order < bad.local_order)
    assert "BROKEN" in report.chain_text()
    assert json.loads(audit.to_json(report))["chain"]["verified"] is False


def test_adjudication_shows_its_reason_and_provenance(project, add_asset):
    team, a1, _, task = _story(project, add_asset)
    adjudication.adjudicate(project, a1, reason="kept bob's box", user=team["ada"], from_layer=task.layer_id)
    rows = audit.audit(project, user="ada").rows
    assert [r.type for r in rows] == ["layer.create", "annotation.create", "review.adjudicate"]
    assert "copy of" in rows[1].summary and rows[2].reason == "kept bob's box"


def test_a_device_clock_ahead_is_flagged(project):
    from labeldesk.core.ops import Op, get_op_type
    from labeldesk.core.store import oplog
    import time
    now_ms = int(time.time() * 1000)
    op = Op("dev2:000000000001", "dev2", 1, (now_ms + 3_600_000, 0), "2999-01-01T00:00:00.000Z", project.user_id,
            "project.settings", None, {"set": {"note": "from the future"}})
    with project.transaction() as conn:
        oplog.append(conn, op, outbox=False)
        get_op_type(op.type).apply(conn, op, None)
    rows = audit.audit(project).rows
    assert "clock ahead" in rows[-1].clock_flag and rows[-1].device == "dev2"
    assert all(r.clock_flag == "" for r in rows[:-1])
    assert "clock ahead" in list(csv.DictReader(io.StringIO(audit.to_csv(audit.audit(project)))))[-1]["clock_flag"]
