"""Deterministic materialisation (docs/sync.md R6, §7).

An entity's state is a pure function of the *set* of its ops, replayed in (HLC, device, seq)
order through the same op types' ``apply`` that local edits use (rule 4). An op that arrives in
order is applied at once; one that sorts before ops already applied to its entity (or is
concurrent with them) makes the reducer reset that entity's rows and replay its ops. The ontology
is reduced as one group (a merge touches several classes); so are the project settings. A 3-D
segment is a group too: its label map is the replay of its create/update/delete/restore/paint
ops, so concurrent strokes that add and erase the same voxels give the same voxels everywhere
(the stroke later in (HLC, device, seq) order wins on the voxels both touched).

Rules applied on replay: same-field concurrent edits keep every value in a conflict record and
show max (HLC, device) everywhere; a delete concurrent with an edit is *overridden* (the edit
wins, the entity is flagged); a delete that saw the edit wins.
"""
from __future__ import annotations

import hashlib
import sqlite3
from typing import Any, Iterable

from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import ChangeSet, Op, canonical_json, get_op_type
from labeldesk.core.sync.bulk_edits import EDIT_TYPES
from labeldesk.core.sync.history import REF_COLUMNS, History, OpRef, ref_from_row

REPLAYED = (None, "rejected", "overridden")          # states an op may leave on replay
UPDATE_TYPES = {"annotation.update": "annotation", "ontology.class.update": "class"}
DELETE_TYPES = {"annotation.delete": "annotation.update"}
_ENTITY_GROUPS = {"annotation.": "annotation", "asset.": "asset", "layer.": "layer",
                  "classification.": "classification", "segment.": "segment"}
_USER_TYPES = ("user.add", "role.grant", "role.revoke")


def group_of(op: OpRef) -> tuple[str, str | None] | None:
    """The replay group of an op; None for order-independent records (reviews, issues…) and
    types this reducer does not know, which are applied once, as they arrive."""
    t = op.type
    kind = _ENTITY_KIND.get(t)
    if kind is not None:                      # (the usual case: an op type seen before)
        return (kind, op.entity)
    if t == "conflict.resolve":
        return ("ontology", None) if op.payload.get("entity_kind") == "class" else ("annotation", op.entity)
    if t.startswith("ontology."):
        return ("ontology", None)
    if t in _USER_TYPES:
        return ("user", op.entity)
    if t == "project.settings":
        return ("settings", None)
    for prefix, kind in _ENTITY_GROUPS.items():
        if t.startswith(prefix):
            if len(_ENTITY_KIND) < 256:       # (types come from the share: a bounded memo)
                _ENTITY_KIND[t] = kind
            return (kind, op.entity)
    return None


_ENTITY_KIND: dict[str, str] = {}             # op type -> its group kind, for the per-entity kinds


def _member_sql(group: tuple[str, str | None]) -> tuple[str, tuple[Any, ...]]:
    kind, entity = group
    head = (f"SELECT {REF_COLUMNS}, s.state, s.reason, o.reason FROM ops o "
            "LEFT JOIN sync_op_state s ON s.op_id = o.op_id WHERE ")
    if kind == "ontology":
        return head + ("((o.type >= 'ontology.' AND o.type < 'ontology/') OR (o.type = 'conflict.resolve'"
                       " AND json_extract(o.payload, '$.entity_kind') = 'class'))"), ()
    if kind == "settings":
        return head + "o.type = 'project.settings'", ()
    if kind == "user":
        return head + "o.entity = ? AND o.type IN ('user.add', 'role.grant', 'role.revoke')", (entity,)
    if kind == "annotation":
        return head + "o.entity = ? AND (o.type LIKE 'annotation.%' OR o.type = 'conflict.resolve')", (entity,)
    return head + "o.entity = ? AND o.type LIKE ?", (entity, kind + ".%")


SHADOW_HEAD = (f"SELECT {REF_COLUMNS}, o.state, o.problem, o.reason FROM sync_collisions o "
               "WHERE o.type IS NOT NULL AND (o.state IS NULL OR o.state != 'collision') AND ")


