"""Dashboards: per annotator and per batch, computed from the op log and the review records.

* throughput: annotations made per active day; items (assets) worked on;
* time per item: active time on an asset (gaps between one's edits longer than ``IDLE`` are not
  counted), median over items;
* agreement: mean shape F1 of the annotator's layer against the other layers on shared assets;
* gold score (panoptic quality against gold items), audit pass rate, rework rate (returned
  decisions / all decisions on the annotator's layers);
* a weekly timeline of each, and project objectives (targets) with progress against them.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import Applied, OpDraft

IDLE = 300.0                        # seconds: a longer pause is not labelling time
OBJECTIVES = "quality_objectives"
METRICS = ("annotations", "items", "throughput_per_day", "time_per_item_min", "agreement_f1", "gold_score",
           "audit_pass_rate", "rework_rate")


@dataclass
class Dashboard:
    annotators: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)    # {week, annotator, metric values}
    objectives: list[dict[str, Any]] = field(default_factory=list)


def _seconds(wall: str) -> float:
    import datetime as dt
    return dt.datetime.fromisoformat(wall.replace("Z", "+00:00")).timestamp()


def _work(conn: Any) -> list[tuple[str, str, str]]:
    """(user id, asset id, wall) of every annotation op."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT o.user, COALESCE(json_extract(o.payload, '$.annotation.asset_id'), a.asset_id), o.wall FROM ops o "
        "LEFT JOIN annotations a ON a.id = o.entity WHERE o.type >= 'annotation.' AND o.type < 'annotation/' "
        "AND o.user IS NOT NULL ORDER BY o.hlc_ms, o.hlc_ctr")]


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 4) if values else None


def _summarise(work: list[tuple[str, str, str]], asset_filter: set[str] | None) -> dict[str, Any]:
    per_item: dict[str, list[float]] = defaultdict(list)
    days = set()
    n = 0
    for _, asset, wall in work:
        if asset_filter is not None and asset not in asset_filter:
            continue
        n += 1
        per_item[asset].append(_seconds(wall))
        days.add(wall[:10])
    active = [sum(min(b - a, IDLE) for a, b in zip(ts, ts[1:])) for ts in per_item.values()]
    return {"annotations": n, "items": len(per_item),
            "throughput_per_day": round(n / len(days), 2) if days else None,
            "time_per_item_min": round(statistics.median(active) / 60, 2) if active else None}


def _agreement(project: Any) -> dict[str, float]:
    """Mean shape F1 per layer id over its pairs (layers compared on assets both annotated)."""
    from labeldesk.core.review.comparison import compare_project
    layers = [l for l in project.layers() if l.kind == "annotator"]
    if len(layers) < 2:
        return {}
    from labeldesk.core.tasks import Progress
    report = compare_project(project, 0.5, None, Progress(None))
    f1s: dict[str, list[float]] = defaultdict(list)
    for row in report.pair_rows():
        if row["assets_compared"] and row["f1"] is not None:
            f1s[row["layer_a_id"]].append(row["f1"])
            f1s[row["layer_b_id"]].append(row["f1"])
    return {k: sum(v) / len(v) for k, v in f1s.items()}


