"""classification.add / classification.remove: a class given to a whole asset, or to one plane
(a slice of a volume or a frame of a video), in a layer like any annotation."""
from __future__ import annotations

import sqlite3
from typing import Any

from labeldesk.core.model import Plane
from labeldesk.core.op_types.rows import fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require

SCOPES = ("asset", "plane")


@op_type("classification.add")
class AddClassification:
    def prepare(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        """A class deprecated or merged is refused when the draft is made here; an op made
        elsewhere before its author knew is applied (and every replica ends the same whatever order
        the ontology change and the op arrive in: docs/sync.md failure mode 29)."""
        d = draft.payload
        if not d.get("restore"):
            cls = conn.execute("SELECT name, deprecated, merged_into FROM classes WHERE id = ?",
                               (d.get("class_id"),)).fetchone()
            if cls is not None:
                require(not cls[1] and cls[2] is None, f"classification: class {cls[0]!r} is deprecated")
        return draft

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("classification.remove", draft.entity, {})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload
        if d.get("restore"):
            row = conn.execute("SELECT asset_id, deleted FROM classifications WHERE id = ?", (op.entity,)).fetchone()
            require(row is not None and bool(row[1]), f"no removed classification {op.entity}")
            conn.execute("UPDATE classifications SET deleted = 0, revision = ? WHERE id = ?", (op.op_id, op.entity))
            return ChangeSet(assets={row[0]})
        scope = d.get("scope")
        require(scope in SCOPES, f"classification: scope must be one of {SCOPES}")
        asset = fetch(conn, "assets", d.get("asset_id"), "asset")
        fetch(conn, "layers", d.get("layer_id"), "layer")
        cls = fetch(conn, "classes", d.get("class_id"), "class")
        require(conn.execute("SELECT 1 FROM classifications WHERE id = ?", (op.entity,)).fetchone() is None,
                f"classification {op.entity} exists already")
        plane = Plane.from_dict(d.get("plane")) if scope == "plane" else None
        if plane is not None:
            require(plane.t < asset["frames"], "classification: frame outside the asset")
        conn.execute(
            "INSERT INTO classifications (id, asset_id, layer_id, scope, plane_axis, plane_z, plane_t, class_id,"
            " author, deleted, revision) VALUES (?,?,?,?,?,?,?,?,?,0,?)",
            (op.entity, asset["id"], d["layer_id"], scope, plane.axis if plane else None,
             plane.z if plane else None, plane.t if plane else None, cls["id"], op.user, op.op_id))
        return ChangeSet(assets={asset["id"]})


@op_type("classification.remove")
class RemoveClassification:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("classification.add", draft.entity, {"restore": True})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = conn.execute("SELECT asset_id, deleted FROM classifications WHERE id = ?", (op.entity,)).fetchone()
        require(row is not None and not row[1], f"no classification {op.entity}")
        conn.execute("UPDATE classifications SET deleted = 1, revision = ? WHERE id = ?", (op.op_id, op.entity))
        return ChangeSet(assets={row[0]})


def classifications(conn: sqlite3.Connection, asset_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT c.*, k.name AS class_name FROM classifications c JOIN classes k ON k.id = c.class_id"
                        " WHERE c.asset_id = ? AND c.deleted = 0 ORDER BY c.rowid", (asset_id,))
    return [dict(r) for r in rows]
