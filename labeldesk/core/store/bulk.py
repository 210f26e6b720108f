"""The write loop of ``Project.apply_all`` and its bulk form ``Project.apply_bulk``.

Both apply drafts in order in ONE transaction with every rule of the single path: the op type's
``prepare`` (validation, clipping), the role check (memoised per user, op type and layer while
only annotation ops come), the PHI guard on free-text ops, the hash chain in order, the op log and
the outbox. ``apply_bulk`` additionally takes runs of ``annotation.create`` drafts together:

* geometry checked over the whole run at once -- boxes in plain arithmetic, polygons as one numpy
  array of all their vertices (finite, no repeated or closing vertex, inside the plane) and one
  vectorised shapely validity/area test -- and the class rules once per (class, geometry kind);
* each op's canonical JSON, hash and chain link built from those parts (no ``Op`` object), and
  the op-log, outbox and annotation rows of the run written with one ``executemany`` each;
* the result kept as ids only (:class:`BulkResult`), not one ``Applied`` per op.

A draft the run cannot prove valid this way (a shape to clip or repair, another geometry kind,
attributes its class refuses, an unknown role key, an id taken, a prediction's provenance ...)
goes through the single path at its place in the run, so a refusal is the very same
``OpRejected`` with the same message, and the op log holds the same rows in the same order.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import sys
import time
from typing import Any, Iterable, Iterator, Sequence


from labeldesk.core.clock import HybridClock, Timestamp
from labeldesk.core.errors import OpRejected
from labeldesk.core.model import Plane
from labeldesk.core.op_types import annotations as annotation_ops
from labeldesk.core.ops import Applied, ChangeSet, OpDraft, canonical_json, canonical_op, encode_str
from labeldesk.core.review.roles import AuthorisationMemo
from labeldesk.core.store import oplog, repo
from labeldesk.core.store.single import stamped
from labeldesk.core.store.bulk_geometry import SHELL_TYPES as _SHELL_TYPES, box as _box, valid_shells as _valid_shells

RUN = 2048           # annotation.create drafts checked and written together
CREATE = "annotation.create"
# keys of an annotation the bulk path writes itself; any other (a prediction's score/source, ...)
# takes the single path
FAST_KEYS = frozenset({"asset_id", "layer_id", "class_id", "plane", "geometry", "attributes", "track_id",
                       "keyframe", "z_order"})
_LITTLE = sys.byteorder == "little"
_sha256 = hashlib.sha256


class UndoDrafts(Sequence[OpDraft]):
    """The inverse drafts of a bulk apply, newest first, made when read: an ``annotation.create``
    is kept as its id (its inverse is ``annotation.delete`` of it), anything else as its draft."""

    def __init__(self, items: list[OpDraft | str]) -> None:
        self._items = items            # oldest first

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: Any) -> Any:
        n = len(self._items)
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        item = self._items[n - 1 - i]
        return OpDraft("annotation.delete", item, {}) if isinstance(item, str) else item

    def __iter__(self) -> Iterator[OpDraft]:
        for item in reversed(self._items):
            yield OpDraft("annotation.delete", item, {}) if isinstance(item, str) else item


class BulkResult:
    """What ``Project.apply_bulk`` did: how many ops, which ids changed, and how to undo it."""

    def __init__(self) -> None:
        self.count = 0
        self.changes = ChangeSet()
        self.by_type: dict[str, int] = {}
        self._inverse: list[OpDraft | str] = []

    def _add(self, applied: Applied) -> None:
        self.count += 1
        self.by_type[applied.op.type] = self.by_type.get(applied.op.type, 0) + 1
        self.changes.update(applied.changes)
        if applied.inverse is not None:
            inv = applied.inverse
            if inv.type == "annotation.delete" and applied.op.type == CREATE and not inv.payload and not inv.base \
                    and inv.reason is None and inv.local is None and isinstance(inv.entity, str):
                self._inverse.append(inv.entity)
            else:
                self._inverse.append(inv)

    def undo(self) -> UndoDrafts:
        """The drafts that take it back in one ``apply_all``, newest first."""
        return UndoDrafts(self._inverse)


class _Wall:
    """The wall time of an op (ISO 8601, milliseconds, UTC) as ``Project._stamp`` writes it,
    formatted once per millisecond."""

    def __init__(self) -> None:
        self.ms = -1
        self.text = ""

    def now(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms != self.ms:
            self.ms = ms
            self.text = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(
                timespec="milliseconds").replace("+00:00", "Z")
        return self.text


class Writer:
    """One ``apply_all``/``apply_bulk`` transaction's running state."""

    def __init__(self, project: Any, user: str | None) -> None:
        self.project = project
        self.conn = project.conn
        self.user = user
        self.seq = repo.next_seq(self.conn, project.device_id)
        self.prev_chain = oplog.last_chain_hash(self.conn)
        # Bulk imports: who may write annotations in which layer, and the asset, layer and class
        # rows annotation ops read, are remembered until an op of another type (which may
        # change them) comes.
        self.memo = AuthorisationMemo()
        self.lookups = annotation_ops.begin_batch(self.conn)
        # The op-log/outbox rows of a run of annotation.create ops (which read neither) are
        # written together; any other op, and the role check, see them written first.
        self.pending = oplog.PendingRows()
        self.wall = _Wall()
        self._class_ok: dict[tuple[Any, str], bool] = {}
        self._planes: dict[tuple[Any, ...], tuple[str, int, int] | None] = {}
        self._templates: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # plain creates (keys within _PLAIN, no attributes): (keys, asset, layer, class, id of the
        # plane dict) -> (that plane dict, a copy of it, its head, its payload template); a hit needs
        # the very same dict, unchanged (the entry holds it, so its id is not reused)
        self._plain: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def close(self) -> None:
        annotation_ops.end_batch(self.lookups)

    def finish(self) -> None:
        self.pending.flush(self.conn)
        repo.set_meta(self.conn, "next_seq", self.seq)
        clock = self.project.clock.last
        repo.set_meta(self.conn, "hlc", f"{clock.ms},{clock.counter}")

    # ---- the single path ---------------------------------------------------------------------
    def one(self, draft: OpDraft) -> Applied:
        conn, project = self.conn, self.project
        self.lookups.seen(draft.type)
        self.memo.seen(draft.type)
        if draft.type != CREATE:
            self.pending.flush(conn)
        kind, draft, inverse, op = stamped(conn, project, draft, self.seq, self.user)
        key = self.memo.key(conn, op)
        if not self.memo.known(key):
            self.pending.flush(conn)
        problem = self.memo.problem(conn, op, key)
        if problem is not None:
            raise OpRejected(problem)
        encode = getattr(kind, "payload_json", None)
        self.prev_chain = oplog.append(conn, op, outbox=True, prev_chain=self.prev_chain,
                                       pending=self.pending if op.type == CREATE else None,
                                       payload_json=encode(conn, op) if encode is not None else None)
        changes = kind.apply(conn, op, draft.local)
        self.lookups.seen(op.type)
        self.seq += 1
        return Applied(op, changes, inverse)

    # ---- a run of annotation.create ----------------------------------------------------------
    def creates(self, run: list[OpDraft], result: BulkResult) -> None:
        """Apply ``run`` (annotation.create drafts, in order): the checked ones in bulk, the rest
        through :meth:`one` at their place."""
        conn = self.conn
        plans = self._plan(run)
        fast = [d.entity for d, p in zip(run, plans) if p is not None]
        taken = {r[0] for r in conn.execute(
            "SELECT id FROM annotations WHERE id IN (SELECT value FROM json_each(?))", (canonical_json(fast),))} \
            if fast else set()
        user = self.user or self.project.user_id
        dev = self.project.device_id
        if type(dev) is str and type(user) is str:
            head = '{"base":[],"dev":' + encode_str(dev) + ',"entity":'
            tail = ',"type":' + encode_str(CREATE) + ',"user":' + encode_str(user) + ',"wall":'
        else:                                                # (never so in a project): one by one
            plans = [None] * len(run)
            head = tail = ""
        clock = self.project.clock
        # the clock's tick (HybridClock.tick) kept in two ints while the run is written
        now_ms = clock._now_ms if type(clock) is HybridClock else None
        lms, lctr = clock.last.ms, clock.last.counter
        wall = self.wall.now
        version = annotation_ops._ontology_version(conn)
        memo = self.memo
        ops_rows = self.pending.ops
        outbox = self.pending.outbox
        rows: list[tuple[Any, ...]] = []
        changed = result.changes.annotations
        inverse = result._inverse
        seen: set[str] = set()
        allowed: set[Any] = set()          # layers memo.known allows (it only learns within a run)
        prev = self.prev_chain
        seq = self.seq
        done = 0
        for draft, plan in zip(run, plans):
            entity = draft.entity
            if plan is not None:
                if entity in taken or entity in seen:
                    plan = None
                elif plan[2] not in allowed:
                    if memo.known((CREATE, user, plan[2])):
                        allowed.add(plan[2])
                    else:
                        plan = None
            if plan is None:                       # the single path, at its place in the order
                if rows:
                    conn.executemany(annotation_ops.INSERT, rows)
                    rows = []
                self.prev_chain, self.seq = prev, seq
                if now_ms is not None:
                    clock.last = Timestamp(lms, lctr)
                result._add(self.one(draft))
                prev, seq = self.prev_chain, self.seq
                lms, lctr = clock.last.ms, clock.last.counter
                if isinstance(entity, str):
                    seen.add(entity)
                continue
            seen.add(entity)
            payload_json, row, _ = plan
            op_id = f"{dev}:{seq:012d}"                  # (ids.op_id)
            if now_ms is not None:
                pt = now_ms()
                if pt > lms:
                    lms, lctr = pt, 0
                else:
                    lctr += 1
            else:
                ts = clock.tick()
                lms, lctr = ts.ms, ts.counter
            w = wall()
            base = tuple(draft.base)
            reason = draft.reason
            if not base and (reason is None or type(reason) is str):     # canonical_op, inline
                text = _OP_TEXT % (head, encode_str(entity), lms, lctr, encode_str(op_id), payload_json,
                                   "null" if reason is None else encode_str(reason), seq, tail, encode_str(w))
            else:
                text = canonical_op(base, dev, entity, (lms, lctr), op_id, payload_json, reason, seq, CREATE,
                                    user, w)
            op_hash = _sha256(text.encode()).hexdigest()
            prev = _sha256((prev + op_hash).encode()).hexdigest()
            ops_rows.append((op_id, dev, seq, lms, lctr, w, user, CREATE, entity,
                             "[]" if not base else canonical_json(list(base)), payload_json, draft.reason,
                             op_hash, prev))
            outbox.append((op_id,))
            rows.append((entity, *row[:13], user, version, op_id, *row[13:]))
            changed.add(entity)
            inverse.append(entity)
            seq += 1
            done += 1
        self.prev_chain, self.seq = prev, seq
        if now_ms is not None:
            clock.last = Timestamp(lms, lctr)
        if done:
            result.count += done
            result.by_type[CREATE] = result.by_type.get(CREATE, 0) + done
        self.pending.flush(conn)
        if rows:
            conn.executemany(annotation_ops.INSERT, rows)

    def _plan(self, run: list[OpDraft]) -> list[Any]:
        """For each draft: (payload JSON, annotation row without author/version/revision) when
        the bulk checks prove it valid and unclipped, else None (the single path decides)."""
        conn = self.conn
        plans: list[Any] = [None] * len(run)
        polys: list[tuple[Any, ...]] = []           # (index, shell, annotation, width, height, head, template)
        plain = self._plain
        class_ok = self._class_ok
        for i, draft in enumerate(run):
            payload = draft.payload
            if type(payload) is not dict or len(payload) != 1 or type(draft.entity) is not str:
                continue
            d = payload.get("annotation")
            if type(d) is not dict:
                continue
            p = d.get("plane")
            attrs = d.get("attributes", _NO_ATTRIBUTES)
            entry = t = None
            if type(p) is dict and type(attrs) is dict and not attrs:
                asset_id, layer_id, class_id = d.get("asset_id"), d.get("layer_id"), d.get("class_id")
                if type(asset_id) is str and type(layer_id) is str and (class_id is None or type(class_id) is str):
                    pk = (tuple(d), asset_id, layer_id, class_id, id(p))
                    entry = plain.get(pk)
                    if entry is not None and (entry[0] is not p or entry[1] != p):
                        entry = None
            if entry is not None:                    # a plain create on a plane already checked
                head, t = entry[2], entry[3]
                g = d["geometry"]
                if type(g) is not dict:
                    continue
                kind = g.get("kind")
                if kind == "box":
                    box = _box(g.get("xyxy"), head[2], head[3])
                    if box is None:
                        continue
                    ok = class_ok.get((class_id, "box"))      # (no attributes: _class_allows' memo)
                    if not (ok or (ok is None and self._class_allows(d, "box"))):
                        continue
                    gj = _BOX_JSON % (box[0], box[1], box[2], box[3])
                    x0, y0, x1, y1 = box
                    plans[i] = (t[0] + gj + t[1], (*t[2], "box", gj, x0, y0, x1, y1, *t[3], None), head[4])
                    continue
                if kind == "polygon":
                    shell = g.get("shell")
                    if not g.get("holes") and type(shell) in _SHELL_TYPES and len(shell) >= 3:
                        ok = class_ok.get((class_id, "polygon"))
                        if ok or (ok is None and self._class_allows(d, "polygon")):
                            polys.append((i, shell, d, head[2], head[3], head, t))
                    continue
            else:
                if not FAST_KEYS.issuperset(d):
                    continue
                head = self._head(d)
                if head is None:
                    continue
                if type(p) is dict and not d.get("attributes") and _PLAIN.issuperset(d):
                    t = self._template(d, head)
                    plain[(tuple(d), d["asset_id"], head[4], d.get("class_id"), id(p))] = (p, dict(p), head, t)
                g = d["geometry"]
                kind = g.get("kind")
            w, h = head[2], head[3]
            if kind == "box":
                box = _box(g.get("xyxy"), w, h)
                if box is None or not self._class_allows(d, "box"):
                    continue
                gj = _BOX_JSON % (box[0], box[1], box[2], box[3])
                plans[i] = self._finish(d, head, "box", gj, box, None)
            elif kind == "polygon" and not g.get("holes") and type(g.get("shell")) in _SHELL_TYPES \
                    and len(g["shell"]) >= 3 and self._class_allows(d, "polygon"):
                polys.append((i, g["shell"], d, w, h, head, t))
        if polys:
            for (i, _, d, _, _, head, t), shell in zip(polys, _valid_shells([p[1] for p in polys],
                                                                             [p[3] for p in polys], [p[4] for p in polys])):
                if shell is not None:
                    coords, bounds = shell
                    gj = _shell_json(coords)
                    verts = (coords if _LITTLE else coords.byteswap()).tobytes()
                    if t is None:
                        plans[i] = self._finish(d, head, "polygon", gj, bounds, verts)
                    else:                            # a plain create: its template is known
                        x0, y0, x1, y1 = bounds
                        plans[i] = (t[0] + gj + t[1], (*t[2], "polygon", gj, x0, y0, x1, y1, *t[3], verts), head[4])
        return plans

    def _head(self, d: dict[str, Any]) -> tuple[Any, ...] | None:
        """(plane JSON, plane, width, height, layer id) when asset, plane and layer are fine."""
        g = d.get("geometry")
        if type(g) is not dict:
            return None
        attrs = d.get("attributes", {})
        if type(attrs) is not dict:
            return None
        p = d.get("plane")
        if p is None:
            p = {}                                   # (Plane.from_dict: the first slice and frame)
        elif type(p) is not dict or not {"z", "t", "axis"}.issuperset(p):
            return None
        z, t, axis = p.get("z", 0), p.get("t", 0), p.get("axis", "axial")
        if type(z) is not int or type(t) is not int or type(axis) is not str:
            return None
        asset_id, layer_id, class_id = d.get("asset_id"), d.get("layer_id"), d.get("class_id")
        if type(asset_id) is not str or type(layer_id) is not str or not (class_id is None or type(class_id) is str):
            return None
        key = (asset_id, layer_id, z, t, axis)
        found = self._planes.get(key, False)
        if found is False:
            found = self._planes[key] = self._check_head(asset_id, layer_id, z, t, axis)
        if found is None:
            return None
        for k in ("z_order", "keyframe", "track_id"):
            if k in d:
                v = d[k]
                if k == "z_order" and not (type(v) in (int, float) and math.isfinite(v)):
                    return None
                if k == "keyframe" and type(v) not in (bool, int):
                    return None
                if k == "track_id" and v is not None and type(v) is not str:
                    return None
        return found

    def _check_head(self, asset_id: Any, layer_id: Any, z: int, t: int, axis: str) -> tuple[Any, ...] | None:
        try:
            asset = annotation_ops._row(self.conn, "assets", asset_id, "asset")
            layer = annotation_ops._row(self.conn, "layers", layer_id, "layer")
            plane = Plane(z, t, axis)
        except (OpRejected, ValueError):
            return None
        if asset["removed"] or layer["removed"]:
            return None
        w, h, n = annotation_ops.plane_extent(asset, plane)
        if not (plane.z < n and plane.t < asset["frames"]):
            return None
        return (canonical_json(plane.to_dict()), plane, w, h, layer_id)

    def _class_allows(self, d: dict[str, Any], kind: str) -> bool:
        class_id, attrs = d.get("class_id"), d.get("attributes")
        if attrs:
            # typed text (an attribute of type text) goes the single path, where the PHI guard reads it
            if annotation_ops._text_attributes(self.conn, OpDraft(CREATE, "", {"annotation": d})):
                return False
            try:
                annotation_ops._check_class(self.conn, class_id, {"kind": kind}, attrs)
            except OpRejected:
                return False
            return True
        key = (class_id, kind)
        ok = self._class_ok.get(key)
        if ok is None:
            try:
                annotation_ops._check_class(self.conn, class_id, {"kind": kind}, {})
                ok = True
            except OpRejected:
                ok = False
            self._class_ok[key] = ok
        return ok

    def _finish(self, d: dict[str, Any], head: tuple[Any, ...], kind: str, gj: str, bounds: Any,
                verts: bytes | None) -> tuple[str, tuple[Any, ...], str]:
        plane_json, plane, _, _, layer_id = head
        keys = tuple(d)
        plain = not d.get("attributes") and _PLAIN.issuperset(keys)
        if plain:          # the payload around the geometry is the same for every shape of this
            t = self._template(d, head)                                         # asset/layer/class/plane
            x0, y0, x1, y1 = bounds
            return (t[0] + gj + t[1], (*t[2], kind, gj, x0, y0, x1, y1, *t[3], verts), layer_id)
        payload, row = self._encode(d, plane_json, plane, layer_id, kind, gj, bounds, verts)
        return payload, row, layer_id

    def _template(self, d: dict[str, Any], head: tuple[Any, ...]) -> tuple[Any, ...]:
        """(payload JSON before the geometry, after it, the row's fields before the kind, after the
        bounds) of a plain create (keys within _PLAIN, no attributes) on ``head``'s plane."""
        plane_json, plane, _, _, layer_id = head
        keys = tuple(d)
        tk = (keys, d["asset_id"], layer_id, d.get("class_id"), plane_json)
        t = self._templates.get(tk)
        if t is None:
            payload, row = self._encode(d, plane_json, plane, layer_id, "box", _MARK, (0.0,) * 4, None)
            prefix, suffix = payload.split(_MARK)
            t = self._templates[tk] = (prefix, suffix, row[:6], row[12:16])
        return t

    @staticmethod
    def _encode(d: dict[str, Any], plane_json: str, plane: Plane, layer_id: Any, kind: str, gj: str, bounds: Any,
                verts: bytes | None) -> tuple[str, tuple[Any, ...]]:
        """The payload JSON (as ``canonical_json`` of the prepared payload) and the row."""
        attrs = d.get("attributes") or {}
        attrs_json = canonical_json(attrs)
        keys = tuple(d)
        order = _ORDERS.get(keys)
        if order is None:
            order = _ORDERS[keys] = tuple(sorted(set(keys) | {"attributes", "class_id", "plane"}))
        parts = []
        for k in order:
            if k == "geometry":
                v = gj
            elif k == "plane":
                v = plane_json
            elif k == "attributes":
                v = attrs_json
            else:
                v = d.get(k)
                v = encode_str(v) if type(v) is str else canonical_json(v)
            parts.append(_KEY_JSON[k] + v)
        payload_json = '{"annotation":{' + ",".join(parts) + "}}"
        x0, y0, x1, y1 = bounds
        row = (d["asset_id"], layer_id, d.get("class_id"), plane.axis, plane.z, plane.t, kind, gj,
               x0, y0, x1, y1, attrs_json,
               float(d.get("z_order", 0.0)), d.get("track_id"), int(bool(d.get("keyframe", True))), verts)
        return payload_json, row


