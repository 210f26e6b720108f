from __future__ import annotations

import pytest
from review_team import add_team

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.model import Plane
from labeldesk.core.ops import Op, get_op_type
from labeldesk.core.review import issues
from labeldesk.core.store import oplog


def test_issue_pinned_to_a_plane_point_with_a_thread(project, add_asset):
    team = add_team(project)
    vol = add_asset(project, 64, 64, depth=10, kind="volume")
    iid = issues.open_issue(project, vol, Plane(z=7, axis="axial"), (12.5, 30), "margin unclear", user=team["rita"])
    issues.comment(project, iid, "which slice?", user=team["bob"])
    issues.comment(project, iid, "z=7, upper left", user=team["rita"])
    [i] = issues.issues(project.conn, vol)
    assert i.plane == Plane(z=7, axis="axial") and i.image_xy == (12.5, 30) and i.user_name == "rita"
    assert [c.text for c in i.comments] == ["which slice?", "z=7, upper left"]
    assert i.status == "open"
    issues.set_status(project, iid, True, user=team["bob"], text="fixed the margin")
    assert issues.issue(project.conn, iid).status == "resolved"
    assert issues.issues(project.conn, status="open") == []
    with pytest.raises(LabeldeskError, match="resolved already"):
        issues.set_status(project, iid, True, user=team["bob"])
    issues.set_status(project, iid, False, user=team["rita"], text="still wrong")
    assert issues.issue(project.conn, iid).status == "open"


def test_issue_validation(project, image_asset):
    with pytest.raises(OpRejected, match="outside"):
        issues.open_issue(project, image_asset, Plane(), (500, 5), "far away")
    with pytest.raises(LabeldeskError, match="text"):
        issues.open_issue(project, image_asset, Plane(), (5, 5), "  ")
    iid = issues.open_issue(project, image_asset, Plane(), (5, 5), "here")
    with pytest.raises(LabeldeskError, match="text"):
        issues.comment(project, iid, "")


def test_a_reopen_concurrent_with_a_resolve_keeps_the_issue_open(project, image_asset):
    team = add_team(project)
    iid = issues.open_issue(project, image_asset, Plane(), (5, 5), "check", user=team["rita"])
    first = issues.set_status(project, iid, True, user=team["rita"])
    issues.set_status(project, iid, False, user=team["rex"])          # supersedes the resolve
    assert issues.issue(project.conn, iid).status == "open"
    # another device resolved on top of the first resolve only, not having seen the reopen
    op = Op("dev2:000000000001", "dev2", 1, (1, 0), "2026-12-01T08:00:00.000Z", team["bob"], "issue.resolve",
            ids.new_id(), {"issue_id": iid, "supersedes": [first]})
    with project.transaction() as conn:
        oplog.append(conn, op, outbox=False)
        get_op_type(op.type).apply(conn, op, None)
    assert issues.issue(project.conn, iid).status == "open"
    heads = issues.status_heads(issues.issue(project.conn, iid).events)
    assert {e.kind for e in heads} == {"resolve", "reopen"}
