"""Review state per asset and layer, derived from immutable records — never stored.

States of an (asset, annotator layer): ``todo → in_progress → submitted → approved | returned``,
``disputed → adjudicated``. The state is computed from the set of review records (submits,
decisions, adjudications) and the layer's current *revision* (:func:`layer_revisions`: a digest
of the ids and revisions of every annotation and classification of that layer on that asset, so
any edit, delete or restore changes it). A decision names the revision it reviewed; when the
layer changes afterwards the approval is stale and the item needs review again.

A decision lists the decisions it replaces (``supersedes``: the same reviewer's earlier ones).
Two open decisions on the same revision that disagree make the item ``disputed`` — whether they
were made concurrently on two devices or one after the other; only an adjudication closes it. No decision wins by timestamp, so every replica derives the same state
from the same records whatever order they arrived in.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import Applied, OpDraft

STATES = ("todo", "in_progress", "submitted", "approved", "returned", "disputed", "adjudicated")
APPROVING = ("approve", "fix_approve")
EMPTY_REV = "empty"


@dataclass(frozen=True)
class Record:
    id: str
    kind: str                  # submit | decide | adjudicate
    asset_id: str
    layer_id: str | None
    decision: str | None
    target_rev: str | None
    refs: tuple[str, ...]
    detail: dict[str, Any]
    user_id: str | None
    user_name: str
    reason: str | None
    op_id: str
    hlc: tuple[int, int]


@dataclass
class ItemState:
    asset_id: str
    asset_name: str
    layer_id: str
    layer_name: str
    owner_id: str | None
    owner_name: str
    state: str
    revision: str
    stale: bool = False                    # an approval of an earlier revision exists
    decisions: list[Record] = field(default_factory=list)   # the open (head) decisions
    note: str = ""
    assigned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "asset": self.asset_name, "layer_id": self.layer_id,
                "layer": self.layer_name, "owner": self.owner_name, "state": self.state,
                "revision": self.revision, "stale": self.stale, "note": self.note, "assigned": self.assigned,
                "decisions": [{"id": d.id, "decision": d.decision, "by": d.user_name, "reason": d.reason,
                               "target_rev": d.target_rev} for d in self.decisions]}


@dataclass
class AssetState:
    asset_id: str
    asset_name: str
    state: str
    layers: list[ItemState]
    dual: bool = False
    needs_adjudication: bool = False
    note: str = ""


# ---- revisions -------------------------------------------------------------------------------
def layer_revisions(conn: sqlite3.Connection, asset_id: str | None = None) -> dict[tuple[str, str], str]:
    """``{(asset_id, layer_id): revision}`` for every layer with annotations, classifications or
    segments (a stroke on a segment makes an approval of its layer stale)."""
    where = " WHERE asset_id = ?" if asset_id else ""
    args = (asset_id, asset_id, asset_id) if asset_id else ()
    rows = conn.execute(f"SELECT asset_id, layer_id, id, revision FROM annotations{where} UNION ALL "
                        f"SELECT asset_id, layer_id, id, revision FROM classifications{where} UNION ALL "
                        f"SELECT asset_id, layer_id, id, revision FROM segments{where} "   # 3-D label maps
                        "ORDER BY 1, 2, 3", args)
    out: dict[tuple[str, str], str] = {}
    key, h = None, None
    for a, layer, eid, rev in rows:
        if (a, layer) != key:
            if key is not None:
                out[key] = "r" + h.hexdigest()[:20]
            key, h = (a, layer), hashlib.sha256()
        h.update(f"{eid}={rev};".encode())
    if key is not None:
        out[key] = "r" + h.hexdigest()[:20]
    return out


def layer_revision(conn: sqlite3.Connection, asset_id: str, layer_id: str) -> str:
    """The revision of ``layer_id`` on ``asset_id``; ``"empty"`` when it holds nothing."""
    return layer_revisions(conn, asset_id).get((asset_id, layer_id), EMPTY_REV)


# ---- records ---------------------------------------------------------------------------------
def records(conn: sqlite3.Connection, asset_id: str | None = None) -> list[Record]:
    sql = ("SELECT r.*, u.name AS user_name FROM review_records r LEFT JOIN users u ON u.id = r.user_id"
           + (" WHERE r.asset_id = ?" if asset_id else "") + " ORDER BY r.hlc_ms, r.hlc_ctr, r.op_id")
    return [Record(r["id"], r["kind"], r["asset_id"], r["layer_id"], r["decision"], r["target_rev"],
                   tuple(json.loads(r["refs"])), json.loads(r["detail"]), r["user_id"],
                   r["user_name"] or str(r["user_id"]), r["reason"], r["op_id"], (r["hlc_ms"], r["hlc_ctr"]))
            for r in conn.execute(sql, (asset_id,) if asset_id else ())]


def head_decisions(recs: Iterable[Record], layer_id: str) -> list[Record]:
    """Decisions on ``layer_id`` that no later decision or adjudication superseded."""
    recs = list(recs)
    superseded = {ref for r in recs for ref in r.refs}
    return [r for r in recs if r.kind == "decide" and r.layer_id == layer_id and r.id not in superseded]


def _derive(recs: list[Record], layer_id: str, rev: str) -> tuple[str, bool, list[Record], str]:
    heads = head_decisions(recs, layer_id)
    adjudications = sorted((r for r in recs if r.kind == "adjudicate" and r.detail.get("sources", {}).get(layer_id) == rev),
                           key=lambda r: (r.hlc, r.op_id))
    current = sorted((d for d in heads if d.target_rev == rev), key=lambda d: (d.hlc, d.op_id))
    stale = any(d.decision in APPROVING and d.target_rev != rev for d in heads)
    if adjudications:
        last = adjudications[-1]          # several adjudications of one revision: the latest orders
        state = "adjudicated" if last.decision == "accept" else "returned"
        return state, False, current, f"adjudicated by {last.user_name}: {last.reason}"
    if current:
        kinds = {"approve" if d.decision in APPROVING else "return" for d in current}
        if len(kinds) > 1:
            who = " vs ".join(f"{d.decision} by {d.user_name}" for d in current)
            return "disputed", stale, current, f"reviewers disagree ({who}); needs adjudication"
        if kinds == {"approve"}:
            return "approved", False, current, "approved by " + ", ".join(sorted({d.user_name for d in current}))
        return "returned", stale, current, "; ".join(f"returned by {d.user_name}: {d.reason}" for d in current)
    submitted = any(r.kind == "submit" and r.layer_id == layer_id and r.target_rev == rev for r in recs)
    if stale:
        return "submitted", True, [], "approval is stale: the layer changed after it was approved; needs review"
    if submitted:
        return "submitted", False, [], "submitted; needs review"
    if rev != EMPTY_REV:
        return "in_progress", False, [], ""
    return "todo", False, [], ""


# ---- items -----------------------------------------------------------------------------------
def _names(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute(f"SELECT id, name FROM {table}")}


def item_states(conn: sqlite3.Connection, asset_id: str | None = None) -> list[ItemState]:
    """Every (asset, annotator layer) item: assigned, holding annotations, or with review records."""
    revs = layer_revisions(conn, asset_id)
    layers = {r["id"]: r for r in conn.execute("SELECT id, name, kind, owner FROM layers")}
    assets = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM assets WHERE removed = 0")}
    users = _names(conn, "users")
    where = " AND asset_id = ?" if asset_id else ""
    args = (asset_id,) if asset_id else ()
    assigned = {(r[0], r[1]) for r in conn.execute(
        f"SELECT asset_id, layer_id FROM assignments WHERE removed_by_op IS NULL{where}", args)}
    keys = set(assigned) | set(revs)
    all_recs = records(conn, asset_id)
    by_asset: dict[str, list[Record]] = {}
    for rec in all_recs:
        by_asset.setdefault(rec.asset_id, []).append(rec)
        if rec.kind != "adjudicate" and rec.layer_id:
            keys.add((rec.asset_id, rec.layer_id))
    out = []
    for a, lid in sorted(keys, key=lambda k: (assets.get(k[0], ""), k[0], layers[k[1]]["name"] if k[1] in layers else "")):
        layer = layers.get(lid)
        if a not in assets or layer is None or layer["kind"] != "annotator":
            continue
        rev = revs.get((a, lid), EMPTY_REV)
        state, stale, decisions, note = _derive(by_asset.get(a, []), lid, rev)
        out.append(ItemState(a, assets[a], lid, layer["name"], layer["owner"], users.get(layer["owner"], "—"),
                             state, rev, stale, decisions, note, (a, lid) in assigned))
    return out


def item_state(conn: sqlite3.Connection, asset_id: str, layer_id: str) -> ItemState:
    for item in item_states(conn, asset_id):
        if item.layer_id == layer_id:
            return item
    raise LabeldeskError(f"layer {layer_id} has nothing on asset {asset_id} and is not assigned to it")


_ORDER = {"todo": 0, "in_progress": 1, "returned": 2, "submitted": 3, "approved": 4, "adjudicated": 5}


def asset_state(conn: sqlite3.Connection, asset_id: str) -> AssetState:
    """One asset's summary: its layers, and for dual-labeled assets whether adjudication is due."""
    row = conn.execute("SELECT name FROM assets WHERE id = ?", (asset_id,)).fetchone()
    return summarise(asset_id, row[0] if row else asset_id, item_states(conn, asset_id))


