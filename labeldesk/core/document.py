"""The open document: one asset's annotations in memory, loaded once, kept in step by ChangeSets.

Design (docs/document.md has the long form). Opening an asset reads its live annotations with
ONE ``SELECT`` straight into a numpy record array, the values that repeat from row to row as one
text per row (``_read_columns``: no Python object kept per cell); polygon shells come as binary
vertex arrays (``annotations.verts``, see ``store/vertices.py``) joined into one numpy buffer, so
nothing parses JSON row by row. Rows are kept in columns indexed by a row number that never
changes while the document is open:

* ``ids[row]``, ``row_of[id]``; ``alive[row]`` (False once deleted or moved to another asset)
* ``bounds[row]`` (x0, y0, x1, y1), ``z_order[row]``, and small integer codes for the plane,
  layer and class of each row (``plane_code``, ``layer_code``, ``class_code``; ``planes``,
  ``layers``, ``classes`` turn a code back into its value)
* ``ring(row)``: the outline to draw (N x 2 float64; a polygon's shell, a box's corners), or None
  for shapes drawn from their full geometry (holes, lines, points, masks, ellipses)
* ``flags[row]``: why the annotation needs a look (deprecated/merged class, class changed after it
  was made, required attribute missing) or None

Derived state is updated per changed row, never by reloading: :meth:`apply_changes` takes the
ChangeSet of applied ops (local edits, undo, review, sync merges), re-reads exactly the changed
ids (``WHERE id IN (...)``), and tells subscribers which rows were added, changed and removed
(:class:`DocumentChange`). Readers (canvas, Annotations panel, review views) call:

* ``rows_on(plane, layers)``: rows of one plane in drawing order (z_order, then store order)
* ``live_rows(layers)``: every live row (the Annotations panel)
* ``tracked_rows``, ``rows_with_attribute(key)``, ``rows_of_kind(kind)``: the few rows the Tracks,
  Measurements and Segments panels show, from sets kept per row (no walk over every row)
* ``annotation(row)``: the full :class:`~labeldesk.core.model.Annotation` (built on demand)
* ``count``, ``count_on(plane)``: live counts kept incrementally
* ``subscribe(fn)``: ``fn(DocumentChange)`` after every applied ChangeSet (``reloaded``: a bulk
  change was read again as a whole)

In the app, take a document from ``EditSession.document(asset_id)`` and follow
``EditSession.sig_document_changed(document, change)``. A document reopens from a snapshot in the
project cache (``document_snapshot.py``), caught up with the annotations changed since. ``open_in_background`` reads a
document on a worker thread with its own read-only connection; ``adopt`` hands it to the thread
that uses it (False when an op landed since the read). Headless (no Qt): the CLI and
tests use it as they are.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from labeldesk.core import geometry as g
from labeldesk.core.model import Annotation, Plane
from labeldesk.core.gc_pause import no_cyclic_gc

# What a row-by-row load reads (revision is read when an Annotation is built; '{}' attributes come as None)
_COLUMNS = ("id, layer_id, class_id, plane_axis, plane_z, plane_t, kind, x0, y0, x1, y1, z_order, author,"
            " ontology_version, NULLIF(attributes, '{}'), track_id, keyframe, verts,"
            " CASE WHEN verts IS NULL AND kind != 'box' THEN geometry END")
# ... and what a change reads: the same, then revision, asset and deleted
_CHANGE_COLUMNS = _COLUMNS + ", revision, asset_id, deleted"
_LIVE = " FROM annotations WHERE asset_id = ? AND deleted = 0"
# A cold load reads the same rows as ONE plain SELECT straight into a numpy record array
# (Document._read_columns): the numbers as float64 fields (no Python float per cell), and the
# values that repeat from row to row (layer, class, plane, kind, author, ontology version,
# keyframe) as one JSON text per row (JSON keeps text, integers and NULL exact), each distinct
# text parsed once.
_ROW = ("SELECT x0, y0, x1, y1, z_order, verts, id, json_array(layer_id, class_id, plane_axis, plane_z, plane_t,"
        " kind, author, ontology_version, keyframe), track_id, NULLIF(attributes, '{}'),"
        " CASE WHEN verts IS NULL AND kind != 'box' THEN geometry END")
_ROW_DTYPE = np.dtype([("x0", "f8"), ("y0", "f8"), ("x1", "f8"), ("y1", "f8"), ("z_order", "f8"), ("verts", "O"),
                       ("id", "O"), ("repeating", "O"), ("track", "O"), ("attributes", "O"), ("geometry", "O")])


RELOAD_AT = 20_000      # a ChangeSet naming more annotations than this (and than the document holds)


@dataclass
class DocumentChange:
    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    planes: set[int] = field(default_factory=set)      # plane codes whose rows changed
    flags: bool = False                                # flags of (possibly) every row changed
    reloaded: bool = False                             # read again as a whole (a bulk import)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.flags or self.reloaded)


_no_cyclic_gc = no_cyclic_gc          # (labeldesk.core.gc_pause)


class _Codes:
    """Small integer codes for repeated values (planes, layers, classes)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.code: dict[Any, int] = {}

    def encode(self, values: Any) -> list[int]:
        """Codes of many values at once (one dict lookup each, in C)."""
        for v in dict.fromkeys(values):
            if v not in self.code:
                self.code[v] = len(self.values)
                self.values.append(v)
        return list(map(self.code.__getitem__, values))

    def __call__(self, value: Any) -> int:
        c = self.code.get(value)
        if c is None:
            c = self.code[value] = len(self.values)
            self.values.append(value)
        return c


