"""The writes of a merged segment's in-order ``annotation.update`` / ``delete`` / ``restore`` ops,
made together (the edit counterpart of ``bulk_creates.py``).

The merger reads, once per segment, the columns these ops check (deleted, class and layer; the
geometry and attributes only when an edit checks its class) of every annotation the segment
edits, and keeps them true while it merges: a queued create adds its row
(:meth:`EditRun.created`), a queued edit changes its entry, and anything else that may write an
annotation row drops what it may have changed -- an op applied the usual way drops its entity
(:meth:`EditRun.drop`), an op of another kind drops everything (:meth:`EditRun.forget`); a
dropped row is read again by itself when next needed. Each queued edit is the very ``UPDATE``
that ``UpdateAnnotation.apply`` / ``_SetDeleted.apply`` would run, checked as they check it
from the remembered columns (the class rules through the op types' own ``_check_class``).
Anything it cannot prove (no remembered row, a field it does not know, any refusal, any
unexpected value) returns None and the op goes through ``apply_one`` as before, after the
queues are written, so a refusal is recorded exactly as before. The merger writes the queue
(runs of the same statement with one ``executemany`` each, in the ops' order) before anything
reads the annotations table: an op applied the usual way, a role check that reads the store,
the reducer's queries, an op of another kind, the end of the segment.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from labeldesk.core.op_types import annotations as annotation_ops
from labeldesk.core.ops import canonical_json
from labeldesk.core.store.vertices import shell_bytes

EDIT_TYPES = frozenset({"annotation.update", "annotation.delete", "annotation.restore"})
_DELETED = {"annotation.delete": 1, "annotation.restore": 0}
_CHECKED = frozenset({"class_id", "attributes", "geometry"})     # the fields apply checks the class for
_FIELDS = frozenset(annotation_ops.FIELDS)
_SET_DELETED = "UPDATE annotations SET deleted = ?, revision = ? WHERE id = ?"

# the UPDATE of each set of columns an edit writes (column names from FIELDS and the derived
# columns only: a bounded set)
_UPDATE_SQL: dict[tuple[str, ...], str] = {}

# an entry: [deleted, class_id, geometry JSON, attributes JSON, layer_id], as the row holds them;
# the two JSON columns are read only when an edit needs them (a z-order edit does not)
Entry = list
_UNREAD = object()


class EditRun:
    def __init__(self, conn: sqlite3.Connection, entities: Iterable[Any]) -> None:
        self.conn = conn
        self.wanted = sorted({e for e in entities if isinstance(e, str)})
        self.queue: list[tuple[str, tuple[Any, ...]]] = []
        # entity -> entry; an entity not in it has no row (as read at the start of the segment),
        # unless it is in ``_reread`` or everything is (``_all_reread``): then it is read from the
        # store when next needed, by itself (nothing of it is queued then: see drop / forget)
        self.rows: dict[str, Entry] = {}
        self._reread: set[str] = set()
        self._all_reread = False
        self._shapes_read = False               # the bulk read of the JSON columns was made
        if self.wanted:
            for entity, deleted, class_id, layer_id in self.conn.execute(
                    "SELECT id, deleted, class_id, layer_id FROM annotations WHERE id IN "
                    "(SELECT value FROM json_each(?))", (canonical_json(self.wanted),)):
                self.rows[entity] = [deleted, class_id, _UNREAD, _UNREAD, layer_id]

    # ---- what the merge keeps true -----------------------------------------------------------
    def created(self, row: tuple[Any, ...]) -> None:
        """A create's row was queued (``annotation_ops.INSERT``'s columns): later edits of it
        read it from here."""
        if type(row[3]) in (str, type(None)) and type(row[2]) is str:
            self.rows[row[0]] = [0, row[3], row[8], row[13], row[2]]
            self._reread.discard(row[0])

    def drop(self, entity: Any) -> None:
        """``entity``'s row may have been written otherwise (the queue was written before): read
        it again when next needed."""
        if isinstance(entity, str):
            self.rows.pop(entity, None)
            self._reread.add(entity)

    def forget(self) -> None:
        """Any row may have been written otherwise (an op of another kind; the queue was written
        before): read each again when next needed (by itself: a segment that interleaves other
        ops with edits must not read every edited row again each time)."""
        self.rows.clear()
        self._reread.clear()
        self._all_reread = True
        self._shapes_read = True                # (no bulk read any more: each row by itself)

    def _entry(self, entity: str) -> Entry | None:
        entry = self.rows.get(entity)
        if entry is None and (self._all_reread or entity in self._reread):
            row = self.conn.execute("SELECT deleted, class_id, layer_id FROM annotations WHERE id = ?",
                                    (entity,)).fetchone()
            self._reread.discard(entity)
            if row is not None:
                entry = self.rows[entity] = [row[0], row[1], _UNREAD, _UNREAD, row[2]]
        return entry

    def layer_of(self, entity: Any) -> tuple[bool, Any]:
        """(True, the layer id the row holds now) when it is known here, else (False, None)."""
        entry = self._entry(entity) if isinstance(entity, str) else None
        return (False, None) if entry is None else (True, entry[4])

    # ---- the ops -----------------------------------------------------------------------------
    def take(self, ref: Any) -> bool:
        """Queue the write of this in-order edit (True: the entity is what changed), or False:
        apply it the usual way."""
        op = ref                               # (an OpRef has the fields of its Op)
        entity = ref.entity
        if not getattr(ref, "fresh", False) or type(entity) is not str:
            return False
        entry = self._entry(entity)
        if entry is None:
            return False
        try:
            if op.type == "annotation.update":
                write = self._update(op, entry)
            else:
                deleted = _DELETED[op.type]
                write = None if bool(entry[0]) == bool(deleted) else (_SET_DELETED, (deleted, op.op_id, entity))
                if write is not None:
                    entry[0] = deleted
        except Exception:                      # whatever it is, apply_one records it as before
            return False
        if write is None:
            return False
        self.queue.append(write)
        return True

    def _update(self, op: Any, entry: Entry) -> tuple[str, tuple[Any, ...]] | None:
        """What ``UpdateAnnotation.apply`` checks and writes, from the remembered columns."""
        values = op.payload.get("set") or {}
        if entry[0] or type(values) is not dict or not values.keys() <= _FIELDS:
            return None
        checked = _CHECKED & values.keys()
        if checked:
            if entry[2] is _UNREAD or entry[3] is _UNREAD:
                self._read_shapes(op.entity, entry)
            merged = {"class_id": entry[1], "geometry": json.loads(entry[2]), "attributes": json.loads(entry[3])}
            merged.update({k: v for k, v in values.items() if k in merged})
            annotation_ops._check_class(self.conn, merged["class_id"], merged["geometry"], merged["attributes"],
                                        ontology=False)
        cols: dict[str, Any] = {"revision": op.op_id}
        for k, v in values.items():
            if k == "geometry":
                cols.update(geometry=canonical_json(v), kind=v["kind"], verts=shell_bytes(v))
                cols.update(zip(("x0", "y0", "x1", "y1"), annotation_ops._bbox(v)))
            elif k == "attributes":
                cols["attributes"] = canonical_json(v)
            elif k == "plane":
                cols.update(plane_axis=v["axis"], plane_z=v["z"], plane_t=v["t"])
            elif k == "layer_id":
                annotation_ops._row(self.conn, "layers", v, "layer")
                if type(v) is not str:
                    return None                # the row would hold it otherwise than given
                cols["layer_id"] = v
            elif k == "keyframe":
                cols["keyframe"] = int(bool(v))
            elif k == "z_order":
                if not isinstance(v, (int, float)):
                    return None
                cols["z_order"] = float(v)
            elif k == "class_id":
                if type(v) not in (str, type(None)):
                    return None
                cols[k] = v
            else:                              # track_id
                cols[k] = v
        if checked - {"geometry"}:
            cols["ontology_version"] = annotation_ops._ontology_version(self.conn)
        # the row as the UPDATE leaves it
        if "class_id" in cols:
            entry[1] = cols["class_id"]
        if "geometry" in cols:
            entry[2] = cols["geometry"]
        if "attributes" in cols:
            entry[3] = cols["attributes"]
        if "layer_id" in cols:
            entry[4] = cols["layer_id"]
        names = tuple(cols)
        sql = _UPDATE_SQL.get(names)
        if sql is None:
            sql = _UPDATE_SQL[names] = f"UPDATE annotations SET {', '.join(f'{k} = ?' for k in names)} WHERE id = ?"
        return sql, (*cols.values(), op.entity)

    def _read_shapes(self, entity: str, entry: Entry) -> None:
        """The geometry and attributes of the remembered rows that have not had them yet: of all
        of them in one query the first time, else of this one (a queued edit that wrote one of
        them set it in its entry: the store's value of an unread one is still the row's)."""
        if not self._shapes_read:
            self._shapes_read = True
            rows = self.rows
            for e, geometry, attributes in self.conn.execute(
                    "SELECT id, geometry, attributes FROM annotations WHERE id IN (SELECT value FROM json_each(?))",
                    (canonical_json(self.wanted),)):
                _fill(rows.get(e), geometry, attributes)
        if entry[2] is _UNREAD or entry[3] is _UNREAD:
            row = self.conn.execute("SELECT geometry, attributes FROM annotations WHERE id = ?", (entity,)).fetchone()
            if row is not None:
                _fill(entry, row[0], row[1])

    def flush(self) -> None:
        """Write the queued edits in order: each run of one statement with one ``executemany``."""
        queue = self.queue
        if not queue:
            return
        i, n = 0, len(queue)
        while i < n:
            sql = queue[i][0]
            j = i + 1
            while j < n and queue[j][0] == sql:
                j += 1
            if j - i == 1:
                self.conn.execute(sql, queue[i][1])
            else:
                self.conn.executemany(sql, [w[1] for w in queue[i:j]])
            i = j
        queue.clear()


def _fill(entry: Entry | None, geometry: Any, attributes: Any) -> None:
    if entry is not None:
        if entry[2] is _UNREAD:
            entry[2] = geometry
        if entry[3] is _UNREAD:
            entry[3] = attributes
