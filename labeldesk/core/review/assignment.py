"""Assignment of assets to annotators, and who sees which layers.

Each assignment is an immutable ``task.assign`` record (asset, annotator, layer). The layer is
the annotator's own annotator layer — created with the assignment when they have none — so
their annotations on every asset assigned to them land in their layer and never conflict with
another annotator's (dual/blind labeling: N annotators per asset, N layers). Assignment is
advisory: it drives queues and visibility, never correctness.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OpDraft
from labeldesk.core.review import workflow
from labeldesk.core.review.roles import user_roles

SEE_ALL_ROLES = {"reviewer", "adjudicator", "admin"}
REVIEWED = ("approved", "adjudicated")


@dataclass(frozen=True)
class Assignment:
    id: str
    asset_id: str
    user_id: str
    user_name: str
    layer_id: str
    mode: str


def assignments(conn: Any, asset_id: str | None = None, user_id: str | None = None) -> list[Assignment]:
    sql = ("SELECT a.*, u.name AS user_name FROM assignments a JOIN users u ON u.id = a.user_id"
           " WHERE a.removed_by_op IS NULL")
    args: list[Any] = []
    if asset_id:
        sql += " AND a.asset_id = ?"
        args.append(asset_id)
    if user_id:
        sql += " AND a.user_id = ?"
        args.append(user_id)
    rows = conn.execute(sql + " ORDER BY a.hlc_ms, a.hlc_ctr, a.op_id", args)
    return [Assignment(r["id"], r["asset_id"], r["user_id"], r["user_name"], r["layer_id"], r["mode"]) for r in rows]


def annotators(conn: Any) -> list[str]:
    """User ids with the annotator role, by name (the round-robin order)."""
    return [r[0] for r in conn.execute("SELECT u.id FROM users u JOIN roles r ON r.user_id = u.id"
                                       " WHERE r.role = 'annotator' ORDER BY u.name, u.id")]


def _own_layer(project: Any, user_id: str, made: dict[str, str], drafts: list[OpDraft]) -> str:
    if user_id in made:
        return made[user_id]
    for layer in project.layers():
        if layer.owner == user_id and layer.kind == "annotator":
            made[user_id] = layer.id
            return layer.id
    name = project.conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0]
    layer_id = ids.new_id()
    drafts.append(OpDraft("layer.create", layer_id, {"layer": {"name": name, "kind": "annotator", "owner": user_id}}))
    made[user_id] = layer_id
    return layer_id


def plan(conn: Any, asset_ids: list[str], to: list[str] | None, per_asset: int = 1) -> list[tuple[str, str, str]]:
    """``[(asset_id, user_id, mode)]``: to the named users (each gets every asset), or round-robin
    over all annotators with ``per_asset`` distinct annotators per asset (dual/blind labeling).
    Pairs already assigned are skipped; round-robin starts where the active assignments leave off."""
    existing = {(a.asset_id, a.user_id) for a in assignments(conn)}
    out: list[tuple[str, str, str]] = []
    if to:
        for asset_id in asset_ids:
            out += [(asset_id, u, "manual") for u in to if (asset_id, u) not in existing]
        return out
    pool = annotators(conn)
    if not pool:
        raise LabeldeskError("no user has the annotator role; grant it with `labeldesk user grant`")
    if per_asset > len(pool):
        raise LabeldeskError(f"{per_asset} annotators per asset asked for, but only {len(pool)} users are annotators")
    mode = "per_asset" if per_asset > 1 else "round_robin"
    cursor = len(existing)
    for asset_id in asset_ids:
        have = {u for (a, u) in existing if a == asset_id}
        need = per_asset - len(have)
        k = 0
        while need > 0 and k < len(pool):
            user = pool[(cursor + k) % len(pool)]
            k += 1
            if user in have:
                continue
            out.append((asset_id, user, mode))
            have.add(user)
            need -= 1
        cursor += max(k, 1)
    return out


def assign(project: Any, asset_ids: Iterable[str], *, to: list[str] | None = None, per_asset: int = 1,
           user: str | None = None) -> list[Assignment]:
    """Assign assets (to named users, else round-robin over annotators); returns the new assignments."""
    conn = project.conn
    asset_ids = list(dict.fromkeys(asset_ids))
    if per_asset < 1:
        raise LabeldeskError("--per-asset must be at least 1")
    pairs = plan(conn, asset_ids, to, per_asset)
    drafts: list[OpDraft] = []
    made: dict[str, str] = {}
    for asset_id, user_id, mode in pairs:
        layer_id = _own_layer(project, user_id, made, drafts)
        drafts.append(OpDraft("task.assign", ids.new_id(),
                              {"asset_id": asset_id, "user_id": user_id, "layer_id": layer_id, "mode": mode}))
    applied = project.apply_all(drafts, user=user)
    new = {a.op.entity for a in applied if a.op.type == "task.assign"}
    return [a for a in assignments(conn) if a.id in new]


def unassigned_assets(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM assets WHERE removed = 0 AND id NOT IN"
                                       " (SELECT asset_id FROM assignments WHERE removed_by_op IS NULL)"
                                       " ORDER BY name, id")]


def unassign(project: Any, asset_id: str, user_id: str, *, user: str | None = None) -> int:
    drafts = [OpDraft("task.unassign", a.id, {}) for a in assignments(project.conn, asset_id, user_id)]
    if not drafts:
        raise LabeldeskError("that user is not assigned to that asset")
    project.apply_all(drafts, user=user)
    return len(drafts)


def visible_layers(project: Any, user_id: str, asset_id: str) -> list[str]:
    """Layer ids ``user_id`` may see on ``asset_id``: reviewers, adjudicators and admins see all;
    an annotator sees their own layers and the predictions — and every layer once their own layer
    on this asset has been reviewed (approved or adjudicated)."""
    conn = project.conn
    layers = project.layers()
    if user_roles(conn, user_id) & SEE_ALL_ROLES:
        return [l.id for l in layers]
    own = [l.id for l in layers if l.owner == user_id]
    states = {i.layer_id: i.state for i in workflow.item_states(conn, asset_id)}
    if any(states.get(lid) in REVIEWED for lid in own):
        return [l.id for l in layers]
    return [l.id for l in layers if l.owner == user_id or l.kind == "predictions"]
