"""The append-only, hash-chained op log (the audit trail) and the sync outbox."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Iterator

from labeldesk.core.ops import Op, canonical_json

GENESIS = "0" * 64


def chain(prev_chain_hash: str, op_hash: str) -> str:
    return hashlib.sha256((prev_chain_hash + op_hash).encode()).hexdigest()


def last_chain_hash(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT chain_hash FROM ops ORDER BY local_order DESC LIMIT 1").fetchone()
    return row[0] if row else GENESIS


INSERT_OP = ("INSERT INTO ops (op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload,"
             " reason, op_hash, chain_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
INSERT_OUTBOX = "INSERT INTO outbox (op_id) VALUES (?)"


class PendingRows:
    """Op-log and outbox rows of a run of ops in one transaction, written with ``executemany``
    when flushed: the same rows in the same order (so the same ``local_order`` and hash chain) as
    one ``append`` each. The caller flushes before anything that could read the op log."""

    def __init__(self) -> None:
        self.ops: list[tuple[object, ...]] = []
        self.outbox: list[tuple[str]] = []

    def flush(self, conn: sqlite3.Connection) -> None:
        if self.ops:
            conn.executemany(INSERT_OP, self.ops)
            self.ops.clear()
        if self.outbox:
            conn.executemany(INSERT_OUTBOX, self.outbox)
            self.outbox.clear()


def append(conn: sqlite3.Connection, op: Op, *, outbox: bool, prev_chain: str | None = None,
           pending: PendingRows | None = None, payload_json: str | None = None) -> str:
    """Append ``op`` inside the caller's transaction; returns its chain hash. ``prev_chain`` is
    the chain hash of the last op when the caller already knows it (bulk work in one transaction);
    with ``pending`` the rows are queued there instead of written now; ``payload_json`` is
    ``canonical_json(op.payload)`` when the caller has it already."""
    if payload_json is None:
        payload_json = canonical_json(op.payload)
    op_hash = op.digest(payload_json)
    chain_hash = chain(last_chain_hash(conn) if prev_chain is None else prev_chain, op_hash)
    row = (op.op_id, op.dev, op.seq, op.hlc[0], op.hlc[1], op.wall, op.user, op.type, op.entity,
           canonical_json(list(op.base)), payload_json, op.reason, op_hash, chain_hash)
    if pending is not None:
        pending.ops.append(row)
        if outbox:
            pending.outbox.append((op.op_id,))
        return chain_hash
    conn.execute(INSERT_OP, row)
    if outbox:
        conn.execute(INSERT_OUTBOX, (op.op_id,))
    return chain_hash


def row_to_op(row: sqlite3.Row) -> Op:
    return Op(op_id=row["op_id"], dev=row["dev"], seq=row["seq"], hlc=(row["hlc_ms"], row["hlc_ctr"]),
              wall=row["wall"], user=row["user"], type=row["type"], entity=row["entity"],
              payload=json.loads(row["payload"]), base=tuple(json.loads(row["base"])),
              reason=row["reason"])


def iter_ops(conn: sqlite3.Connection, entity: str | None = None) -> Iterator[Op]:
    if entity is None:
        rows = conn.execute("SELECT * FROM ops ORDER BY local_order")
    else:
        rows = conn.execute("SELECT * FROM ops WHERE entity = ? ORDER BY local_order", (entity,))
    for row in rows:
        yield row_to_op(row)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    first_bad: str | None = None
    problem: str | None = None


def verify_chain(conn: sqlite3.Connection) -> ChainReport:
    """Recompute every op hash and the chain; names the first op that does not match."""
    prev = GENESIS
    n = 0
    for row in conn.execute("SELECT * FROM ops ORDER BY local_order"):
        n += 1
        op = row_to_op(row)
        if op.digest() != row["op_hash"]:
            return ChainReport(False, n, op.op_id, "op content does not match its hash")
        prev = chain(prev, row["op_hash"])
        if prev != row["chain_hash"]:
            return ChainReport(False, n, op.op_id, "hash chain broken")
    return ChainReport(True, n)
