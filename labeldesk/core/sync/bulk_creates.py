"""The annotation rows of a merged segment's in-order ``annotation.create`` ops, written together.

The reducer hands each create that arrives in order (see ``Reducer.integrate``) to
:meth:`CreateRun.take`. It checks exactly what ``CreateAnnotation.apply`` checks -- the asset and
the layer exist, the layer is not removed, the class allows the shape (once per class and kind;
attributes each time), the plane parses, the bounds -- from the segment's cached lookups, and
queues the very row that ``apply`` would insert. Anything it cannot prove (the id taken, a
prediction's provenance, any refusal) returns None and the op goes through ``apply_one`` as
before, after the queued rows are written, so a refusal is recorded exactly as before. The
merger writes the queue with a few multi-row inserts (:meth:`flush`) before anything reads the
annotations table: any other op, the reducer's queries, the end of the segment.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from labeldesk.core.errors import OpRejected
from labeldesk.core.model import Plane
from labeldesk.core.op_types import annotations as annotation_ops
from labeldesk.core.ops import canonical_json
from labeldesk.core.store.multirow import insert_rows
from labeldesk.core.store.vertices import shell_bytes


class CreateRun:
    def __init__(self, conn: sqlite3.Connection, entities: Iterable[str]) -> None:
        self.conn = conn
        wanted = sorted({e for e in entities if isinstance(e, str)})
        # ids of the segment's creates that have a row already (their insert must fail as before)
        self.taken = {r[0] for r in conn.execute(
            "SELECT id FROM annotations WHERE id IN (SELECT value FROM json_each(?))", (canonical_json(wanted),))} \
            if wanted else set()
        self.rows: list[tuple[Any, ...]] = []
        self.queued: set[str] = set()
        self._class_ok: dict[tuple[Any, str], bool] = {}
        self._planes: dict[tuple[Any, ...], Plane] = {}
        self.edits: Any = None                 # the segment's EditRun (bulk_edits.py): told of each queued row

    def take(self, ref: Any) -> bool:
        """Queue the row of this in-order create (True: the entity is what changed), or False
        (after writing the queue, so that rows keep the ops' order): apply it the usual way."""
        if self._take(ref):
            return True
        self.flush()
        return False

    def _take(self, ref: Any) -> bool:
        op = ref                               # (an OpRef has the fields of its Op)
        entity = ref.entity
        if not getattr(ref, "fresh", False) or not isinstance(entity, str) or entity in self.taken:
            return False
        if entity in self.queued:              # a second create of the id: its insert must fail
            return False
        d = op.payload.get("annotation")
        if type(d) is not dict or "score" in d or "source" in d:
            return False
        try:
            row = self._row(op, d)
        except Exception:                      # whatever it is, apply_one records it as before
            return False
        if row is None:
            return False
        self.rows.append(row)
        self.queued.add(entity)
        if self.edits is not None:
            self.edits.created(row)
        return True

    def _row(self, op: Any, d: dict[str, Any]) -> tuple[Any, ...] | None:
        conn = self.conn
        b = annotation_ops._batch(conn)
        asset_id, layer_id = d.get("asset_id"), d.get("layer_id")
        if b is None or ("assets", asset_id) not in b.rows or ("layers", layer_id) not in b.rows:
            annotation_ops._row(conn, "assets", asset_id, "asset")      # (remembered by the open batch)
            annotation_ops._row(conn, "layers", layer_id, "layer")
        geometry = d["geometry"]
        kind = geometry["kind"]
        attributes = d.get("attributes")
        if attributes:
            annotation_ops._check_class(conn, d.get("class_id"), geometry, attributes, ontology=False)
        else:
            key = (d.get("class_id"), kind)
            ok = self._class_ok.get(key)
            if ok is None:
                try:
                    annotation_ops._check_class(conn, key[0], geometry, attributes, ontology=False)
                    ok = True
                except OpRejected:
                    ok = False
                self._class_ok[key] = ok
            if not ok:
                return None
        plane = self._plane(d["plane"])
        x0, y0, x1, y1 = _bounds(geometry)
        version = b.ontology_version if b is not None and b.ontology_version is not None else \
            annotation_ops._ontology_version(conn)
        return (op.entity, d["asset_id"], d["layer_id"], d.get("class_id"), plane.axis, plane.z, plane.t,
                kind, getattr(op, "geometry_json", None) or canonical_json(geometry), x0, y0, x1, y1,
                canonical_json(d.get("attributes") or {}), op.user, version, op.op_id, float(d.get("z_order", 0.0)),
                d.get("track_id"), int(bool(d.get("keyframe", True))), shell_bytes(geometry))

    def touched(self, entity: Any) -> None:
        """An op of ``entity`` was applied the usual way (or its entity replayed): it may hold a
        row now, so a later create of it must fail as its insert would."""
        if isinstance(entity, str):
            self.taken.add(entity)

    def _plane(self, d: Any) -> Plane:
        """``Plane.from_dict``, once per distinct (z, t, axis) of plain values (planes are frozen)."""
        if type(d) is dict and len(d) == 3:
            key = (d.get("z"), d.get("t"), d.get("axis"))
            if type(key[0]) is int and type(key[1]) is int and type(key[2]) is str:
                plane = self._planes.get(key)
                if plane is None:
                    plane = self._planes[key] = Plane.from_dict(d)
                return plane
        return Plane.from_dict(d)

    def forget(self) -> None:
        """Class rules may have changed (an op of another kind was decided)."""
        self._class_ok.clear()

    def flush(self) -> None:
        if self.rows:
            insert_rows(self.conn, annotation_ops.INSERT, self.rows)   # (a failure rolls the segment back)
            self.rows.clear()


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """``annotation_ops._bbox``; a polygon without a holes field straight from its shell (the same
    values in the same order as the trusted parse's ``Polygon.bounds``, failing alike)."""
    if geometry.get("kind") == "polygon" and "holes" not in geometry:
        xs, ys = zip(*geometry["shell"])
        return (min(xs), min(ys), max(xs), max(ys))
    return annotation_ops._bbox(geometry)
