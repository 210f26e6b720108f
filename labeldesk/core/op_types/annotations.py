"""annotation.create / annotation.update / annotation.delete / annotation.restore.

Geometry is immutable: an edit replaces it. ``prepare`` clips shapes to their plane before the op
is written, so the log holds exactly what was stored; a shape wholly outside is refused.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.geometry import GeometryError, geometry_from_dict
from labeldesk.core.model import Plane
from labeldesk.core.ontology import SchemaError, check_attribute_values
from labeldesk.core.op_types.rows import fetch, loads
from labeldesk.core.store.vertices import shell_bytes
from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, encode_str as _encode_str, op_type, require

FIELDS = ("class_id", "geometry", "attributes", "plane", "layer_id", "z_order", "track_id", "keyframe")
# Op types that change none of the rows a BatchLookups remembers (assets, layers, classes, the
# ontology version): while a batch applies only these, what it looked up stays true.
LOOKUP_SAFE = frozenset({"annotation.create", "annotation.update", "annotation.delete", "annotation.restore"})


class BatchLookups:
    """Asset, layer and class rows and the ontology version, remembered while ONE ``apply_all``
    transaction applies annotation ops (a bulk import reads the same few rows 100,000 times).

    ``Project.apply_all`` opens it with :func:`begin_batch`, calls :meth:`seen` with each op type
    before and after applying it (any op type outside :data:`LOOKUP_SAFE` forgets everything, so
    an asset removed, a class deprecated or a layer removed inside the batch is seen by the later
    ops) and closes it with :func:`end_batch`. Without an open batch (a single apply, a sync
    merge) every lookup goes to the store, as before. Only rows that exist are remembered."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: dict[tuple[str, Any], sqlite3.Row] = {}
        self.class_rules: dict[Any, tuple[Any, ...]] = {}
        self.ontology_version: int | None = None
        # (geometry dict, its bounds, its canonical JSON or None) of the op being applied
        self.geometry: tuple[dict[str, Any], tuple[float, float, float, float], str | None] | None = None
        # The annotation.update being applied: [its prepared "set" dict, the row it read, the
        # bounds of its validated geometry or None, that geometry's canonical JSON or None, the
        # validated box or polygon or None]
        self.update: list[Any] | None = None
        # (annotation id, its row as the op being applied wrote it) after a shape edit, and the
        # same handed to the next op by store/single.py (its _current reads no row then)
        self.written_row: tuple[Any, dict[str, Any]] | None = None
        self.prefetched: tuple[Any, dict[str, Any]] | None = None

    def clear(self) -> None:
        self.rows.clear()
        self.class_rules.clear()
        self.ontology_version = None
        self.geometry = None
        self.update = None
        self.written_row = None
        self.prefetched = None

    def seen(self, op_type_name: str) -> None:
        if op_type_name not in LOOKUP_SAFE:
            self.clear()


_BATCHES: dict[int, BatchLookups] = {}


def begin_batch(conn: sqlite3.Connection) -> BatchLookups:
    lookups = BatchLookups(conn)
    _BATCHES[id(conn)] = lookups
    return lookups


def end_batch(lookups: BatchLookups, keep: bool = False) -> None:
    """Close the batch. ``keep``: the rows it remembered stay in ``lookups`` (the notes about the
    op being applied do not), for :func:`resume_batch` on the same connection, which is right
    only while nothing but annotation ops wrote since (``store/single.py`` makes sure)."""
    if _BATCHES.get(id(lookups.conn)) is lookups:
        del _BATCHES[id(lookups.conn)]
    if keep:
        lookups.geometry = None
        lookups.update = None
        lookups.written_row = None
        lookups.prefetched = None
    else:
        lookups.clear()


def resume_batch(lookups: BatchLookups) -> BatchLookups:
    """Open ``lookups`` (closed with ``keep``) again on its connection."""
    _BATCHES[id(lookups.conn)] = lookups
    return lookups


def _batch(conn: sqlite3.Connection) -> BatchLookups | None:
    b = _BATCHES.get(id(conn))
    return b if b is not None and b.conn is conn else None


def _row(conn: sqlite3.Connection, table: str, entity_id: Any, what: str) -> sqlite3.Row:
    b = _batch(conn)
    if b is None:
        return fetch(conn, table, entity_id, what)
    key = (table, entity_id)
    row = b.rows.get(key)
    if row is None:
        row = b.rows[key] = fetch(conn, table, entity_id, what)
    return row


