"""ontology.class.create / ontology.class.update / ontology.class.merge (each bumps the version)."""
from __future__ import annotations

import sqlite3
from typing import Any

from labeldesk.core.ontology import SchemaError, check_class_fields
from labeldesk.core.op_types.rows import exists, fetch, loads
from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, op_type, require

FIELDS = ("name", "parent_id", "color", "hotkey", "kinds", "attributes", "guide", "deprecated",
          "merged_into", "sort_order", "value", "code", "concept", "keypoints")
JSON_FIELDS = ("kinds", "attributes", "guide", "concept", "keypoints")


def _value_owner(conn: sqlite3.Connection, value: Any, entity: str) -> str | None:
    row = conn.execute("SELECT name FROM classes WHERE value = ? AND id != ?", (value, entity)).fetchone()
    return row[0] if row else None


def _with_value(conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
    """A local class.create gets the next free label value written into its payload (so every
    replica stores the same one); a value asked for must be free here."""
    cls = dict(draft.payload.get("class") or {})
    if cls.get("value") is None:
        row = conn.execute("SELECT MAX(value) FROM classes").fetchone()
        cls["value"] = int(row[0] or 0) + 1
    else:
        owner = _value_owner(conn, cls["value"], str(draft.entity))
        require(owner is None, f"ontology: label value {cls['value']} belongs to class {owner!r}")
    return OpDraft(draft.type, draft.entity, {**draft.payload, "class": cls}, draft.base, draft.reason, draft.local)


def bump_version(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES ('ontology_version', '1') "
                 "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def _check(values: dict[str, Any]) -> None:
    try:
        check_class_fields(values)
    except SchemaError as exc:
        require(False, f"ontology: {exc}")


def _check_parent(conn: sqlite3.Connection, class_id: str | None, parent_id: str | None) -> None:
    seen = {class_id}
    while parent_id is not None:
        require(parent_id not in seen, "ontology: a class cannot be its own ancestor")
        seen.add(parent_id)
        parent_id = fetch(conn, "classes", parent_id, "parent class")["parent_id"]


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if k in JSON_FIELDS:
            out[k] = canonical_json(v)
        elif k == "deprecated":
            out[k] = int(bool(v))
        else:
            out[k] = v
    return out


def class_values(row: sqlite3.Row, keys: Any) -> dict[str, Any]:
    out = {}
    for k in keys:
        v = row[k]
        out[k] = loads(v, None) if k in JSON_FIELDS else (bool(v) if k == "deprecated" else v)
    return out


@op_type("ontology.class.create")
class CreateClass:
    def prepare(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return _with_value(conn, draft)

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        # Classes are never deleted: undoing a creation deprecates the class.
        return OpDraft("ontology.class.update", draft.entity, {"set": {"deprecated": True}})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = {k: v for k, v in (op.payload.get("class") or {}).items() if k in FIELDS}
        d.setdefault("color", "#e6194b")
        require("name" in d, "ontology: a class needs a name")
        _check(d)
        if d.get("value") is None:
            # an op from a device that did not number classes: the next value here
            d["value"] = int(conn.execute("SELECT MAX(value) FROM classes").fetchone()[0] or 0) + 1
        require(not exists(conn, "classes", op.entity), f"class {op.entity} exists already")
        _check_parent(conn, op.entity, d.get("parent_id"))
        cols = _columns(d)
        cols.update(id=op.entity, revision=op.op_id)
        conn.execute(f"INSERT INTO classes ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     tuple(cols.values()))
        bump_version(conn)
        return ChangeSet(classes={str(op.entity)})


@op_type("ontology.class.update")
class UpdateClass:
    """Rename, recolour, move in the tree, change hotkey/kinds/attributes/guide, (un)deprecate,
    set the label value, code, coded concepts or keypoint schema."""

    def prepare(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        value = (draft.payload.get("set") or {}).get("value")
        if value is not None:
            owner = _value_owner(conn, value, str(draft.entity))
            require(owner is None, f"ontology: label value {value} belongs to class {owner!r}")
        return draft

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        row = fetch(conn, "classes", draft.entity, "class")
        return OpDraft("ontology.class.update", draft.entity,
                       {"set": class_values(row, (draft.payload.get("set") or {}).keys())})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        fetch(conn, "classes", op.entity, "class")
        values = op.payload.get("set") or {}
        require(bool(values), "ontology.class.update: nothing to change")
        unknown = set(values) - set(FIELDS)
        require(not unknown, f"ontology.class.update: unknown fields {sorted(unknown)}")
        _check(values)
        if "parent_id" in values:
            _check_parent(conn, op.entity, values["parent_id"])
        cols = _columns(values)
        cols["revision"] = op.op_id
        conn.execute(f"UPDATE classes SET {', '.join(f'{k} = ?' for k in cols)} WHERE id = ?",
                     (*cols.values(), op.entity))
        bump_version(conn)
        return ChangeSet(classes={str(op.entity)})


@op_type("ontology.class.merge")
class MergeClass:
    """Merge ``entity`` into ``payload.into``: annotations keep their class id and are read as the
    target class; the source is deprecated and points at the target."""

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        row = fetch(conn, "classes", draft.entity, "class")
        return OpDraft("ontology.class.update", draft.entity,
                       {"set": class_values(row, ("merged_into", "deprecated"))})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        src = fetch(conn, "classes", op.entity, "class")
        into = op.payload.get("into")
        target = fetch(conn, "classes", into, "target class")
        require(into != op.entity, "ontology: cannot merge a class into itself")
        require(target["merged_into"] is None, "ontology: the target class was itself merged away")
        require(src["merged_into"] is None, "ontology: this class was merged already")
        conn.execute("UPDATE classes SET merged_into = ?, deprecated = 1, revision = ? WHERE id = ?",
                     (into, op.op_id, op.entity))
        # Anything merged into the source now resolves straight to the target.
        changed = {str(op.entity)}
        for (cid,) in conn.execute("SELECT id FROM classes WHERE merged_into = ?", (op.entity,)).fetchall():
            conn.execute("UPDATE classes SET merged_into = ?, revision = ? WHERE id = ?", (into, op.op_id, cid))
            changed.add(cid)
        bump_version(conn)
        return ChangeSet(classes=changed)
