"""quality.* ops: check waivers, asset tags, batches, saved filters/queues, gold items and audits.

These records have no table of their own: the op log *is* their store. Applying one validates it
(and changes nothing else); :mod:`labeldesk.core.quality.records` folds the applied ops of these
types in (HLC, device, seq) order, so every replica derives the same state whatever order the
ops arrived in, and the sync merge needs no special case (they are order-independent records).

Per record the last op by HLC wins (a tag is one record per asset and key). Each op's inverse
restores the record's previous value, so undo works like any other edit.
"""
from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from labeldesk.core.op_types.rows import exists
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS
from labeldesk.core.review.roles import ANY_ROLE, OP_WORDS, REQUIRED_ROLES
from labeldesk.core.sync.validation import SCHEMAS

PREFIX = "quality."
CHECK_OUTCOMES = ("pass", "fail")
VIEW_KINDS = ("filter", "queue")
REVIEWERS = ("reviewer", "adjudicator", "admin")

# Who may write which record (see labeldesk.core.review.roles); the op types' ``authorise``
# methods add: no waiver of a finding about one's own annotations (admins excepted), an audit's
# outcome only by its reviewer (or an admin).
REQUIRED_ROLES.update({
    "quality.tag": ANY_ROLE, "quality.waive": REVIEWERS, "quality.batch": ("reviewer", "admin"), "quality.view": ("reviewer", "admin"),
    "quality.gold": ("reviewer", "admin"), "quality.audit.assign": ("reviewer", "admin"),
    "quality.audit.record": REVIEWERS,
})
OP_WORDS.update({
    "quality.waive": "waive a quality finding", "quality.tag": "tag an asset", "quality.batch": "save a batch",
    "quality.view": "save a shared filter or queue", "quality.gold": "mark a gold item",
    "quality.audit.assign": "assign an audit", "quality.audit.record": "record an audit's outcome",
})
# Typed text: names, notes and tag values go through the PHI guard (labeldesk.core.privacy).
FREE_TEXT_OPS.update({"quality.waive", "quality.tag", "quality.batch", "quality.view", "quality.audit.record"})
ID_TOKEN = re.compile(r"[0-9A-Za-z_\-]{8,}")

# The shape an op from another device must have (labeldesk.core.sync.validation); ``removed``
# withdraws a record, so the other fields are optional there and checked by ``apply``.
SCHEMAS.update({
    "quality.waive": {"check": "str?", "subject": "str?", "note": "str?", "removed": "bool?"},
    "quality.tag": {"set": "dict"},
    "quality.batch": {"name": "str?", "assets": "ids?", "note": "str?", "removed": "bool?"},
    "quality.view": {"name": "str?", "kind": "str?", "filter": "dict?", "removed": "bool?"},
    "quality.gold": {"layer": "str?", "removed": "bool?"},
    "quality.audit.assign": {"asset": "str?", "layer": "str?", "reviewer": "str?", "revision": "str?",
                             "removed": "bool?"},
    "quality.audit.record": {"outcome": "str?", "note": "str?", "removed": "bool?"},
})


def last_payload(conn: sqlite3.Connection, kind: str, entity: str | None) -> dict[str, Any] | None:
    """The payload of the latest applied op of ``kind`` on ``entity`` (None: there is none)."""
    row = conn.execute(
        "SELECT o.payload FROM ops o LEFT JOIN sync_op_state s ON s.op_id = o.op_id WHERE o.entity = ? "
        "AND o.type = ? AND (s.state IS NULL OR s.state = 'overridden') "
        "ORDER BY o.hlc_ms DESC, o.hlc_ctr DESC, o.dev DESC, o.seq DESC LIMIT 1", (entity, kind)).fetchone()
    return json.loads(row[0]) if row else None


def _text(value: Any, what: str, limit: int = 2000, empty: bool = False) -> None:
    require(isinstance(value, str) and (empty or bool(value.strip())), f"{what} must be a non-empty text")
    require(len(value) <= limit, f"{what} is longer than {limit} characters")


def _changes(op: Op) -> ChangeSet:
    return ChangeSet(settings={f"{op.type}:{op.entity}"})


class _Record:
    """A record replaced as a whole; ``{"removed": true}`` withdraws it."""

    kind = ""

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        raise NotImplementedError

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        old = last_payload(conn, self.kind, draft.entity)
        return OpDraft(self.kind, draft.entity, old if old is not None else {"removed": True})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        require(isinstance(op.entity, str) and bool(op.entity), f"{op.type}: no record id")
        if not op.payload.get("removed"):
            self.check(conn, op.payload, op)
        return _changes(op)


