"""Audit export: who did what, when and why, from the append-only, hash-chained op log.

Who: user name and id, device. What: op type, entity, the asset it concerns and a one-line
summary. When: UTC wall time and the hybrid logical clock. Why: the op's reason. Every row also
carries its op hash, its chain hash and whether the chain verifies up to it: the whole log is
re-hashed from the first op on every export (filters apply after), so an export shows whether
the log was altered. The CLI (`labeldesk audit`) and the GUI's audit dialog use this module.
"""
from __future__ import annotations

from labeldesk.core.numbering import plane_dict_label

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.store import oplog

COLUMNS = ("local_order", "op_id", "wall_utc", "hlc", "user", "user_id", "device", "type", "entity",
           "asset", "asset_id", "summary", "reason", "clock_flag", "op_hash", "chain_hash", "chain_verified")
CLOCK_SLACK = dt.timedelta(minutes=10)       # docs/sync.md §7 "Clock skew"


@dataclass(frozen=True)
class AuditRow:
    local_order: int
    op_id: str
    wall_utc: str
    hlc: str
    user: str
    user_id: str | None
    device: str
    type: str
    entity: str | None
    asset: str
    asset_id: str | None
    summary: str
    reason: str | None
    clock_flag: str           # "" or why the op's wall time is suspicious (both times are shown)
    op_hash: str
    chain_hash: str
    chain_verified: bool


@dataclass
class AuditReport:
    rows: list[AuditRow]
    chain_ok: bool
    ops_checked: int
    first_bad: str | None = None
    problem: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def chain_text(self) -> str:
        if self.chain_ok:
            return f"hash chain verified over all {self.ops_checked} ops"
        return f"hash chain BROKEN at op {self.first_bad}: {self.problem} (rows from there on are not verified)"


