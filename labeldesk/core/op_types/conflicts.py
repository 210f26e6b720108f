"""conflict.resolve: a person decides a sync conflict (docs/sync.md §7).

The op names the conflict, the field and the chosen value (taken from one candidate, or a delete
for an edit-vs-delete conflict); its ``base`` lists every candidate op, so it is causally after all
of them and ends the conflict on every replica. The value is written through the entity's own op
type (``annotation.update`` / ``annotation.delete`` / ``ontology.class.update``): one write path.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, get_op_type, op_type, require
from labeldesk.core.review import roles as R

UPDATE_TYPE = {"annotation": "annotation.update", "class": "ontology.class.update"}

# Any member with a role may resolve; ``ResolveConflict.authorise`` asks for the right to write
# the value: the annotation's layer (labeldesk.core.review.roles.layer_write_problem) or, for a
# class, the admin role (as ontology.class.update).
R.REQUIRED_ROLES["conflict.resolve"] = R.ANY_ROLE
R.OP_WORDS["conflict.resolve"] = "resolve a sync conflict"


def _conflict(conn: sqlite3.Connection, conflict_id: Any) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM sync_conflicts WHERE id = ?", (conflict_id,)).fetchone()


@op_type("conflict.resolve")
class ResolveConflict:
    def prepare(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        p = dict(draft.payload)
        row = _conflict(conn, p.get("conflict"))
        require(row is not None, f"conflict.resolve: no conflict {p.get('conflict')}")
        require(row["status"] == "open", f"conflict {row['id']} is already {row['status']}")
        cands = json.loads(row["candidates"])
        chosen = next((c for c in cands if c["op_id"] == p.get("choice")), None)
        require(chosen is not None, f"conflict.resolve: {p.get('choice')} is not one of the candidates "
                                    f"({', '.join(c['op_id'] for c in cands)})")
        p.update(entity_kind=row["entity_kind"], field=row["field"], value=chosen["value"],
                 candidates=[c["op_id"] for c in cands], candidate_values=cands)
        return OpDraft(draft.type, row["entity"], p, tuple(p["candidates"]), draft.reason, draft.local)

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None     # a decision is not undone; decide again with another conflict.resolve

    def authorise(self, conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
        kind = op.payload.get("entity_kind")
        if kind == "class":
            return None if "admin" in roles else "needs role admin to decide a conflict on a class"
        row = conn.execute("SELECT l.name, l.kind, l.owner FROM annotations a JOIN layers l ON l.id = a.layer_id "
                           "WHERE a.id = ?", (op.entity,)).fetchone()
        if row is None:
            return None           # the op type refuses it (no such annotation)
        problem = R.layer_write_problem(conn, op.user, roles, row)
        return f"cannot decide a conflict in a layer they may not write ({problem})" if problem else None

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        p = op.payload
        kind, field = p.get("entity_kind"), p.get("field")
        require(kind in UPDATE_TYPE, f"conflict.resolve: unknown entity kind {kind!r}")
        changes = ChangeSet()
        if field == "_deleted":
            deleted = conn.execute("SELECT deleted FROM annotations WHERE id = ?", (op.entity,)).fetchone()
            require(deleted is not None, f"no annotation with id {op.entity}")
            if p.get("value") and not deleted[0]:
                changes = get_op_type("annotation.delete").apply(conn, _as(op, "annotation.delete", {}), None)
        else:
            changes = get_op_type(UPDATE_TYPE[kind]).apply(
                conn, _as(op, UPDATE_TYPE[kind], {"set": {field: p.get("value")}}), None)
        cands = canonical_json(p.get("candidate_values") or [{"op_id": c} for c in p.get("candidates") or []])
        conn.execute("INSERT OR REPLACE INTO sync_conflicts (id, entity, entity_kind, field, kind, candidates, winner,"
                     " status, resolved_by_op) VALUES (?,?,?,?,?,?,?,'resolved',?)",
                     (p.get("conflict"), op.entity, kind, field, "delete" if field == "_deleted" else "field",
                      cands, p.get("choice"), op.op_id))
        changes.conflicts.add(str(p.get("conflict")))
        return changes


def _as(op: Op, type_: str, payload: dict[str, Any]) -> Op:
    return Op(op_id=op.op_id, dev=op.dev, seq=op.seq, hlc=op.hlc, wall=op.wall, user=op.user, type=type_,
              entity=op.entity, payload=payload, base=op.base, reason=op.reason)