def summarise(asset_id: str, name: str, items: list[ItemState]) -> AssetState:
    assigned = [i for i in items if i.assigned]
    dual = len(assigned) >= 2
    if not items:
        return AssetState(asset_id, name, "todo", [], False)
    if any(i.state == "disputed" for i in items):
        return AssetState(asset_id, name, "disputed", items, dual, True, "reviewers disagree")
    if dual:
        if all(i.state == "adjudicated" for i in assigned):
            return AssetState(asset_id, name, "adjudicated", items, True, False, "final layer adjudicated")
        if all(i.state in ("submitted", "approved", "adjudicated") for i in assigned):
            return AssetState(asset_id, name, "submitted", items, True, True,
                              f"{len(assigned)} independent layers ready for adjudication")
    low = min((i for i in (assigned or items)), key=lambda i: _ORDER.get(i.state, 0))
    return AssetState(asset_id, name, low.state, items, dual, False, low.note)


@dataclass
class QueueEntry:
    asset_id: str
    asset_name: str
    layer_id: str | None       # None: the whole (dual-labeled) asset awaits adjudication
    layer_name: str
    state: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "asset": self.asset_name, "layer_id": self.layer_id,
                "layer": self.layer_name, "state": self.state, "note": self.note}


def review_queue(conn: sqlite3.Connection) -> list[QueueEntry]:
    """What needs a reviewer or adjudicator: submitted (incl. stale approvals), disputed, and
    dual-labeled assets whose layers are all ready for adjudication."""
    out: list[QueueEntry] = []
    items = item_states(conn)
    for item in items:
        if item.state in ("submitted", "disputed"):
            out.append(QueueEntry(item.asset_id, item.asset_name, item.layer_id, item.layer_name,
                                  item.state, item.note))
    by_asset: dict[str, list[ItemState]] = {}
    for item in items:
        by_asset.setdefault(item.asset_id, []).append(item)
    for asset_id, group in by_asset.items():
        if not any(i.assigned for i in group):
            continue
        summary = summarise(asset_id, group[0].asset_name, group)
        if summary.dual and summary.needs_adjudication and summary.state != "disputed":
            out.append(QueueEntry(asset_id, summary.asset_name, None, "(all layers)", "needs_adjudication",
                                  summary.note))
    return out


