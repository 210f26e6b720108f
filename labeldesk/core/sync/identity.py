"""This store's device identity on the share (docs/sync.md §5 C4, C5; failure modes #4, #10, #11).

Segments in our own folder that this store did not record publishing are reconciled by content:
ops we hold with the same hash are ours (a crash between rename and the local mark); ops beyond
what we hold are imported and ``next_seq`` moves past them (a store restored from an old backup
fast-forwards before publishing again); an op id we hold with *different* content means two
stores write as one device: this store takes a new device id and re-publishes its unpublished ops
under it (the old op rows stay in the audit log, marked ``rekeyed``).
"""
from __future__ import annotations

from typing import Any

from labeldesk.core import ids
from labeldesk.core.ops import Op
from labeldesk.core.store import oplog, repo
from labeldesk.core.sync.layout import DuplicateIdentity
from labeldesk.core.sync.merge import Merger
from labeldesk.core.sync.publisher import last_published
from labeldesk.core.sync.reducer import group_of
from labeldesk.core.sync.segment import Segment


def check_own(conn: Any, segs: list[Segment]) -> None:
    """Raise DuplicateIdentity if any op of these own segments differs from the one we hold."""
    for seg in segs:
        for line in seg.lines:
            row = conn.execute("SELECT op_hash FROM ops WHERE op_id = ?", (line["op_id"],)).fetchone()
            if row is not None and row[0] != line.get("sha256"):
                raise DuplicateIdentity(
                    f"segment {seg.name} on the share holds a different op {line['op_id']} than this store: "
                    f"another store publishes as device {seg.dev[:8]}")


def adopt(merger: Merger, segs: list[Segment], blobs: dict[str, bytes | None]) -> int:
    """Inside a transaction: record these own segments as published and import the ops we lack."""
    conn = merger.conn
    imported = 0
    for seg in segs:
        for line in seg.lines:
            if conn.execute("SELECT 1 FROM ops WHERE op_id = ?", (line["op_id"],)).fetchone() is None:
                merger.take_line(seg.dev, line, blobs, own=True)
                imported += 1
            conn.execute("DELETE FROM outbox WHERE op_id = ?", (line["op_id"],))
        conn.execute("INSERT OR IGNORE INTO sync_published (name, dev, first_seq, last_seq, sha256, size)"
                     " VALUES (?,?,?,?,?,?)", (seg.name, seg.dev, seg.first, seg.last, seg.sha256, seg.size))
        next_seq = repo.next_seq(conn, merger.project.device_id)
        if seg.dev == merger.project.device_id and seg.last >= next_seq:
            repo.set_meta(conn, "next_seq", seg.last + 1)
    return imported


def inherited_outbox(conn: Any, device_id: str) -> int:
    """Unpublished ops made under an earlier device id of this store (it was copied or moved to
    another path before it was ever shared, so no other store will publish them)."""
    return int(conn.execute("SELECT COUNT(*) FROM outbox x JOIN ops o ON o.op_id = x.op_id WHERE o.dev != ?",
                            (device_id,)).fetchone()[0])


def rekey(project: Any, merger: Merger, why: str, *, inherited: bool = False) -> str:
    """Inside a transaction: take a new device id; re-stamp the unpublished ops under it. With
    ``inherited`` (only when a share is founded, so nobody else can hold them) the unpublished ops
    of this store's earlier device ids are re-stamped too, in the order they were made."""
    conn = project.conn
    old = project.device_id
    new = ids.new_device_id()
    last_seq, _ = last_published(conn, old)
    if inherited:
        rows = conn.execute("SELECT o.* FROM outbox x JOIN ops o ON o.op_id = x.op_id ORDER BY o.local_order").fetchall()
    else:
        rows = conn.execute("SELECT o.* FROM outbox x JOIN ops o ON o.op_id = x.op_id WHERE o.dev = ? ORDER BY o.seq",
                            (old,)).fetchall()
    mapping: dict[str, str] = {}
    conn.execute("PRAGMA defer_foreign_keys = ON")
    groups = set()
    prev_seen: dict[str, int] | None = None
    for i, row in enumerate(rows, start=1):
        op = oplog.row_to_op(row)
        # what the op's author had seen when it was made: its own old ops up to the last one
        # published (later ones are re-stamped here too), and the same foreign ops as before
        seen = {**merger.history.seen(op.dev, op.seq),
                op.dev: min(op.seq - 1, last_seq if op.dev == old else last_published(conn, op.dev)[0])}
        if seen != prev_seen:
            merger.history.add_mark(new, i, seen)
            prev_seen = seen
        new_id = ids.op_id(new, i)
        mapping[op.op_id] = new_id
        fresh = Op(op_id=new_id, dev=new, seq=i, hlc=op.hlc, wall=op.wall, user=op.user, type=op.type,
                   entity=op.entity, payload=op.payload, base=tuple(mapping.get(b, b) for b in op.base),
                   reason=op.reason)
        conn.execute("DELETE FROM outbox WHERE op_id = ?", (op.op_id,))
        oplog.append(conn, fresh, outbox=True)
        conn.execute("INSERT OR REPLACE INTO sync_op_state (op_id, state, reason, since) VALUES (?,?,?,?)",
                     (op.op_id, "rekeyed", f"re-published as {new_id} ({why})", merger.now))
        from labeldesk.core.sync.history import OpRef
        g = group_of(OpRef(new_id, new, i, op.hlc, op.type, op.entity, op.base, op.payload, op.user, op.wall))
        if g is not None:
            groups.add(g)
    repo.set_meta(conn, "previous_device_id", old)
    repo.set_meta(conn, "device_id", new)
    repo.set_meta(conn, "next_seq", len(rows) + 1)
    repo.set_meta(conn, "sync.identity_alert", f"{merger.now}: {why}; this store now publishes as device {new[:8]} "
                                              f"({len(rows)} unpublished ops re-published)")
    merger.history.add_mark(new, len(rows) + 1, {**merger.history.seen(old, last_seq + len(rows) + 1), old: last_seq})
    project.device_id = new
    for g in sorted(groups, key=lambda g: (g[0], g[1] or "")):
        merger.changes.update(merger.reducer.reduce(g))
    return new
