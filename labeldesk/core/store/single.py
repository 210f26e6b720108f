"""``Project.apply``: one draft, one transaction -- the edit path of the window (DB-1).

The same steps and rules, in the same order, as one draft through ``apply_all`` (the single path
of ``store/bulk.py``): the op type's ``prepare`` (validation, clipping) and ``inverse`` (undo),
the PHI guard on typed text, the role check, the op appended to the hash-chained log and the
outbox, the materialised rows, the sequence number and clock kept in ``meta``. Written for the
latency of one edit: the sequence number and the last chain hash are read with one statement and
written back with one, and nothing is set up for a batch that a single op cannot use (the
per-batch role memo). The sequence number and chain head an edit commits are also kept in memory
(:class:`Head`): the next edit reuses them instead of reading them back, as long as nothing else
wrote through the connection since (``total_changes``, a counter kept by SQLite) and no other
connection committed (``PRAGMA data_version``); otherwise they are read from the store as before.
The op log holds the very rows ``apply_all([draft])`` would write
(``tests/core/store/test_single_edit.py``). A rule added to ``Writer.one`` belongs here too.
"""
from __future__ import annotations

from typing import Any

from labeldesk.core.errors import OpRejected
from labeldesk.core.op_types import annotations as annotation_ops
from labeldesk.core.ops import Applied, ChangeSet, OpDraft, get_op_type
from labeldesk.core.privacy import holds_free_text
from labeldesk.core.review.roles import authorisation_problem
from labeldesk.core.store import oplog

DATA_VERSION = "PRAGMA data_version"
HEAD = ("SELECT (SELECT value FROM meta WHERE key = 'next_seq'),"
        " (SELECT chain_hash FROM ops ORDER BY local_order DESC LIMIT 1)")
SET_HEAD = "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?), ('hlc', ?)"


def stamped(conn: Any, project: Any, draft: OpDraft, seq: int, user: str | None) -> tuple[Any, OpDraft, Any, Any]:
    """The first steps of one draft, shared with ``Writer.one``: the op type's ``prepare``
    (validation, clipping) and ``inverse`` (undo), the PHI guard on typed text, then the op stamped
    with ``seq`` and the clock. Returns (op type, prepared draft, inverse, op)."""
    kind = get_op_type(draft.type)
    prepare = getattr(kind, "prepare", None)
    if prepare is not None:
        draft = prepare(conn, draft)
    inverse = kind.inverse(conn, draft)
    if holds_free_text(conn, draft):
        project._check_no_phi(draft)
    return kind, draft, inverse, project._stamp(draft, seq, user)


class Head:
    """The sequence number and chain hash the last edit through ``conn`` committed, with what
    shows whether they are still the store's: the connection's ``total_changes`` right after that
    commit (any later write through it, by any path, moves it) and ``PRAGMA data_version`` (moves
    when another connection commits)."""

    __slots__ = ("conn", "total_changes", "data_version", "next_seq", "chain")

    def __init__(self, conn: Any, total_changes: int, data_version: Any, next_seq: int, chain: str) -> None:
        self.conn = conn
        self.total_changes = total_changes
        self.data_version = data_version
        self.next_seq = next_seq
        self.chain = chain


def _head(project: Any, conn: Any) -> tuple[int, str | None, Any]:
    """(next sequence number, chain hash of the last op or None, data_version) inside the edit's
    transaction (the write lock is held: nothing can commit meanwhile)."""
    version = conn.execute(DATA_VERSION).fetchone()[0]
    kept = project.__dict__.pop("_edit_head", None)       # (kept again once this edit commits)
    if kept is not None and kept.conn is conn and kept.total_changes == conn.total_changes \
            and kept.data_version == version:
        return kept.next_seq, kept.chain, version
    seq_text, prev = conn.execute(HEAD).fetchone()
    return int(seq_text or "1"), prev, version


def apply_one(project: Any, draft: OpDraft, user: str | None = None) -> Applied:
    with project.transaction() as conn:
        seq, prev, version = _head(project, conn)
        # the asset/layer/class rows an annotation op reads twice, and the shape it validated,
        # are remembered for this one op (store/bulk.py does the same per batch)
        lookups = annotation_ops.begin_batch(conn)
        try:
            kind, draft, inverse, op = stamped(conn, project, draft, seq, user)
            problem = authorisation_problem(conn, op)
            if problem is not None:
                raise OpRejected(problem)
            encode = getattr(kind, "payload_json", None)
            chain = oplog.append(conn, op, outbox=True, prev_chain=prev if prev is not None else oplog.GENESIS,
                                 payload_json=encode(conn, op) if encode is not None else None)
            changes = kind.apply(conn, op, draft.local)
            clock = project.clock.last
            conn.execute(SET_HEAD, (str(seq + 1), f"{clock.ms},{clock.counter}"))
        finally:
            annotation_ops.end_batch(lookups)
    # committed: what the next edit would read back (total_changes now includes this edit's rows)
    project.__dict__["_edit_head"] = Head(conn, conn.total_changes, version, seq + 1, chain)
    applied = Applied(op, changes, inverse)
    if project.on_applied:
        merged = ChangeSet()
        merged.update(changes)
        for fn in list(project.on_applied):
            fn(merged)
    return applied