# an annotation.create op's canonical JSON (canonical_op's text) around its parts, keys in order
_OP_TEXT = '%s%s,"hlc":[%d,%d],"op_id":%s,"payload":%s,"reason":%s,"seq":%d%s%s}'
# a checked box's geometry JSON as canonical_json writes it (finite floats: their repr)
_BOX_JSON = '{"kind":"box","xyxy":[%r,%r,%r,%r]}'
_NO_ATTRIBUTES: dict[str, Any] = {}       # (never written to: the default of a missing "attributes")
_PLAIN = frozenset({"asset_id", "layer_id", "class_id", "plane", "geometry", "attributes"})
_MARK = "\0geometry\0"          # (no JSON text holds a raw NUL: a template's split point)
_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}      # an annotation's keys -> the payload's key order
_KEY_JSON = {k: encode_str(k) + ":" for k in FAST_KEYS}


_SHELL_FORMATS: dict[int, str] = {}


def _shell_json(coords: Any) -> str:
    """A checked shell's geometry JSON (an (n, 2) float64 array of finite values) as
    ``canonical_json`` writes it: each float as its repr, which is what the JSON encoder writes."""
    n = len(coords)
    if n > 256:
        return '{"kind":"polygon","shell":' + canonical_json(coords.tolist()) + "}"
    fmt = _SHELL_FORMATS.get(n)
    if fmt is None:
        fmt = _SHELL_FORMATS[n] = '{"kind":"polygon","shell":[' + ",".join(["[%r,%r]"] * n) + "]}"
    return fmt % tuple(coords.ravel().tolist())