# ---- actions ---------------------------------------------------------------------------------
def resolve_asset(conn: sqlite3.Connection, ref: str) -> str:
    """An asset id from an id or a (unique) asset name."""
    rows = conn.execute("SELECT id FROM assets WHERE (id = ? OR name = ?) AND removed = 0", (ref, ref)).fetchall()
    if not rows:
        raise LabeldeskError(f"no asset {ref!r} in this project (give an asset id or name; `labeldesk info` lists them)")
    if len(rows) > 1:
        raise LabeldeskError(f"several assets are named {ref!r}; give its id ({', '.join(r[0] for r in rows)})")
    return str(rows[0][0])


def resolve_layer(conn: sqlite3.Connection, asset_id: str, ref: str | None, user_id: str | None) -> str:
    """A layer id from an id, a layer name or an owner's user name; without ``ref``, ``user_id``'s
    annotator layer on that asset (assigned first) — or the only annotator layer awaiting review."""
    layers = [dict(r) for r in conn.execute("SELECT l.id, l.name, l.kind, l.owner, u.name AS owner_name FROM layers l"
                                            " LEFT JOIN users u ON u.id = l.owner WHERE l.removed = 0")]
    if ref:
        for key in ("id", "name", "owner_name"):
            found = [l for l in layers if l[key] == ref and (key != "owner_name" or l["kind"] == "annotator")]
            if len(found) == 1:
                return str(found[0]["id"])
        raise LabeldeskError(f"no single layer {ref!r} (give a layer id, a layer name or its owner's user name)")
    row = conn.execute("SELECT layer_id FROM assignments WHERE asset_id = ? AND user_id = ? AND removed_by_op IS NULL"
                       " ORDER BY hlc_ms, hlc_ctr LIMIT 1", (asset_id, user_id)).fetchone()
    if row:
        return str(row[0])
    own = [l for l in layers if l["owner"] == user_id and l["kind"] == "annotator"]
    if own:
        return str(own[0]["id"])
    raise LabeldeskError("name the layer (--layer): you have no layer of your own on this asset")


