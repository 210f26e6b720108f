"""``Project.apply``: one draft, one transaction -- the edit path of the window (DB-1).

The same steps and rules, in the same order, as one draft through ``apply_all`` (the single path
of ``store/bulk.py``): the op type's ``prepare`` (validation, clipping) and ``inverse`` (undo),
the PHI guard on typed text, the role check, the op appended to the hash-chained log and the
outbox, the materialised rows. Written for the latency of one edit: the sequence number and the
last chain hash are read with one statement; neither is written back to ``meta`` (the op row holds
both: ``repo.next_seq`` and ``repo.clock_floor`` derive them from ``meta`` and the log). What an
edit commits is also kept in memory for the next one
(:class:`Head`): the sequence number, the chain head and, after an annotation op, the role memo and
the asset, layer and class rows it read (what ``Writer.one`` keeps from one op to the next of a
batch: ``AuthorisationMemo``, ``BatchLookups``), and after a shape edit the annotation's row as it
wrote it. The next edit uses them instead of reading them
again only while nothing else wrote through the connection (``total_changes``, a counter kept by
SQLite) and no other connection committed (``PRAGMA data_version``); otherwise it reads the store,
as the first edit does. A drag of one shape: 6 statements per edit instead of 12.
The op log holds the very rows ``apply_all([draft])`` would write
(``tests/core/store/test_single_edit.py``). A rule added to ``Writer.one`` belongs here too.
"""
from __future__ import annotations

from typing import Any

from labeldesk.core.errors import OpRejected
from labeldesk.core.op_types import annotations as annotation_ops
from labeldesk.core.ops import Applied, ChangeSet, OpDraft, get_op_type
from labeldesk.core.privacy import holds_free_text
from labeldesk.core.review.roles import MEMO_TYPES, AuthorisationMemo
from labeldesk.core.store import oplog, repo

DATA_VERSION = "PRAGMA data_version"
# (the next sequence number is derived, repo.NEXT_SEQ: an edit leaves ``meta`` alone)
HEAD = (f"SELECT {repo.NEXT_SEQ}, (SELECT chain_hash FROM ops ORDER BY local_order DESC LIMIT 1)")


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


# Op types after which the role memo and the remembered asset/layer/class rows still hold (they
# change no user, role, layer, asset or class): store/bulk.py keeps both across them in a batch.
KEEPS_LOOKUPS = MEMO_TYPES & annotation_ops.LOOKUP_SAFE


class EditMemo(AuthorisationMemo):
    """The role memo, keyed for an ``annotation.update`` by the layer of the row its ``prepare``
    read moments ago in this transaction (``AuthorisationMemo.key`` would read it again)."""

    def key(self, conn: Any, op: Any) -> tuple[Any, ...] | None:
        values = op.payload.get("set")
        if op.type == "annotation.update" and isinstance(values, dict) and "layer_id" not in values:
            layer = annotation_ops.noted_layer(conn, op.entity, values)
            if layer is not None:
                return (op.type, op.user, layer)
        return super().key(conn, op)


class Head:
    """What the last edit through ``conn`` committed, for the next edit: the sequence number and
    chain hash, and (after an annotation op) the role memo and the asset, layer and class rows it
    remembered -- as a batch of ``apply_all`` keeps them from one op to the next -- with what shows
    whether they still hold: the connection's ``total_changes`` right after that commit (any
    later write through it, by any path, moves it) and ``PRAGMA data_version`` (moves when another
    connection commits)."""

    __slots__ = ("conn", "total_changes", "data_version", "next_seq", "chain", "memo", "lookups", "row")

    def __init__(self, conn: Any, total_changes: int, data_version: Any, next_seq: int, chain: str,
                 memo: EditMemo | None, lookups: Any, row: Any = None) -> None:
        self.conn = conn
        self.total_changes = total_changes
        self.data_version = data_version
        self.next_seq = next_seq
        self.chain = chain
        self.memo = memo
        self.lookups = lookups
        self.row = row


def _head(project: Any, conn: Any) -> tuple[int, str | None, Any, Head | None]:
    """(next sequence number, chain hash of the last op or None, data_version, the previous
    edit's Head if it still holds) inside the edit's transaction (the write lock is held: nothing
    can commit meanwhile)."""
    version = conn.execute(DATA_VERSION).fetchone()[0]
    kept = project.__dict__.pop("_edit_head", None)       # (kept again once this edit commits)
    if kept is not None and kept.conn is conn and kept.total_changes == conn.total_changes \
            and kept.data_version == version:
        return kept.next_seq, kept.chain, version, kept
    seq, prev = conn.execute(HEAD, (project.device_id,)).fetchone()
    return int(seq), prev, version, None


def apply_one(project: Any, draft: OpDraft, user: str | None = None) -> Applied:
    with project.transaction() as conn:
        seq, prev, version, kept = _head(project, conn)
        # the asset/layer/class rows an annotation op reads twice, and the shape it validated,
        # are remembered for this op (store/bulk.py does the same per batch), and the rows and
        # the role memo of the edit before it when nothing else wrote since
        if kept is not None and kept.memo is not None:
            memo, lookups = kept.memo, annotation_ops.resume_batch(kept.lookups)
            lookups.prefetched = kept.row          # (the row the edit before wrote, if a shape edit)
        else:
            memo, lookups = EditMemo(), annotation_ops.begin_batch(conn)
        lookups.seen(draft.type)
        memo.seen(draft.type)
        try:
            kind, draft, inverse, op = stamped(conn, project, draft, seq, user)
            problem = memo.problem(conn, op, memo.key(conn, op))
            if problem is not None:
                raise OpRejected(problem)
            encode = getattr(kind, "payload_json", None)
            chain = oplog.append(conn, op, outbox=True, prev_chain=prev if prev is not None else oplog.GENESIS,
                                 payload_json=encode(conn, op) if encode is not None else None)
            changes = kind.apply(conn, op, draft.local)
            row = annotation_ops.take_written_row(lookups)
        finally:
            annotation_ops.end_batch(lookups, keep=True)
    # committed: what the next edit would read back (total_changes now includes this edit's rows)
    keep = op.type in KEEPS_LOOKUPS
    project.__dict__["_edit_head"] = Head(conn, conn.total_changes, version, seq + 1, chain,
                                          memo if keep else None, lookups if keep else None,
                                          row if keep else None)
    applied = Applied(op, changes, inverse)
    if project.on_applied:
        merged = ChangeSet()
        merged.update(changes)
        for fn in list(project.on_applied):
            fn(merged)
    return applied
