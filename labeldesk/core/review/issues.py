"""Issues pinned to a point on a plane of an asset, with comment threads, resolve and reopen.

An issue and each of its events (comment, resolve, reopen) is an immutable record. Its status is
derived: a resolve or reopen lists the status events it saw (``supersedes``); the open ones decide
— resolved only if every open status event is a resolve, so a reopen concurrent with a resolve
keeps the issue open (nothing is silently closed).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft


@dataclass(frozen=True)
class IssueEvent:
    id: str
    kind: str             # comment | resolve | reopen
    text: str | None
    user_name: str
    refs: tuple[str, ...]
    op_id: str
    hlc: tuple[int, int]


@dataclass
class Issue:
    id: str
    asset_id: str
    asset_name: str
    plane: Plane
    image_xy: tuple[float, float]
    text: str
    user_name: str
    layer_id: str | None
    annotation_id: str | None
    status: str = "open"                      # open | resolved
    events: list[IssueEvent] = field(default_factory=list)

    @property
    def comments(self) -> list[IssueEvent]:
        return [e for e in self.events if e.kind == "comment"]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "asset_id": self.asset_id, "asset": self.asset_name, "plane": self.plane.to_dict(),
                "image_xy": list(self.image_xy), "text": self.text, "by": self.user_name, "status": self.status,
                "layer_id": self.layer_id, "annotation_id": self.annotation_id,
                "events": [{"id": e.id, "kind": e.kind, "text": e.text, "by": e.user_name} for e in self.events]}


def status_heads(events: list[IssueEvent]) -> list[IssueEvent]:
    status = [e for e in events if e.kind != "comment"]
    seen = {r for e in status for r in e.refs}
    return [e for e in status if e.id not in seen]


def _status(events: list[IssueEvent]) -> str:
    heads = status_heads(events)
    return "resolved" if heads and all(e.kind == "resolve" for e in heads) else "open"


def issues(conn: Any, asset_id: str | None = None, status: str | None = None) -> list[Issue]:
    sql = ("SELECT i.*, u.name AS user_name, a.name AS asset_name FROM issues i LEFT JOIN users u ON u.id = i.user_id"
           " LEFT JOIN assets a ON a.id = i.asset_id" + (" WHERE i.asset_id = ?" if asset_id else "")
           + " ORDER BY i.hlc_ms, i.hlc_ctr, i.op_id")
    out = {r["id"]: Issue(r["id"], r["asset_id"], r["asset_name"] or r["asset_id"],
                          Plane(r["plane_z"], r["plane_t"], r["plane_axis"]), (r["x"], r["y"]), r["text"],
                          r["user_name"] or str(r["user_id"]), r["layer_id"], r["annotation_id"])
           for r in conn.execute(sql, (asset_id,) if asset_id else ())}
    for r in conn.execute("SELECT e.*, u.name AS user_name FROM issue_events e LEFT JOIN users u ON u.id = e.user_id"
                          " ORDER BY e.hlc_ms, e.hlc_ctr, e.op_id"):
        issue = out.get(r["issue_id"])
        if issue is not None:
            issue.events.append(IssueEvent(r["id"], r["kind"], r["text"], r["user_name"] or str(r["user_id"]),
                                           tuple(json.loads(r["refs"])), r["op_id"], (r["hlc_ms"], r["hlc_ctr"])))
    for issue in out.values():
        issue.status = _status(issue.events)
    return [i for i in out.values() if status is None or i.status == status]


def issue(conn: Any, issue_id: str) -> Issue:
    found = [i for i in issues(conn) if i.id == issue_id or i.id.startswith(issue_id)]
    if len(found) != 1:
        raise LabeldeskError(f"no single issue {issue_id!r} (`labeldesk issue list` shows their ids)")
    return found[0]


def open_issue(project: Any, asset_id: str, plane: Plane, image_xy: tuple[float, float], text: str, *,
               user: str | None = None, layer_id: str | None = None, annotation_id: str | None = None) -> str:
    if not text.strip():
        raise LabeldeskError("an issue needs a text")
    issue_id = ids.new_id()
    project.apply(OpDraft("issue.open", issue_id, {
        "asset_id": asset_id, "plane": plane.to_dict(), "image_xy": [float(image_xy[0]), float(image_xy[1])],
        "text": text, "layer_id": layer_id, "annotation_id": annotation_id}), user=user)
    return issue_id


def comment(project: Any, issue_id: str, text: str, *, user: str | None = None) -> str:
    if not text.strip():
        raise LabeldeskError("a comment needs a text")
    event_id = ids.new_id()
    project.apply(OpDraft("issue.comment", event_id, {"issue_id": issue_id, "text": text}), user=user)
    return event_id


def set_status(project: Any, issue_id: str, resolved: bool, *, user: str | None = None,
               text: str | None = None) -> str:
    """Resolve or reopen; the new event supersedes the status events this replica knows."""
    current = issue(project.conn, issue_id)
    want = "resolved" if resolved else "open"
    if current.status == want:
        raise LabeldeskError(f"issue {issue_id} is {want} already")
    event_id = ids.new_id()
    heads = [e.id for e in status_heads(current.events)]
    project.apply(OpDraft("issue.resolve" if resolved else "issue.reopen", event_id,
                          {"issue_id": current.id, "supersedes": heads, "text": text}), user=user)
    return event_id
