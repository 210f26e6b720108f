"""What sync knows, for `labeldesk share status` and the sync panel (docs/sync.md §9); plus
conflict listing/resolution and a digest of the materialised state to compare replicas."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import Applied, OpDraft
from labeldesk.core.store import repo

# Materialised tables compared between replicas; local-only columns left out (asset_local,
# ontology_version: the ontology version counter each store keeps for itself).
DIGEST_TABLES = {
    "assets": "id, kind, name, content_hash, width, height, depth, frames, channels, dtype, spacing, meta, removed, revision",
    "layers": "id, name, kind, owner, removed, revision",
    "classes": "id, name, parent_id, color, hotkey, kinds, attributes, guide, deprecated, merged_into, sort_order, revision",
    "annotations": "id, asset_id, layer_id, class_id, plane_axis, plane_z, plane_t, kind, geometry, attributes, author,"
                   " deleted, revision, z_order, track_id, keyframe",
    "users": "id, name, revision",
    "classifications": "id, asset_id, layer_id, scope, plane_axis, plane_z, plane_t, class_id, author, deleted, revision",
    "sync_conflicts": "id, entity, field, kind, candidates, winner, status, resolved_by_op",
    "user_keys": "key_id, user_id, public_key, revoked_cut",
    # immutable records, one per op (which op set an assignment's tombstone depends on arrival order)
    "review_records": "id, kind, asset_id, layer_id, decision, target_rev, refs, detail, user_id, reason, op_id",
    "assignments": "id, asset_id, user_id, layer_id, mode, assigned_by, op_id, removed_by_op IS NULL",
    "issues": "id, asset_id, layer_id, annotation_id, plane_axis, plane_z, plane_t, x, y, text, user_id, op_id",
    "issue_events": "id, issue_id, kind, text, refs, user_id, op_id",
    "annotation_provenance": "annotation_id, model, model_version, score, class_scores, prediction_id, original, op_id",
    "prediction_decisions": "id, prediction_id, decision, copy_id, target, reason, user, op_id",
    "releases": "id, name, op_id, dev, user, layers, files, counts, previous",
}
_DIGEST_ORDER = {"user_keys": "key_id", "annotation_provenance": "annotation_id"}


def state_digest(conn: sqlite3.Connection) -> str:
    h = hashlib.sha256()
    for table, cols in DIGEST_TABLES.items():
        order = _DIGEST_ORDER.get(table, "id")
        for row in conn.execute(f"SELECT {cols} FROM {table} ORDER BY {order}"):
            h.update(json.dumps([table, *tuple(row)], default=str).encode())
    for row in conn.execute("SELECT user_id, role FROM roles ORDER BY user_id, role"):
        h.update(json.dumps(["roles", *tuple(row)]).encode())
    for row in conn.execute("SELECT key, value FROM meta WHERE key LIKE 'setting.%' ORDER BY key"):
        h.update(json.dumps(["settings", *tuple(row)]).encode())
    return h.hexdigest()


GRACE_S = 10 * 60      # an incomplete segment is normal while a sync tool delivers it; alert after this


def _problems(raw: str, now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for p in json.loads(raw):
        if not isinstance(p, dict):
            p = {"text": str(p), "since": None}
        since = dt.datetime.fromisoformat(p["since"].replace("Z", "+00:00")) if p.get("since") else now
        text = p["text"]
        urgent = not text.startswith(("incomplete", "waiting")) and "will retry" not in text
        out.append({"text": text, "since": p.get("since"),
                    "alert": urgent or (now - since).total_seconds() > GRACE_S})
    return out


def _signing(conn: sqlite3.Connection) -> str:
    from labeldesk.core.sync.trust import root_key
    from labeldesk.core.sync.keys import fingerprint
    root = root_key(conn)
    if root is None:
        return "unsigned share (made before signing keys): segments are not checked for their author"
    n = conn.execute("SELECT COUNT(*) FROM user_keys WHERE revoked_by_op IS NULL").fetchone()[0]
    return f"every segment signed; founding admin key {fingerprint(root['key_id'])}; {n} keys enrolled"


def _user_name(conn: sqlite3.Connection, user_id: str | None) -> str | None:
    if not user_id:
        return None
    row = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else user_id


def status(project: Any, *, digest: bool = True) -> dict[str, Any]:
    """Everything `share status` shows; ``digest=False`` skips hashing the whole materialised state
    (the GUI polls this after every round)."""
    conn = project.conn
    from labeldesk.core.sync.engine import share_path
    states = dict(conn.execute("SELECT state, COUNT(*) FROM sync_op_state GROUP BY state").fetchall())
    own = project.device_id
    held = conn.execute("SELECT COUNT(*) FROM outbox x JOIN ops o ON o.op_id = x.op_id WHERE o.dev != ?",
                        (own,)).fetchone()[0]
    outbox = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    last_round = json.loads(repo.get_meta(conn, "sync.last_round", "null") or "null")
    devices = []
    now = dt.datetime.now(dt.timezone.utc)
    for r in conn.execute("SELECT * FROM sync_devices ORDER BY dev"):
        pend = conn.execute("SELECT COUNT(*) FROM sync_op_state s JOIN ops o ON o.op_id = s.op_id WHERE o.dev = ? AND"
                            " s.state = 'pending'", (r["dev"],)).fetchone()[0]
        pend += conn.execute("SELECT COUNT(*) FROM sync_pending_lines WHERE dev = ?", (r["dev"],)).fetchone()[0]
        flagged = dict(conn.execute("SELECT s.state, COUNT(*) FROM sync_op_state s JOIN ops o ON o.op_id = s.op_id"
                                    " WHERE o.dev = ? AND s.state IN ('unauthorised', 'unknown_type', 'rejected')"
                                    " GROUP BY s.state", (r["dev"],)).fetchall())
        conflicts = conn.execute("SELECT COUNT(*) FROM sync_conflicts WHERE status = 'open' AND candidates LIKE ?",
                                 (f'%"dev":"{r["dev"]}"%',)).fetchone()[0]
        devices.append({"device_id": r["dev"], "user": _user_name(conn, r["user"]), "last_seq": r["last_seq"],
                        "last_segment": r["last_segment"], "waiting_for_seq": r["waiting_for_seq"],
                        "waiting_since": r["waiting_since"], "pending": pend, "conflicts": conflicts,
                        "clock_ahead_s": round(r["clock_ahead_ms"] / 1000) if r["clock_ahead_ms"] else 0,
                        "unauthorised": flagged.get("unauthorised", 0), "unknown_type": flagged.get("unknown_type", 0),
                        "rejected": flagged.get("rejected", 0),
                        "problems": _problems(r["problems"], now), "artefacts": json.loads(r["artefacts"])})
    return {"share": str(share_path(project) or ""), "device_id": own, "user": _user_name(conn, project.user_id),
            "outbox": outbox - held, "held_from_previous_identity": held,
            "pending": states.get("pending", 0) + conn.execute("SELECT COUNT(*) FROM sync_pending_lines").fetchone()[0],
            "unauthorised": states.get("unauthorised", 0), "unknown_type": states.get("unknown_type", 0),
            "rejected": states.get("rejected", 0), "overridden_deletes": states.get("overridden", 0),
            "collisions": conn.execute("SELECT COUNT(*) FROM sync_collisions WHERE state = 'collision'").fetchone()[0],
            "twin_ops": conn.execute("SELECT COUNT(*) FROM sync_collisions WHERE state IS NULL OR state != "
                                     "'collision'").fetchone()[0],
            "open_conflicts": conn.execute("SELECT COUNT(*) FROM sync_conflicts WHERE status = 'open'").fetchone()[0],
            "identity_alert": repo.get_meta(conn, "sync.identity_alert"),
            "signing": _signing(conn),
            "publish_blocked": repo.get_meta(conn, "sync.publish_blocked"),
            "last_round": last_round, "share_artefacts": (last_round or {}).get("artefacts", []), "devices": devices, "state_digest": state_digest(conn) if digest else None}


def conflicts(project: Any, include_resolved: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT * FROM sync_conflicts" + ("" if include_resolved else " WHERE status = 'open'") + " ORDER BY entity, field"
    out = []
    for r in project.conn.execute(sql):
        cands = json.loads(r["candidates"])
        for c in cands:
            c["user_name"] = _user_name(project.conn, c.get("user"))
        out.append({"id": r["id"], "entity": r["entity"], "entity_kind": r["entity_kind"], "field": r["field"],
                    "kind": r["kind"], "status": r["status"], "winner": r["winner"], "candidates": cands,
                    "resolved_by_op": r["resolved_by_op"]})
    return out


def resolve(project: Any, conflict_id: str, choice: str, reason: str | None = None,
            user: str | None = None) -> Applied:
    """Decide a conflict: keep the value of candidate op ``choice`` (a conflict.resolve op)."""
    row = project.conn.execute("SELECT id FROM sync_conflicts WHERE id LIKE ?", (conflict_id + "%",)).fetchall()
    if len(row) != 1:
        raise LabeldeskError(f"no single conflict with id {conflict_id!r} ({len(row)} match)")
    cands = json.loads(project.conn.execute("SELECT candidates FROM sync_conflicts WHERE id = ?",
                                            (row[0][0],)).fetchone()[0])
    full = [c["op_id"] for c in cands if c["op_id"] == choice or c["op_id"].endswith(choice)]
    if len(full) != 1:
        raise LabeldeskError(f"conflict {row[0][0][:12]}: {choice!r} is not one of its candidates "
                             f"({', '.join(c['op_id'] for c in cands)})")
    return project.apply(OpDraft("conflict.resolve", None, {"conflict": row[0][0], "choice": full[0]},
                                 reason=reason), user=user)