class Document:
    def __init__(self, conn: sqlite3.Connection, asset_id: str, own_connection: bool = False,
                 save_snapshot: bool = True) -> None:
        self.conn = conn
        self._save_snapshot = save_snapshot     # False: the caller writes it (document_snapshot.write_ahead)
        self._own_connection = own_connection   # nobody else uses conn: the load is one read transaction
        self.asset_id = asset_id
        self.loads = 0                      # full loads (one per open; tests count them)
        self.version = 0                    # bumped by every applied change
        self._subscribers: list[Callable[[DocumentChange], None]] = []
        self.load()

    # ---- loading ------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the asset's live annotations: from the snapshot of an unchanged project when there
        is one (document_snapshot.py), else with one SELECT (and save a snapshot for next time).
        ``stamp`` (the op log's high-water mark) is read before the rows (one read transaction on
        a connection of its own): an op landing in between makes the stamp stale, never the rows."""
        from labeldesk.core import document_snapshot as snapshot
        self.loads += 1
        self.caught_up: int | None = None   # rows read again on top of an older snapshot (None: not)
        self._catch_up_size = 0             # entities the catch-up named (its cost)
        own = self._own_connection and not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN")
        try:
            with _no_cyclic_gc():
                self.stamp = snapshot.stamp(self.conn, self.asset_id)
                use = snapshot.enabled()
                self.from_snapshot = use and snapshot.restore(self, self.stamp)
                if not self.from_snapshot:
                    self._load_rows()
                n = len(self.ids)
                live = np.flatnonzero(self.alive[:n])          # (a caught-up snapshot has dead rows)
                self._plane_count = Counter(self.plane_code[live].tolist())
                self.flags = [None] * n
                self._recompute_flags(live, fresh=True)
        finally:
            if own:
                self.conn.execute("COMMIT")
        # a small catch-up is saved when the project closes, not rewritten on every open
        self.snapshot_deferred = bool(self.from_snapshot and self.caught_up is not None
                                      and self._catch_up_size < snapshot.SAVE_CATCH_UP_AT)
        if use and self._save_snapshot and (not self.from_snapshot or self.caught_up is not None):
            snapshot.save_later(self, self.stamp, defer=self.snapshot_deferred)

    def _catch_up(self, entities: list[str]) -> None:
        """Bring a document restored from an older snapshot in step with the store: every change
        to an annotation is an op naming it (``entity``), so the annotations named by the ops
        appended since the snapshot are read again, as :meth:`apply_changes` reads a ChangeSet's
        (flags and plane counts are worked out by the load after this). What each touched row was
        before goes to ``caught_up_from.old`` when the caller set one (document_snapshot.CaughtUp):
        the overlay cache patches the overlay drawn at the snapshot's stamp with it."""
        out = DocumentChange()
        self._catch_up_size = len(entities)
        cur = self.conn.cursor()
        cur.row_factory = None
        memo = getattr(self, "caught_up_from", None)
        old = memo.old if memo is not None else {}
        for i in range(0, len(entities), 500):
            chunk = entities[i:i + 500]
            found = {r[0]: r for r in cur.execute(
                f"SELECT {_CHANGE_COLUMNS} FROM annotations WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
            for aid in chunk:
                r = self.row_of.get(aid)
                if r is not None and r not in old:
                    old[r] = ((*self.bounds[r].tolist(),), int(self.plane_code[r]), int(self.layer_code[r])) \
                        if self.alive[r] else None
                self._apply_row(aid, found.get(aid), out)
        for r in out.added:
            old.setdefault(r, None)
        self._plane_rows.clear()
        self.caught_up = len(out.added) + len(out.changed) + len(out.removed)

    @classmethod
    def open_in_background(cls, db_path: Any, asset_id: str, executor: Any,
                           then: Callable[["Document"], None] | None = None) -> Any:
        """Start loading an asset's document on ``executor`` with a read-only connection of its
        own; returns a Future of the Document. The thread that will use it calls :meth:`adopt`.
        ``then(doc)`` runs on the worker once it is loaded, before anyone else sees it (the app
        draws its overlay there); whatever it raises is dropped (the caller does that work itself)."""
        def work() -> "Document":
            from labeldesk.core.store import connection
            conn = connection.connect(db_path, read_only=True)
            try:
                doc = cls(conn, asset_id, own_connection=True)
            except BaseException:
                conn.close()
                raise
            if then is not None:
                try:
                    then(doc)
                except Exception:  # noqa: BLE001 - optional work: the GUI thread does it when needed
                    pass
            return doc
        return executor.submit(work)

    def adopt(self, conn: sqlite3.Connection) -> bool:
        """Switch a document loaded on another thread to ``conn`` (closing its own connection);
        False when an op was applied since it was read (the caller then loads it again)."""
        from labeldesk.core import document_snapshot as snapshot
        own, self.conn = self.conn, conn
        self._own_connection = False
        if own is not conn:
            own.close()
        return snapshot.stamp(conn, self.asset_id) == self.stamp

    def _allocate(self, n: int) -> None:
        self.planes, self.layers, self.classes = _Codes(), _Codes(), _Codes()
        self._cap = max(64, n * 5 // 4)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.alive = np.zeros(self._cap, bool)
        self.bounds = np.zeros((self._cap, 4))
        self.z_order = np.zeros(self._cap)
        self.plane_code = np.zeros(self._cap, np.int32)
        self.layer_code = np.zeros(self._cap, np.int32)
        self.class_code = np.zeros(self._cap, np.int32)
        self.onto_version = np.zeros(self._cap, np.int64)
        self.ringed = np.zeros(self._cap, bool)        # drawn from ring(row) (in bulk)
        self.kinds: list[str] = []
        self.authors: list[Any] = []
        self.attributes_json: list[str | None] = []
        self.tracks: list[Any] = []
        self.keyframes: list[bool] = []
        self.revisions: list[Any] = []
        self._buf = np.zeros((0, 2))               # shells of the rows loaded at open, end to end
        self._start = np.full(self._cap, -1, np.int64)    # where a row's ring starts in _buf (-1: not there)
        self._len = np.zeros(self._cap, np.int64)
        self._ring_new: dict[int, np.ndarray] = {}       # rings of rows written after the load
        self._geoms: dict[int, Any] = {}          # full geometry of rows drawn without a ring
        self.tracked: set[int] = set()            # live rows in a track (the Tracks dock reads these)
        self.attributed: set[int] = set()         # live rows with attributes (measurements, ...)
        self.flags: list[str | None] = []
        self._plane_rows: dict[int, np.ndarray] = {}
        self._plane_count: Counter[int] = Counter()
        self._class_rules: dict[Any, tuple[Any, ...]] | None = None

    def _load_rows(self) -> None:
        """Read the asset's live rows in columns (:meth:`_read_columns`), or row by row where
        SQLite has no JSON functions (:meth:`_load_rows_by_row`, the same document)."""
        try:
            rows = self._read_columns()
        except sqlite3.OperationalError:                   # no json_array (SQLite without JSON1)
            self._load_rows_by_row()
        else:
            self._fill(rows)

    def _read_columns(self) -> np.ndarray:
        """The live rows as a numpy record array (``_ROW_DTYPE``) filled from the cursor: one
        tuple per row passes through, but no Python float is kept per cell, and the seven values
        that repeat from row to row come as one text (ids, vertex blobs and the sparse columns —
        track, attributes, the JSON geometry of shapes without a ring — are objects)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        # store order within a plane (the plane index sorts by z_order, stably, when asked)
        return np.fromiter(cur.execute(_ROW + _LIVE, (self.asset_id,)), _ROW_DTYPE)

    def _fill(self, rows: np.ndarray) -> None:
        n = len(rows)
        self._allocate(n)
        if not n:
            return
        ids = rows["id"].tolist()
        self.ids = ids
        self.row_of = dict(zip(ids, range(n)))
        self.alive[:n] = True
        for i, name in enumerate(("x0", "y0", "x1", "y1")):
            self.bounds[:n, i] = rows[name]
        self.z_order[:n] = rows["z_order"]
        # a code per distinct text, in order of first appearance, then one numpy take per column:
        # the codes are those the row-by-row read gives (first appearance)
        per_row = rows["repeating"].tolist()
        distinct = dict.fromkeys(per_row)
        for i, text in enumerate(distinct):
            distinct[text] = i
        code = np.fromiter(map(distinct.__getitem__, per_row), np.int64, n)
        values = [json.loads(text) for text in distinct]   # [layer, class, axis, z, t, kind, author, onto, key]
        self.layer_code[:n] = np.array(self.layers.encode([v[0] for v in values]), np.int32)[code]
        self.class_code[:n] = np.array(self.classes.encode([v[1] for v in values]), np.int32)[code]
        self.plane_code[:n] = np.array(self.planes.encode([(v[2], v[3], v[4]) for v in values]), np.int32)[code]
        self.onto_version[:n] = np.array([v[7] for v in values], np.int64)[code]
        code_list = code.tolist()
        self.kinds = list(map([v[5] for v in values].__getitem__, code_list))
        self.authors = list(map([v[6] for v in values].__getitem__, code_list))
        self.keyframes = list(map([bool(v[8]) for v in values].__getitem__, code_list))
        self.tracks, self.attributes_json = rows["track"].tolist(), rows["attributes"].tolist()
        self.revisions = [None] * n
        self._index_sets()
        blobs = rows["verts"].tolist()
        lens = np.fromiter(map(len, [b or b"" for b in blobs]), np.int64, n) >> 4      # points
        self._buf = np.frombuffer(b"".join(filter(None, blobs)), "<f8").reshape(-1, 2)
        self._len[:n] = lens
        self._start[:n] = np.where(lens > 0, np.cumsum(lens) - lens, -1)
        self.ringed[:n] = lens > 0
        geoms = rows["geometry"]
        for r in np.flatnonzero(lens == 0).tolist():
            self._set_ring_from_json(r, self.kinds[r], geoms[r])

    def _load_rows_by_row(self) -> None:
        """The rows as one tuple each, kept until the columns are built (the reference read, and
        the way for SQLite without JSON functions)."""
        cur = self.conn.cursor()
        cur.row_factory = None                  # plain tuples (sqlite3.Row costs a third more)
        # store order within a plane (the plane index sorts by z_order, stably, when asked)
        rows = cur.execute(f"SELECT {_COLUMNS}" + _LIVE, (self.asset_id,)).fetchall()
        n = len(rows)
        self._allocate(n)
        if n:
            (ids, layers, classes, axes, zs, ts, kinds, x0, y0, x1, y1, zo, authors, onto, attrs, tracks, keys,
             verts, geoms) = zip(*rows)
            self.ids = list(ids)
            self.row_of = {a: i for i, a in enumerate(ids)}
            self.alive[:n] = True
            self.bounds[:n] = np.column_stack([x0, y0, x1, y1])
            self.z_order[:n] = zo
            self.plane_code[:n] = self._plane_codes(axes, zs, ts)
            self.layer_code[:n] = self.layers.encode(layers)
            self.class_code[:n] = self.classes.encode(classes)
            self.onto_version[:n] = onto
            self.kinds, self.authors, self.attributes_json = list(kinds), list(authors), list(attrs)
            self.tracks, self.keyframes, self.revisions = list(tracks), [bool(k) for k in keys], [None] * n
            self._index_sets()
            lens = np.fromiter((0 if v is None else len(v) >> 4 for v in verts), np.int64, n)
            self._buf = np.frombuffer(b"".join(v for v in verts if v is not None), "<f8").reshape(-1, 2)
            self._len[:n] = lens
            self._start[:n] = np.where(lens > 0, np.cumsum(lens) - lens, -1)
            self.ringed[:n] = lens > 0
            for r in np.flatnonzero(lens == 0).tolist():
                self._set_ring_from_json(r, kinds[r], geoms[r])

    def _plane_codes(self, axes: tuple[Any, ...], zs: tuple[Any, ...], ts: tuple[Any, ...]) -> Any:
        """Codes of the rows' planes without a tuple per row: an image's rows are all on one plane
        (three C-level counts say so), a volume's planes are told apart with numpy."""
        n = len(axes)
        if axes.count(axes[0]) == n and zs.count(zs[0]) == n and ts.count(ts[0]) == n:
            return self.planes((axes[0], zs[0], ts[0]))
        axis_codes = np.array(_Codes().encode(axes), np.int64)
        keys = np.column_stack([axis_codes, np.array(zs, np.int64), np.array(ts, np.int64)])
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")           # codes in order of first appearance
        codes = np.array(self.planes.encode([(axes[i], zs[i], ts[i]) for i in first[order].tolist()]), np.int32)
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return codes[rank[inverse.reshape(-1)]]

    def _index_sets(self) -> None:
        """The few rows in a track or with attributes (after a load; kept per row after that)."""
        alive, n = self.alive, len(self.ids)
        tracks, attrs = self.tracks, self.attributes_json
        # (list.count in C: most documents have no tracks and few rows with attributes)
        self.tracked = {r for r, t in enumerate(tracks) if t is not None and alive[r]} \
            if tracks.count(None) < n else set()
        self.attributed = {r for r, a in enumerate(attrs) if a is not None and alive[r]} \
            if attrs.count(None) < n else set()

    def _set_ring_from_json(self, r: int, kind: str, geometry_json: str | None) -> None:
        self._start[r] = -1
        if kind == "box":
            x0, y0, x1, y1 = self.bounds[r]
            self._ring_new[r] = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            self._geoms.pop(r, None)
            self.ringed[r] = True
            return
        geom = g.geometry_from_dict(json.loads(geometry_json), trusted=True) if geometry_json else None
        self._geoms[r] = geom
        self._ring_new.pop(r, None)
        self.ringed[r] = False

    # ---- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.count

    @property
    def count(self) -> int:
        return sum(self._plane_count.values())

    def count_on(self, plane: Plane) -> int:
        c = self.planes.code.get((plane.axis, plane.z, plane.t))
        return 0 if c is None else self._plane_count[c]

    def ring(self, row: int) -> np.ndarray | None:
        """The outline drawn for ``row`` (N x 2 float64), or None (drawn from its geometry)."""
        new = self._ring_new.get(row)
        if new is not None:
            return new
        s = self._start[row]
        return self._buf[s:s + self._len[row]] if s >= 0 else None

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rings of ringed ``rows`` end to end: (points M x 2, length of each ring), gathered
        with one numpy index from the load buffer (rows written since: one by one)."""
        rows = np.asarray(rows, np.int64)
        starts, lens = self._start[rows], self._len[rows]
        if len(rows) and starts[0] >= 0 and (starts[1:] == starts[:-1] + lens[:-1]).all():
            return self._buf[starts[0]:starts[-1] + lens[-1]], lens     # consecutive: no copy
        in_buf = starts >= 0
        if in_buf.all():
            total = int(lens.sum())
            offsets = np.cumsum(lens) - lens
            idx = np.arange(total) + np.repeat(starts - offsets, lens)
            return self._buf[idx], lens
        # rows written since the load (and boxes) one by one, the rest with one numpy index
        lens = np.where(in_buf, lens, 0)
        others = np.flatnonzero(~in_buf)
        rings = [self.ring(r) for r in rows[others].tolist()]
        lens[others] = [len(ring) for ring in rings]
        offsets = np.cumsum(lens) - lens
        out = np.empty((int(lens.sum()), 2))
        kept = np.flatnonzero(in_buf)
        if len(kept):
            n_kept = lens[kept]
            within = np.arange(int(n_kept.sum())) - np.repeat(np.cumsum(n_kept) - n_kept, n_kept)
            out[np.repeat(offsets[kept], n_kept) + within] = self._buf[np.repeat(starts[kept], n_kept) + within]
        for i, ring in zip(others.tolist(), rings):
            out[offsets[i]:offsets[i] + len(ring)] = ring
        return out, lens

    def geometry(self, row: int) -> Any:
        """The shape of ``row`` (a geometry object; a polygon built from its ring on demand)."""
        geom = self._geoms.get(row)
        if geom is not None:
            return geom
        ring = self.ring(row)
        if self.kinds[row] == "box":
            return g.Box(*map(float, self.bounds[row]))
        return g._trusted(g.Polygon, shell=tuple(map(tuple, ring.tolist())), holes=())

    def annotation(self, row: int) -> Annotation:
        axis, z, t = self.planes.values[int(self.plane_code[row])]
        return Annotation(id=self.ids[row], asset_id=self.asset_id,
                          layer_id=self.layers.values[int(self.layer_code[row])],
                          class_id=self.classes.values[int(self.class_code[row])], plane=Plane(z, t, axis),
                          geometry=self.geometry(row), attributes=self.attributes(row),
                          author=self.authors[row], revision=self.revision(row),
                          z_order=float(self.z_order[row]), track_id=self.tracks[row], keyframe=self.keyframes[row])

    def attributes(self, row: int) -> dict[str, Any]:
        text = self.attributes_json[row]
        return json.loads(text) if text else {}

    def revision(self, row: int) -> str | None:
        """The op that made this state (read from the store when first asked for)."""
        rev = self.revisions[row]
        if rev is None:
            found = self.conn.execute("SELECT revision FROM annotations WHERE id = ?", (self.ids[row],)).fetchone()
            rev = self.revisions[row] = found[0] if found else None
        return rev

    def find(self, annotation_id: str) -> Annotation | None:
        r = self.row_of.get(annotation_id)
        return self.annotation(r) if r is not None and self.alive[r] else None

    def plane_of(self, row: int) -> Plane:
        axis, z, t = self.planes.values[int(self.plane_code[row])]
        return Plane(z, t, axis)

    def class_of(self, row: int) -> Any:
        return self.classes.values[int(self.class_code[row])]

    def layer_of(self, row: int) -> Any:
        return self.layers.values[int(self.layer_code[row])]

    def _layer_mask(self, rows: np.ndarray, layers: Iterable[str] | None) -> np.ndarray:
        if layers is None:
            return rows
        # a table over the layer codes (np.isin would sort, and its first call imports numpy.ma,
        # ≈ 10–20 ms on the GUI thread at the first paint)
        shown = np.zeros(len(self.layers.values) + 1, bool)
        shown[[self.layers.code[lid] for lid in layers if lid in self.layers.code]] = True
        return rows[shown[self.layer_code[rows]]]

    def rows_on(self, plane: Plane, layers: Iterable[str] | None = None) -> np.ndarray:
        """Live rows of one plane in drawing order (z_order, then the order they were stored)."""
        c = self.planes.code.get((plane.axis, plane.z, plane.t))
        if c is None:
            return np.zeros(0, np.int64)
        rows = self._plane_rows.get(c)
        if rows is None:
            n = len(self.ids)
            rows = np.flatnonzero(self.alive[:n] & (self.plane_code[:n] == c))
            rows = rows[np.argsort(self.z_order[rows], kind="stable")]
            self._plane_rows[c] = rows
        return self._layer_mask(rows, layers)

    def live_rows(self, layers: Iterable[str] | None = None) -> np.ndarray:
        return self._layer_mask(np.flatnonzero(self.alive[:len(self.ids)]), layers)

    def _sorted(self, rows: Iterable[int], layers: Iterable[str] | None) -> np.ndarray:
        return self._layer_mask(np.array(sorted(rows), np.int64), layers)

    def tracked_rows(self, layers: Iterable[str] | None = None) -> np.ndarray:
        """Live rows that belong to a track (kept per row: no walk over the document)."""
        return self._sorted(self.tracked, layers)

    def rows_with_attribute(self, key: str, layers: Iterable[str] | None = None) -> np.ndarray:
        """Live rows whose attributes name ``key`` (e.g. measurements), looked up among the rows
        that have attributes at all."""
        texts, needle = self.attributes_json, f'"{key}"'
        return self._sorted((r for r in self.attributed if needle in texts[r] and key in self.attributes(r)), layers)

    def rows_of_kind(self, kind: str, layers: Iterable[str] | None = None) -> np.ndarray:
        """Live rows of one geometry kind. Kinds other than polygons and boxes are drawn from their
        full geometry and kept apart, so asking for masks or lines does not walk every row."""
        if kind in ("polygon", "box"):
            n = len(self.ids)
            return self._layer_mask(np.flatnonzero(self.alive[:n] & np.fromiter(
                (k == kind for k in self.kinds), bool, n)), layers)
        return self._sorted((r for r in self._geoms if self.alive[r] and self.kinds[r] == kind), layers)

    # ---- keeping in step ----------------------------------------------------------------------
    def subscribe(self, fn: Callable[[DocumentChange], None]) -> None:
        self._subscribers.append(fn)

    def unsubscribe(self, fn: Callable[[DocumentChange], None]) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def apply_changes(self, changes: Any) -> DocumentChange:
        """Bring the document in step with a ChangeSet of applied ops: only the changed ids are
        read; derived state (plane index, counts, flags) is updated for them alone."""
        out = DocumentChange()
        if len(changes.annotations) > max(RELOAD_AT, len(self.ids)):
            self.load()                         # a bulk import: one read beats 100,000 row updates
            out.reloaded = True
            self.version += 1
            for fn in list(self._subscribers):
                fn(out)
            return out
        if changes.classes:
            self._class_rules = None
            self._recompute_flags(np.flatnonzero(self.alive[:len(self.ids)]).tolist())
            out.flags = True
        ids = list(changes.annotations)
        old_tracks: set[Any] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            cur = self.conn.cursor()
            cur.row_factory = None
            found = {r[0]: r for r in cur.execute(
                f"SELECT {_CHANGE_COLUMNS} FROM annotations WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
            for aid in chunk:
                r = self.row_of.get(aid)
                if r is not None and self.tracks[r]:
                    old_tracks.add(self.tracks[r])
                self._apply_row(aid, found.get(aid), out)
        # flags after every row is in: a track's flag sits on its first keyframe, which may be
        # another row of this change (or of no change at all)
        touched = out.added + out.changed
        tracks = old_tracks | {self.tracks[r] for r in touched if self.tracks[r]}
        extra = [r for r, t in enumerate(self.tracks) if t in tracks and self.alive[r]] if tracks else []
        self._recompute_flags(sorted(set(touched) | set(extra)))
        seen = set(touched) | set(out.removed)
        out.changed += [r for r in extra if r not in seen]
        if out:
            self.version += 1
            for fn in list(self._subscribers):
                fn(out)
        return out

    def _apply_row(self, aid: str, row: tuple[Any, ...] | None, out: DocumentChange) -> None:
        r = self.row_of.get(aid)
        live = row is not None and row[20] == self.asset_id and not row[21]     # (asset_id, deleted)
        old: tuple[int, float] | None = None
        if r is not None and self.alive[r]:
            old = (int(self.plane_code[r]), float(self.z_order[r]))
            out.planes.add(old[0])
            self._plane_count[old[0]] -= 1
            if not live:
                self.alive[r] = False
                self.tracked.discard(r)
                self.attributed.discard(r)
                out.removed.append(r)
                self._drop_from_plane(old[0], r)
                return
            out.changed.append(r)
        elif not live:
            return
        elif r is None:
            r = len(self.ids)
            self._grow(r + 1)
            self.ids.append(aid)
            self.row_of[aid] = r
            for col in (self.kinds, self.authors, self.attributes_json, self.tracks, self.keyframes,
                        self.revisions, self.flags):
                col.append(None)
            out.added.append(r)
        else:                                   # deleted earlier, restored now
            out.added.append(r)
        self._write_row(r, row)
        c = int(self.plane_code[r])
        out.planes.add(c)
        self._plane_count[c] += 1
        if old != (c, float(self.z_order[r])):  # its place in the drawing order changed
            if old is not None:
                self._drop_from_plane(old[0], r)
            self._add_to_plane(c, r)

    def _drop_from_plane(self, code: int, r: int) -> None:
        rows = self._plane_rows.get(code)
        if rows is not None:
            self._plane_rows[code] = rows[rows != r]

    def _add_to_plane(self, code: int, r: int) -> None:
        """Append a row on top of its plane's drawing order when it belongs there (the usual
        case: a new shape); anywhere else the order is worked out again when next asked for."""
        rows = self._plane_rows.get(code)
        if rows is None:
            return
        z = self.z_order[r]
        if not len(rows) or (z >= self.z_order[rows[-1]] and r > rows[-1]):
            self._plane_rows[code] = np.append(rows, r)
        else:
            del self._plane_rows[code]

    def _write_row(self, r: int, row: tuple[Any, ...]) -> None:
        (_id, layer, cls, axis, z, t, kind, x0, y0, x1, y1, zo, author, onto, attrs, track, key, verts,
         geom, rev, _asset, _deleted) = row
        self.alive[r] = True
        self.bounds[r] = (x0, y0, x1, y1)
        self.z_order[r] = zo
        self.plane_code[r] = self.planes((axis, z, t))
        self.layer_code[r] = self.layers(layer)
        self.class_code[r] = self.classes(cls)
        self.onto_version[r] = onto
        self.kinds[r], self.authors[r], self.attributes_json[r] = kind, author, attrs
        self.tracks[r], self.keyframes[r], self.revisions[r] = track, bool(key), rev
        (self.tracked.add if track is not None else self.tracked.discard)(r)
        (self.attributed.add if attrs is not None else self.attributed.discard)(r)
        self._geoms.pop(r, None)
        self._start[r] = -1
        if verts is not None:
            self._ring_new[r] = np.frombuffer(verts, "<f8").reshape(-1, 2)
            self._len[r] = len(self._ring_new[r])
            self.ringed[r] = True
        else:
            self._set_ring_from_json(r, kind, geom)

    def _grow(self, n: int) -> None:
        if n <= self._cap:
            return
        cap = max(n, self._cap * 2)
        for name in ("alive", "bounds", "z_order", "plane_code", "layer_code", "class_code", "onto_version",
                     "ringed", "_start", "_len"):
            old = getattr(self, name)
            new = np.full((cap,) + old.shape[1:], -1 if name == "_start" else 0, old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)
        self._cap = cap

    # ---- flags --------------------------------------------------------------------------------
    def _rules(self) -> dict[Any, tuple[Any, ...]]:
        """Per class: (the reason every annotation of it is flagged, or None; its required
        attributes) and the ontology version of its last change. One query per class at most."""
        if self._class_rules is None:
            from labeldesk.core.store import repo
            classes = {c.id: c for c in repo.classes(self.conn)}
            changed = dict(self.conn.execute(      # (type range: the ops_by_type index)
                "SELECT entity, MAX(local_order) FROM ops WHERE type >= 'ontology.' AND type < 'ontology/'"
                " GROUP BY entity"))
            rules: dict[Any, Any] = {}
            for cid, c in classes.items():
                if c.merged_into:
                    target = classes.get(c.merged_into)
                    reason = f"class {c.name!r} was merged into {target.name if target else '?'!r}"
                elif c.deprecated:
                    reason = f"class {c.name!r} is deprecated"
                else:
                    reason = None
                at = changed.get(cid)
                version = 0 if at is None else int(self.conn.execute(
                    "SELECT COUNT(*) FROM ops WHERE type >= 'ontology.' AND type < 'ontology/' AND local_order <= ?",
                    (at,)).fetchone()[0])
                required = [d for d in c.attributes if d.get("required")]
                rules[cid] = (reason, list(c.attributes) if required else [], version, c.name)
            self._class_rules = rules
        return self._class_rules

    def _recompute_flags(self, rows: Iterable[int], fresh: bool = False, judge_tracks: bool = True) -> None:
        """Flags of ``rows``; rows of a class that flags nothing are skipped class by class
        (``fresh``: their flags are None already)."""
        from labeldesk.core.ontology import missing_required
        rules = self._rules()
        rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, np.int64)
        heads = self._track_heads({self.tracks[r] for r in rows.tolist() if self.tracks[r]}) if judge_tracks else {}
        codes = self.class_code[rows]
        # (the classes present, ascending: np.unique would import numpy.ma, ≈ 10 ms on the first open)
        for code in np.flatnonzero(np.bincount(codes)).tolist():
            of_class = rows[codes == code]
            rule = rules.get(self.classes.values[code])
            if rule is None or (rule[0] is None and not rule[1]):
                if not fresh:
                    for r in of_class.tolist():
                        self.flags[r] = None
                if rule is not None:                  # only "changed after it was made" can apply
                    text = f"class {rule[3]!r} changed after this annotation was made"
                    for r in of_class[self.onto_version[of_class] < rule[2]].tolist():
                        self.flags[r] = text
                continue
            reason, defs, version, name = rule
            for r in of_class.tolist():
                parts = []
                if reason is not None:
                    parts.append(reason)
                elif self.onto_version[r] < version:
                    parts.append(f"class {name!r} changed after this annotation was made")
                track = self.tracks[r]
                if defs and track:               # a track is judged once, on its first keyframe
                    head = heads.get(track)
                    missing = missing_required(defs, self.attributes(r)) if head and head[0] == r else []
                    if missing:
                        parts.append("track missing required: " + ", ".join(missing))
                elif defs:
                    missing = missing_required(defs, self.attributes(r))
                    if missing:
                        parts.append("missing required: " + ", ".join(missing))
                self.flags[r] = "; ".join(parts) or None

    def _track_heads(self, track_ids: set[Any]) -> dict[Any, tuple[int]]:
        """track id -> (row of its first keyframe,) for ``track_ids``."""
        if not track_ids:
            return {}
        found: dict[Any, list[Any]] = {}
        for r, t in enumerate(self.tracks):
            if t in track_ids and self.alive[r] and self.keyframes[r]:
                p = self.plane_of(r)
                entry = found.setdefault(t, [None, (1 << 62, 0)])
                if (p.t, p.z) < entry[1]:
                    entry[0], entry[1] = r, (p.t, p.z)
        return {t: (e[0],) for t, e in found.items() if e[0] is not None}
