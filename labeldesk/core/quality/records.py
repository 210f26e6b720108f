"""The quality records (waivers, tags, batches, saved views, gold items, audits) folded from the op
log: the applied ``quality.*`` ops in (HLC, device, seq) order, the last op of a record winning.
Every replica holding the same ops derives the same records, whatever order they arrived in."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Record:
    id: str
    payload: dict[str, Any]
    user: str | None
    wall: str
    op_id: str


@dataclass
class QualityRecords:
    waivers: dict[str, Record] = field(default_factory=dict)      # "check:subject" -> record
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # asset id -> {key: value}
    batches: dict[str, Record] = field(default_factory=dict)
    views: dict[str, Record] = field(default_factory=dict)
    gold: dict[str, Record] = field(default_factory=dict)          # asset id -> {layer}
    audits: dict[str, Record] = field(default_factory=dict)        # audit id -> {asset, layer, reviewer, revision}
    outcomes: dict[str, Record] = field(default_factory=dict)      # audit id -> {outcome, note}

    def waived(self, check: str, subject: str) -> bool:
        return f"{check}:{subject}" in self.waivers

    def batch_by_name(self, ref: str) -> Record | None:
        if ref in self.batches:
            return self.batches[ref]
        return next((b for b in self.batches.values() if b.payload["name"] == ref), None)

    def view_by_name(self, ref: str) -> Record | None:
        if ref in self.views:
            return self.views[ref]
        return next((v for v in self.views.values() if v.payload["name"] == ref), None)


_TARGET = {"quality.waive": "waivers", "quality.batch": "batches", "quality.view": "views",
           "quality.gold": "gold", "quality.audit.assign": "audits", "quality.audit.record": "outcomes"}


_SQL = ("SELECT o.op_id, o.type, o.entity, o.payload, o.user, o.wall, o.hlc_ms, o.hlc_ctr, o.dev, o.seq FROM ops o "
        "LEFT JOIN sync_op_state s ON s.op_id = o.op_id "
        "WHERE o.type >= 'quality.' AND o.type < 'quality/' AND (s.state IS NULL OR s.state = 'overridden') "
        "AND o.local_order > ? ORDER BY o.hlc_ms, o.hlc_ctr, o.dev, o.seq")


@dataclass
class _Folded:
    records: QualityRecords
    last_order: int
    last_op: str | None
    last_key: tuple[Any, ...]
    states: tuple[Any, ...]


_CACHE: dict[int, _Folded] = {}


def _fold(out: QualityRecords, rows: list[tuple[Any, ...]]) -> None:
    for op_id, kind, entity, payload_text, user, wall, *_ in rows:
        payload = json.loads(payload_text)
        if kind == "quality.tag":
            tags = out.tags.setdefault(entity, {})
            for k, v in (payload.get("set") or {}).items():
                if v is None:
                    tags.pop(k, None)
                else:
                    tags[k] = v
            continue
        target = _TARGET.get(kind)
        if target is None:
            continue
        table: dict[str, Record] = getattr(out, target)
        if payload.get("removed"):
            table.pop(entity, None)
        else:
            table[entity] = Record(entity, payload, user, wall, op_id)


def load(conn: sqlite3.Connection) -> QualityRecords:
    """The records as of now. Folded incrementally: only ops appended since the last call are read
    (the quality ops are few, the op log is long); a late op that sorts before the ones folded
    already, or a change of any op's sync state, refolds from the start. Treat the result as
    read-only (it is shared between calls)."""
    top_row = conn.execute("SELECT local_order, op_id FROM ops ORDER BY local_order DESC LIMIT 1").fetchone()
    top, top_op = (int(top_row[0]), top_row[1]) if top_row else (0, None)
    states = tuple(conn.execute("SELECT COUNT(*), MAX(since), MAX(rowid) FROM sync_op_state").fetchone())
    key = id(conn)
    cached = None if conn.in_transaction else _CACHE.get(key)
    if cached is not None:
        row = conn.execute("SELECT op_id FROM ops WHERE local_order = ?", (cached.last_order,)).fetchone()
        same_log = cached.last_op is None or (row is not None and row[0] == cached.last_op)
        if not same_log or cached.states != states:
            cached = None
    if cached is not None and top == cached.last_order:
        return cached.records
    rows = conn.execute(_SQL, (cached.last_order if cached is not None else 0,)).fetchall()
    rows = [tuple(r) for r in rows]
    if cached is not None and rows and tuple(rows[0][6:10]) < cached.last_key:
        cached = None                                   # arrived out of order: refold everything
        rows = [tuple(r) for r in conn.execute(_SQL, (0,)).fetchall()]
    out = cached.records if cached is not None else QualityRecords()
    _fold(out, rows)
    last_key = tuple(rows[-1][6:10]) if rows else (cached.last_key if cached is not None else ())
    if not conn.in_transaction:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = _Folded(out, top, top_op, last_key, states)
    return out
