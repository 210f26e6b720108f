"""segment.create / segment.update / segment.delete / segment.restore / segment.paint.

A segment is one 3-D label map (``core/segments.py``). ``segment.paint`` carries, inside a box
``origin`` (z, y, x) + ``shape``, the voxels turned on (``on``) and off (``off``) as packed bits;
its inverse swaps them. A locked or deleted segment refuses paint.
"""
from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from labeldesk.core.op_types.rows import fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS
from labeldesk.core.review.roles import EDITORS, OP_WORDS, REQUIRED_ROLES
from labeldesk.core.segments import decode_bits, slice_blob, slice_from_blob

SETTABLE = ("name", "color", "locked", "class_id")

# Segments follow the annotation layer rule (labeldesk.core.review.roles._touched_layers).
REQUIRED_ROLES.update({t: EDITORS for t in ("segment.create", "segment.update", "segment.delete",
                                            "segment.restore", "segment.paint")})
OP_WORDS.update({"segment.create": "make a segment", "segment.update": "change a segment",
                 "segment.delete": "delete a segment", "segment.restore": "restore a segment",
                 "segment.paint": "paint a segment"})
FREE_TEXT_OPS.update({"segment.create", "segment.update"})  # the segment's name


def _asset(conn: sqlite3.Connection, asset_id: Any) -> sqlite3.Row:
    asset = fetch(conn, "assets", asset_id, "asset")
    require(asset["kind"] == "volume", f"segment: {asset['name']} is not a volume (segments are 3-D label maps)")
    require(not asset["removed"], f"segment: asset {asset['name']} was removed")
    return asset


@op_type("segment.create")
class CreateSegment:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("segment.delete", draft.entity, {})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload.get("segment") or {}
        asset = _asset(conn, d.get("asset_id"))
        fetch(conn, "layers", d.get("layer_id"), "layer")
        if d.get("class_id") is not None:
            fetch(conn, "classes", d.get("class_id"), "class")
        t = int(d.get("t", 0))
        require(0 <= t < asset["frames"], f"segment: time point {t + 1} is outside the asset (1..{asset['frames']})")
        name = str(d.get("name") or "").strip()
        require(bool(name), "segment.create: the name is empty")
        require(conn.execute("SELECT 1 FROM segments WHERE id = ?", (op.entity,)).fetchone() is None,
                f"segment {op.entity} exists already")
        conn.execute("INSERT INTO segments (id, asset_id, layer_id, class_id, t, name, color, locked, voxels,"
                     " deleted, author, revision) VALUES (?,?,?,?,?,?,?,0,0,0,?,?)",
                     (op.entity, asset["id"], d["layer_id"], d.get("class_id"), t, name, d.get("color"),
                      op.user, op.op_id))
        return ChangeSet(segments={str(op.entity)}, assets={asset["id"]})


@op_type("segment.update")
class UpdateSegment:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        row = fetch(conn, "segments", draft.entity, "segment")
        values = draft.payload.get("set") or {}
        require(set(values) <= set(SETTABLE), f"segment.update: only {', '.join(SETTABLE)} can be set")
        old = {k: (bool(row[k]) if k == "locked" else row[k]) for k in values}
        return OpDraft("segment.update", draft.entity, {"set": old})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = fetch(conn, "segments", op.entity, "segment")
        values = dict(op.payload.get("set") or {})
        require(set(values) <= set(SETTABLE), f"segment.update: only {', '.join(SETTABLE)} can be set")
        if "name" in values:
            values["name"] = str(values["name"] or "").strip()
            require(bool(values["name"]), "segment.update: the name is empty")
        if values.get("class_id") is not None:
            fetch(conn, "classes", values["class_id"], "class")
        if "locked" in values:
            values["locked"] = 1 if values["locked"] else 0
        values["revision"] = op.op_id
        cols = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE segments SET {cols} WHERE id = ?", (*values.values(), op.entity))
        return ChangeSet(segments={str(op.entity)}, assets={row["asset_id"]})


