"""model.register / model.retire / queue.save: the project's model registry and saved work queues.

A registered model is an immutable record (its manifest, who added it, and for a model trained in
the project its training summary), kept in ``meta`` under ``model.<id>``; its file(s) live in the
project's ``models/`` folder under their SHA-256 (see :mod:`labeldesk.core.models.registry`).
Retiring hides a model from the pickers; it can be brought back by undo. A queue (an ordered list
of assets or planes for active learning) is saved under ``queue.<id>``; the newest record of a
name is the queue of that name. Records are keyed by op entity ids, so replicas receiving them in
any order hold the same set.

Who may write them (:mod:`labeldesk.core.review.roles`): any member with a role registers a model
trained in the project (its record has a ``training`` summary: "learn from my labels") and saves
queues; a model from outside the project needs a reviewer or an admin; retiring a model needs a
reviewer, an admin or the member who registered it.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS
from labeldesk.core.review.roles import ANY_ROLE, OP_WORDS, REQUIRED_ROLES

MODEL_PREFIX = "model."
QUEUE_PREFIX = "queue."
CURATORS = ("reviewer", "admin")           # who adds models from outside and retires anyone's

REQUIRED_ROLES.update({"model.register": ANY_ROLE, "model.retire": ANY_ROLE, "queue.save": ANY_ROLE})
OP_WORDS.update({"model.register": "add a model", "model.retire": "retire or bring back a model",
                 "queue.save": "save a work queue"})
FREE_TEXT_OPS.update({"model.register", "queue.save"})     # names, descriptions, training notes


def _get(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def _put(conn: sqlite3.Connection, key: str, value: dict[str, Any]) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, canonical_json(value)))


def records(conn: sqlite3.Connection, prefix: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT value FROM meta WHERE key >= ? AND key < ? ORDER BY key",
                        (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))).fetchall()
    return [json.loads(r[0]) for r in rows]


@op_type("model.register")
class RegisterModel:
    """payload: ``model`` {manifest fields…, optional ``training``}; entity: the model record id."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("model.retire", draft.entity, {"retired": True})

    def authorise(self, conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
        d = op.payload.get("model")
        if isinstance(d, dict) and isinstance(d.get("training"), dict) or roles & set(CURATORS):
            return None
        return "needs role reviewer or admin to add a model from outside the project"

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload.get("model")
        require(isinstance(d, dict), "model.register: no model record")
        require(op.entity is not None and _get(conn, MODEL_PREFIX + op.entity) is None,
                f"model {op.entity} is registered already")
        from labeldesk.core.errors import InputError
        from labeldesk.core.models.manifest import parse
        try:
            parse(d, "model.register")
        except InputError as exc:
            require(False, f"model.register: {exc.problem}")
        for other in records(conn, MODEL_PREFIX):
            require(not (other["name"] == d["name"] and other["version"] == d["version"]
                         and other.get("dev") == op.dev),
                    f"model.register: {d['name']} version {d['version']} is registered already")
        training = d.get("training")
        require(training is None or isinstance(training, dict), "model.register: training must be an object")
        record = dict(d, id=op.entity, op_id=op.op_id, dev=op.dev, hlc=list(op.hlc), wall=op.wall, user=op.user,
                      retired=False)
        _put(conn, MODEL_PREFIX + op.entity, record)
        return ChangeSet(settings={MODEL_PREFIX + op.entity})


@op_type("model.retire")
class RetireModel:
    """payload: ``retired`` (true: hide from the pickers; false: bring back)."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        old = _get(conn, MODEL_PREFIX + str(draft.entity))
        require(old is not None, f"no model with id {draft.entity}")
        return OpDraft("model.retire", draft.entity, {"retired": bool(old and old.get("retired"))})

    def authorise(self, conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
        if roles & set(CURATORS):
            return None
        old = _get(conn, MODEL_PREFIX + str(op.entity))
        if old is not None and old.get("user") == op.user:
            return None
        return "needs role reviewer or admin to retire a model another member added"

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        key = MODEL_PREFIX + str(op.entity)
        old = _get(conn, key)
        require(old is not None, f"no model with id {op.entity}")
        retired = op.payload.get("retired")
        require(isinstance(retired, bool), "model.retire: 'retired' must be true or false")
        _put(conn, key, dict(old, retired=retired))
        return ChangeSet(settings={key})


@op_type("queue.save")
class SaveQueue:
    """payload: ``queue`` {name, method, items: [{asset_id, plane|null, value|null}], detail}."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None          # a saved queue is a record; saving again under the name supersedes it

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload.get("queue")
        require(isinstance(d, dict), "queue.save: no queue")
        name, method, items = d.get("name"), d.get("method"), d.get("items")
        require(isinstance(name, str) and bool(name.strip()), "queue.save: the queue has no name")
        require(isinstance(method, str) and bool(method), "queue.save: no method")
        require(isinstance(items, list), "queue.save: items must be a list")
        for it in items:
            require(isinstance(it, dict) and isinstance(it.get("asset_id"), str),
                    "queue.save: every item needs an asset_id")
        require(op.entity is not None and _get(conn, QUEUE_PREFIX + op.entity) is None,
                f"queue record {op.entity} exists already")
        _put(conn, QUEUE_PREFIX + op.entity, dict(d, id=op.entity, op_id=op.op_id, hlc=list(op.hlc),
                                                  wall=op.wall, user=op.user))
        return ChangeSet(settings={QUEUE_PREFIX + op.entity})
