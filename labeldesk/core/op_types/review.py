"""Review op types: task.assign / task.unassign, review.submit / review.decide / review.adjudicate,
issue.open / issue.comment / issue.resolve / issue.reopen.

Each op creates one immutable record (its entity id is new); nothing is overwritten, so the
workflow state derived from the records (``labeldesk.core.review.workflow``) is the same whatever
order the ops arrive in. The only later write is the once-only unassign tombstone.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from labeldesk.core.model import Plane
from labeldesk.core.op_types.rows import exists, fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, op_type, require

ASSIGN_MODES = ("manual", "round_robin", "per_asset")
DECISIONS = ("approve", "fix_approve", "return")
OUTCOMES = ("accept", "return")
ADJUDICATION_MODES = ("item", "object")


def _reason(op: Op, what: str) -> str:
    reason = (op.reason or "").strip()
    require(bool(reason), f"{what} needs a reason")
    return reason


def _ids(value: Any, what: str) -> list[str]:
    require(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{what} must be a list of ids")
    return sorted(set(value))


def _new_record(conn: sqlite3.Connection, table: str, op: Op) -> None:
    require(op.entity is not None, f"{op.type}: no record id")
    require(not exists(conn, table, op.entity), f"{op.type}: record {op.entity} exists already")


class _Record:
    """Records are never undone by deleting them: the inverse is a new record where that makes sense."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft | None:
        return None


@op_type("task.assign")
class AssignTask(_Record):
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("task.unassign", draft.entity, {})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        p = op.payload
        _new_record(conn, "assignments", op)
        fetch(conn, "assets", p.get("asset_id"), "asset")
        fetch(conn, "users", p.get("user_id"), "user")
        layer = fetch(conn, "layers", p.get("layer_id"), "layer")
        require(layer["kind"] == "annotator" and layer["owner"] == p.get("user_id"),
                f"task.assign: layer {layer['name']!r} is not an annotator layer of that user")
        mode = p.get("mode", "manual")
        require(mode in ASSIGN_MODES, f"task.assign: unknown mode {mode!r}; expected one of {ASSIGN_MODES}")
        conn.execute("INSERT INTO assignments (id, asset_id, user_id, layer_id, mode, assigned_by, op_id, hlc_ms,"
                     " hlc_ctr) VALUES (?,?,?,?,?,?,?,?,?)",
                     (op.entity, p["asset_id"], p["user_id"], p["layer_id"], mode, op.user, op.op_id, *op.hlc))
        return ChangeSet(reviews={p["asset_id"]})


@op_type("task.unassign")
class UnassignTask:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None          # assign again (a new assignment record)

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = fetch(conn, "assignments", op.entity, "assignment")
        if row["removed_by_op"] is None:         # once only; a repeat is a no-op, not a conflict
            conn.execute("UPDATE assignments SET removed_by_op = ? WHERE id = ?", (op.op_id, op.entity))
        return ChangeSet(reviews={row["asset_id"]})


def _review_row(conn: sqlite3.Connection, op: Op, kind: str, layer_id: str | None, decision: str | None,
                target_rev: str | None, refs: list[str], detail: dict[str, Any], reason: str | None) -> None:
    conn.execute("INSERT INTO review_records (id, kind, asset_id, layer_id, decision, target_rev, refs, detail,"
                 " user_id, reason, op_id, dev, hlc_ms, hlc_ctr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 (op.entity, kind, op.payload["asset_id"], layer_id, decision, target_rev, canonical_json(refs),
                  canonical_json(detail), op.user, reason, op.op_id, op.dev, *op.hlc))


def _asset_and_layer(conn: sqlite3.Connection, op: Op) -> sqlite3.Row:
    fetch(conn, "assets", op.payload.get("asset_id"), "asset")
    return fetch(conn, "layers", op.payload.get("layer_id"), "layer")


def _target_rev(op: Op) -> str:
    rev = op.payload.get("target_rev")
    require(isinstance(rev, str) and bool(rev), f"{op.type}: names no layer revision (target_rev)")
    return str(rev)


@op_type("review.submit")
class SubmitLayer(_Record):
    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        _new_record(conn, "review_records", op)
        layer = _asset_and_layer(conn, op)
        require(layer["kind"] == "annotator", f"review.submit: {layer['name']!r} is not an annotator layer")
        _review_row(conn, op, "submit", layer["id"], None, _target_rev(op), [], {}, op.reason)
        return ChangeSet(reviews={op.payload["asset_id"]})


