"""Audits: a share of approved items goes back to a second reviewer, blind.

:func:`sample` picks, among approved (or adjudicated) items not audited at their current
revision, a share at random and assigns each to a reviewer who neither owns the layer nor made
the approving decision (``quality.audit.assign``). The audit reviewer is shown the item, not the
first decision. :func:`record` stores the outcome (``quality.audit.record``: pass or fail).
:func:`report` gives the outcome and rate per annotator, per week.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import Applied, OpDraft
from labeldesk.core.quality import records

AUDITABLE = ("approved", "adjudicated")


@dataclass
class Audit:
    id: str
    asset_id: str
    asset_name: str
    layer_id: str
    owner_id: str | None
    owner_name: str
    reviewer_id: str
    reviewer_name: str
    assigned: str                  # wall time of the assignment
    outcome: str | None            # pass | fail | None (open)
    note: str
    decided: str | None


def _reviewers(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT u.id FROM users u JOIN roles r ON r.user_id = u.id "
                                       "WHERE r.role IN ('reviewer', 'adjudicator') ORDER BY u.name, u.id")]


def sample(project: Any, share: float, *, reviewers: list[str] | None = None, seed: int | None = None,
           user: str | None = None) -> list[Applied]:
    from labeldesk.core.review.workflow import item_states
    if not 0 < share <= 1:
        raise LabeldeskError("the audit share must be in (0, 1], e.g. 0.1 for one in ten")
    recs = records.load(project.conn)
    done = {(a.payload["asset"], a.payload["layer"], a.payload["revision"]) for a in recs.audits.values()}
    items = [it for it in item_states(project.conn) if it.state in AUDITABLE
             and (it.asset_id, it.layer_id, it.revision) not in done]
    if not items:
        return []
    pool = reviewers or _reviewers(project.conn)
    if not pool:
        raise LabeldeskError("no user has the reviewer role to audit (`labeldesk user grant NAME reviewer`)")
    rng = random.Random(seed)
    k = max(1, round(share * len(items)))
    drafts = []
    for n, it in enumerate(sorted(rng.sample(items, k), key=lambda i: (i.asset_name, i.layer_name))):
        deciders = {d.user_id for d in it.decisions}
        eligible = [r for r in pool if r != it.owner_id and r not in deciders]
        if not eligible:
            continue
        reviewer = eligible[n % len(eligible)]
        drafts.append(OpDraft("quality.audit.assign", ids.new_id(), {
            "asset": it.asset_id, "layer": it.layer_id, "revision": it.revision, "reviewer": reviewer}))
    if not drafts:
        raise LabeldeskError("every sampled item was approved by the only available reviewers; "
                             "add a second reviewer for blind audits")
    return project.apply_all(drafts, user=user)


def record(project: Any, audit_id: str, outcome: str, note: str = "", *, user: str | None = None) -> Applied:
    recs = records.load(project.conn)
    match = [a for a in recs.audits if a == audit_id or a.startswith(audit_id)]
    if len(match) != 1:
        raise LabeldeskError(f"no single audit {audit_id!r} (see `labeldesk audit-sample list`)")
    return project.apply(OpDraft("quality.audit.record", match[0], {"outcome": outcome, "note": note}), user=user)


def audits(project: Any) -> list[Audit]:
    recs = records.load(project.conn)
    names = {u.id: u.name for u in project.users()}
    assets = {a.id: a.name for a in project.assets(include_removed=True)}
    owners = {r[0]: r[1] for r in project.conn.execute("SELECT id, owner FROM layers")}
    out = []
    for aid, rec in recs.audits.items():
        p = rec.payload
        res = recs.outcomes.get(aid)
        owner = owners.get(p["layer"])
        out.append(Audit(aid, p["asset"], assets.get(p["asset"], p["asset"]), p["layer"], owner,
                         names.get(owner or "", "—"), p["reviewer"], names.get(p["reviewer"], p["reviewer"]),
                         rec.wall, res.payload["outcome"] if res else None,
                         res.payload.get("note", "") if res else "", res.wall if res else None))
    return out


def week_of(wall: str) -> str:
    d = dt.date.fromisoformat(wall[:10])
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def report(project: Any) -> list[dict[str, Any]]:
    """Per annotator and week of the outcome: audited, passed, failed, fail rate; plus 'all' weeks."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for a in audits(project):
        if a.outcome is None:
            continue
        for week in (week_of(a.decided or a.assigned), "all"):
            r = rows.setdefault((a.owner_name, week), {"annotator": a.owner_name, "week": week,
                                                      "audited": 0, "passed": 0, "failed": 0})
            r["audited"] += 1
            r["passed" if a.outcome == "pass" else "failed"] += 1
    for r in rows.values():
        r["fail_rate"] = round(r["failed"] / r["audited"], 4)
    return sorted(rows.values(), key=lambda r: (r["annotator"], r["week"] == "all", r["week"]))