def _rework(conn: Any) -> dict[str, tuple[int, int]]:
    """Per layer id: (returned decisions, all decisions)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for layer, decision in conn.execute("SELECT layer_id, decision FROM review_records WHERE kind = 'decide'"):
        out[layer][1] += 1
        out[layer][0] += decision == "return"
    return {k: (v[0], v[1]) for k, v in out.items()}


def build(project: Any, *, agreement: bool = True) -> Dashboard:
    from labeldesk.core.quality import audits, gold, records
    from labeldesk.core.quality.audits import week_of
    conn = project.conn
    users = {u.id: u.name for u in project.users()}
    layers_of: dict[str, list[str]] = defaultdict(list)
    for l in project.layers():
        if l.kind == "annotator" and l.owner:
            layers_of[l.owner].append(l.id)
    work = _work(conn)
    by_user: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for w in work:
        by_user[w[0]].append(w)
    scores = gold.scores(project)
    all_audits = [a for a in audits.audits(project) if a.outcome is not None]
    agree = _agreement(project) if agreement else {}
    rework = _rework(conn)
    dash = Dashboard()
    for uid in sorted(set(by_user) | set(layers_of), key=lambda u: users.get(u, u)):
        if uid not in layers_of and uid not in by_user:
            continue
        row: dict[str, Any] = {"annotator": users.get(uid, uid), **_summarise(by_user.get(uid, []), None)}
        row["agreement_f1"] = _mean([agree[l] for l in layers_of.get(uid, []) if l in agree])
        row["gold_score"] = _mean([s.score for s in scores if s.user_id == uid])
        mine = [a for a in all_audits if a.owner_id == uid]
        row["audits"] = len(mine)
        row["audit_pass_rate"] = round(sum(a.outcome == "pass" for a in mine) / len(mine), 4) if mine else None
        ret = [rework.get(l, (0, 0)) for l in layers_of.get(uid, [])]
        decided = sum(r[1] for r in ret)
        row["rework_rate"] = round(sum(r[0] for r in ret) / decided, 4) if decided else None
        dash.annotators.append(row)
        weeks: dict[str, dict[str, Any]] = defaultdict(dict)
        for _, asset, wall in by_user.get(uid, []):
            wk = weeks[week_of(wall)]
            wk["annotations"] = wk.get("annotations", 0) + 1
        for s in scores:
            if s.user_id == uid and s.when:
                weeks[week_of(s.when)].setdefault("_gold", []).append(s.score)
        for a in mine:
            weeks[week_of(a.decided or a.assigned)].setdefault("_audit", []).append(a.outcome == "pass")
        for wk_name in sorted(weeks):
            wk = weeks[wk_name]
            dash.timeline.append({"week": wk_name, "annotator": row["annotator"],
                                  "annotations": wk.get("annotations", 0),
                                  "gold_score": _mean(wk.get("_gold", [])),
                                  "audit_pass_rate": _mean([float(x) for x in wk.get("_audit", [])])})
    recs = records.load(conn)
    for b in recs.batches.values():
        ids = set(b.payload["assets"])
        row = {"batch": b.payload["name"], "assets": len(ids), **_summarise(work, ids)}
        row["gold_score"] = _mean([s.score for s in scores if s.asset_id in ids])
        ba = [a for a in all_audits if a.asset_id in ids]
        row["audits"] = len(ba)
        row["audit_pass_rate"] = round(sum(a.outcome == "pass" for a in ba) / len(ba), 4) if ba else None
        dash.batches.append(row)
    dash.objectives = progress(project, dash)
    return dash


def objectives(project: Any) -> dict[str, dict[str, Any]]:
    row = project.conn.execute("SELECT value FROM meta WHERE key = ?", ("setting." + OBJECTIVES,)).fetchone()
    return json.loads(row[0]) if row else {}


def set_objective(project: Any, metric: str, target: float | None, direction: str = ">=", *,
                  user: str | None = None) -> Applied:
    if metric not in METRICS:
        raise LabeldeskError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    if direction not in (">=", "<="):
        raise LabeldeskError("an objective is at least (>=) or at most (<=) its target")
    current = objectives(project)
    if target is None:
        current.pop(metric, None)
    else:
        current[metric] = {"target": target, "direction": direction}
    return project.apply(OpDraft("project.settings", None, {"set": {OBJECTIVES: current or None}}), user=user)


def progress(project: Any, dash: Dashboard) -> list[dict[str, Any]]:
    """Each objective against the team's current value (the mean over annotators who have one)."""
    out = []
    for metric, spec in objectives(project).items():
        values = [r[metric] for r in dash.annotators if r.get(metric) is not None]
        value = round(sum(values) / len(values), 4) if values else None
        target, ge = spec["target"], spec.get("direction", ">=") == ">="
        met = None if value is None else (value >= target if ge else value <= target)
        below = [r["annotator"] for r in dash.annotators if r.get(metric) is not None
                 and not (r[metric] >= target if ge else r[metric] <= target)]
        out.append({"metric": metric, "target": f"{'≥' if ge else '≤'} {target:g}", "value": value,
                    "met": met, "progress": None if value is None or not target else round(value / target, 3),
                    "not_meeting": ", ".join(below)})
    return out