@op_type("review.decide")
class DecideReview(_Record):
    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        _new_record(conn, "review_records", op)
        layer = _asset_and_layer(conn, op)
        require(layer["kind"] == "annotator", f"review.decide: {layer['name']!r} is not an annotator layer")
        decision = op.payload.get("decision")
        require(decision in DECISIONS, f"review.decide: unknown decision {decision!r}; expected one of {DECISIONS}")
        reason = _reason(op, "returning an item") if decision == "return" else op.reason
        refs = _ids(op.payload.get("supersedes", []), "review.decide: supersedes")
        detail = {k: op.payload[k] for k in ("final_layer_id", "copied") if k in op.payload}
        _review_row(conn, op, "decide", layer["id"], decision, _target_rev(op), refs, detail, reason)
        return ChangeSet(reviews={op.payload["asset_id"]})


@op_type("review.adjudicate")
class Adjudicate(_Record):
    def authorise(self, conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
        """An adjudicator does not settle a dispute over a layer of their own (as a reviewer
        never reviews their own layer)."""
        sources = op.payload.get("sources")
        layers = sorted(sources) if isinstance(sources, dict) else []
        row = conn.execute("SELECT name FROM layers WHERE owner = ? AND id IN (SELECT value FROM json_each(?)) "
                           "ORDER BY name LIMIT 1", (op.user, canonical_json(layers))).fetchone()
        return f"may not adjudicate over their own layer {row[0]!r}" if row else None

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        _new_record(conn, "review_records", op)
        p = op.payload
        fetch(conn, "assets", p.get("asset_id"), "asset")
        final = fetch(conn, "layers", p.get("final_layer_id"), "layer")
        require(final["kind"] == "final", f"review.adjudicate: {final['name']!r} is not a final layer")
        reason = _reason(op, "an adjudication")
        mode = p.get("mode", "item")
        require(mode in ADJUDICATION_MODES, f"review.adjudicate: mode must be one of {ADJUDICATION_MODES}")
        outcome = p.get("outcome", "accept")
        require(outcome in OUTCOMES, f"review.adjudicate: outcome must be one of {OUTCOMES}")
        sources = p.get("sources") or {}
        require(isinstance(sources, dict) and all(isinstance(v, str) for v in sources.values()),
                "review.adjudicate: sources must map layer ids to the revisions adjudicated")
        refs = _ids(p.get("closes", []), "review.adjudicate: closes")
        detail = {"mode": mode, "sources": sources, "chosen": p.get("chosen") or [],
                  "copies": p.get("copies") or {}}
        _review_row(conn, op, "adjudicate", final["id"], outcome, None, refs, detail, reason)
        return ChangeSet(reviews={p["asset_id"]})


@op_type("issue.open")
class OpenIssue(_Record):
    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        _new_record(conn, "issues", op)
        p = op.payload
        asset = fetch(conn, "assets", p.get("asset_id"), "asset")
        text = str(p.get("text", "")).strip()
        require(bool(text), "issue.open: the text is empty")
        try:
            plane = Plane.from_dict(p.get("plane"))
            x, y = (float(v) for v in p.get("image_xy"))
        except (TypeError, ValueError) as exc:
            require(False, f"issue.open: needs a plane and an image_xy point ({exc})")
        require(0 <= x <= asset["width"] and 0 <= y <= asset["height"],
                f"issue.open: point ({x:g}, {y:g}) is outside the {asset['width']}x{asset['height']} asset")
        require(plane.t < asset["frames"], f"issue.open: frame {plane.t} is outside the asset")
        conn.execute("INSERT INTO issues (id, asset_id, layer_id, annotation_id, plane_axis, plane_z, plane_t, x, y,"
                     " text, user_id, op_id, hlc_ms, hlc_ctr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (op.entity, asset["id"], p.get("layer_id"), p.get("annotation_id"), plane.axis, plane.z,
                      plane.t, x, y, text, op.user, op.op_id, *op.hlc))
        return ChangeSet(issues={str(op.entity)}, reviews={asset["id"]})


class _IssueEvent(_Record):
    kind = "comment"

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        _new_record(conn, "issue_events", op)
        issue = fetch(conn, "issues", op.payload.get("issue_id"), "issue")
        text = str(op.payload.get("text") or op.reason or "").strip()
        if self.kind == "comment":
            require(bool(text), "issue.comment: the text is empty")
        refs = _ids(op.payload.get("supersedes", []), f"{op.type}: supersedes")
        conn.execute("INSERT INTO issue_events (id, issue_id, kind, text, refs, user_id, op_id, hlc_ms, hlc_ctr)"
                     " VALUES (?,?,?,?,?,?,?,?,?)",
                     (op.entity, issue["id"], self.kind, text or None, canonical_json(refs), op.user, op.op_id, *op.hlc))
        return ChangeSet(issues={issue["id"]}, reviews={issue["asset_id"]})


@op_type("issue.comment")
class CommentIssue(_IssueEvent):
    kind = "comment"


@op_type("issue.resolve")
class ResolveIssue(_IssueEvent):
    kind = "resolve"


@op_type("issue.reopen")
class ReopenIssue(_IssueEvent):
    kind = "reopen"
