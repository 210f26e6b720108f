"""layer.create / layer.remove / layer.restore."""
from __future__ import annotations

import sqlite3
from typing import Any

from labeldesk.core.model import LAYER_KINDS
from labeldesk.core.op_types.rows import exists, fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require


@op_type("layer.create")
class CreateLayer:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("layer.remove", draft.entity, {})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload.get("layer") or {}
        name = str(d.get("name", "")).strip()
        kind = d.get("kind", "annotator")
        require(bool(name), "layer.create: the name is empty")
        require(kind in LAYER_KINDS, f"layer.create: unknown layer kind {kind!r}")
        require(not exists(conn, "layers", op.entity), f"layer {op.entity} exists already")
        conn.execute("INSERT INTO layers (id, name, kind, owner, removed, revision) VALUES (?,?,?,?,0,?)",
                     (op.entity, name, kind, d.get("owner"), op.op_id))
        return ChangeSet(layers={str(op.entity)})


class _SetRemoved:
    removed = 1

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        fetch(conn, "layers", op.entity, "layer")
        conn.execute("UPDATE layers SET removed = ?, revision = ? WHERE id = ?",
                     (self.removed, op.op_id, op.entity))
        return ChangeSet(layers={str(op.entity)})


@op_type("layer.remove")
class RemoveLayer(_SetRemoved):
    removed = 1

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("layer.restore", draft.entity, {})


@op_type("layer.restore")
class RestoreLayer(_SetRemoved):
    removed = 0

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("layer.remove", draft.entity, {})