@op_type("quality.waive")
class Waive(_Record):
    """A finding of a check marked "not a problem": {check, subject, note} (entity: check:subject)."""

    kind = "quality.waive"

    def authorise(self, conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
        subject = op.payload.get("subject")
        if op.payload.get("removed") or "admin" in roles or not isinstance(subject, str):
            return None
        tokens = sorted(set(ID_TOKEN.findall(subject)))
        own = conn.execute(
            "SELECT 1 FROM annotations a JOIN layers l ON l.id = a.layer_id WHERE l.owner = ? AND a.id IN "
            "(SELECT value FROM json_each(?)) UNION ALL SELECT 1 FROM segments s JOIN layers l ON l.id = s.layer_id "
            "WHERE l.owner = ? AND s.id IN (SELECT value FROM json_each(?)) LIMIT 1",
            (op.user, json.dumps(tokens), op.user, json.dumps(tokens))).fetchone()
        return "may not waive a finding about their own annotations" if own else None

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        _text(payload.get("check"), "quality.waive: the check", 64)
        _text(payload.get("subject"), "quality.waive: the subject", 400)
        _text(payload.get("note", ""), "quality.waive: the note", 2000, empty=True)


@op_type("quality.tag")
class Tag:
    """Tags of one asset (entity): {"set": {key: value or null}}; each key is its own record."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        keys = set((draft.payload.get("set") or {}))
        old: dict[str, Any] = {k: None for k in keys}
        rows = conn.execute(
            "SELECT o.payload FROM ops o LEFT JOIN sync_op_state s ON s.op_id = o.op_id WHERE o.entity = ? "
            "AND o.type = 'quality.tag' AND (s.state IS NULL OR s.state = 'overridden') "
            "ORDER BY o.hlc_ms, o.hlc_ctr, o.dev, o.seq", (draft.entity,))
        for (payload,) in rows:
            for k, v in (json.loads(payload).get("set") or {}).items():
                if k in keys:
                    old[k] = v
        return OpDraft("quality.tag", draft.entity, {"set": old})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        require(exists(conn, "assets", op.entity), f"no asset with id {op.entity}")
        values = op.payload.get("set")
        require(isinstance(values, dict) and bool(values), "quality.tag: nothing to set")
        for key, value in values.items():
            require(isinstance(key, str) and 0 < len(key) <= 64 and ":" not in key and "," not in key,
                    f"quality.tag: bad tag key {key!r} (1-64 characters, no ':' or ',')")
            require(value is None or (isinstance(value, str) and len(value) <= 256),
                    f"quality.tag: the value of {key!r} must be a text of at most 256 characters")
        return ChangeSet(assets={str(op.entity)}, settings={f"quality.tag:{op.entity}"})


@op_type("quality.batch")
class Batch(_Record):
    """A named set of assets: {name, assets: [ids], note}."""

    kind = "quality.batch"

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        _text(payload.get("name"), "quality.batch: the name", 120)
        assets = payload.get("assets")
        require(isinstance(assets, list) and all(isinstance(a, str) for a in assets),
                "quality.batch: assets must be a list of asset ids")
        known = {r[0] for r in conn.execute("SELECT id FROM assets")}
        unknown = [a for a in assets if a not in known]
        require(not unknown, f"quality.batch: no asset with id {unknown[0] if unknown else ''}")


@op_type("quality.view")
class View(_Record):
    """A saved filter or queue shared with the team: {name, kind: filter|queue, filter: {...}}."""

    kind = "quality.view"

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        from labeldesk.core.quality.selection import check_filter
        _text(payload.get("name"), "quality.view: the name", 120)
        require(payload.get("kind") in VIEW_KINDS, f"quality.view: kind must be one of {list(VIEW_KINDS)}")
        problem = check_filter(payload.get("filter"))
        require(problem is None, f"quality.view: {problem}")


@op_type("quality.gold")
class Gold(_Record):
    """An asset (entity) with a known answer: the annotations of ``layer`` on it are the gold."""

    kind = "quality.gold"

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        require(isinstance(payload.get("layer"), str), "quality.gold: the gold layer is missing")
        require(exists(conn, "layers", payload["layer"]), f"no layer with id {payload['layer']}")


@op_type("quality.audit.assign")
class AuditAssign(_Record):
    """An approved item sent back to a second reviewer, blind: {asset, layer, reviewer, revision}."""

    kind = "quality.audit.assign"

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        require(exists(conn, "assets", payload.get("asset")), f"no asset with id {payload.get('asset')}")
        require(exists(conn, "layers", payload.get("layer")), f"no layer with id {payload.get('layer')}")
        require(exists(conn, "users", payload.get("reviewer")), f"no user with id {payload.get('reviewer')}")
        owner = conn.execute("SELECT owner FROM layers WHERE id = ?", (payload.get("layer"),)).fetchone()
        require(owner is None or owner[0] != payload.get("reviewer"),
                "quality.audit.assign: an audit goes to a reviewer other than the layer's annotator")
        _text(payload.get("revision"), "quality.audit.assign: the revision", 200)


@op_type("quality.audit.record")
class AuditRecord(_Record):
    """The audit's outcome (entity: the audit id): {outcome: pass|fail, note}."""

    kind = "quality.audit.record"

    def authorise(self, conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
        assigned = last_payload(conn, "quality.audit.assign", op.entity)
        if assigned is None or assigned.get("removed") or "admin" in roles or op.user == assigned.get("reviewer"):
            return None                   # (no such audit: the op type refuses it)
        return "only the audit's reviewer (or an admin) records its outcome"

    def check(self, conn: sqlite3.Connection, payload: dict[str, Any], op: Op) -> None:
        assigned = last_payload(conn, "quality.audit.assign", op.entity)
        require(assigned is not None and not assigned.get("removed"), f"no audit with id {op.entity}")
        admin = conn.execute("SELECT 1 FROM roles WHERE user_id = ? AND role = 'admin'", (op.user,)).fetchone()
        require(op.user == assigned["reviewer"] or admin is not None,
                "quality.audit.record: only the audit's reviewer (or an admin) records its outcome")
        require(payload.get("outcome") in CHECK_OUTCOMES,
                f"quality.audit.record: outcome must be one of {list(CHECK_OUTCOMES)}")
        _text(payload.get("note", ""), "quality.audit.record: the note", 2000, empty=True)
