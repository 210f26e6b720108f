"""What an importer builds: the OpDrafts of one import, and the refusals and notes on the way.

Adapters parse their format and hand each item to :class:`ImportContext`: ``asset`` (by name or
relative path), ``class_for`` (by name; created with ``create_classes``), ``annotation`` and
``classification``. Cheap checks happen here (known class, allowed geometry kind, plane inside
the asset, shape not wholly outside the image, attribute values of the right type); each failing
item is refused with its location and the rest goes on. Full geometry validation (polygon
validity) is left to the op's ``prepare``; if it refuses something, :meth:`revalidate` finds the
culprits (a self-intersecting polygon becomes its parts, one instance group, with a note) so that
the import can be retried.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeldesk.core import ids
from labeldesk.core.formats.conversion import fitted, repaired_parts
from labeldesk.core.formats.probabilities import PROBABILITY_KEY
from labeldesk.core.groups import GROUP_KEY
from labeldesk.core.geometry import Ellipse, GeometryError, RotatedBox, geometry_from_dict, repair_polygon
from labeldesk.core.model import Asset, Plane
from labeldesk.core.ontology import SchemaError, check_attribute_values
from labeldesk.core.ops import OpDraft
from labeldesk.core.formats.matching import AssetIndex, extent, plane_problem
from labeldesk.core.formats.report import InterchangeReport
from labeldesk.core.tasks import NO_PROGRESS, Progress

PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
           "#808000", "#ffd8b1", "#000075", "#808080")
# Vertices in one ring (or polyline, or points set) that an import accepts: far beyond any drawn
# or traced outline, and checked by counting before shapely sees the ring (a self-intersecting
# ring of a million vertices makes GEOS's repair allocate without bound).
MAX_VERTICES = 100_000
TRUE = {"1", "true", "yes", "y", "on"}
FALSE = {"0", "false", "no", "n", "off", ""}


@dataclass(frozen=True)
class ClassRef:
    id: str
    name: str
    kinds: tuple[str, ...] = ()
    attributes: tuple[dict[str, Any], ...] = ()


def colour_for(name: str) -> str:
    return PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]


def coerce(defs: tuple[dict[str, Any], ...], raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Values of ``raw`` converted to the class's attribute types; problems for the rest."""
    by_key = {d["key"]: d for d in defs}
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        d = by_key.get(key) or by_key.get(attribute_key(key))
        if d is None:
            problems.append(f"attribute {key!r} is not an attribute of this class; dropped")
            continue
        try:
            converted = _convert(d, value)
            check_attribute_values([d], {d["key"]: converted})
        except (SchemaError, ValueError, TypeError) as exc:
            problems.append(f"attribute {key!r}={value!r} dropped: {exc}")
            continue
        out[d["key"]] = converted
    return out, problems


def _convert(d: dict[str, Any], value: Any) -> Any:
    t = d["type"]
    if value is None or (isinstance(value, str) and t != "text" and value.strip() == "" and t != "bool"):
        return None
    if t == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise ValueError(f"{value!r} is not true or false")
    if t == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        num = float(str(value).strip())
        return int(num) if num.is_integer() and "." not in str(value) else num
    if t == "multi":
        if isinstance(value, str):
            return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
        return list(value)
    return value if t == "enum" and not isinstance(value, str) else str(value)


def attribute_key(name: str) -> str:
    """An identifier for an attribute name from another tool (``"is occluded"`` -> ``is_occluded``)."""
    key = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name).strip())
    return key if key and not key[0].isdigit() else f"a_{key}"


def check_vertices(n: int, what: str = "ring") -> None:
    """GeometryError for a ring (polyline, point set) with more vertices than an import takes."""
    if n > MAX_VERTICES:
        raise GeometryError(f"{what} has {n} vertices, more than the {MAX_VERTICES} an import accepts "
                            "(simplify it in the tool that made it)")