def apply_drafts(project: Any, drafts: Iterable[OpDraft], user: str | None = None) -> list[Applied]:
    """``Project.apply_all``: every draft through the single path, one ``Applied`` each."""
    results: list[Applied] = []
    with project.transaction():
        writer = Writer(project, user)
        try:
            for draft in drafts:
                results.append(writer.one(draft))
            writer.finish()
        finally:
            writer.close()
    if project.on_applied and results:
        changes = ChangeSet()
        for a in results:
            changes.update(a.changes)
        for fn in list(project.on_applied):
            fn(changes)
    return results


def apply_bulk(project: Any, drafts: Iterable[OpDraft], user: str | None = None) -> BulkResult:
    """``Project.apply_bulk``: as :func:`apply_drafts` (one transaction, the same rules, the same
    op log), with runs of ``annotation.create`` checked and written together and the result kept
    as ids. ``drafts`` is consumed as it goes (a generator keeps memory flat)."""
    result = BulkResult()
    with project.transaction():
        writer = Writer(project, user)
        try:
            run: list[OpDraft] = []
            for draft in drafts:
                if draft.type == CREATE:
                    run.append(draft)
                    if len(run) >= RUN:
                        writer.creates(run, result)
                        run = []
                    continue
                if run:
                    writer.creates(run, result)
                    run = []
                result._add(writer.one(draft))
            if run:
                writer.creates(run, result)
                run = []
            writer.finish()
        finally:
            writer.close()
    if project.on_applied and result.count:
        for fn in list(project.on_applied):
            fn(result.changes)
    return result
