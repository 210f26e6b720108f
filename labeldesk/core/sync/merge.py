"""Merging segments read from the share into the local store (docs/sync.md §6, R2–R8).

Runs on the thread that owns the SQLite connection. Each segment is applied in one transaction
with its device's cursor. Ops go into the same ``ops`` table as local ones (the audit trail,
``outbox=False``), idempotent by op id; then each is *decided*: unknown type (newer app) → kept,
not applied; its author's causal context or ``base`` not here yet → pending; its user lacks the
role (``labeldesk.core.review.roles``) → kept, not applied, flagged; otherwise the reducer
materialises it through the op type's own ``apply``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from typing import Any, Callable

from labeldesk.core.clock import Timestamp
from labeldesk.core.op_types import annotations as annotation_ops
from labeldesk.core.op_types.annotations import LOOKUP_SAFE
from labeldesk.core.ops import OP_TYPES, ChangeSet, Op, canonical_json, canonical_op, encode_str, get_op_type
from labeldesk.core.review.roles import WAIVED, MEMO_TYPES, AuthorisationMemo, authorisation_problem, effective_roles
from labeldesk.core.store import oplog, repo
from labeldesk.core.store.multirow import insert_rows
from labeldesk.core.sync.bulk_creates import CreateRun
from labeldesk.core.sync.bulk_edits import EDIT_TYPES, EditRun
from labeldesk.core.sync.history import REF_COLUMNS, History, OpRef, ref_from_row
from labeldesk.core.sync.reducer import Reducer, members, save_state, to_op
from labeldesk.core.sync.segment import GENESIS, Segment
from labeldesk.core.sync.validation import InvalidOp, check_line, check_payload
from labeldesk.core.sync import share_json


def now_wall() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def cursors(conn: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    return {r[0]: (int(r[1]), r[2]) for r in conn.execute("SELECT dev, last_seq, last_sha FROM sync_cursors")}


class Merger:
    """One merge session (many segments); ``changes`` collects what changed for the views."""

    def __init__(self, project: Any) -> None:
        self.project = project
        self.conn: sqlite3.Connection = project.conn
        get_op_type("annotation.create")      # registers the built-in op types
        self.history = History(self.conn)
        self.now = now_wall()
        self.reducer = Reducer(self.conn, self.history, self.now)
        self.authorise: Callable[[sqlite3.Connection, Op], str | None] | None = authorisation_problem
        self.changes = ChangeSet()
        self.counts = {"ops": 0, "duplicates": 0, "applied": 0, "pending": 0, "unauthorised": 0,
                       "unknown_type": 0, "collisions": 0, "rejected": 0}
        self.clock_ahead: dict[str, int] = {}
        self.users: dict[str, str] = {}
        self._cursors = cursors(self.conn)
        self._own: tuple[str, set[str]] | None = None
        # per-segment state (see merge_segment): the op log's chain head, op ids known to be in
        # the log, and allowed (type, user, layer) authorisations; None outside a segment
        self._chain: str | None = None
        self._known: set[str] | None = None
        self._logged: dict[str, str] | None = None    # op id -> op hash of the segment's ops logged before
        self._rows: list[tuple[Any, ...]] | None = None    # op-log rows not yet written
        self._lookups: annotation_ops.BatchLookups | None = None
        self._allowed: Any = None                 # AuthorisationMemo while a segment merges
        self._creates: CreateRun | None = None    # annotation rows of in-order creates not yet written
        self._edits: EditRun | None = None        # writes of in-order edits not yet written
        self.role_ops: dict[str, list[OpRef]] = {}   # user id -> applied user/role ops (causal_roles)
        # per segment: the seen vector last found complete here (``_waiting_for``; the cursors it
        # is judged by change only at a segment's end), and the HLC observe held back to its end
        self._ctx_ok: dict[str, int] | None = None
        self._hlc_max: tuple[int, int] | None = None
        self._own_ms: int | None = None

    def rolled_back(self) -> None:
        """After a segment's transaction was rolled back: forget what was cached from it."""
        self.history = History(self.conn)
        self.reducer = Reducer(self.conn, self.history, self.now)
        self._cursors = cursors(self.conn)
        self._ctx_ok = None

    @property
    def own_ids(self) -> set[str]:
        """This store's device ids (now and the previous one); they change only with the device id."""
        dev = self.project.device_id
        if self._own is None or self._own[0] != dev:
            prev = repo.get_meta(self.conn, "previous_device_id")
            self._own = (dev, {dev} | ({prev} if prev else set()))
        return self._own[1]

    # ---- segments --------------------------------------------------------------------------
    def merge_segment(self, seg: Segment, blobs: dict[str, bytes | None]) -> None:
        """Inside the caller's transaction: log and decide every op, advance the cursor.

        Lookups that every op of the segment needs are made once per segment: the op log's chain
        head (only this merge appends to the log inside the transaction), which op ids its ops
        are based on are here already, which of its own ops are (duplicates), and each entity's
        tail for the reducer's in-order test. The op-log rows are written together (multi-row
        inserts, ``store/multirow.py``; the chain is computed in order as they are taken), flushed before
        anything reads the log: the reducer's queries, and ops of other kinds than annotations."""
        # every line's shape first (InvalidOp: the caller refuses the whole segment): the
        # set-up below reads the lines' fields, and a member's line whose type or base has the
        # wrong JSON type must refuse its segment, not stop the sync round
        for line in seg.lines:
            check_line(line)
        # one pass over the lines: the base op ids, the op ids, the entities of creates and edits
        bases: set[str] = set()
        op_ids: list[Any] = []
        creates: list[Any] = []
        edits: list[Any] = []
        for line in seg.lines:
            get = line.get
            op_ids.append(get("op_id"))
            base = get("base")
            if base:
                bases.update(map(str, base))
            t = get("type")
            if t == "annotation.create":
                creates.append(get("entity"))
            elif t in EDIT_TYPES:
                edits.append(get("entity"))
        # the entities' tails first: the ops it reads include most bases (an edit's base is an
        # earlier op of its entity), so only the other bases are looked up
        self.reducer.prefetch(seg.lines)
        known = bases & self.reducer.logged
        rest = bases - known
        if rest:
            known.update(r[0] for r in self.conn.execute(
                "SELECT op_id FROM ops WHERE op_id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(rest)),)))
        self._known = known
        if op_ids and all(type(o) is str for o in op_ids):
            # the op ids lie between the least and the greatest of them (SQLite compares text as
            # Python compares str): one range of the op_id index instead of a lookup each
            wanted = set(op_ids)
            logged = [r for r in self.conn.execute(
                "SELECT op_id, op_hash, dev, seq FROM ops WHERE op_id BETWEEN ? AND ? OR (dev = ? AND seq BETWEEN ? AND ?)",
                (min(op_ids), max(op_ids), seg.dev, seg.first, seg.last))
                if r[0] in wanted or (r[2] == seg.dev and seg.first <= r[3] <= seg.last)]
        else:
            logged = self.conn.execute(
                "SELECT op_id, op_hash FROM ops WHERE op_id IN (SELECT value FROM json_each(?)) OR (dev = ? AND seq"
                " BETWEEN ? AND ?)", (json.dumps(op_ids), seg.dev, seg.first, seg.last)).fetchall()
        self._logged = {r[0]: r[1] for r in logged}
        self._chain = oplog.last_chain_hash(self.conn)
        self._allowed = AuthorisationMemo(self.authorise) if self.authorise is not None else None
        # rows are buffered unless another op id holds one of the segment's seqs (the insert of
        # that line must fail on its own, as it would unbuffered)
        self._rows = [] if set(self._logged) <= set(op_ids) else None
        self.reducer.flush = self._flush
        self._creates = self.reducer.bulk = CreateRun(self.conn, creates)
        # the rows the segment's edits read, remembered (and their writes queued) the same way
        self._edits = self.reducer.edits = self._creates.edits = EditRun(self.conn, edits)
        # the asset, layer and class rows annotation ops read, remembered until an op of another
        # type comes (the op types' own batch, as in Project.apply_all)
        self._lookups = self.reducer.lookups = annotation_ops.begin_batch(self.conn)
        try:
            for line in seg.lines:
                self.take_line(seg.dev, line, blobs, checked=True)
            self._flush()
            self._wall_sample(seg.dev, seg.lines[-1].get("wall") if seg.lines else None)
        finally:
            self._observe_held(seg.dev)
            self._ctx_ok = None
            annotation_ops.end_batch(self._lookups)
            self._chain = self._known = self._allowed = self._logged = self._rows = None
            self._lookups = self.reducer.lookups = None
            self._creates = self.reducer.bulk = None
            self._edits = self.reducer.edits = None
            self.reducer.prefetch(None)
        self.conn.execute("INSERT OR REPLACE INTO sync_cursors (dev, last_seq, last_sha, last_segment) VALUES (?,?,?,?)",
                          (seg.dev, seg.last, seg.sha256, seg.name))
        self._cursors[seg.dev] = (seg.last, seg.sha256)

    def take_line(self, dev: str, line: dict[str, Any], blobs: dict[str, bytes | None], *,
                  own: bool = False, checked: bool = False) -> OpRef | None:
        if not own and not checked:
            check_line(line)              # InvalidOp: the caller refuses the whole segment
        seq = int(line["seq"])
        if isinstance(line.get("seen"), dict):
            self.history.add_mark(dev, seq, {str(k): int(v) for k, v in line["seen"].items()})
        blob = line.get("blob")
        if blob:
            data = blobs.get(str(blob))
            if data is None:
                self.conn.execute("INSERT OR IGNORE INTO sync_pending_lines (op_id, dev, seq, line, blob, since)"
                                  " VALUES (?,?,?,?,?,?)", (line["op_id"], dev, seq, canonical_json(line), blob, self.now))
                self.counts["pending"] += 1
                return None
            # a blob may come after its segment was taken: a bad one refuses its op alone, whenever
            # it came, so that a replica that had it and one that waited for it agree
            try:
                payload = share_json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                return self._collide(line, f"refused: op {line.get('op_id')} (seq {seq}): its payload blob is "
                                           f"not JSON ({exc})")
            line = {**line, "payload": payload}
            if not own:
                try:
                    check_payload(str(line.get("type")), line["payload"], f"op {line.get('op_id')} (seq {seq})")
                except InvalidOp as exc:
                    return self._collide({**line, "payload": None}, f"refused: {exc}")
        self.counts["ops"] += 1
        try:
            # the fields as ``Op.from_dict`` reads them; the Op itself is made only if asked for
            # (``reducer.to_op``): most merged ops never need one
            hlc = line["hlc"]
            ref = OpRef(line["op_id"], line["dev"], seq, (int(hlc[0]), int(hlc[1])), line["type"], line.get("entity"),
                        tuple(line.get("base") or ()), dict(line.get("payload") or {}), line.get("user"), line["wall"])
        except (KeyError, TypeError, ValueError, IndexError):
            return self._collide(line, "malformed op line")
        ref.reason_text = line.get("reason")  # type: ignore[attr-defined]
        if str(line.get("sha256", "")) in ("", "None"):
            return self._collide(line, "op line without its SHA-256")
        payload_json = _payload_json(ref)
        base = ref.base
        base_json = "[]" if not base else canonical_json(list(base))
        # what the log records as the op's hash (``Op.digest``); a checked line's fields have the
        # usual types (text or null, integer clock and seq): its text is one f-string
        text = _op_text(ref, base_json, payload_json) if not own and type(ref.dev) is str else canonical_op(
            base, ref.dev, ref.entity, ref.hlc, ref.op_id, payload_json, ref.reason_text, seq, ref.type, ref.user,
            ref.wall)
        stored = hashlib.sha256(text.encode()).hexdigest()
        held = self._logged.get(ref.op_id) if self._logged is not None else None
        if held is None and self._rows is not None and self._chain is not None:
            # (``_append`` inside a segment, inline: the row buffered, the chain carried)
            chain_hash = oplog.chain(self._chain, stored)
            self._rows.append((ref.op_id, ref.dev, seq, ref.hlc[0], ref.hlc[1], ref.wall, ref.user, ref.type,
                               ref.entity, base_json, payload_json, ref.reason_text, stored, chain_hash))
            self._chain = chain_hash
            if self._known is not None:
                self._known.add(ref.op_id)
        elif held is None:
            try:
                self._append(ref, payload_json, stored, base_json)
            except sqlite3.IntegrityError:           # we hold this op id already (R4: idempotent)
                row = self.conn.execute("SELECT op_hash FROM ops WHERE op_id = ?", (ref.op_id,)).fetchone()
                if row is None:
                    raise
                held = row[0]
        if held is not None:
            if held != line["sha256"]:
                return self._shadow(to_op(ref), line)
            self.counts["duplicates"] += 1
            # a copied store's held ops, published by the original: nothing left to send
            self.conn.execute("DELETE FROM outbox WHERE op_id = ? AND op_id NOT LIKE ?",
                              (ref.op_id, self.project.device_id + ":%"))
            return None
        if stored != line["sha256"]:
            # the segment passed its file hash, so its writer recorded a wrong op hash: the op is
            # kept in the audit log as written, not applied, and reported
            ref.state, ref.reason = "rejected", "op content does not match the SHA-256 its writer recorded"
            save_state(self.conn, ref, self.now)
            self.reducer.noted(ref)
            self._count("rejected")
            return ref
        ref.fresh = True  # type: ignore[attr-defined]
        if own or self._known is None:
            self._observe(dev, ref)
            self.decide(ref, own=own)
            return ref
        # inside a segment: the clock observes the segment's latest HLC at its end (the same
        # clock, see _observe_held); an annotation op is decided in one function
        hlc = ref.hlc
        if self._hlc_max is None or hlc > self._hlc_max:
            self._hlc_max = hlc
        if hlc[1] == 0 and ref.dev == dev and (self._own_ms is None or hlc[0] > self._own_ms):
            self._own_ms = hlc[0]
        if ref.user:
            self.users[dev] = ref.user
        if ref.type in LOOKUP_SAFE:
            self._decide_annotation(ref)
        else:
            self._observe_held(dev)           # (its apply may read the clock: as before, it has seen all)
            self.decide(ref)
        return ref

    def _observe_held(self, dev: str) -> None:
        """``_observe`` of the ops taken since the last call, at once: the clock observes their
        latest HLC (it ends at or after each of them, as observing them one by one would leave
        it), and the device's skew is judged from its latest own-clock stamp (counter 0)."""
        if self._own_ms is not None:
            ahead = self._own_ms - self.project.clock._now_ms()
            self.clock_ahead[dev] = max(self.clock_ahead.get(dev, ahead), ahead)
            self._own_ms = None
        if self._hlc_max is not None:
            self.project.clock.observe(Timestamp(*self._hlc_max))
            self._hlc_max = None

    def _decide_annotation(self, ref: OpRef) -> None:
        """``decide`` of a newly logged annotation op inside a segment, in one function: these
        types change no user, role, layer or class, keep the segment's lookups and memo, and an
        in-order one is queued by the segment's create or edit run (or applied the usual way)."""
        tail: Any = None
        try:
            if (why := self._waiting_for(ref)) is not None:
                ref.state, ref.reason = "pending", why
            elif ref.dev not in self.own_ids and self.authorise is not None and \
                    (problem := self._authorisation(ref)) is not None:
                ref.state, ref.reason = "unauthorised", problem
            else:
                # (``Reducer.integrate`` for the group of an annotation op; the usual case, an op
                # after everything its entity holds, from the group's prefetched tail, and
                # ``Reducer.noted`` of it, inline)
                reducer = self.reducer
                group = ("annotation", ref.entity)
                tails = reducer._tails
                tail = tails.get(group) if tails is not None else None
                key = ref.key
                if tail is not None and not tail[0] and (tail[1] is None or (
                        not tail[1] > key and not tail[2] - {ref.dev})) or reducer._in_order(group, ref):
                    run = reducer.bulk if ref.type == "annotation.create" else reducer.edits
                    if run is not None and run.take(ref):
                        ref.state, ref.reason = None, ""
                        self.changes.annotations.add(ref.entity)
                        self.counts["applied"] += 1
                        if tail is not None:
                            tail[2].add(ref.dev)
                            if tail[1] is None or key > tail[1]:
                                tail[1] = key
                            tail = True               # (noted)
                        return
                    changes = reducer.apply_alone(group, ref)
                else:
                    changes = reducer.reduce(group)
                self.changes.update(changes)
                self._count("applied" if ref.state is None else ref.state)
                return
            self._count(ref.state)
            save_state(self.conn, ref, self.now)
        finally:
            if tail is not True:
                self.reducer.noted(ref)

    def _append(self, op: Op | OpRef, payload_json: str, op_hash: str, base_json: str | None = None) -> None:
        """Append to the hash-chained log (as ``oplog.append`` does, with the hash computed once);
        inside a segment the chain head is carried from op to op instead of re-read."""
        prev = self._chain if self._chain is not None else oplog.last_chain_hash(self.conn)
        chain_hash = oplog.chain(prev, op_hash)
        if base_json is None:
            base = op.base
            base_json = "[]" if not base else canonical_json(list(base))
        row = (op.op_id, op.dev, op.seq, op.hlc[0], op.hlc[1], op.wall, op.user, op.type, op.entity,
               base_json, payload_json, _reason(op), op_hash, chain_hash)
        if self._rows is not None:
            self._rows.append(row)
        else:
            self.conn.execute(_INSERT_OP, row)
        if self._chain is not None:
            self._chain = chain_hash
        if self._known is not None:
            self._known.add(op.op_id)

    def flush_rows(self) -> None:
        self._flush()

    def _flush(self) -> None:
        """Write the buffered op-log rows (in the order they were taken: the chain's order), then
        the queued annotation rows of in-order creates, then the queued edits (which may be of
        those rows)."""
        if self._rows:
            insert_rows(self.conn, _INSERT_OP, self._rows)      # (a failure rolls the segment back)
            self._rows.clear()
        if self._creates is not None:
            self._creates.flush()
        if self._edits is not None:
            self._edits.flush()

    def _shadow(self, op: Op, line: dict[str, Any]) -> OpRef | None:
        """The share holds another op under an op id we hold: two stores wrote as one device. If
        ours was re-keyed (re-published under our new id), theirs is materialised from here."""
        if self.conn.execute("SELECT 1 FROM sync_collisions WHERE op_id = ?", (op.op_id,)).fetchone():
            self.counts["duplicates"] += 1
            return None
        mine = self.conn.execute("SELECT state FROM sync_op_state WHERE op_id = ?", (op.op_id,)).fetchone()
        rekeyed = mine is not None and mine[0] == "rekeyed"
        self.conn.execute(
            "INSERT INTO sync_collisions (op_id, line, since, dev, seq, hlc_ms, hlc_ctr, type, entity, base, payload,"
            " user, wall, reason, state, problem) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (op.op_id, canonical_json(line), self.now, op.dev, op.seq, op.hlc[0], op.hlc[1], op.type, op.entity,
             canonical_json(list(op.base)), canonical_json(op.payload), op.user, op.wall, op.reason,
             None if rekeyed else "collision",
             "" if rekeyed else "another op with this id exists here (duplicate device identity)"))
        self.reducer.forget(op.entity)        # its entity now has a shadow op
        self.counts["collisions"] += 1
        if not rekeyed:
            return None
        self._observe(op.dev, op)
        ref = OpRef(op.op_id, op.dev, op.seq, op.hlc, op.type, op.entity, op.base, op.payload, op.user, op.wall)
        ref.reason_text = op.reason  # type: ignore[attr-defined]
        ref.shadow = True  # type: ignore[attr-defined]
        self.decide(ref)
        return ref

    def _collide(self, line: dict[str, Any], reason: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO sync_collisions (op_id, line, since, state, problem) VALUES (?,?,?,?,?)",
                          (str(line.get("op_id")), canonical_json(line), self.now, "collision", reason))
        self.counts["collisions"] += 1
        return None

    def _wall_sample(self, dev: str, wall: Any) -> None:
        """The device's wall clock when it made its last op of a segment: a physical sample too."""
        try:
            ms = int(dt.datetime.fromisoformat(str(wall).replace("Z", "+00:00")).timestamp() * 1000)
        except (TypeError, ValueError, OverflowError):
            return
        ahead = ms - self.project.clock._now_ms()
        self.clock_ahead[dev] = max(self.clock_ahead.get(dev, ahead), ahead)

    def _observe(self, dev: str, op: Op | OpRef) -> None:
        ts = Timestamp(op.hlc[0], op.hlc[1])
        if op.hlc[1] == 0 and op.dev == dev:
            # counter 0: the device stamped the op from its own physical clock (a clock that was
            # merely carried forward from another device's ahead clock ticks the counter instead),
            # so skew is judged from each device's own time and does not spread
            ahead = self.project.clock.skew_ms(ts)
            self.clock_ahead[dev] = max(self.clock_ahead.get(dev, ahead), ahead)
        self.project.clock.observe(ts)
        if op.user:
            self.users[dev] = op.user

    # ---- deciding --------------------------------------------------------------------------
    def _waiting_for(self, ref: OpRef) -> str | None:
        ctx = self.history.seen(ref.dev, ref.seq)
        if ctx is not self._ctx_ok:
            for d, s in ctx.items():
                if d in self.own_ids:
                    continue
                if self._cursors.get(d, (0, GENESIS))[0] < s:
                    return f"waiting for ops of device {d[:8]} up to seq {s} (its author had seen them)"
            if self._known is not None:
                self._ctx_ok = ctx            # (the same vector object: the same answer until the segment ends)
        for b in ref.base:
            if self._known is not None and b in self._known:
                continue
            if self.conn.execute("SELECT 1 FROM ops WHERE op_id = ?", (b,)).fetchone() is None:
                return f"waiting for op {b} it is based on"
        return None

    def _authorisation(self, ref: OpRef) -> str | None:
        """The roles check; inside a segment, an allowed annotation op is not re-checked for the
        same (type, user, layer) until an op of another kind (users, roles, layers…) is decided.
        Judged by the roles its author held when making it (:func:`causal_roles`)."""
        held = causal_roles(self, ref)
        if held is not None:
            # judged by the roles it was made with: remembered as the memo remembers the rest (an
            # op of another kind, a role change among them, forgets it), with those roles as key
            key = None
            if self._allowed is not None:
                memo = self._memo_key(ref)
                key = None if memo is None else ("causal", frozenset(held), memo)
                if self._allowed.known(key):
                    return None
            self._flush()                     # the check reads the store (the annotation's layer)
            problem = authorisation_problem(self.conn, _op(ref), roles=held)
            if problem is None and key is not None:
                self._allowed.allow(key)
            return problem
        if self._allowed is None:
            self._flush()
            return self.authorise(self.conn, _op(ref))  # type: ignore[misc]
        key = self._memo_key(ref)             # (from the ref's type, user, entity and payload)
        if self._allowed.known(key):
            return None
        self._flush()
        return self._allowed.problem(self.conn, _op(ref), key)

    def _memo_key(self, op: Op | OpRef) -> Any:
        """``AuthorisationMemo.key``: an edit's layer from the rows the segment's edits remember
        (their writes may still be queued), else from the store after writing the queues."""
        if op.type in ("annotation.update", "annotation.delete") and self._edits is not None \
                and "layer_id" not in (op.payload.get("set") or {}):
            known, layer = self._edits.layer_of(op.entity)
            if known:
                return (op.type, op.user, layer)
        if op.type == "annotation.create":    # (a create's key is in its payload, as AuthorisationMemo.key)
            return (op.type, op.user, (op.payload.get("annotation") or {}).get("layer_id"))
        self._flush()
        return self._allowed.key(self.conn, op)

    def decide(self, ref: OpRef, *, own: bool = False) -> None:
        if ref.type in USER_TYPES:
            self.role_ops.clear()             # causal_roles reads them again
        if ref.type not in _ANNOTATION_TYPES and ref.type not in EDIT_TYPES:
            # (a restore, like the other annotation edits, changes no user, role, layer or class
            # and reads no op log: it is checked and applied as they are)
            if self._allowed is not None:
                self._allowed.seen(ref.type)  # it may change users, roles or layers
            self._flush()                     # its type's apply may read the op log
            if self._creates is not None:
                self._creates.forget()        # ... and classes
            if self._edits is not None:
                self._edits.forget()          # ... and write annotation rows (conflict.resolve)
        if self._lookups is not None:
            self._lookups.seen(ref.type)
        try:
            self._decide(ref, own=own)
        except InvalidOp as exc:
            if self._known is not None:
                raise                         # inside a segment: the segment is refused
            ref.state, ref.reason = "rejected", str(exc)   # a logged op retried later
            self._count("rejected")
            save_state(self.conn, ref, self.now)
        finally:
            self.reducer.noted(ref)
            if self._lookups is not None:
                self._lookups.seen(ref.type)
            if ref.type in USER_TYPES:
                self.role_ops.clear()

    def _decide(self, ref: OpRef, *, own: bool = False) -> None:
        if ref.type not in OP_TYPES:
            ref.state, ref.reason = "unknown_type", f"op type {ref.type!r} needs a newer labeldesk"
        elif (why := self._waiting_for(ref)) is not None:
            ref.state, ref.reason = "pending", why
        elif not own and ref.dev not in self.own_ids and self.authorise is not None and \
                (problem := self._authorisation(ref)) is not None:
            ref.state, ref.reason = "unauthorised", problem
        else:
            self.changes.update(self.reducer.integrate(ref))
            self._count("applied" if ref.state is None else ref.state)
            return
        self._count(ref.state)
        save_state(self.conn, ref, self.now)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def retry_pending(self, blobs: dict[str, bytes | None]) -> int:
        """Retry pending ops (and lines waiting for a blob) until nothing more can be applied."""
        done = 0
        for op_id, dev, line, blob in self.conn.execute(
                "SELECT op_id, dev, line, blob FROM sync_pending_lines ORDER BY dev, seq").fetchall():
            if blobs.get(blob) is not None:
                self.conn.execute("DELETE FROM sync_pending_lines WHERE op_id = ?", (op_id,))
                # (a blob that is not a payload of its type: take_line refuses that op alone)
                self.take_line(dev, {k: v for k, v in json.loads(line).items() if k != "seen"}, blobs)
                done += 1
        previous: list[str] | None = None
        while True:
            rows = self.conn.execute(
                f"SELECT {REF_COLUMNS}, s.state, s.reason, o.reason FROM ops o JOIN sync_op_state s ON "
                "s.op_id = o.op_id WHERE s.state = 'pending' OR (s.state = 'unknown_type' AND o.type IN (SELECT value FROM"
                " json_each(?))) ORDER BY o.hlc_ms, o.hlc_ctr, o.dev, o.seq", (json.dumps(sorted(OP_TYPES)),)).fetchall()
            shadows = self.conn.execute(
                f"SELECT {REF_COLUMNS}, o.state, o.problem, o.reason FROM sync_collisions o WHERE o.state = 'pending'"
                " ORDER BY o.hlc_ms, o.hlc_ctr, o.dev, o.seq").fetchall()
            progress = 0
            batch = [r[0] for r in rows] + [r[0] for r in shadows]
            if batch == previous:
                return done       # the same ops again: a replay left them where they were
            previous = batch
            for row, shadow in [(r, False) for r in rows] + [(r, True) for r in shadows]:
                ref = ref_from_row(tuple(row)[:13])
                ref.reason_text = row[13]  # type: ignore[attr-defined]
                ref.shadow = shadow  # type: ignore[attr-defined]
                ref.state = None
                if shadow:
                    self.conn.execute("UPDATE sync_collisions SET state = NULL WHERE op_id = ?", (ref.op_id,))
                else:
                    self.conn.execute("DELETE FROM sync_op_state WHERE op_id = ?", (ref.op_id,))
                self.decide(ref)
                if ref.state != "pending":
                    progress += 1
            done += progress
            if not progress:
                return done

    @staticmethod
    def pending_blobs_of(conn: sqlite3.Connection) -> set[str]:
        return {r[0] for r in conn.execute("SELECT DISTINCT blob FROM sync_pending_lines")}


_INSERT_OP = ("INSERT INTO ops (op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload, reason,"
              " op_hash, chain_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
_ANNOTATION_TYPES = MEMO_TYPES


USER_TYPES = ("user.add", "role.grant", "role.revoke")


def causal_roles(merger: Merger, ref: OpRef) -> set[str] | None:
    """The roles ``ref``'s author held when making it: the fold (in HLC, device, seq order, as the
    roles table is) of that user's role ops in the op's causal history. None when every role op
    of the user here is in it (then the roles table says the same), or when the op carries no
    causal context (its device had not synced yet). So a role change concurrent
    with an op -- made before its author's device had merged it -- never decides the op, and every
    replica judges it alike whatever order they merge the two in (docs/roles-and-sync.md)."""
    if ref.user is None or not merger.history.seen(ref.dev, ref.seq):
        return None       # no causal context published with it (made before its device's first sync)
    ops = merger.role_ops.get(ref.user)
    if ops is None:
        merger.flush_rows()
        ops = sorted((m for m in members(merger.conn, ("user", ref.user)) if m.state is None), key=lambda m: m.key)
        merger.role_ops[ref.user] = ops
    # (by the marks and direct bases, caching nothing on ``ref``: the reducer needs its whole past)
    past = [m for m in ops if merger.history.before_by_marks(m, ref)]
    if len(past) == len(ops):
        return None
    rows: set[str] = set()
    for m in past:
        role = str(m.payload.get("role"))
        if m.type == "role.grant":
            rows.discard(WAIVED + role)
            rows.add(role)
        elif m.type == "role.revoke":
            rows.discard(role)
            if "admin" in rows and role != "admin":
                rows.add(WAIVED + role)
    return effective_roles(rows)


_GEOMETRY_MARK = "\x00geometry\x00"
_MARKED = '"geometry":' + encode_str(_GEOMETRY_MARK)


def _op_text(ref: OpRef, base_json: str, payload_json: str) -> str:
    """``canonical_op`` of a ref taken from a line that passed ``check_line`` (op id, type and wall
    text; user, entity and reason text or null; the clock two integers, the seq an integer; the
    base ``base_json``), in one f-string: the same text (tests/core/sync/test_payload_json.py)."""
    e, r, u, s = ref.entity, getattr(ref, "reason_text", None), ref.user, encode_str
    return (f'{{"base":{base_json},"dev":{_enc(ref.dev)},"entity":{"null" if e is None else s(e)},"hlc":[{ref.hlc[0]},'
            f'{ref.hlc[1]}],"op_id":{s(ref.op_id)},"payload":{payload_json},"reason":{"null" if r is None else s(r)},'
            f'"seq":{ref.seq},"type":{_enc(ref.type)},"user":{"null" if u is None else _enc(u)},"wall":{s(ref.wall)}}}')


_ENCODED: dict[str, str] = {}


def _enc(text: str) -> str:
    """``encode_str`` of a value that repeats from op to op (device, user, type, asset, layer),
    remembered (a few hundred at most: forgotten when more)."""
    out = _ENCODED.get(text)
    if out is None:
        if len(_ENCODED) >= 512:
            _ENCODED.clear()
        out = _ENCODED[text] = encode_str(text)
    return out


_PLAIN_CREATE = frozenset({"asset_id", "attributes", "class_id", "geometry", "layer_id", "plane"})
_PLAIN_PLANE = frozenset({"axis", "t", "z"})
_PLAIN_FORMAT = ('{"annotation":{"asset_id":%s,"attributes":{},"class_id":%s,"geometry":%s,"layer_id":%s,'
                 '"plane":{"axis":%s,"t":%d,"z":%d}}}')


def _payload_json(ref: OpRef) -> str:
    """``canonical_json(ref.payload)``; for a create, its geometry's canonical JSON is encoded once
    and kept on the ref (``geometry_json``) for the row (``CreateRun``). Identical text: the
    encoder is context-free (an object is its sorted ``key:value`` pairs joined), so the payload
    encoded with a marker in place of the geometry, the one marked pair replaced by the
    geometry's own encoding, is the payload's encoding. A payload whose text holds the marked
    pair more than once (a value that spells it) is encoded whole."""
    payload = ref.payload
    d = payload.get("annotation") if ref.type == "annotation.create" else None
    if type(d) is dict and type(d.get("geometry")) is dict:
        geometry_json = canonical_json(d["geometry"])
        if len(payload) == 1 and d.keys() == _PLAIN_CREATE:
            # the usual create (the keys above, text ids, no attributes, a plain plane): its text
            # in one format, the keys in their sorted order
            a, c, layer, plane = d["asset_id"], d["class_id"], d["layer_id"], d["plane"]
            if type(a) is str and type(layer) is str and (c is None or type(c) is str) and \
                    type(d["attributes"]) is dict and not d["attributes"] and type(plane) is dict and \
                    plane.keys() == _PLAIN_PLANE and type(plane["axis"]) is str and type(plane["t"]) is int and \
                    type(plane["z"]) is int:
                ref.geometry_json = geometry_json  # type: ignore[attr-defined]
                return _PLAIN_FORMAT % (_enc(a), "null" if c is None else _enc(c), geometry_json, _enc(layer),
                                        _enc(plane["axis"]), plane["t"], plane["z"])
        marked = canonical_json({**payload, "annotation": {**d, "geometry": _GEOMETRY_MARK}})
        if marked.count(_MARKED) == 1:
            ref.geometry_json = geometry_json  # type: ignore[attr-defined]
            return marked.replace(_MARKED, '"geometry":' + geometry_json)
    return canonical_json(payload)


def _op(ref: OpRef) -> Op:
    return to_op(ref)


def _reason(op: Op | OpRef) -> str | None:
    return op.reason if isinstance(op, Op) else getattr(op, "reason_text", None)
