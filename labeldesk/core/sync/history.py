"""Causal history of ops (docs/sync.md §7): clocks only order, causality decides concurrency.

Two sources say what an op's author had seen:

* ``base`` — the revision(s) the author edited (``annotation.update`` records the row revision);
* the author's *seen vector* — ``{device: last seq applied}`` at the time the op was made; each
  device publishes it with its ops (a new value whenever a merge advanced it), kept here in
  ``sync_marks``. Ops carry no ``base`` for deletes and class edits; the vector covers them.

``before(a, b)``: ``a`` is in ``b``'s history (same device and lower seq, in ``b``'s base closure,
or covered by ``b``'s seen vector). Fields behave as multi-value registers: the values of a field
that no later write has seen are its conflict candidates; a write made after both values arrived
(by anyone, e.g. a ``conflict.resolve``) supersedes both. ``base`` alone is not enough for this:
an update's base names the row's last revision, which may be an edit of another field.
"""
from __future__ import annotations

import json
import sqlite3
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from labeldesk.core.ops import canonical_json


@dataclass
class OpRef:
    op_id: str
    dev: str
    seq: int
    hlc: tuple[int, int]
    type: str
    entity: str | None
    base: tuple[str, ...]
    payload: dict[str, Any]
    user: str | None
    wall: str
    state: str | None = None        # None = applied
    reason: str = ""
    _closure: set[str] | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[int, int, str, int]:
        return (self.hlc[0], self.hlc[1], self.dev, self.seq)


REF_COLUMNS = "o.op_id, o.dev, o.seq, o.hlc_ms, o.hlc_ctr, o.type, o.entity, o.base, o.payload, o.user, o.wall"


def ref_from_row(row: sqlite3.Row | tuple) -> OpRef:
    return OpRef(row[0], row[1], int(row[2]), (int(row[3]), int(row[4])), row[5], row[6],
                 tuple(json.loads(row[7])), json.loads(row[8]), row[9], row[10],
                 row[11] if len(row) > 11 else None, (row[12] or "") if len(row) > 12 else "")


class History:
    """Seen vectors (cached) and the happened-before relations over a set of ops."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # dev -> (the from_seq of each of its marks, ascending; the vector of each)
        self._marks: dict[str, tuple[list[int], list[dict[str, int]]]] = {}

    def invalidate(self, dev: str | None = None) -> None:
        if dev is None:
            self._marks.clear()
        else:
            self._marks.pop(dev, None)

    def seen(self, dev: str, seq: int) -> dict[str, int]:
        """The seen vector of ``dev``'s op ``seq``: its device's last mark at or before it."""
        marks = self._marks.get(dev)
        if marks is None:
            rows = [(int(r[0]), json.loads(r[1])) for r in self.conn.execute(
                "SELECT from_seq, ctx FROM sync_marks WHERE dev = ? ORDER BY from_seq", (dev,))]
            marks = self._marks[dev] = ([r[0] for r in rows], [r[1] for r in rows])
        i = bisect_right(marks[0], seq)
        return marks[1][i - 1] if i else {}

    def add_mark(self, dev: str, from_seq: int, ctx: dict[str, int]) -> None:
        self.conn.execute("INSERT OR REPLACE INTO sync_marks (dev, from_seq, ctx) VALUES (?,?,?)",
                          (dev, from_seq, canonical_json(ctx)))
        self.invalidate(dev)

    # ---- relations -------------------------------------------------------------------------
    @staticmethod
    def closure(op: OpRef, by_id: dict[str, OpRef]) -> set[str]:
        if op._closure is None:
            out: set[str] = set()
            stack = list(op.base)
            while stack:
                oid = stack.pop()
                if oid in out:
                    continue
                out.add(oid)
                parent = by_id.get(oid)
                if parent is not None:
                    stack.extend(parent.base)
            op._closure = out
        return op._closure

    def _covered(self, a: OpRef, b: OpRef) -> bool:
        return self.seen(b.dev, b.seq).get(a.dev, 0) >= a.seq

    def before(self, a: OpRef, b: OpRef, by_id: dict[str, OpRef]) -> bool:
        if a.op_id == b.op_id:
            return False
        if a.dev == b.dev:
            return a.seq < b.seq
        return self._covered(a, b) or a.op_id in self.closure(b, by_id)

    def before_by_marks(self, a: OpRef, b: OpRef) -> bool:
        """:meth:`before` from the seen marks and ``b``'s own bases only, leaving nothing on ``b``
        (``before(a, b, {})`` would cache a closure of the direct bases as ``b``'s whole past)."""
        if a.op_id == b.op_id:
            return False
        if a.dev == b.dev:
            return a.seq < b.seq
        return self._covered(a, b) or a.op_id in b.base
