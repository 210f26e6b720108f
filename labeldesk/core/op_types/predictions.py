"""prediction.accept / prediction.reject / prediction.retract: immutable decision records.

Accepting a prediction is two ops applied together: an ``annotation.create`` of the person's copy
(in their annotator layer, with ``source.prediction_id``) and a ``prediction.accept`` that records
the decision and names the copy. Rejecting writes a ``prediction.reject`` with an optional reason.
Nothing is ever updated: undoing a decision writes a ``prediction.retract`` naming it. The status
of a prediction is derived from the set of its records (see :mod:`labeldesk.core.predictions`), so
replicas that receive the same records in any order agree.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from labeldesk.core import ids
from labeldesk.core.op_types.rows import exists, fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS
from labeldesk.core.review.roles import ANY_ROLE, OP_WORDS, REQUIRED_ROLES

# Any member with a role decides on predictions; the copy an accept makes is an annotation.create
# checked against its layer like any other.
REQUIRED_ROLES.update({"prediction.accept": ANY_ROLE, "prediction.reject": ANY_ROLE, "prediction.retract": ANY_ROLE})
OP_WORDS.update({"prediction.accept": "accept a prediction", "prediction.reject": "reject a prediction",
                 "prediction.retract": "take back a decision on a prediction"})
FREE_TEXT_OPS.add("prediction.accept")      # its reason (typed); prediction.reject is listed already


def _prediction(conn: sqlite3.Connection, prediction_id: Any) -> sqlite3.Row:
    return fetch(conn, "annotations", prediction_id, "prediction (annotation)")


def _insert(conn: sqlite3.Connection, op: Op, decision: str, prediction_id: str, *, copy_id: str | None = None,
            target: str | None = None, reason: str | None = None) -> None:
    require(op.entity is not None, f"prediction.{decision}: no decision id")
    require(not exists(conn, "prediction_decisions", op.entity), f"decision {op.entity} exists already")
    conn.execute("INSERT INTO prediction_decisions (id, prediction_id, decision, copy_id, target, reason, user, op_id)"
                 " VALUES (?,?,?,?,?,?,?,?)",
                 (op.entity, prediction_id, decision, copy_id, target, reason, op.user, op.op_id))


def _retract(draft: OpDraft, prediction_id: str) -> OpDraft:
    return OpDraft("prediction.retract", ids.new_id(), {"target": draft.entity, "prediction_id": prediction_id})


@op_type("prediction.accept")
class AcceptPrediction:
    """payload: ``prediction_id``, ``copy_id`` (the annotation.create of the copy comes first)."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return _retract(draft, str(draft.payload.get("prediction_id")))

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        pred = _prediction(conn, op.payload.get("prediction_id"))
        copy_id = op.payload.get("copy_id")
        copy = fetch(conn, "annotations", copy_id, "accepted copy (annotation)")
        require(copy["id"] != pred["id"], "prediction.accept: the copy must be a new annotation")
        link = conn.execute("SELECT prediction_id FROM annotation_provenance WHERE annotation_id = ?",
                            (copy_id,)).fetchone()
        require(link is not None and link[0] == pred["id"],
                f"prediction.accept: annotation {copy_id} is not a copy of prediction {pred['id']}")
        _insert(conn, op, "accept", pred["id"], copy_id=str(copy_id), reason=op.payload.get("reason"))
        return ChangeSet(annotations={pred["id"], str(copy_id)})


@op_type("prediction.reject")
class RejectPrediction:
    """payload: ``prediction_id``, optional ``reason``."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return _retract(draft, str(draft.payload.get("prediction_id")))

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        pred = _prediction(conn, op.payload.get("prediction_id"))
        reason = op.payload.get("reason")
        require(reason is None or isinstance(reason, str), "prediction.reject: the reason must be text")
        _insert(conn, op, "reject", pred["id"], reason=reason)
        return ChangeSet(annotations={pred["id"]})


@op_type("prediction.retract")
class RetractDecision:
    """payload: ``target`` (a decision id), ``prediction_id``. The target need not have arrived yet:
    a retraction is a record like any other and the derived status ignores retracted decisions."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft | None:
        row = conn.execute("SELECT * FROM prediction_decisions WHERE id = ?",
                           (draft.payload.get("target"),)).fetchone()
        if row is None:             # retracting a decision that has not arrived yet: nothing to redo
            return None
        require(row["decision"] != "retract", "prediction.retract: a retraction cannot be retracted")
        # redo = the same decision again, as a new record
        payload: dict[str, Any] = {"prediction_id": row["prediction_id"]}
        if row["copy_id"]:
            payload["copy_id"] = row["copy_id"]
        if row["reason"]:
            payload["reason"] = row["reason"]
        return OpDraft(f"prediction.{row['decision']}", ids.new_id(), payload)

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        target = op.payload.get("target")
        prediction_id = op.payload.get("prediction_id")
        require(isinstance(target, str) and bool(target), "prediction.retract: no target decision")
        require(isinstance(prediction_id, str) and bool(prediction_id), "prediction.retract: no prediction id")
        row = conn.execute("SELECT decision, prediction_id FROM prediction_decisions WHERE id = ?",
                           (target,)).fetchone()
        if row is not None:
            require(row[0] != "retract", "prediction.retract: a retraction cannot be retracted")
            require(row[1] == prediction_id, "prediction.retract: the decision is about another prediction")
        _insert(conn, op, "retract", prediction_id, target=target)
        return ChangeSet(annotations={prediction_id})
