"""Reads of the materialised state: all SELECTs the app needs live here."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.geometry import geometry_from_dict
from labeldesk.core.model import Annotation, Asset, Layer, Plane, User
from labeldesk.core.store import locators
from labeldesk.core.ontology import LabelClass


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))


# The next sequence number of this device and the clock's floor are derived: ``meta`` holds them
# as of the last write that set them (a batch, sync), the op log holds the edits made since (an
# edit through ``Project.apply`` does not rewrite ``meta``: one WAL page less per edit, DB-1).
# Both read the (dev, seq) key of the op log: one descent, however long the log.
NEXT_SEQ = ("MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'), 1),"
            " COALESCE((SELECT MAX(seq) FROM ops WHERE dev = ?1), 0) + 1)")


def next_seq(conn: sqlite3.Connection, device_id: str) -> int:
    """The sequence number this device's next op takes: past ``meta``'s ``next_seq`` and past
    every op of the device in the log."""
    return int(conn.execute(f"SELECT {NEXT_SEQ}", (device_id,)).fetchone()[0])


def clock_floor(conn: sqlite3.Connection, device_id: str) -> tuple[int, int]:
    """The hybrid clock's last value as stored: ``meta``'s ``hlc`` or this device's last op's
    stamp, whichever is later (the device's ops are stamped in sequence order)."""
    text = get_meta(conn, "hlc", "0,0") or "0,0"
    ms, ctr = (int(v) for v in text.split(","))
    row = conn.execute("SELECT hlc_ms, hlc_ctr FROM ops WHERE dev = ? ORDER BY seq DESC LIMIT 1",
                       (device_id,)).fetchone()
    return max((ms, ctr), (row[0], row[1])) if row is not None else (ms, ctr)


def row_to_asset(row: sqlite3.Row) -> Asset:
    return Asset(id=row["id"], kind=row["kind"], name=row["name"], content_hash=row["content_hash"],
                 width=row["width"], height=row["height"], depth=row["depth"], frames=row["frames"],
                 channels=row["channels"], dtype=row["dtype"],
                 spacing=tuple(json.loads(row["spacing"])) if row["spacing"] else None,
                 meta=json.loads(row["meta"]), removed=bool(row["removed"]))


def assets(conn: sqlite3.Connection, include_removed: bool = False) -> list[Asset]:
    sql = "SELECT * FROM assets" + ("" if include_removed else " WHERE removed = 0") + " ORDER BY rowid"
    return [row_to_asset(r) for r in conn.execute(sql)]


def asset(conn: sqlite3.Connection, asset_id: str) -> Asset | None:
    row = conn.execute("SELECT * FROM assets WHERE id = ?", (asset_id,)).fetchone()
    return row_to_asset(row) if row else None


def asset_by_hash(conn: sqlite3.Connection, content_hash: str) -> Asset | None:
    row = conn.execute("SELECT * FROM assets WHERE content_hash = ? AND removed = 0", (content_hash,)).fetchone()
    return row_to_asset(row) if row else None


def locator(conn: sqlite3.Connection, asset_id: str) -> dict[str, Any] | None:
    """Where this machine finds the asset's pixels (paths inside the project folder resolved
    against where the project is now: see store/locators.py)."""
    row = conn.execute("SELECT locator FROM asset_local WHERE asset_id = ?", (asset_id,)).fetchone()
    return locators.from_stored(json.loads(row[0]), locators.store_root(conn)) if row else None


def thumbnail(conn: sqlite3.Connection, asset_id: str) -> bytes | None:
    row = conn.execute("SELECT thumbnail FROM asset_local WHERE asset_id = ?", (asset_id,)).fetchone()
    return row[0] if row else None


def set_local(conn: sqlite3.Connection, asset_id: str, locator: dict[str, Any], thumbnail: bytes | None) -> None:
    """Where this machine finds an asset's pixels (local only, never synced)."""
    conn.execute("INSERT OR REPLACE INTO asset_local (asset_id, locator, thumbnail) VALUES (?,?,?)",
                 (asset_id, json.dumps(locators.to_stored(locator, locators.store_root(conn))), thumbnail))


def set_thumbnail(conn: sqlite3.Connection, asset_id: str, png: bytes) -> None:
    conn.execute("UPDATE asset_local SET thumbnail = ? WHERE asset_id = ?", (png, asset_id))


def row_to_annotation(row: sqlite3.Row) -> Annotation:
    return Annotation(id=row["id"], asset_id=row["asset_id"], layer_id=row["layer_id"],
                      class_id=row["class_id"], plane=Plane(row["plane_z"], row["plane_t"], row["plane_axis"]),
                      geometry=geometry_from_dict(json.loads(row["geometry"]), trusted=True),
                      attributes=json.loads(row["attributes"]), author=row["author"],
                      revision=row["revision"], deleted=bool(row["deleted"]), z_order=row["z_order"],
                      track_id=row["track_id"], keyframe=bool(row["keyframe"]))


def annotations(conn: sqlite3.Connection, asset_id: str, plane: Plane | None = None,
                layer_id: str | None = None, include_deleted: bool = False) -> list[Annotation]:
    sql = "SELECT * FROM annotations WHERE asset_id = ?"
    args: list[Any] = [asset_id]
    if plane is not None:
        sql += " AND plane_axis = ? AND plane_z = ? AND plane_t = ?"
        args += [plane.axis, plane.z, plane.t]
    if layer_id is not None:
        sql += " AND layer_id = ?"
        args.append(layer_id)
    if not include_deleted:
        sql += " AND deleted = 0"
    return [row_to_annotation(r) for r in conn.execute(sql + " ORDER BY z_order, rowid", args)]


def track(conn: sqlite3.Connection, track_id: str) -> list[Annotation]:
    return [row_to_annotation(r) for r in conn.execute(
        "SELECT * FROM annotations WHERE track_id = ? AND deleted = 0 ORDER BY plane_t, plane_z", (track_id,))]


def annotation(conn: sqlite3.Connection, annotation_id: str) -> Annotation | None:
    row = conn.execute("SELECT * FROM annotations WHERE id = ?", (annotation_id,)).fetchone()
    return row_to_annotation(row) if row else None


def annotation_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT asset_id, COUNT(*) FROM annotations WHERE deleted = 0 GROUP BY asset_id")}


def row_to_class(row: sqlite3.Row) -> LabelClass:
    return LabelClass(id=row["id"], name=row["name"], color=row["color"], parent_id=row["parent_id"],
                      hotkey=row["hotkey"], kinds=tuple(json.loads(row["kinds"])),
                      attributes=tuple(json.loads(row["attributes"])), guide=json.loads(row["guide"]),
                      deprecated=bool(row["deprecated"]), merged_into=row["merged_into"],
                      sort_order=row["sort_order"], revision=row["revision"], **_codes(row))


def _codes(row: sqlite3.Row) -> dict[str, Any]:
    keys = row.keys()
    if "value" not in keys:
        return {}
    return {"value": row["value"], "code": row["code"], "concept": json.loads(row["concept"] or "{}"),
            "keypoints": json.loads(row["keypoints"] or "{}")}


def classes(conn: sqlite3.Connection) -> list[LabelClass]:
    return [row_to_class(r) for r in conn.execute("SELECT * FROM classes ORDER BY sort_order, rowid")]


def layers(conn: sqlite3.Connection, include_removed: bool = False) -> list[Layer]:
    sql = "SELECT * FROM layers" + ("" if include_removed else " WHERE removed = 0") + " ORDER BY rowid"
    return [Layer(r["id"], r["name"], r["kind"], r["owner"]) for r in conn.execute(sql)]


def users(conn: sqlite3.Connection) -> list[User]:
    roles: dict[str, set[str]] = {}
    for uid, role in conn.execute("SELECT user_id, role FROM roles"):
        roles.setdefault(uid, set()).add(role)
    from labeldesk.core.review.roles import effective_roles
    return [User(r["id"], r["name"], frozenset(effective_roles(roles.get(r["id"], set()))))
            for r in conn.execute("SELECT * FROM users ORDER BY rowid")]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    q = {
        "assets": "SELECT COUNT(*) FROM assets WHERE removed = 0",
        "annotations": "SELECT COUNT(*) FROM annotations WHERE deleted = 0",
        "classes": "SELECT COUNT(*) FROM classes WHERE deprecated = 0",
        "layers": "SELECT COUNT(*) FROM layers WHERE removed = 0",
        "users": "SELECT COUNT(*) FROM users",
        "ops": "SELECT COUNT(*) FROM ops",
        "outbox": "SELECT COUNT(*) FROM outbox",
    }
    return {k: int(conn.execute(sql).fetchone()[0]) for k, sql in q.items()}