def plane_extent(asset: sqlite3.Row, plane: Plane) -> tuple[int, int, int]:
    """(width, height, slices along the axis) of ``plane`` on ``asset``."""
    w, h, d = asset["width"], asset["height"], asset["depth"]
    if plane.axis == "coronal":
        return w, d, h
    if plane.axis == "sagittal":
        return h, d, w
    return w, h, d


def _plane(asset: sqlite3.Row, value: Any) -> Plane:
    try:
        plane = Plane.from_dict(value)
    except (TypeError, ValueError) as exc:
        require(False, f"annotation: bad plane ({exc})")
    _, _, n = plane_extent(asset, plane)
    require(plane.z < n, f"annotation: slice {plane.z} is outside the asset (0..{n - 1})")
    require(plane.t < asset["frames"], f"annotation: frame {plane.t} is outside the asset (0..{asset['frames'] - 1})")
    return plane


def _clip(asset: sqlite3.Row, plane: Plane, value: Any) -> Any:
    """The validated geometry clipped to its plane (refused when invalid or wholly outside)."""
    try:
        geom = geometry_from_dict(value)
    except GeometryError as exc:
        require(False, f"annotation: {exc}")
    w, h, _ = plane_extent(asset, plane)
    try:
        clipped = geom.clip(w, h)
    except GeometryError as exc:
        require(False, f"annotation: {exc}")
    require(clipped is not None, f"annotation: the {geom.kind} lies wholly outside the {w}x{h} image")
    return clipped


def _clipped_geometry(asset: sqlite3.Row, plane: Plane, value: Any) -> dict[str, Any]:
    return _clip(asset, plane, value).to_dict()


def _clipped_geometry_noted(conn: sqlite3.Connection, asset: sqlite3.Row, plane: Plane, value: Any) -> dict[str, Any]:
    """``_clipped_geometry``; in a batch, also notes the bounds of the shape just validated so
    that ``apply`` (of the same op, with the very same dict) does not parse it again."""
    b = _batch(conn)
    clipped = _clip(asset, plane, value)
    out = clipped.to_dict()
    if b is None:
        return out
    if clipped.kind in ("box", "polygon"):      # (their to_dict/bounds round trip is exact)
        b.geometry = (out, clipped.bounds(), None)
    return out


def _noted(conn: sqlite3.Connection, geometry: Any) -> tuple[Any, Any]:
    """(bounds, canonical JSON) noted for this very geometry dict in the batch, or (None, None)."""
    b = _batch(conn)
    if b is not None and b.geometry is not None and b.geometry[0] is geometry:
        return b.geometry[1], b.geometry[2]
    return None, None


def _check_class(conn: sqlite3.Connection, class_id: Any, geometry: dict[str, Any], attributes: Any,
                 ontology: bool = True) -> None:
    """The annotation's class exists and its reserved attributes are well formed; with ``ontology``
    (a draft made here, now) also that the class is current and allows the shape and the values.

    Those class rules depend on the ontology as this replica has it, which a concurrent change
    (a class deprecated, merged, its kinds or attribute values edited) can make differ between
    replicas; an op made elsewhere is therefore applied whatever this replica's ontology says, and
    the annotation is flagged for review (``ontology_io.flagged``), so every replica ends the same
    whatever order the ontology change and the op arrive in."""
    from labeldesk.core.formats.probabilities import PROBABILITY_KEY, check as check_probability
    from labeldesk.core.groups import GROUP_KEY, check_group_value
    from labeldesk.core.measure import MEASURE_KEY, MEASURE_KINDS
    if isinstance(attributes, dict) and MEASURE_KEY in attributes:     # a measurement (ruler, angle, ROI)
        require(attributes[MEASURE_KEY] in MEASURE_KINDS,
                f"annotation: measure must be one of {list(MEASURE_KINDS)}, not {attributes[MEASURE_KEY]!r}")
        attributes = {k: v for k, v in attributes.items() if k != MEASURE_KEY}
    if isinstance(attributes, dict) and GROUP_KEY in attributes:       # instance group (labeldesk.core.groups)
        problem = check_group_value(attributes[GROUP_KEY])
        require(problem is None, f"annotation: {problem}")
        attributes = {k: v for k, v in attributes.items() if k != GROUP_KEY}
    if isinstance(attributes, dict) and PROBABILITY_KEY in attributes:  # per-pixel probabilities of a mask
        require(geometry.get("kind") == "mask", f"annotation: {PROBABILITY_KEY} belongs to a mask")
        problem = check_probability(attributes[PROBABILITY_KEY])
        require(problem is None, f"annotation: {problem}")
        attributes = {k: v for k, v in attributes.items() if k != PROBABILITY_KEY}
    if class_id is None:
        require(not attributes, "annotation: attributes need a class")
        return
    b = _batch(conn)
    rules = b.class_rules.get(class_id) if b is not None else None
    if rules is None:
        cls = fetch(conn, "classes", class_id, "class")
        rules = (cls["name"], cls["merged_into"], cls["deprecated"], loads(cls["kinds"], []),
                 loads(cls["attributes"], []))
        if b is not None:
            b.class_rules[class_id] = rules
    if not ontology:
        return
    name, merged_into, deprecated, kinds, defs = rules
    require(merged_into is None,
            f"annotation: class {name!r} was merged into another class; use that one")
    require(not deprecated, f"annotation: class {name!r} is deprecated")
    require(not kinds or geometry["kind"] in kinds,
            f"annotation: class {name!r} allows {kinds}, not {geometry['kind']}")
    try:
        check_attribute_values(defs, attributes or {})
    except SchemaError as exc:
        require(False, f"annotation: {exc}")


