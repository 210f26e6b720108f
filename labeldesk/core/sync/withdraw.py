"""Withdrawing the records of ops that a key revocation sets aside after they were merged.

Reviews, assignments, issues, provenance, prediction decisions and releases are immutable records,
one per op, applied once as they arrive (their state is derived on read, whatever the order). When
a revocation arrives after such an op was merged, the op is set aside (``sync_op_state`` =
``revoked``) and its record must go too: a replica that saw the revocation first never applied the
op, and both must end with the same records. The op itself stays in the log (the audit trail).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from labeldesk.core.ops import ChangeSet

# table -> (column naming the asset the record belongs to, or None; the ChangeSet kind to report)
RECORD_TABLES: dict[str, tuple[str | None, str]] = {
    "review_records": ("asset_id", "reviews"),
    "assignments": ("asset_id", "reviews"),
    "issue_events": (None, "issues"),          # before the issues they belong to (foreign key)
    "issues": ("asset_id", "issues"),
    "annotation_provenance": (None, "annotations"),
    "prediction_decisions": (None, "annotations"),
    "releases": (None, "releases"),
}


def _chunks(items: list[str], n: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _append_only_triggers(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    return [(name, sql) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name LIKE '%_no_delete'",
        (table,))]


def withdraw_records(conn: sqlite3.Connection, op_ids: Iterable[str]) -> ChangeSet:
    """Inside a transaction: delete the records made by ``op_ids`` and undo the tombstones they set.
    Append-only tables lift their no-delete guard for this statement only (same transaction)."""
    ops = sorted(set(op_ids))
    changes = ChangeSet()
    if not ops:
        return changes
    for part in _chunks(ops):
        marks = ",".join("?" * len(part))
        for table, (asset_col, kind) in RECORD_TABLES.items():
            if table == "issue_events":
                rows = conn.execute(f"SELECT e.issue_id, i.asset_id FROM issue_events e JOIN issues i "
                                    f"ON i.id = e.issue_id WHERE e.op_id IN ({marks})", part).fetchall()
                changes.issues.update(r[0] for r in rows)
                changes.reviews.update(r[1] for r in rows)
            else:
                cols = f"id, {asset_col}" if asset_col else ("annotation_id" if table == "annotation_provenance"
                                                             else ("prediction_id" if table == "prediction_decisions"
                                                                   else "id"))
                rows = conn.execute(f"SELECT {cols} FROM {table} WHERE op_id IN ({marks})", part).fetchall()
                if not rows:
                    continue
                if table == "issues":
                    changes.issues.update(r[0] for r in rows)
                if asset_col:
                    changes.reviews.update(r[1] for r in rows)
                else:
                    getattr(changes, kind).update(r[0] for r in rows)
            if not rows:
                continue
            guards = _append_only_triggers(conn, table)
            for name, _ in guards:
                conn.execute(f'DROP TRIGGER "{name}"')
            try:
                conn.execute(f"DELETE FROM {table} WHERE op_id IN ({marks})", part)
            finally:
                for _, sql in guards:
                    conn.execute(sql)
        # an unassignment set aside: the assignment is live again unless another unassignment holds
        for aid, asset in conn.execute(f"SELECT id, asset_id FROM assignments WHERE removed_by_op IN ({marks})",
                                       part).fetchall():
            other = conn.execute(
                "SELECT o.op_id FROM ops o LEFT JOIN sync_op_state s ON s.op_id = o.op_id "
                "WHERE o.type = 'task.unassign' AND o.entity = ? AND o.op_id NOT IN "
                f"({marks}) AND s.op_id IS NULL ORDER BY o.hlc_ms, o.hlc_ctr, o.op_id LIMIT 1",
                (aid, *part)).fetchone()
            conn.execute("UPDATE assignments SET removed_by_op = ? WHERE id = ?", (other[0] if other else None, aid))
            changes.reviews.add(asset)
    return changes