def members(conn: sqlite3.Connection, group: tuple[str, str | None]) -> list[OpRef]:
    """The group's ops that take part in replay, including shadow ops (see sync_collisions)."""
    sql, args = _member_sql(group)
    shadow_sql = SHADOW_HEAD + sql.split(" WHERE ", 1)[1]
    out = []
    for query, shadow in ((sql, False), (shadow_sql, True)):
        for row in conn.execute(query, args):
            ref = ref_from_row(tuple(row)[:13])
            ref.reason_text = row[13]  # type: ignore[attr-defined]
            ref.shadow = shadow  # type: ignore[attr-defined]
            if ref.state in REPLAYED:
                out.append(ref)
    return out


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def reset(conn: sqlite3.Connection, group: tuple[str, str | None]) -> ChangeSet:
    """Remove a group's materialised rows (foreign keys are deferred by the merge transaction)."""
    kind, entity = group
    if kind == "annotation":
        if _table_exists(conn, "annotation_provenance"):
            conn.execute("DELETE FROM annotation_provenance WHERE annotation_id = ?", (entity,))
        conn.execute("DELETE FROM annotations WHERE id = ?", (entity,))
        conn.execute("DELETE FROM sync_conflicts WHERE entity = ?", (entity,))
        return ChangeSet(annotations={str(entity)})
    if kind == "ontology":
        ids = {r[0] for r in conn.execute("SELECT id FROM classes")}
        conn.execute("DELETE FROM classes")
        conn.execute("DELETE FROM sync_conflicts WHERE entity_kind = 'class'")
        return ChangeSet(classes=ids)
    if kind == "settings":
        keys = {r[0][len("setting."):] for r in conn.execute("SELECT key FROM meta WHERE key LIKE 'setting.%'")}
        conn.execute("DELETE FROM meta WHERE key LIKE 'setting.%'")
        return ChangeSet(settings=keys)
    if kind == "segment":
        return _reset_segment(conn, entity)
    if kind == "user":
        conn.execute("DELETE FROM roles WHERE user_id = ?", (entity,))
        conn.execute("DELETE FROM users WHERE id = ?", (entity,))
        return ChangeSet(users={str(entity)})
    table = {"asset": "assets", "layer": "layers", "classification": "classifications"}[kind]
    conn.execute(f"DELETE FROM {table} WHERE id = ?", (entity,))
    return ChangeSet(**{"assets" if kind in ("asset", "classification") else "layers": {str(entity)}})


def _reset_segment(conn: sqlite3.Connection, entity: str | None) -> ChangeSet:
    """A segment's row and label-map slices (the replay of its ops writes them again)."""
    row = conn.execute("SELECT asset_id FROM segments WHERE id = ?", (entity,)).fetchone()
    conn.execute("DELETE FROM segment_slices WHERE segment_id = ?", (entity,))
    conn.execute("DELETE FROM segments WHERE id = ?", (entity,))
    return ChangeSet(segments={str(entity)}, assets={row[0]} if row else set())


def to_op(ref: OpRef) -> Op:
    op = getattr(ref, "op", None)          # made before for this ref
    if op is not None:
        return op
    op = Op(op_id=ref.op_id, dev=ref.dev, seq=ref.seq, hlc=ref.hlc, wall=ref.wall, user=ref.user,
            type=ref.type, entity=ref.entity, payload=ref.payload, base=ref.base,
            reason=getattr(ref, "reason_text", None))
    ref.op = op  # type: ignore[attr-defined]
    return op


def missing_dependency(exc: Exception) -> bool:
    """``rows.fetch`` refuses with "no <what> with id <id>": a dependency that may still arrive."""
    text = str(exc)
    return text.startswith("no ") and " with id " in text


# op types whose apply reads, then writes with ONE statement (SQLite undoes a failed statement
# by itself): no savepoint around them
ONE_WRITE = frozenset({"annotation.update", "annotation.delete", "annotation.restore"})


