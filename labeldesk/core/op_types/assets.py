"""asset.add / asset.remove / asset.restore / asset.rename."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.model import ASSET_KINDS, Asset
from labeldesk.core.op_types.rows import exists, fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS
from labeldesk.core.store.locators import store_root, to_stored

# A new asset's name is its file's name (read by the importer, not typed; checked when published);
# a rename is typed.
FREE_TEXT_OPS.add("asset.rename")


@op_type("asset.add")
class AddAsset:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("asset.remove", draft.entity, {})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = dict(op.payload.get("asset") or {})
        d["id"] = op.entity
        try:
            asset = Asset.from_dict(d)
        except (KeyError, TypeError, ValueError) as exc:
            require(False, f"asset.add: malformed asset record ({exc})")
        require(asset.kind in ASSET_KINDS, f"asset.add: unknown asset kind {asset.kind!r}")
        require(asset.width > 0 and asset.height > 0, "asset.add: asset has no pixels")
        require(not exists(conn, "assets", asset.id), f"asset {asset.id} exists already")
        conn.execute(
            "INSERT INTO assets (id, kind, name, content_hash, width, height, depth, frames, channels,"
            " dtype, spacing, meta, removed, revision) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,?)",
            (asset.id, asset.kind, asset.name, asset.content_hash, asset.width, asset.height,
             asset.depth, asset.frames, asset.channels, asset.dtype,
             json.dumps(list(asset.spacing)) if asset.spacing else None, canonical_json(asset.meta),
             op.op_id))
        if local and "locator" in local:
            conn.execute("INSERT OR REPLACE INTO asset_local (asset_id, locator, thumbnail) VALUES (?,?,?)",
                         (asset.id, canonical_json(to_stored(local["locator"], store_root(conn))),
                          local.get("thumbnail")))
        return ChangeSet(assets={asset.id})


class _SetRemoved:
    removed = 1

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = fetch(conn, "assets", op.entity, "asset")
        require(bool(row["removed"]) != bool(self.removed),
                f"asset {row['name']} is {'already removed' if self.removed else 'not removed'}")
        conn.execute("UPDATE assets SET removed = ?, revision = ? WHERE id = ?",
                     (self.removed, op.op_id, op.entity))
        return ChangeSet(assets={str(op.entity)})


@op_type("asset.remove")
class RemoveAsset(_SetRemoved):
    """Hides an asset; its annotations stay in the store and come back with asset.restore."""

    removed = 1

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("asset.restore", draft.entity, {})


@op_type("asset.restore")
class RestoreAsset(_SetRemoved):
    removed = 0

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("asset.remove", draft.entity, {})


@op_type("asset.rename")
class RenameAsset:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        row = fetch(conn, "assets", draft.entity, "asset")
        return OpDraft("asset.rename", draft.entity, {"name": row["name"]})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        fetch(conn, "assets", op.entity, "asset")
        name = str(op.payload.get("name", "")).strip()
        require(bool(name), "asset.rename: the name is empty")
        conn.execute("UPDATE assets SET name = ?, revision = ? WHERE id = ?", (name, op.op_id, op.entity))
        return ChangeSet(assets={str(op.entity)})
