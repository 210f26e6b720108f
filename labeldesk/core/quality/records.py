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


def load(conn: sqlite3.Connection) -> QualityRecords:
    out = QualityRecords()
    rows = conn.execute(
        "SELECT o.op_id, o.type, o.entity, o.payload, o.user, o.wall FROM ops o "
        "LEFT JOIN sync_op_state s ON s.op_id = o.op_id "
        "WHERE o.type >= 'quality.' AND o.type < 'quality/' AND (s.state IS NULL OR s.state = 'overridden') "
        "ORDER BY o.hlc_ms, o.hlc_ctr, o.dev, o.seq")
    for op_id, kind, entity, payload_text, user, wall in rows:
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
    return out