def apply_one(conn: sqlite3.Connection, ref: OpRef) -> ChangeSet:
    """Apply through the op type inside a savepoint; sets ``ref.state`` (None = applied)."""
    savepoint = ref.type not in ONE_WRITE
    if savepoint:
        conn.execute("SAVEPOINT sync_apply")
    try:
        changes = get_op_type(ref.type).apply(conn, to_op(ref), None)
    except (OpRejected, sqlite3.IntegrityError) as exc:
        if savepoint:
            conn.execute("ROLLBACK TO sync_apply")
            conn.execute("RELEASE sync_apply")
        pending = isinstance(exc, OpRejected) and missing_dependency(exc)
        ref.state, ref.reason = ("pending" if pending else "rejected"), str(exc)
        return ChangeSet()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # a value its op type did not expect (validation.py checks the shape, not every value)
        if savepoint:
            conn.execute("ROLLBACK TO sync_apply")
            conn.execute("RELEASE sync_apply")
        from labeldesk.core.sync.validation import InvalidOp
        raise InvalidOp(f"op {ref.op_id} (seq {ref.seq}): {ref.type} cannot be applied "
                        f"({type(exc).__name__}: {exc})") from None
    if savepoint:
        conn.execute("RELEASE sync_apply")
    ref.state, ref.reason = None, ""
    return changes


def save_state(conn: sqlite3.Connection, ref: OpRef, now: str) -> None:
    if getattr(ref, "shadow", False):
        conn.execute("UPDATE sync_collisions SET state = ?, problem = ? WHERE op_id = ?",
                     (ref.state, ref.reason, ref.op_id))
        return
    if ref.state is None and getattr(ref, "fresh", False):
        return                          # a new op that was applied: it never had a state row
    if ref.state is None:
        conn.execute("DELETE FROM sync_op_state WHERE op_id = ?", (ref.op_id,))
    else:
        conn.execute("INSERT OR REPLACE INTO sync_op_state (op_id, state, reason, since) VALUES (?,?,?,?)",
                     (ref.op_id, ref.state, ref.reason, now))


def _in_group(kind: str, op_type: str) -> bool:
    """Whether an op of ``op_type`` on a group's entity is one of its members (as ``_member_sql``)."""
    if kind == "annotation":
        return op_type.lower().startswith("annotation.") or op_type == "conflict.resolve"
    if kind == "user":
        return op_type in _USER_TYPES
    return op_type.lower().startswith(kind + ".")


_TAIL_KINDS = ("annotation", "asset", "layer", "classification", "segment", "user")