def submit(project: Any, asset_id: str, layer_id: str, *, user: str | None = None,
           note: str | None = None) -> Applied:
    """Submit the layer's current revision for review."""
    rev = layer_revision(project.conn, asset_id, layer_id)
    if rev == EMPTY_REV:
        raise LabeldeskError("nothing to submit: the layer has no annotations on this asset")
    return project.apply(OpDraft("review.submit", ids.new_id(),
                                 {"asset_id": asset_id, "layer_id": layer_id, "target_rev": rev}, reason=note),
                         user=user)


def decide(project: Any, asset_id: str, layer_id: str, decision: str, *, user: str | None = None,
           reason: str | None = None) -> list[Applied]:
    """Approve, fix-and-approve or return (with a reason) the layer's current revision.

    The decision supersedes the acting reviewer's own earlier decisions on the layer (a change of
    mind); another reviewer's decision is never superseded, so two reviewers who disagree on one
    revision — concurrently or not — leave the item ``disputed`` until an adjudicator closes it.
    Fix-and-approve first copies the layer's annotations into the final layer (where the reviewer
    then fixes them)."""
    from labeldesk.core.review import adjudication
    if decision == "return" and not (reason or "").strip():
        raise LabeldeskError("returning an item needs a reason (--return REASON)")
    conn = project.conn
    rev = layer_revision(conn, asset_id, layer_id)
    if rev == EMPTY_REV:
        raise LabeldeskError("nothing to review: the layer has no annotations on this asset")
    heads = [d.id for d in head_decisions(records(conn, asset_id), layer_id) if d.user_id == (user or project.user_id)]
    payload: dict[str, Any] = {"asset_id": asset_id, "layer_id": layer_id, "decision": decision,
                               "target_rev": rev, "supersedes": heads}
    drafts: list[OpDraft] = []
    if decision == "fix_approve":
        final_id, setup = adjudication.final_layer(project)
        drafts += setup
        record_id = ids.new_id()
        anns = [a for a in project.annotations(asset_id, layer_id=layer_id)]
        drafts += adjudication.replace_drafts(conn, asset_id, final_id, {layer_id}, set())
        copies = adjudication.copy_drafts(anns, final_id, {"review": record_id, "layer_id": layer_id, "revision": rev})
        drafts += copies
        payload.update(final_layer_id=final_id, copied=len(copies))
        drafts.append(OpDraft("review.decide", record_id, payload, reason=reason))
    else:
        drafts.append(OpDraft("review.decide", ids.new_id(), payload, reason=reason))
    return project.apply_all(drafts, user=user)