def _bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    # ``prepare`` validated (and clipped) this geometry moments ago: do not validate twice
    return geometry_from_dict(geometry, trusted=True).bounds()


def _ontology_version(conn: sqlite3.Connection) -> int:
    b = _batch(conn)
    if b is not None and b.ontology_version is not None:
        return b.ontology_version
    row = conn.execute("SELECT value FROM meta WHERE key = 'ontology_version'").fetchone()
    version = int(row[0]) if row else 0
    if b is not None:
        b.ontology_version = version
    return version


INSERT = ("INSERT INTO annotations (id, asset_id, layer_id, class_id, plane_axis, plane_z, plane_t, kind,"
          " geometry, x0, y0, x1, y1, attributes, author, ontology_version, deleted, revision, z_order,"
          " track_id, keyframe, verts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?,?)")


def _require_new(conn: sqlite3.Connection, entity: str | None) -> None:
    require(conn.execute("SELECT 1 FROM annotations WHERE id = ?", (entity,)).fetchone() is None,
            f"annotation {entity} exists already")


@op_type("annotation.create")
class CreateAnnotation:
    def prepare(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        d = dict(draft.payload.get("annotation") or {})
        asset = _row(conn, "assets", d.get("asset_id"), "asset")
        require(not asset["removed"], f"annotation: asset {asset['name']} was removed")
        plane = _plane(asset, d.get("plane"))
        d["plane"] = plane.to_dict()
        d["geometry"] = _clipped_geometry_noted(conn, asset, plane, d.get("geometry"))
        d.setdefault("attributes", {})
        d.setdefault("class_id", None)
        # the rules that depend on this replica's layers and ontology are checked when the draft
        # is made, not when an op made elsewhere is applied (see _check_class)
        try:
            layer = _row(conn, "layers", d.get("layer_id"), "layer")
            require(not layer["removed"], f"annotation: layer {layer['name']} was removed")
            _check_class(conn, d["class_id"], d["geometry"], d["attributes"])
        except Exception:
            _require_new(conn, draft.entity)        # "exists already" is the first refusal (as in apply)
            raise
        return OpDraft(draft.type, draft.entity, {"annotation": d}, draft.base, draft.reason, draft.local)

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("annotation.delete", draft.entity, {})

    def payload_json(self, conn: sqlite3.Connection, op: Op) -> str:
        """``canonical_json(op.payload)``, encoding the geometry once for the op log and the row."""
        d = op.payload.get("annotation")
        if len(op.payload) != 1 or type(d) is not dict or not all(type(k) is str for k in d):
            return canonical_json(op.payload)
        geometry = d.get("geometry")
        bounds, _ = _noted(conn, geometry)
        if bounds is None:
            return canonical_json(op.payload)
        gj = canonical_json(geometry)
        _BATCHES[id(conn)].geometry = (geometry, bounds, gj)      # (_noted found the batch)
        return '{"annotation":{' + ",".join(
            _encode_str(k) + ":" + (gj if k == "geometry" else canonical_json(d[k])) for k in sorted(d)) + "}}"

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload.get("annotation") or {}
        require(op.entity is not None, "annotation.create: no annotation id")
        # "exists already" is the first refusal; the id's primary key finds it without a query of
        # its own, and any other refusal asks first so that the message is the same as ever
        try:
            _row(conn, "assets", d.get("asset_id"), "asset")
            _row(conn, "layers", d.get("layer_id"), "layer")
            geometry = d["geometry"]
            bounds, gj = _noted(conn, geometry)
            if bounds is None:          # (a draft prepared here was checked in full by prepare)
                _check_class(conn, d.get("class_id"), geometry, d.get("attributes"), ontology=False)
            plane = Plane.from_dict(d["plane"])
            x0, y0, x1, y1 = bounds if bounds is not None else _bbox(geometry)
            row = (op.entity, d["asset_id"], d["layer_id"], d.get("class_id"), plane.axis, plane.z, plane.t,
                   geometry["kind"], gj if gj is not None else canonical_json(geometry), x0, y0, x1, y1,
                   canonical_json(d.get("attributes") or {}), op.user, _ontology_version(conn), op.op_id,
                   float(d.get("z_order", 0.0)), d.get("track_id"), int(bool(d.get("keyframe", True))),
                   shell_bytes(geometry))
        except Exception:
            _require_new(conn, op.entity)
            raise
        try:
            conn.execute(INSERT, row)
        except sqlite3.IntegrityError:
            _require_new(conn, op.entity)
            raise
        if "score" in d or "source" in d:      # a model's prediction, or a person's copy of one
            from labeldesk.core.predictions import record_provenance
            record_provenance(conn, op.entity, d, op.op_id)
        return ChangeSet(annotations={op.entity})


def _current(conn: sqlite3.Connection, entity: str | None) -> Any:
    b = _batch(conn)
    if b is not None and b.prefetched is not None:
        kept, b.prefetched = b.prefetched, None
        if kept[0] == entity:
            return kept[1]
    return fetch(conn, "annotations", entity, "annotation")


# A shape edit's columns and the type each is stored as (TEXT, BLOB, REAL read back as written)
_SHAPE_COLUMNS = {"revision": str, "geometry": str, "kind": str, "verts": (bytes, type(None)),
                  "x0": float, "y0": float, "x1": float, "y1": float}


def _row_after(row: Any, cols: dict[str, Any]) -> dict[str, Any] | None:
    """The row as reading it back after ``UPDATE ... SET cols`` would give it, for a shape edit
    whose every value is stored as it is; None otherwise."""
    for k, v in cols.items():
        t = _SHAPE_COLUMNS.get(k)
        if t is None or not isinstance(v, t) or (t is float and type(v) is not float):
            return None
    after = dict(zip(row.keys(), row)) if isinstance(row, sqlite3.Row) else dict(row)
    after.update(cols)
    return after


def take_written_row(lookups: BatchLookups) -> tuple[Any, dict[str, Any]] | None:
    """The (annotation id, row) the op just applied wrote, if a shape edit noted it."""
    out, lookups.written_row = lookups.written_row, None
    return out


def _values(row: sqlite3.Row, keys: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in keys:
        if k == "plane":
            out[k] = {"axis": row["plane_axis"], "z": row["plane_z"], "t": row["plane_t"]}
        elif k in ("geometry", "attributes"):
            out[k] = json.loads(row[k])
        elif k == "keyframe":
            out[k] = bool(row[k])
        else:
            out[k] = row[k]
    return out


# The geometry the last annotation.update wrote: (annotation id, its JSON text as stored, a dict
# of its own equal to the one that text encodes). The next edit of the same annotation takes its undo draft's
# geometry from here instead of parsing the row's JSON again (a drag is many edits of one shape):
# only when the row holds that very text, so the dict is what ``json.loads`` would give.
_written: tuple[Any, str, dict[str, Any]] | None = None


def _remember_written(entity: Any, text: str, shape: Any) -> None:
    """``shape``: the box or polygon whose ``to_dict`` was encoded as ``text`` (its lists of
    floats parse back equal); a new dict of its own is made from it."""
    global _written
    _written = (entity, text, shape.to_dict())


def _old_geometry(entity: Any, text: str) -> Any:
    """The geometry a row holds as ``text``, parsed (or the copy of what the last edit wrote,
    handed out once: no two drafts share it)."""
    global _written
    w = _written
    if w is not None and w[0] == entity and w[1] == text:
        _written = None
        return w[2]
    return json.loads(text)


def noted_layer(conn: sqlite3.Connection, entity: Any, values: Any) -> Any:
    """The layer id of the row ``UpdateAnnotation.prepare`` read for this very op (the row has not
    been written since), or None when it did not note one."""
    noted = _noted_update(conn, entity, values)
    return noted[1]["layer_id"] if noted is not None else None


def _noted_update(conn: sqlite3.Connection, entity: Any, values: Any) -> list[Any] | None:
    """What ``UpdateAnnotation.prepare`` noted for this very prepared ``set`` dict (the same op:
    the annotation row has not been written since it was read), or None."""
    b = _batch(conn)
    if b is None or b.update is None or b.update[0] is not values or b.update[1]["id"] != entity:
        return None
    return b.update


@op_type("annotation.update")
class UpdateAnnotation:
    def prepare(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        b = _batch(conn)
        if b is not None:
            b.update = None
        row = _current(conn, draft.entity)
        values = dict(draft.payload.get("set") or {})
        require(bool(values), "annotation.update: nothing to change")
        unknown = set(values) - set(FIELDS)
        require(not unknown, f"annotation.update: unknown fields {sorted(unknown)}")
        asset = _row(conn, "assets", row["asset_id"], "asset")
        plane = _plane(asset, values["plane"]) if "plane" in values else Plane(row["plane_z"], row["plane_t"], row["plane_axis"])
        if "plane" in values:
            values["plane"] = plane.to_dict()
        bounds = shape = None
        if "geometry" in values:
            clipped = _clip(asset, plane, values["geometry"])
            values["geometry"] = clipped.to_dict()
            if clipped.kind in ("box", "polygon"):      # (their to_dict/bounds round trip is exact)
                bounds, shape = clipped.bounds(), clipped
        if {"class_id", "attributes", "geometry"} & values.keys():     # the class rules, as made here (_check_class)
            merged = _values(row, [k for k in ("class_id", "geometry", "attributes") if k not in values])
            merged.update({k: v for k, v in values.items() if k in ("class_id", "geometry", "attributes")})
            _check_class(conn, merged["class_id"], merged["geometry"], merged["attributes"])
        if b is not None:               # inverse and apply of this op read the row and shape again
            b.update = [values, row, bounds, None, shape]
        return OpDraft(draft.type, draft.entity, {"set": values}, draft.base or (row["revision"],),
                       draft.reason, draft.local)

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        values = draft.payload["set"]
        noted = _noted_update(conn, draft.entity, values)
        row = noted[1] if noted is not None else _current(conn, draft.entity)
        old = _values(row, [k for k in values if k != "geometry"])
        if "geometry" in values:
            old["geometry"] = _old_geometry(draft.entity, row["geometry"])
        return OpDraft("annotation.update", draft.entity, {"set": {k: old[k] for k in values}})

    def payload_json(self, conn: sqlite3.Connection, op: Op) -> str:
        """``canonical_json(op.payload)``, encoding the geometry once for the op log and the row."""
        values = op.payload.get("set")
        noted = _noted_update(conn, op.entity, values)
        if noted is None or len(op.payload) != 1 or "geometry" not in values \
                or not all(type(k) is str for k in values):
            return canonical_json(op.payload)
        gj = noted[3] = canonical_json(values["geometry"])
        return '{"set":{' + ",".join(
            _encode_str(k) + ":" + (gj if k == "geometry" else canonical_json(values[k])) for k in sorted(values)) + "}}"

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        values = op.payload.get("set") or {}
        noted = _noted_update(conn, op.entity, values)
        if noted is not None:           # the row prepare read for this op (nothing wrote it since)
            row = noted[1]
            _batch(conn).update = None  # type: ignore[union-attr]
        else:
            # only the columns the checks read (a pull applies thousands of edits: not the vertex blob)
            row = conn.execute("SELECT deleted, class_id, geometry, attributes FROM annotations WHERE id = ?",
                               (op.entity,)).fetchone()
        require(row is not None, f"no annotation with id {op.entity}")
        require(not row["deleted"], "annotation.update: the annotation was deleted")
        checked = ("class_id", "geometry", "attributes")
        # (a z-order or plane edit parses nothing; a draft prepared here was checked in full then)
        if noted is None and {"class_id", "attributes", "geometry"} & set(values):
            merged = _values(row, [k for k in checked if k not in values])      # (what the op keeps)
            merged.update({k: v for k, v in values.items() if k in checked})
            _check_class(conn, merged["class_id"], merged["geometry"], merged["attributes"], ontology=False)
        cols: dict[str, Any] = {"revision": op.op_id}
        written = None
        for k, v in values.items():
            if k == "geometry":
                bounds, gj = (noted[2], noted[3]) if noted is not None else (None, None)
                if gj is None:
                    gj = canonical_json(v)
                cols.update(geometry=gj, kind=v["kind"], verts=shell_bytes(v))
                if noted is not None and len(noted) > 4 and noted[4] is not None:   # (an edit made here)
                    written = (op.entity, gj, noted[4])
                cols.update(zip(("x0", "y0", "x1", "y1"), bounds if bounds is not None else _bbox(v)))
            elif k == "attributes":
                cols["attributes"] = canonical_json(v)
            elif k == "plane":
                cols.update(plane_axis=v["axis"], plane_z=v["z"], plane_t=v["t"])
            elif k == "layer_id":
                _row(conn, "layers", v, "layer")
                cols["layer_id"] = v
            elif k == "keyframe":
                cols["keyframe"] = int(bool(v))
            elif k == "z_order":
                require(isinstance(v, (int, float)), "annotation.update: z_order must be a number")
                cols["z_order"] = float(v)
            else:
                cols[k] = v
        if {"class_id", "attributes"} & set(values):
            cols["ontology_version"] = _ontology_version(conn)
        conn.execute(f"UPDATE annotations SET {', '.join(f'{k} = ?' for k in cols)} WHERE id = ?",
                     (*cols.values(), op.entity))
        if written is not None:
            _remember_written(*written)
            b = _batch(conn)
            if b is not None:
                after = _row_after(row, cols)
                b.written_row = (op.entity, after) if after is not None else None
        return ChangeSet(annotations={str(op.entity)})


class _SetDeleted:
    deleted = 1

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        row = _current(conn, op.entity)
        require(bool(row["deleted"]) != bool(self.deleted),
                "annotation is " + ("already deleted" if self.deleted else "not deleted"))
        conn.execute("UPDATE annotations SET deleted = ?, revision = ? WHERE id = ?",
                     (self.deleted, op.op_id, op.entity))
        return ChangeSet(annotations={str(op.entity)})


@op_type("annotation.delete")
class DeleteAnnotation(_SetDeleted):
    """A tombstone: the state stays in the store so restore (undo) brings it back exactly."""

    deleted = 1

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("annotation.restore", draft.entity, {})


@op_type("annotation.restore")
class RestoreAnnotation(_SetDeleted):
    deleted = 0

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        return OpDraft("annotation.delete", draft.entity, {})


# ---- typed text (labeldesk.core.privacy): an annotation's *text* attributes -------------------
def _text_attributes(conn: sqlite3.Connection, draft: OpDraft) -> bool:
    """Whether the draft sets a non-empty value of an attribute of type ``text`` of its class (the
    class named in the draft, or the annotation's own): then the PHI guard reads it first."""
    p = draft.payload
    d = p.get("annotation") if draft.type == "annotation.create" else p.get("set")
    attrs = d.get("attributes") if isinstance(d, dict) else None
    if not isinstance(attrs, dict) or not any(isinstance(v, str) and v.strip() for v in attrs.values()):
        return False
    class_id = d.get("class_id")
    if class_id is None and draft.type == "annotation.update":
        row = conn.execute("SELECT class_id FROM annotations WHERE id = ?", (draft.entity,)).fetchone()
        class_id = row[0] if row else None
    row = conn.execute("SELECT attributes FROM classes WHERE id = ?", (class_id,)).fetchone()
    defs = loads(row[0], []) if row else []
    texts = {a.get("key") for a in defs if isinstance(a, dict) and a.get("type") == "text"}
    return any(k in texts for k, v in attrs.items() if isinstance(v, str) and v.strip())


def _declare_text() -> None:
    from labeldesk.core.privacy import FREE_TEXT_WHEN
    FREE_TEXT_WHEN.update({"annotation.create": _text_attributes, "annotation.update": _text_attributes})


_declare_text()