class _SetDeleted:
    deleted = 1

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = fetch(conn, "segments", op.entity, "segment")
        conn.execute("UPDATE segments SET deleted = ?, revision = ? WHERE id = ?", (self.deleted, op.op_id, op.entity))
        return ChangeSet(segments={str(op.entity)}, assets={row["asset_id"]})


@op_type("segment.delete")
class DeleteSegment(_SetDeleted):
    deleted = 1

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("segment.restore", draft.entity, {})


@op_type("segment.restore")
class RestoreSegment(_SetDeleted):
    deleted = 0

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("segment.delete", draft.entity, {})


def _box(conn: sqlite3.Connection, row: sqlite3.Row, payload: dict[str, Any]) -> tuple[list[int], list[int]]:
    asset = fetch(conn, "assets", row["asset_id"], "asset")
    grid = (asset["depth"], asset["height"], asset["width"])
    try:
        origin = [int(v) for v in payload["origin"]]
        shape = [int(v) for v in payload["shape"]]
    except (KeyError, TypeError, ValueError):
        require(False, "segment.paint: origin and shape must be three integers each")
    require(len(origin) == 3 and len(shape) == 3, "segment.paint: origin and shape must be three integers each")
    require(all(o >= 0 and s > 0 and o + s <= g for o, s, g in zip(origin, shape, grid)),
            f"segment.paint: the box {origin} + {shape} is outside the volume {list(grid)} (z, y, x)")
    return origin, shape


@op_type("segment.paint")
class PaintSegment:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        fetch(conn, "segments", draft.entity, "segment")
        p = draft.payload
        undo = {"origin": p.get("origin"), "shape": p.get("shape")}
        if p.get("off"):
            undo["on"] = p["off"]
        if p.get("on"):
            undo["off"] = p["on"]
        return OpDraft("segment.paint", draft.entity, undo)

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = fetch(conn, "segments", op.entity, "segment")
        require(not row["deleted"], f"segment.paint: segment {row['name']!r} was deleted")
        require(not row["locked"], f"segment.paint: segment {row['name']!r} is locked")
        origin, shape = _box(conn, row, op.payload)
        try:
            on = decode_bits(op.payload["on"], tuple(shape)) if op.payload.get("on") else None
            off = decode_bits(op.payload["off"], tuple(shape)) if op.payload.get("off") else None
        except (ValueError, TypeError, Exception) as exc:      # zlib.error, binascii.Error
            require(False, f"segment.paint: the voxel data cannot be read ({exc})")
        asset = fetch(conn, "assets", row["asset_id"], "asset")
        plane_shape = (asset["height"], asset["width"])
        z0, y0, x0 = origin
        dz, dy, dx = shape
        total = int(row["voxels"])
        for k in range(dz):
            z = z0 + k
            old = conn.execute("SELECT voxels, data FROM segment_slices WHERE segment_id = ? AND z = ?",
                               (op.entity, z)).fetchone()
            mask = slice_from_blob(old["data"], plane_shape) if old is not None else np.zeros(plane_shape, bool)
            box = mask[y0:y0 + dy, x0:x0 + dx]
            if on is not None:
                box |= on[k]
            if off is not None:
                box &= ~off[k]
            count = int(np.count_nonzero(mask))
            total += count - (int(old["voxels"]) if old is not None else 0)
            if count:
                conn.execute("INSERT OR REPLACE INTO segment_slices (segment_id, z, voxels, data) VALUES (?,?,?,?)",
                             (op.entity, z, count, slice_blob(mask)))
            elif old is not None:
                conn.execute("DELETE FROM segment_slices WHERE segment_id = ? AND z = ?", (op.entity, z))
        conn.execute("UPDATE segments SET voxels = ?, revision = ? WHERE id = ?", (total, op.op_id, op.entity))
        return ChangeSet(segments={str(op.entity)}, assets={row["asset_id"]})