class Reducer:
    def __init__(self, conn: sqlite3.Connection, history: History, now: str) -> None:
        self.conn = conn
        self.history = history
        self.now = now
        # per segment: group -> [has a shadow op, max key of its replayed ops, devices of all its
        # ops]; exactly what _in_order's queries would find, kept up to date as ops are decided
        self._tails: dict[tuple[str, str | None], list[Any]] | None = None
        self.flush: Any = lambda: None        # writes op-log rows a merge holds back (before reading the log)
        self.lookups: Any = None              # the op types' BatchLookups a merge keeps open, if any
        self.bulk: Any = None                 # a merge's CreateRun (sync/bulk_creates.py), if any
        self.edits: Any = None                # a merge's EditRun (sync/bulk_edits.py), if any
        self.logged: set[str] = set()         # op ids the last prefetch found in the log (of its entities)

    def forget(self, entity: str | None) -> None:
        """Drop the cached tails of ``entity``'s groups (a shadow op of it was recorded)."""
        if self._tails is not None:
            for group in [g for g in self._tails if g[1] == entity]:
                del self._tails[group]

    def prefetch(self, lines: list[dict[str, Any]] | None) -> None:
        """Read the tails of the entity groups that ``lines`` touch in two queries (None: forget)."""
        if lines is None:
            self._tails = None
            self.logged = set()
            return
        # entity -> its kinds (a str for the usual one kind, a tuple for several), and the tails
        # made at once: [False, None, set()] for each (kind, entity)
        wanted: dict[str, Any] = {}
        tails: dict[tuple[str, str | None], list[Any]] = {}
        kinds_of = _ENTITY_KIND
        for line in lines:
            t, entity = line.get("type"), line.get("entity")
            if type(t) is not str or type(entity) is not str:
                if not isinstance(t, str) or not isinstance(entity, str):
                    continue
            kind = kinds_of.get(t)            # (the memo of group_of: the prefix kinds only)
            if kind is None:
                if t == "conflict.resolve":
                    continue
                if t in _USER_TYPES:
                    kind = "user"
                else:
                    kind = next((k for p, k in _ENTITY_GROUPS.items() if t.startswith(p)), None)
                    if kind is None:
                        continue
                    if len(kinds_of) < 256:   # (as group_of memoises it: types come from the share)
                        kinds_of[t] = kind
            held = wanted.get(entity)
            if held is None:
                wanted[entity] = kind
            elif held != kind and (type(held) is str or kind not in held):
                wanted[entity] = (held, kind) if type(held) is str else (*held, kind)
            else:
                continue
            tails[(kind, entity)] = [False, None, set()]
        arg = (canonical_json(sorted(wanted)),)
        member: dict[tuple[str, str], bool] = {}      # _in_group, once per (kind, op type)
        logged = self.logged = set()
        for op_id, entity, op_type, ms, ctr, dev, seq, state in self.conn.execute(
                "SELECT o.op_id, o.entity, o.type, o.hlc_ms, o.hlc_ctr, o.dev, o.seq, s.state FROM ops o LEFT JOIN "
                "sync_op_state s ON s.op_id = o.op_id WHERE o.entity IN (SELECT value FROM json_each(?))", arg):
            logged.add(op_id)
            kinds = wanted[entity]
            for kind in ((kinds,) if type(kinds) is str else kinds):
                ok = member.get((kind, op_type))
                if ok is None:
                    ok = member[(kind, op_type)] = _in_group(kind, op_type)
                if ok:
                    tail = tails[(kind, entity)]
                    tail[2].add(dev)
                    if state in REPLAYED and (tail[1] is None or (ms, ctr, dev, seq) > tail[1]):
                        tail[1] = (ms, ctr, dev, seq)
        for (entity,) in self.conn.execute("SELECT DISTINCT entity FROM sync_collisions WHERE entity IN "
                                           "(SELECT value FROM json_each(?))", arg):
            kinds = wanted[entity]
            for kind in ((kinds,) if type(kinds) is str else kinds):
                tails[(kind, entity)][0] = True
        self._tails = tails

    def noted(self, ref: OpRef) -> None:
        """``ref`` was decided (logged with its state): its group's tail now includes it."""
        if self._tails is None:
            return
        group = group_of(ref)
        tail = self._tails.get(group) if group is not None else None
        if tail is None:
            return
        if getattr(ref, "shadow", False):
            tail[0] = True
        tail[2].add(ref.dev)
        if ref.state in REPLAYED and (tail[1] is None or ref.key > tail[1]):
            tail[1] = ref.key

    def integrate(self, ref: OpRef) -> ChangeSet:
        """Materialise a newly logged op: at once if it comes after everything its group holds and
        saw all of its entity's ops, else by replaying its group."""
        group = group_of(ref)
        if group is None:
            changes = apply_one(self.conn, ref)
            save_state(self.conn, ref, self.now)
            return changes
        if self._in_order(group, ref):
            run = None
            if ref.type == "annotation.create":
                run = self.bulk
            elif ref.type in EDIT_TYPES:
                run = self.edits
            if run is not None and run.take(ref):
                ref.state, ref.reason = None, ""
                return ChangeSet(annotations={ref.entity})
            return self.apply_alone(group, ref)
        return self.reduce(group)

    def apply_alone(self, group: tuple[str, str | None], ref: OpRef) -> ChangeSet:
        """Apply an in-order op the usual way (through its op type), after the merge's queues."""
        self._write_queued()                  # apply reads the annotations table
        changes = apply_one(self.conn, ref)
        self._touched(group)
        save_state(self.conn, ref, self.now)
        return changes

    def _write_queued(self) -> None:
        """Write the rows a merge queued (creates first: a queued edit may be of a queued create)."""
        if self.bulk is not None:
            self.bulk.flush()
        if self.edits is not None:
            self.edits.flush()

    def _touched(self, group: tuple[str, str | None]) -> None:
        """An annotation's row was written the usual way: what the merge's queues remember of it
        is no longer known."""
        if group[0] == "annotation":
            if self.bulk is not None:
                self.bulk.touched(group[1])
            if self.edits is not None:
                self.edits.drop(group[1])

    def _in_order(self, group: tuple[str, str | None], ref: OpRef) -> bool:
        kind, entity = group
        tail = self._tails.get(group) if self._tails is not None else None
        if tail is not None:                  # what the queries below would find, without them
            if tail[0]:
                return False
            if tail[1] is None:
                return True
            if tail[1] > ref.key:
                return False
            if not tail[2] - {ref.dev}:
                return True
        self.flush()                          # the queries below read the op log
        if kind in ("ontology", "settings"):
            others = [m for m in members(self.conn, group) if m.op_id != ref.op_id]
            by_id = {m.op_id: m for m in others}
            by_id[ref.op_id] = ref
            if ref.entity is not None and self.conn.execute(
                    "SELECT 1 FROM sync_conflicts WHERE entity = ? AND status = 'open'", (ref.entity,)).fetchone():
                return False                  # its candidates may change: recompute by replay
            return all(m.key < ref.key for m in others) and all(
                self.history.before(m, ref, by_id) for m in others if m.entity == ref.entity)
        if tail is None:
            sql, args = _member_sql(group)
            if self.conn.execute("SELECT 1 FROM sync_collisions WHERE entity = ? LIMIT 1", (entity,)).fetchone():
                return False
            last = self.conn.execute(sql + " AND o.op_id != ? AND (s.state IS NULL OR s.state IN "
                                     "('rejected', 'overridden')) ORDER BY o.hlc_ms DESC, o.hlc_ctr DESC, o.dev DESC,"
                                     " o.seq DESC LIMIT 1", (*args, ref.op_id)).fetchone()
            if last is None:
                return True
            if (last[3], last[4], last[1], last[2]) > ref.key:
                return False
            other_dev = self.conn.execute(sql + " AND o.dev != ? LIMIT 1", (*args, ref.dev)).fetchone()
            if other_dev is None:
                return True
        others = [m for m in members(self.conn, group) if m.op_id != ref.op_id]
        by_id = {m.op_id: m for m in others}
        by_id[ref.op_id] = ref
        open_conflict = self.conn.execute("SELECT 1 FROM sync_conflicts WHERE entity = ? AND status = 'open'",
                                          (entity,)).fetchone()
        return open_conflict is None and all(self.history.before(m, ref, by_id) for m in others)

    def reduce(self, group: tuple[str, str | None]) -> ChangeSet:
        """Reset the group's rows and replay its ops in (HLC, device, seq) order."""
        if self._tails is not None:
            self._tails.pop(group, None)      # the replay changes its ops' states: read it again
        self.flush()
        ops = sorted(members(self.conn, group), key=lambda r: r.key)
        by_id = {o.op_id: o for o in ops}
        for o in ops:                         # a replayed op of another kind may change looked-up rows
            if self.lookups is not None:
                self.lookups.seen(o.type)
        version = self.conn.execute("SELECT value FROM meta WHERE key = 'ontology_version'").fetchone()
        changes = reset(self.conn, group)
        overridden = self._overridden_deletes(ops, by_id)
        for ref in ops:
            if ref.op_id in overridden:
                ref.state, ref.reason = "overridden", overridden[ref.op_id]
            else:
                changes.update(apply_one(self.conn, ref))
            save_state(self.conn, ref, self.now)
        if group[0] == "ontology":
            # the replay bumped the ontology version once per class op again: keep it counting
            # each applied class op once (annotations compare their version with it)
            applied = sum(1 for o in ops if o.state is None)
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'ontology_version'",
                              (str(max(int(version[0]) if version else 0, applied)),))
        for o in ops:
            if self.lookups is not None:
                self.lookups.seen(o.type)
        entities = sorted({o.entity for o in ops if o.entity is not None and (o.type in UPDATE_TYPES
                           or o.type in DELETE_TYPES or o.type == "conflict.resolve")})
        for entity in entities:
            changes.conflicts.update(self._write_conflicts(entity, ops, by_id, overridden))
        self._touched(group)
        return changes

    def _overridden_deletes(self, ops: list[OpRef], by_id: dict[str, OpRef]) -> dict[str, str]:
        out: dict[str, str] = {}
        h = self.history
        for d in ops:
            edit_type = DELETE_TYPES.get(d.type)
            if edit_type is None:
                continue
            concurrent = [u for u in ops if u.entity == d.entity and u.type == edit_type
                          and not h.before(u, d, by_id) and not h.before(d, u, by_id)]
            if concurrent:
                u = max(concurrent, key=lambda r: r.key)
                out[d.op_id] = f"deleted concurrently with an edit ({u.op_id}); the edit wins"
        return out

    def _write_conflicts(self, entity: str, ops: list[OpRef], by_id: dict[str, OpRef],
                         overridden: dict[str, str]) -> set[str]:
        h = self.history
        mine = [o for o in ops if o.entity == entity]
        writers = [o for o in mine if o.state is None and (o.type in UPDATE_TYPES or o.type == "conflict.resolve")]
        kind = next((UPDATE_TYPES[o.type] for o in mine if o.type in UPDATE_TYPES), None) \
            or next((str(o.payload.get("entity_kind")) for o in mine if o.type == "conflict.resolve"), "annotation")
        rows: list[tuple[Any, ...]] = []
        fields = sorted({f for o in writers for f in _fields(o)})
        for f in fields:
            touching = [o for o in writers if f in _fields(o)]
            heads = [o for o in touching if not any(h.before(o, v, by_id) for v in touching if v is not o)]
            if len(heads) > 1:
                heads.sort(key=lambda r: r.key)
                cands = [_candidate(o, _value(o, f)) for o in heads]
                rows.append((_conflict_id(entity, f, heads), entity, kind, f, "field", canonical_json(cands),
                             heads[-1].op_id))
        resolves = [o for o in mine if o.type == "conflict.resolve" and o.payload.get("field") == "_deleted"]
        for d in (o for o in mine if o.op_id in overridden):
            if any(d.op_id in h.closure(r, by_id) for r in resolves):
                continue
            edits = [u for u in mine if u.type == DELETE_TYPES[d.type] and not h.before(u, d, by_id)
                     and not h.before(d, u, by_id)]
            edits.sort(key=lambda r: r.key)
            cands = [_candidate(d, True)] + [_candidate(u, False) for u in edits]
            rows.append((_conflict_id(entity, "_deleted", [d] + edits), entity, kind, "_deleted", "delete",
                         canonical_json(cands), edits[-1].op_id))
        self.conn.execute("DELETE FROM sync_conflicts WHERE entity = ? AND status = 'open'", (entity,))
        self.conn.executemany("INSERT OR IGNORE INTO sync_conflicts (id, entity, entity_kind, field, kind, candidates,"
                              " winner, status) VALUES (?,?,?,?,?,?,?,'open')", rows)
        return {r[0] for r in rows}


def _fields(o: OpRef) -> Iterable[str]:
    if o.type == "conflict.resolve":
        f = o.payload.get("field")
        return () if f == "_deleted" else (str(f),)
    return tuple((o.payload.get("set") or {}).keys())


def _value(o: OpRef, f: str) -> Any:
    return o.payload.get("value") if o.type == "conflict.resolve" else (o.payload.get("set") or {}).get(f)


def _candidate(o: OpRef, value: Any) -> dict[str, Any]:
    return {"op_id": o.op_id, "dev": o.dev, "user": o.user, "hlc": list(o.hlc), "wall": o.wall, "value": value}


def _conflict_id(entity: str, field: str, ops: list[OpRef]) -> str:
    text = entity + "|" + field + "|" + ",".join(sorted(o.op_id for o in ops))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