def geometry_bounds(g: dict[str, Any]) -> tuple[float, float, float, float]:
    """Bounds of a geometry dict without full validation; GeometryError if malformed."""
    kind = g.get("kind")
    if kind == "polygon" and type(g.get("shell")) is np.ndarray and not g.get("holes"):
        return _array_bounds(g["shell"])
    if kind == "box":                   # (the steps below, for a box of four floats)
        xyxy = g.get("xyxy")
        if type(xyxy) is list and len(xyxy) == 4:
            x0, y0, x1, y1 = xyxy
            if type(x0) is float and type(y0) is float and type(x1) is float and type(y1) is float \
                    and x0 - x0 == 0.0 and y0 - y0 == 0.0 and x1 - x1 == 0.0 and y1 - y1 == 0.0:  # finite
                if x1 <= x0 or y1 <= y0:
                    raise GeometryError(f"box has zero area: {[x0, y0, x1, y1]}")
                return x0, y0, x1, y1
    for key in ("shell", "points"):
        if isinstance(g.get(key), (list, tuple)):
            check_vertices(len(g[key]), f"the {kind}" if key == "points" else "the polygon")
    for hole in g.get("holes") or ():
        if isinstance(hole, (list, tuple)):
            check_vertices(len(hole), "a polygon hole")
    try:
        if kind == "box":
            vals = [float(v) for v in g["xyxy"]]
        elif kind == "polygon":
            xs, ys = zip(*((float(x), float(y)) for x, y in g["shell"]))
            vals = [min(xs), min(ys), max(xs), max(ys)]
        elif kind in ("polyline", "points"):
            xs, ys = zip(*((float(x), float(y)) for x, y in g["points"]))
            vals = [min(xs), min(ys), max(xs), max(ys)]
        elif kind == "mask":
            x, y, w, h = (int(v) for v in g["bbox"])
            vals = [x, y, x + w, y + h]
        elif kind in ("rotated_box", "ellipse"):
            obj = RotatedBox(*g["cxcywha"]) if kind == "rotated_box" else Ellipse(*g["cxcyrxrya"])
            vals = list(obj.bounds())
        else:
            raise GeometryError(f"unknown geometry kind {kind!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise GeometryError(f"malformed {kind}: {exc}") from None
    if not all(math.isfinite(v) for v in vals):
        raise GeometryError(f"{kind}: coordinate is not finite")
    if kind == "box" and (vals[2] <= vals[0] or vals[3] <= vals[1]):
        raise GeometryError(f"box has zero area: {vals}")
    if kind == "polygon" and not _three_distinct(g["shell"]) and len({(x, y) for x, y in g["shell"]}) < 3:
        raise GeometryError("polygon needs at least 3 distinct points")
    return vals[0], vals[1], vals[2], vals[3]


def _array_bounds(shell: np.ndarray) -> tuple[float, float, float, float]:
    """:func:`geometry_bounds` of a hole-free polygon whose shell is an array (the readers' compact
    form, see :func:`compact`), with the same checks and messages."""
    if shell.ndim != 2 or shell.shape[1] != 2:
        raise GeometryError(f"malformed polygon: its shell is a {shell.shape} array, not n points")
    check_vertices(len(shell), "the polygon")
    f = shell.ravel().tolist()
    if not math.isfinite(sum(f)) and not np.isfinite(shell).all():   # (a finite sum: all finite)
        raise GeometryError("polygon: coordinate is not finite")
    xs, ys = f[0::2], f[1::2]
    if len(f) < 6 or ((xs[0] == xs[1] and ys[0] == ys[1]) or (xs[0] == xs[2] and ys[0] == ys[2])
                      or (xs[1] == xs[2] and ys[1] == ys[2])):
        if len(set(zip(xs, ys))) < 3:
            raise GeometryError("polygon needs at least 3 distinct points")
    return min(xs), min(ys), max(xs), max(ys)


def compact(g: dict[str, Any]) -> dict[str, Any]:
    """A hole-free polygon's shell as one (n, 2) float64 array instead of n lists of two floats
    (≈ 0.6 KB instead of ≈ 4 KB for 32 vertices: the queued drafts of a 100k import). The op's
    ``prepare`` and the bulk path (store/bulk.py) read either; the op log holds plain lists."""
    shell = g.get("shell")
    if g.get("kind") != "polygon" or g.get("holes") or type(shell) is not list:
        return g
    try:
        arr = np.array(shell, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return g
    if arr.ndim != 2 or arr.shape[1] != 2:
        return g
    return {**g, "shell": arr}


def _three_distinct(shell: Any) -> bool:
    """Its first three points are distinct (then the set of all of them need not be built)."""
    if len(shell) < 3:
        return False
    a, b, c = tuple(shell[0]), tuple(shell[1]), tuple(shell[2])
    return a != b and c != a and c != b


class ImportContext:
    def __init__(self, project: Any, report: InterchangeReport, options: dict[str, Any] | None = None,
                 progress: Progress = NO_PROGRESS, *, layer_kind: str = "annotator",
                 layer_name: str | None = None) -> None:
        self.project = project
        self.report = report
        self.options = dict(options or {})
        self.progress = progress
        self.create_classes = bool(self.options.get("create_classes"))
        self._model = self.options.get("model")          # (--model NAME: the provenance of every shape)
        self.index = AssetIndex(project)
        # the file's name only: its folders may name a patient and reasons are synced (DESIGN rule 5)
        self.reason = f"imported from {report.fmt} file {str(report.path).replace(chr(92), '/').rsplit('/', 1)[-1]}"
        self._setup: list[OpDraft] = []
        self._drafts: list[OpDraft] = []
        self._where: list[str] = []
        self._classes = project.classes()
        self._class_cache: dict[str, ClassRef | str] = {}
        self._new_values: dict[str, tuple[ClassRef, int]] = {}
        self._seen_classifications: set[tuple[Any, ...]] = set()
        # by the id of a Plane object (held here, so its id stays its own): (asset, plane, plane
        # problem, width, height, plane dict) for annotation(); an entry serves the same two objects
        self._targets: dict[int, tuple[Any, ...]] = {}
        self.layer_id = self._target_layer(self.options.get("layer") or layer_name, layer_kind)

    # ---- targets -------------------------------------------------------------------------------
    def _target_layer(self, wanted: str | None, kind: str) -> str:
        layers = self.project.layers()
        if wanted:
            for match in (lambda l: l.id == wanted, lambda l: l.name == wanted,
                          lambda l: l.name.casefold() == str(wanted).casefold()):
                found = [l for l in layers if match(l)]
                if len(found) == 1:
                    return found[0].id
            layer_id = ids.new_id()
            self._setup.append(OpDraft("layer.create", layer_id, {"layer": {
                "name": str(wanted), "kind": kind, "owner": self.project.user_id}}, reason=self.reason))
            self.report.created_layers.append(str(wanted))
            return layer_id
        for l in layers:
            if l.owner == self.project.user_id and l.kind == "annotator":
                return l.id
        return self._target_layer("imported", "annotator")

    def other_layer(self, name: str, kind: str) -> str:
        """The id of the layer ``name`` (created, of ``kind``, if missing): for items of a file that
        go elsewhere than the import's layer (Label Studio predictions)."""
        cache = self.__dict__.setdefault("_other_layers", {})
        if name not in cache:
            cache[name] = self._target_layer(name, kind)
        return cache[name]

    def asset(self, ref: str, location: str, ignore_suffix: bool = False) -> tuple[Asset, Plane] | None:
        try:
            return self.index.find(ref, ignore_suffix)
        except LookupError as exc:
            self.report.refuse(location, str(exc.args[0]))
            return None

    def index_find(self, ref: str, ignore_suffix: bool = False) -> tuple[Asset, Plane] | str:
        """The asset and plane ``ref`` names, or the reason there is none (not reported)."""
        try:
            return self.index.find(ref, ignore_suffix)
        except LookupError as exc:
            return str(exc.args[0])

    def class_for(self, name: Any, location: str, attributes: list[dict[str, Any]] | None = None,
                  colour: str | None = None, *, value: int | None = None,
                  extra: dict[str, Any] | None = None) -> ClassRef | None:
        """The class named ``name`` (created if allowed; ``attributes``/``colour`` for a new one,
        ``value`` its label value in the file (kept for a new class when no class has it), ``extra``
        more fields of a new class: ``code``, ``concept``, ``keypoints``, ``kinds``)."""
        key = str(name).strip() if name is not None else ""
        cached = self._class_cache.get(key)
        if cached is None:
            cached = self._resolve_class(key, location, attributes, colour, value, extra or {})
            self._class_cache[key] = cached
        if isinstance(cached, str):
            self.report.refuse(location, cached)
            return None
        return cached

    def class_with_value(self, value: int) -> ClassRef | None:
        """The live class whose label value is ``value`` (made earlier in this import too)."""
        for c in self._classes:
            if c.value == value and not c.merged_into and not c.deprecated:
                return ClassRef(c.id, c.name, tuple(c.kinds), tuple(c.attributes))
        for ref, v in self._new_values.values():
            if v == value:
                return ref
        return None

    def _resolve_class(self, name: str, location: str, attributes: list[dict[str, Any]] | None,
                       colour: str | None, value: int | None = None,
                       extra: dict[str, Any] | None = None) -> ClassRef | str:
        if not name:
            return "no class name given"
        by_id = {c.id: c for c in self._classes}
        cands = [c for c in self._classes if c.name == name] or \
                [c for c in self._classes if c.name.casefold() == name.casefold()] or \
                [c for c in self._classes if c.parent_id in by_id and f"{by_id[c.parent_id].name}/{c.name}" == name]
        live = [c for c in cands if not c.merged_into and not c.deprecated]
        cands = live or cands
        if len(cands) > 1:
            return f"class name {name!r} is ambiguous ({len(cands)} classes have it)"
        if cands:
            c = cands[0]
            if c.merged_into:
                target = by_id[c.merged_into]
                self.report.note(location, f"class {name!r} was merged into {target.name!r}: imported as {target.name!r}")
                c = target
            if c.deprecated:
                return f"class {name!r} is deprecated"
            if value is not None and c.value is not None and value != c.value:
                self.report.note(location, f"the file gives class {c.name!r} the value {value}; its label value "
                                           f"is {c.value} and stays so (exports write {c.value})")
            return ClassRef(c.id, c.name, tuple(c.kinds), tuple(c.attributes))
        if not self.create_classes:
            return f"class {name!r} is not in the ontology (import with --create-classes to add it)"
        cid = ids.new_id()
        defs = list(attributes or [])
        taken = [c.value for c in self._classes if c.value is not None] + [v for _, v in self._new_values.values()]
        new_value = value if value is not None and 1 <= value <= 65535 and value not in taken else \
            max(taken, default=0) + 1
        if value is not None and new_value != value:
            self.report.note(location, f"the file's value {value} for {name!r} belongs to another class: the new "
                                       f"class gets label value {new_value}")
        fields: dict[str, Any] = {"name": name, "color": colour or colour_for(name), "kinds": [],
                                  "attributes": defs, "value": new_value}
        fields.update({k: v for k, v in (extra or {}).items() if k in ("code", "concept", "keypoints", "kinds") and v})
        self._setup.append(OpDraft("ontology.class.create", cid, {"class": fields}, reason=self.reason))
        self.report.created_classes.append(name)
        ref = ClassRef(cid, name, tuple(fields["kinds"]), tuple(defs))
        self._new_values[cid] = (ref, new_value)
        return ref

    # ---- items ---------------------------------------------------------------------------------
    def annotation(self, location: str, asset: Asset, plane: Plane, geometry: dict[str, Any],
                   cls: ClassRef | None, attributes: dict[str, Any] | None = None, *,
                   track_id: str | None = None, keyframe: bool = True, z_order: float | None = None,
                   score: float | None = None, source: dict[str, Any] | None = None,
                   group: str | None = None, probability: dict[str, Any] | None = None,
                   layer_id: str | None = None) -> bool:
        """Queue one annotation.create; False (and a refusal) if the item cannot be imported.
        ``group``: the instance group id (labeldesk.core.groups) the part belongs to."""
        target = self._targets.get(id(plane))
        if target is None or target[0] is not asset or target[1] is not plane:
            target = self._targets[id(plane)] = (asset, plane, plane_problem(asset, plane),
                                                 *extent(asset, plane)[:2], plane.to_dict())
        _, _, problem, w, h, plane_dict = target
        if problem:
            self.report.refuse(location, problem)
            return False
        try:
            bounds: tuple[float, float, float, float] | None = geometry_bounds(geometry)   # malformed or too
        except GeometryError as exc:                                                    # many vertices: before
            self.report.refuse(location, str(exc))                                      # any shapely
            return False
        kind = geometry.get("kind")
        if cls is not None and cls.kinds and kind not in cls.kinds:
            fitted = self._fit(geometry, cls, asset, plane)
            if fitted is None:
                self.report.refuse(location, f"class {cls.name!r} allows {list(cls.kinds)}, not {kind}")
                return False
            self.report.note(location, f"class {cls.name!r} allows {list(cls.kinds)}: the {kind} imported as a "
                                       f"{fitted['kind']}")
            geometry, kind, bounds = fitted, fitted["kind"], None
        try:
            x0, y0, x1, y1 = bounds if bounds is not None else geometry_bounds(geometry)
        except GeometryError as exc:
            self.report.refuse(location, str(exc))
            return False
        within = x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h
        if within:              # (then the test below is this one: min(x1, w) is x1, max(x0, 0) is x0)
            inside = (x1 > x0 and y1 > y0) or kind in ("polyline", "points")
        elif kind not in ("polyline", "points"):
            inside = min(x1, w) > max(x0, 0) and min(y1, h) > max(y0, 0)
        else:
            inside = min(x1, w) >= max(x0, 0) and min(y1, h) >= max(y0, 0)
        if not inside:
            self.report.refuse(location, f"the {kind} lies wholly outside the {w}x{h} image")
            return False
        if not within:
            self.report.note(location, f"{kind} reaches outside the {w}x{h} image: clipped to it")
        values: dict[str, Any] = {}
        if attributes:
            if cls is None:
                self.report.note(location, "attributes dropped: the annotation has no class")
            else:
                values, problems = coerce(cls.attributes, attributes)
                for p in problems:
                    self.report.note(location, p)
        if group:
            values[GROUP_KEY] = str(group)
        if probability is not None and kind == "mask":      # per-pixel probabilities (formats.probabilities)
            values[PROBABILITY_KEY] = probability
        ann: dict[str, Any] = {"asset_id": asset.id, "layer_id": layer_id or self.layer_id,
                               "class_id": cls.id if cls else None, "plane": plane_dict,     # (one per plane)
                               "geometry": compact(geometry) if type(geometry.get("shell")) is list else geometry,
                               "attributes": values}
        if track_id is not None:
            ann["track_id"], ann["keyframe"] = track_id, bool(keyframe)
        if z_order:
            ann["z_order"] = float(z_order)
        if score is not None:
            ann["score"] = float(score)      # kept in the op log (provenance of model predictions)
        if source is None and self._model:
            source = {"model": str(self.options["model"]), "version": str(self.options.get("model_version") or ""),
                      "score": ann.get("score")}
        if source is not None:
            ann["source"] = dict(source)     # {"model", "version", "score"}: --model NAME --model-version V
        self._drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": ann}, reason=self.reason))
        self._where.append(location)
        return True

    def _fit(self, g: dict[str, Any], cls: ClassRef, asset: Asset, plane: Plane) -> dict[str, Any] | None:
        return fitted(g, cls.kinds, *extent(asset, plane)[:2])

    def classification(self, location: str, asset: Asset, plane: Plane | None, cls: ClassRef) -> bool:
        if plane is not None:
            problem = plane_problem(asset, plane)
            if problem:
                self.report.refuse(location, problem)
                return False
        key = (asset.id, cls.id, plane)
        if key in self._seen_classifications or self._exists(asset.id, cls.id, plane):
            self.report.note(location, f"{asset.name} already has class {cls.name!r} in this layer; skipped")
            return False
        self._seen_classifications.add(key)
        payload: dict[str, Any] = {"scope": "plane" if plane is not None else "asset", "asset_id": asset.id,
                                   "layer_id": self.layer_id, "class_id": cls.id}
        if plane is not None:
            payload["plane"] = plane.to_dict()
        self._drafts.append(OpDraft("classification.add", ids.new_id(), payload, reason=self.reason))
        self._where.append(location)
        return True

    def _exists(self, asset_id: str, class_id: str, plane: Plane | None) -> bool:
        from labeldesk.core.op_types.classifications import classifications
        for c in classifications(self.project.conn, asset_id):
            if c["layer_id"] != self.layer_id or c["class_id"] != class_id:
                continue
            there = None if c["scope"] == "asset" else Plane(c["plane_z"], c["plane_t"], c["plane_axis"])
            if there == plane:
                return True
        return False

    # ---- the drafts ----------------------------------------------------------------------------
    def drafts(self) -> list[OpDraft]:
        return self._setup + self._drafts

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self._drafts:
            kind = d.payload["annotation"]["geometry"]["kind"] if d.type == "annotation.create" else "classification"
            out[kind] = out.get(kind, 0) + 1
        return out

    def revalidate(self) -> None:
        """Validate every queued shape as the op will (clip to the plane); refuse or repair the ones
        it would reject. Used after ``apply_all`` refused the import as a whole."""
        keep_d, keep_w = [], []
        for draft, where in zip(self._drafts, self._where):
            if draft.type != "annotation.create":
                keep_d.append(draft)
                keep_w.append(where)
                continue
            ann = draft.payload["annotation"]
            fixed = self._valid_geometry(ann, where)
            if fixed is None:
                continue
            if isinstance(fixed, list):         # the parts of a self-intersecting polygon: one group
                attrs = dict(ann.get("attributes") or {})
                attrs.setdefault(GROUP_KEY, ids.new_id())
                for k, part in enumerate(fixed):
                    keep_d.append(OpDraft(draft.type, draft.entity if k == 0 else ids.new_id(),
                                          {"annotation": {**ann, "geometry": part, "attributes": attrs}},
                                          draft.base, draft.reason))
                    keep_w.append(where)
                continue
            if fixed is not ann["geometry"]:
                draft = OpDraft(draft.type, draft.entity, {"annotation": {**ann, "geometry": fixed}},
                                draft.base, draft.reason)
            keep_d.append(draft)
            keep_w.append(where)
        self._drafts, self._where = keep_d, keep_w

    def _clipped_parts(self, parts: list[dict[str, Any]], w: int, h: int, where: str) -> Any:
        """The parts that lie on the plane (a list), or the one part left, or None."""
        kept = []
        for part in parts:
            try:
                if geometry_from_dict(part).clip(w, h) is not None:
                    kept.append(part)
            except GeometryError:
                continue
        if not kept:
            self.report.refuse(where, f"the polygon lies wholly outside the {w}x{h} image")
            return None
        return kept if len(kept) > 1 else kept[0]

    def _valid_geometry(self, ann: dict[str, Any], where: str) -> Any:
        asset = self.index.assets[ann["asset_id"]]
        w, h, _ = extent(asset, Plane.from_dict(ann["plane"]))
        g = ann["geometry"]
        try:
            geom = geometry_from_dict(g)
        except GeometryError as exc:
            if g.get("kind") != "polygon" or "not valid" not in str(exc):
                self.report.refuse(where, str(exc))
                return None
            parts = repaired_parts(g)
            if parts is not None:
                self.report.note(where, "polygon was not valid (self-intersecting): imported as all its "
                                        f"{len(parts)} parts, one instance group (no area lost)")
                return self._clipped_parts(parts, w, h, where)
            try:
                geom = repair_polygon(g["shell"], g.get("holes", ()))
            except GeometryError as exc2:
                self.report.refuse(where, str(exc2))
                return None
            self.report.note(where, "polygon was not valid (self-intersecting): repaired, its largest "
                                    f"part kept ({geom.area():.1f} px²)")
            g = geom.to_dict()
        try:
            clipped = geom.clip(w, h)
        except GeometryError as exc:
            self.report.refuse(where, str(exc))
            return None
        if clipped is None:
            self.report.refuse(where, f"the {geom.kind} lies wholly outside the {w}x{h} image")
            return None
        return g