def parse_time(text: str | None, what: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time; naive values are UTC."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LabeldeskError(f"{what} {text!r} is not an ISO 8601 date or time (e.g. 2026-12-01 or "
                             "2026-12-01T09:30:00Z)") from None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class _Context:
    """Lookups that turn ids into names and ops into the asset they concern."""

    def __init__(self, conn: Any) -> None:
        q = lambda sql: {r[0]: r[1] for r in conn.execute(sql)}  # noqa: E731
        self.users = q("SELECT id, name FROM users")
        self.assets = q("SELECT id, name FROM assets")
        self.layers = q("SELECT id, name FROM layers")
        self.classes = q("SELECT id, name FROM classes")
        self.ann_asset = q("SELECT id, asset_id FROM annotations")
        self.cls_asset = q("SELECT id, asset_id FROM classifications")
        self.task_asset = q("SELECT id, asset_id FROM assignments")
        self.issue_asset = q("SELECT id, asset_id FROM issues")

    def asset_of(self, op: Any) -> str | None:
        p, t = op.payload, op.type
        if t.startswith("asset."):
            return op.entity
        if t == "annotation.create":
            return (p.get("annotation") or {}).get("asset_id")
        if t.startswith("annotation."):
            return self.ann_asset.get(op.entity)
        if t.startswith("classification."):
            return p.get("asset_id") or self.cls_asset.get(op.entity)
        if t == "task.unassign":
            return self.task_asset.get(op.entity)
        if t.startswith("issue.") and t != "issue.open":
            return self.issue_asset.get(p.get("issue_id"))
        value = p.get("asset_id")
        return value if isinstance(value, str) else None

    def summary(self, op: Any) -> str:
        p, t = op.payload, op.type
        name = lambda table, key: getattr(self, table).get(key, key)  # noqa: E731
        if t == "annotation.create":
            a = p.get("annotation") or {}
            plane = a.get("plane") or {}
            text = (f"{(a.get('geometry') or {}).get('kind')} {name('classes', a.get('class_id')) or 'no class'}"
                    f" in layer {name('layers', a.get('layer_id'))} on {plane_dict_label(plane)}")
            src = a.get("source")
            return text + (f" (copy of {src.get('annotation_id')} from layer {name('layers', src.get('layer_id'))})"
                           if isinstance(src, dict) else "")
        if t == "annotation.update":
            return "set " + ", ".join(sorted(p.get("set") or {}))
        if t in ("role.grant", "role.revoke"):
            return f"{p.get('role')} for {name('users', op.entity)}"
        if t == "user.add":
            return f"user {p.get('name')}"
        if t == "task.assign":
            return f"assign to {name('users', p.get('user_id'))} (layer {name('layers', p.get('layer_id'))}, {p.get('mode')})"
        if t == "review.submit":
            return f"submit layer {name('layers', p.get('layer_id'))} at revision {p.get('target_rev')}"
        if t == "review.decide":
            return (f"{p.get('decision')} layer {name('layers', p.get('layer_id'))} at revision {p.get('target_rev')}"
                    + (f"; supersedes {len(p['supersedes'])}" if p.get("supersedes") else ""))
        if t == "review.adjudicate":
            return (f"{p.get('outcome')} per {p.get('mode')}: {len(p.get('chosen') or [])} annotations into "
                    f"{name('layers', p.get('final_layer_id'))}; closes {len(p.get('closes') or [])} decisions")
        if t == "issue.open":
            xy = p.get("image_xy") or [0, 0]
            plane = p.get("plane") or {}
            return (f"issue at image_xy ({xy[0]:g}, {xy[1]:g}) on {plane_dict_label(plane)}: {p.get('text')}")
        if t == "issue.comment":
            return f"comment: {p.get('text')}"
        if t in ("issue.resolve", "issue.reopen"):
            return t.split(".")[1] + (f": {p['text']}" if p.get("text") else "")
        text = json.dumps(p, sort_keys=True, ensure_ascii=False)
        return text if len(text) <= 160 else text[:157] + "..."


def clock_flag(wall: dt.datetime, hlc_ms: int, now: dt.datetime) -> str:
    """Flag a device whose clock was ahead (wall time after this machine's now) or whose wall time
    and hybrid logical clock disagree by more than the slack."""
    if wall - now > CLOCK_SLACK:
        return f"clock ahead: wall time {int((wall - now).total_seconds() // 60)} min after this machine's now"
    hlc = dt.datetime.fromtimestamp(hlc_ms / 1000, dt.timezone.utc)
    if abs(hlc - wall) > CLOCK_SLACK:
        return f"wall time and HLC differ by {int(abs(hlc - wall).total_seconds() // 60)} min"
    return ""


def audit(project: Any, *, asset: str | None = None, user: str | None = None, since: str | None = None,
          until: str | None = None) -> AuditReport:
    """The audit rows matching the filters (asset and user by id or name; since/until inclusive, UTC)."""
    conn = project.conn
    ctx = _Context(conn)
    asset_id = _match(ctx.assets, asset, "asset") if asset else None
    user_id = _match(ctx.users, user, "user") if user else None
    t0, t1 = parse_time(since, "--since"), parse_time(until, "--until")
    if t1 is not None and until and len(until.strip()) == 10:       # a bare date: the whole day
        t1 += dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    rows: list[AuditRow] = []
    now = dt.datetime.now(dt.timezone.utc)
    prev, ok, n, first_bad, problem = oplog.GENESIS, True, 0, None, None
    for r in conn.execute("SELECT * FROM ops ORDER BY local_order"):
        n += 1
        op = oplog.row_to_op(r)
        if ok:
            if op.digest() != r["op_hash"]:
                ok, first_bad, problem = False, op.op_id, "op content does not match its hash"
            else:
                prev = oplog.chain(prev, r["op_hash"])
                if prev != r["chain_hash"]:
                    ok, first_bad, problem = False, op.op_id, "hash chain broken"
        a = ctx.asset_of(op)
        if asset_id and a != asset_id:
            continue
        if user_id and op.user != user_id:
            continue
        wall = parse_time(op.wall, "wall time")
        if (t0 and wall < t0) or (t1 and wall > t1):
            continue
        rows.append(AuditRow(r["local_order"], op.op_id, op.wall, f"{op.hlc[0]}:{op.hlc[1]}",
                             ctx.users.get(op.user, str(op.user)), op.user, op.dev, op.type, op.entity,
                             ctx.assets.get(a, a or ""), a, ctx.summary(op), op.reason,
                             clock_flag(wall, op.hlc[0], now), r["op_hash"], r["chain_hash"], ok))
    return AuditReport(rows, ok, n, first_bad, problem,
                       {"asset": asset, "user": user, "since": since, "until": until})


def _match(names: dict[str, str], ref: str, what: str) -> str:
    if ref in names:
        return ref
    found = [k for k, v in names.items() if v == ref] or [k for k, v in names.items() if v.casefold() == ref.casefold()]
    if len(found) != 1:
        raise LabeldeskError(f"no single {what} {ref!r} in this project")
    return found[0]


def to_json(report: AuditReport) -> str:
    return json.dumps({"chain": {"verified": report.chain_ok, "ops_checked": report.ops_checked,
                                 "first_bad": report.first_bad, "problem": report.problem},
                       "filters": report.filters, "count": len(report.rows),
                       "ops": [asdict(r) for r in report.rows]}, indent=2, ensure_ascii=False)


def to_csv(report: AuditReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in report.rows:
        d = asdict(r)
        w.writerow(["true" if d[c] is True else "false" if d[c] is False else ("" if d[c] is None else d[c])
                    for c in COLUMNS])
    return buf.getvalue()


def write(report: AuditReport, fmt: str, stream: TextIO) -> None:
    if fmt not in ("csv", "json"):
        raise LabeldeskError(f"unknown audit format {fmt!r}; expected csv or json")
    stream.write(to_csv(report) if fmt == "csv" else to_json(report) + "\n")
