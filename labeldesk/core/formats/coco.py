"""COCO JSON import (boxes, polygons, RLE masks, keypoints; COCO results); the export is in
:mod:`labeldesk.core.formats.coco_export`.

Conventions (those of the COCO format): ``bbox`` is ``[x, y, w, h]`` in pixel-edge ``image_xy``;
polygons are flat ``[x1, y1, x2, y2, ...]`` rings; masks are pycocotools RLE over the whole image
(column-major). Numbers are written so that reading them back gives our coordinates exactly
(:mod:`labeldesk.core.formats.floats`).

Rings of one annotation: a ring that lies inside an earlier ring is a hole of it, any other ring
starts a new polygon (COCO's own meaning of several rings: parts of one object): the parts, and the
keypoints of an annotation with a segmentation, are imported as one instance group
(:mod:`labeldesk.core.groups`), which the export writes back as one instance. Note that
pycocotools rasterises every ring as filled, so for tools that rasterise, export polygons with
holes as RLE (option ``polygon_holes=rle``).

A class attribute ``iscrowd`` (bool) is written as, and read from, COCO's ``iscrowd`` flag.
Extra keys we write and read (other readers ignore them): ``attributes`` on annotations (CVAT's
convention), ``color`` and ``labeldesk_attributes`` (attribute definitions) on categories.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import MAX_VERTICES, ClassRef, ImportContext, check_vertices
from labeldesk.core.formats.matching import extent
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Asset, Plane

CHUNK = 5000


# ---- masks -------------------------------------------------------------------------------------
def mask_to_rle(mask: Mask, width: int, height: int) -> dict[str, Any]:
    from pycocotools import mask as cmask
    full = np.asfortranarray(mask.paste(width, height).astype(np.uint8))
    rle = cmask.encode(full)
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def rle_to_array(seg: dict[str, Any], width: int, height: int) -> np.ndarray:
    """The (height, width) bool array of a COCO RLE; ValueError says what is wrong with it."""
    from pycocotools import mask as cmask
    size = seg.get("size")
    counts = seg.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise ValueError("RLE has no [height, width] size")
    if [height, width] != size:
        raise ValueError(f"mask of the wrong shape: the RLE is {size[0]}x{size[1]} (height x width), "
                         f"the image is {height}x{width}")
    if isinstance(counts, list):
        if sum(int(c) for c in counts) != height * width:
            raise ValueError(f"RLE counts cover {sum(counts)} pixels, not {height * width}")
        rle = cmask.frPyObjects({"size": size, "counts": [int(c) for c in counts]}, height, width)
    elif isinstance(counts, str):
        rle = {"size": size, "counts": counts.encode("ascii")}
    else:
        raise ValueError("RLE counts are neither a list nor a string")
    with warnings.catch_warnings():     # pycocotools 2.0.11 vs numpy 2 (__array__ copy keyword)
        warnings.simplefilter("ignore", DeprecationWarning)
        arr = cmask.decode(rle)
    if arr.shape != (height, width) or int(cmask.area(rle)) != int(arr.sum()):
        raise ValueError("RLE counts do not match its size")
    return arr.astype(bool)


# ---- rings -------------------------------------------------------------------------------------
def rings_of(seg: list[Any]) -> list[list[tuple[float, float]]]:
    rings = []
    for k, flat in enumerate(seg):
        if not isinstance(flat, list) or len(flat) % 2 or len(flat) < 6:
            raise ValueError(f"segmentation ring {k} needs an even number (>= 6) of coordinates")
        check_vertices(len(flat) // 2, f"segmentation ring {k}")
        vals = [float(v) for v in flat]
        rings.append(list(zip(vals[0::2], vals[1::2])))
    return rings


def ring_array(flat: Any) -> np.ndarray | None:
    """A flat ring of numbers (as JSON gives them) as an (n, 2) float64 array, the values
    :func:`rings_of` reads; None for anything else (:func:`rings_of` says what is wrong)."""
    if type(flat) is not list or len(flat) % 2 or len(flat) < 6 or len(flat) > 2 * MAX_VERTICES:
        return None
    try:
        arr = np.array(flat)
    except (TypeError, ValueError, OverflowError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        return None
    return arr.astype(np.float64, copy=False).reshape(-1, 2)


def polygons_from_rings(rings: list[list[tuple[float, float]]]) -> list[dict[str, Any]]:
    """Group rings into polygons: a ring inside an earlier shell is a hole of it."""
    if len(rings) == 1:
        return [{"kind": "polygon", "shell": [list(p) for p in rings[0]]}]
    from shapely.geometry import Polygon as SPolygon
    groups: list[tuple[Any, list[Any], list[Any]]] = []
    for ring in rings:
        shp = SPolygon(ring) if len(set(ring)) >= 3 else None
        host = None
        if shp is not None and shp.is_valid:
            host = next((g for g in groups if g[0] is not None and g[0].is_valid and g[0].contains(shp)), None)
        if host is not None:
            host[2].append(ring)
        else:
            groups.append((shp, ring, []))
    out = []
    for _, shell, holes in groups:
        g: dict[str, Any] = {"kind": "polygon", "shell": [list(p) for p in shell]}
        if holes:
            g["holes"] = [[list(p) for p in h] for h in holes]
        out.append(g)
    return out


def _rings_mask(rings: list[list[tuple[float, float]]], width: int, height: int) -> np.ndarray:
    """The union of polygon rings as pycocotools rasterises them (what COCO readers see)."""
    from pycocotools import mask as cmask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        rle = cmask.merge(cmask.frPyObjects([flat(r) for r in rings], height, width))
        return cmask.decode(rle).astype(bool)


def flat(points: Any) -> list[float]:
    return [float(v) for p in points for v in p]


# ---- import ------------------------------------------------------------------------------------
def _json_members(tree: InputTree) -> list[str]:
    names = tree.names(".json")
    if not names:
        raise InputError(tree.path, "no .json file in it")
    return names


def import_coco(ctx: ImportContext, path: Path) -> None:
    with InputTree(path, ctx.report) as tree:
        members = _json_members(tree)
        for name in members:
            doc = tree.json(name)
            if not tree.is_single_file and not (isinstance(doc, dict) and "images" in doc):
                continue
            read_document(ctx, doc, tree.location(name))


def _class_specs(doc: dict[str, Any], where: str) -> dict[Any, dict[str, Any]]:
    cats = doc.get("categories") or []
    if not isinstance(cats, list):
        raise InputError(where, "'categories' is not a list")
    return {_key(c.get("id")): c for c in cats if isinstance(c, dict) and _key(c.get("id")) is not None}


def _key(value: Any) -> Any:
    """An id usable as a key (ints and strings); None for anything else (lists, objects, ...)."""
    t = type(value)
    if t is int or t is str:            # (what JSON gives; the general test below for the rest)
        return value
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _category_class(ctx: ImportContext, cats: dict[Any, dict[str, Any]], cid: Any, loc: str,
                    cache: dict[Any, ClassRef | None], found: dict[Any, dict[str, list[Any]]] | None = None
                    ) -> ClassRef | None:
    raw, cid = cid, _key(cid)
    cat = cats.get(cid)
    if cat is None:
        ctx.report.refuse(loc, f"category_id {raw!r} is not among the file's categories")
        return None
    if cid in cache and cache[cid] is not None:
        return cache[cid]
    defs = cat.get("labeldesk_attributes") if isinstance(cat.get("labeldesk_attributes"), list) else None
    if defs is None and found and found.get(cid):
        defs = inferred_definitions(found[cid])
    colour = cat.get("color") if isinstance(cat.get("color"), str) and len(str(cat.get("color"))) == 7 else None
    extra: dict[str, Any] = {}
    names = keypoint_names(cat)
    if names:
        skeleton = cat.get("skeleton") if isinstance(cat.get("skeleton"), list) else []
        extra["keypoints"] = {"names": names, "skeleton": [
            [int(i), int(j)] for i, j in (e for e in skeleton if isinstance(e, list) and len(e) == 2)
            if isinstance(i, int) and isinstance(j, int) and 1 <= i <= len(names) and 1 <= j <= len(names)]}
    if isinstance(cat.get("labeldesk_code"), str):
        extra["code"] = cat["labeldesk_code"]
    value = cid if isinstance(cid, int) and not isinstance(cid, bool) and cid >= 1 else None
    ref = ctx.class_for(cat.get("name"), loc, defs, colour, value=value, extra=extra)
    cache[cid] = ref
    return ref


def keypoint_names(cat: dict[str, Any]) -> list[str]:
    names = cat.get("keypoints")
    if isinstance(names, list) and names and all(isinstance(n, str) and n for n in names) \
            and len(set(names)) == len(names):
        return list(names)
    return []


def inferred_definitions(values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Attribute definitions for a class the import creates, from the values the file gives."""
    from labeldesk.core.formats.context import attribute_key
    defs, keys = [], set()
    for name, seen in values.items():
        key = attribute_key(name)
        if key in keys:
            continue
        keys.add(key)
        present = [v for v in seen if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            kind = "bool"
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            kind = "number"
        else:
            kind = "text"
        defs.append({"key": key, "type": kind})
    return defs


def _attribute_values(anns: list[Any]) -> dict[Any, dict[str, list[Any]]]:
    """Per category id, the attribute names (and iscrowd) the file's annotations use."""
    out: dict[Any, dict[str, list[Any]]] = {}
    flagged: set[Any] = set()                   # categories whose iscrowd has its place in out
    crowds: set[Any] = set()
    for a in anns:
        if type(a) is not dict:
            continue
        attrs, crowd = a.get("attributes"), a.get("iscrowd")
        if attrs is None and crowd is None:
            continue
        cid = _key(a.get("category_id"))
        if isinstance(attrs, dict):
            for k, v in attrs.items():
                out.setdefault(cid, {}).setdefault(str(k), []).append(v if isinstance(v, (bool, int, float)) else str(v))
        if crowd in (0, 1):
            if cid not in flagged:
                flagged.add(cid)
                out.setdefault(cid, {}).setdefault("iscrowd", [])
            if crowd:
                crowds.add(cid)
    for cid in flagged:                         # an iscrowd attribute only where a crowd occurs
        if cid in crowds:
            out[cid]["iscrowd"] = [True]
        else:
            del out[cid]["iscrowd"]
    return out


def read_document(ctx: ImportContext, doc: Any, where: str) -> None:
    if not isinstance(doc, dict):
        raise InputError(where, "not a COCO file: the top level is not an object")
    images = doc.get("images")
    anns = doc.get("annotations") or []
    if not isinstance(images, list) or not isinstance(anns, list):
        raise InputError(where, "not a COCO file: 'images' and 'annotations' must be lists")
    cats = _class_specs(doc, where)
    targets: dict[Any, tuple[Asset, Plane] | None] = {}
    by_image: dict[Any, int] = {}
    for a in anns:
        if isinstance(a, dict):
            iid = _key(a.get("image_id"))
            by_image[iid] = by_image.get(iid, 0) + 1
    for i, im in enumerate(images):
        if not isinstance(im, dict) or _key(im.get("id")) is None:
            ctx.report.refuse(f"{where}: images[{i}]", "not an image entry with an id")
            continue
        n = by_image.get(_key(im["id"]), 0)
        found = ctx.index_find(str(im.get("file_name", "")))
        if isinstance(found, str):
            ctx.report.refuse(f"{where}: images[{i}] ({im.get('file_name')})",
                              found + (f"; its {n} annotation(s) were not imported" if n else ""))
            targets[im["id"]] = None
            continue
        asset, plane = found
        w, h, _ = extent(asset, plane)
        if (im.get("width"), im.get("height")) not in ((w, h), (None, None)):
            ctx.report.note(f"{where}: images[{i}] ({im.get('file_name')})",
                            f"the file says {im.get('width')}x{im.get('height')}, the asset is {w}x{h}: "
                            "coordinates taken as they are")
        targets[im["id"]] = found
    cache: dict[Any, ClassRef | None] = {}
    found = _attribute_values(anns)
    tracks: dict[Any, str] = {}
    annotation = ctx.annotation
    for i, a in enumerate(anns):
        if i % CHUNK == 0:
            ctx.progress.report(i, len(anns), f"reading {where}")
        if type(a) is dict and _PLAIN.issuperset(a) and not a.get("iscrowd"):
            # a plain box or one-ring polygon (what most files hold): the same result as below,
            # without the steps that have nothing to do for it
            target = targets.get(a.get("image_id"), _NONE) if type(a.get("image_id")) in (int, str) else _NONE
            cls = cache.get(a.get("category_id")) if type(a.get("category_id")) in (int, str) else None
            if target is not _NONE and cls is not None:
                g = _plain_geometry(a)
                if g is not None:
                    if target is not None:              # (else refused with its image)
                        annotation(Location(where, i, a), target[0], target[1], g, cls)
                    continue
        loc = f"{where}: annotations[{i}] (id {a['id']})" if isinstance(a, dict) and "id" in a else \
            f"{where}: annotations[{i}]"
        if not isinstance(a, dict):
            ctx.report.refuse(loc, "not an object")
            continue
        iid = _key(a.get("image_id"))
        if iid not in targets:
            ctx.report.refuse(loc, f"image_id {a.get('image_id')!r} is not among the file's images")
            continue
        target = targets[iid]
        if target is None:
            continue                    # refused with its image
        cid = _key(a.get("category_id"))
        cls = cache.get(cid)                      # (set only for a category of the file)
        if cls is None:
            cls = _category_class(ctx, cats, a.get("category_id"), loc, cache, found)
            if cls is None:
                continue
        attrs = dict(a["attributes"]) if isinstance(a.get("attributes"), dict) else {}
        if a.get("iscrowd") == 1:
            if any(d["key"] == "iscrowd" for d in cls.attributes):
                attrs.setdefault("iscrowd", True)
            else:
                ctx.report.note(loc, f"iscrowd=1 not kept: class {cls.name!r} has no iscrowd attribute (add a "
                                     "bool attribute 'iscrowd' to keep it)")
        track = _track(ctx, a, target, tracks) if "track_id" in a else None
        shapes = geometries(ctx, a, target, loc, cats.get(cid) or {})
        group = ids.new_id() if len(shapes) > 1 else None      # one object in parts: an instance group
        per_part = a.get("labeldesk_part_attributes")
        if not (isinstance(per_part, list) and len(per_part) == len(shapes) and "labeldesk_parts" in a
                and all(isinstance(p, dict) for p in per_part)):
            per_part = [attrs] * len(shapes)
        score = _score(a) if "score" in a else None
        for g, part_attrs in zip(shapes, per_part):
            ctx.annotation(loc, target[0], target[1], g, cls, part_attrs, score=score, track_id=track,
                           group=group)


_PLAIN = frozenset({"id", "image_id", "category_id", "iscrowd", "segmentation", "bbox", "area"})
_NONE = object()


class Location:
    """Where an annotation of a COCO file is (``file: annotations[i] (id N)``), made into text only
    when a message needs it."""

    __slots__ = ("where", "i", "id")

    def __init__(self, where: str, i: int, a: dict[str, Any]) -> None:
        # the record's id, not the record (the queued drafts must not keep the parsed file alive)
        self.where, self.i, self.id = where, i, a.get("id", _NONE)

    def __str__(self) -> str:
        return f"{self.where}: annotations[{self.i}] (id {self.id})" if self.id is not _NONE else \
            f"{self.where}: annotations[{self.i}]"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _plain_geometry(a: dict[str, Any]) -> dict[str, Any] | None:
    """The geometry of an annotation with only a one-ring polygon or only a bbox (as
    :func:`geometries` gives it); None for anything else (then :func:`geometries` decides)."""
    seg = a.get("segmentation")
    if seg:
        if type(seg) is list and len(seg) == 1:
            shell = ring_array(seg[0])
            if shell is not None:
                return {"kind": "polygon", "shell": shell}
        return None
    if seg is not None and type(seg) is not list:
        return None
    bbox = a.get("bbox")
    if type(bbox) is list and len(bbox) == 4:
        x, y, bw, bh = bbox
        if type(x) is float or type(x) is int:
            try:
                x, y, bw, bh = float(x), float(y), float(bw), float(bh)
            except (TypeError, ValueError):
                return None
            return {"kind": "box", "xyxy": [x, y, x + bw, y + bh]}
    return None


def _track(ctx: ImportContext, a: dict[str, Any], target: tuple[Asset, Plane], tracks: dict[Any, str]) -> str | None:
    """The track an annotation of a video frame belongs to (COCO-VID ``track_id``)."""
    asset = target[0]
    tid = _key(a.get("track_id"))
    if tid is None or not (asset.kind == "video" or asset.frames > 1):
        return None
    from labeldesk.core import ids
    own = a.get("labeldesk_track")
    key = (asset.id, tid)
    if key not in tracks:
        tracks[key] = own if isinstance(own, str) and own and own not in tracks.values() else ids.new_id()
    return tracks[key]


def _score(a: dict[str, Any]) -> float | None:
    s = a.get("score")
    return float(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else None


def geometries(ctx: ImportContext, a: dict[str, Any], target: tuple[Asset, Plane], loc: str,
               cat: dict[str, Any]) -> list[dict[str, Any]]:
    """The geometry dicts of one COCO annotation (several for a multi-part polygon)."""
    seg = a.get("segmentation")
    asset, plane = target
    kp = a.get("keypoints")
    has_kp = isinstance(kp, list) and bool(kp) and any(kp[2::3])
    parts = a.get("labeldesk_parts")
    if isinstance(parts, list) and parts and all(isinstance(p, dict) for p in parts):
        return list(parts)              # the exact parts of an instance group labeldesk wrote
    own = a.get("labeldesk_geometry")
    if isinstance(own, dict) and own.get("kind") in ("box", "rotated_box", "ellipse", "polygon"):
        return [own]                    # the exact shape labeldesk wrote (its segmentation is a conversion)
    try:
        shapes: list[dict[str, Any]] = []
        if has_kp and _is_rect_of(seg, a.get("bbox")):
            seg = None                  # the rectangle written for keypoint-only objects
        if isinstance(seg, dict):
            w, h, _ = extent(asset, plane)
            arr = rle_to_array(seg, w, h)
            if not arr.any():
                raise ValueError("the mask is empty")
            shapes = [Mask.from_array(arr).to_dict()]
        elif isinstance(seg, list) and len(seg) == 1 and (shell := ring_array(seg[0])) is not None:
            shapes = [{"kind": "polygon", "shell": shell}]     # one ring: the polygon, as an array
        elif isinstance(seg, list) and seg:
            rings = rings_of(seg)
            shapes = polygons_from_rings(rings)
            # several parts: COCO's meaning is one object in parts (occluded, split); the caller
            # imports them as one instance group (labeldesk.core.groups), not N objects
        if shapes:
            if has_kp:      # the keypoints are one more part of the object's group
                shapes.append(_keypoints(kp, cat))  # type: ignore[arg-type]
            return shapes
        if has_kp:
            return [_keypoints(kp, cat)]  # type: ignore[arg-type]
        bbox = a.get("bbox")
        if isinstance(bbox, list) and len(bbox) == 4:
            x, y, bw, bh = (float(v) for v in bbox)
            return [{"kind": "box", "xyxy": [x, y, x + bw, y + bh]}]
        raise ValueError("no segmentation, keypoints or bbox")
    except (ValueError, TypeError) as exc:
        ctx.report.refuse(loc, str(exc))
        return []


def _is_rect_of(seg: Any, bbox: Any) -> bool:
    if not (isinstance(seg, list) and len(seg) == 1 and isinstance(seg[0], list) and len(seg[0]) == 8
            and isinstance(bbox, list) and len(bbox) == 4):
        return False
    try:
        x, y, w, h = (float(v) for v in bbox)
        xs, ys = [float(v) for v in seg[0][0::2]], [float(v) for v in seg[0][1::2]]
    except (TypeError, ValueError):
        return False
    return set(xs) <= {x, x + w} and set(ys) <= {y, y + h}


def _keypoints(kp: list[Any], cat: dict[str, Any]) -> dict[str, Any]:
    """A points geometry of the labelled keypoints; each keeps its name (the category's, else its
    1-based slot number) and its visibility, so an unlabelled slot never shifts the others."""
    if len(kp) % 3:
        raise ValueError("keypoints need x, y, v triples")
    check_vertices(len(kp) // 3, "keypoints")
    names = keypoint_names(cat)
    if len(names) != len(kp) // 3:
        names = []          # not the category's layout: by position (slot numbers where one is missing)
    gaps = not names and any(int(v) == 0 for v in kp[2::3] if isinstance(v, (int, float)))
    pts, labels, vis = [], [], []
    for j in range(0, len(kp), 3):
        v = int(kp[j + 2])
        if v not in (0, 1, 2):
            raise ValueError(f"keypoint {j // 3 + 1} has visibility {kp[j + 2]!r} (0, 1 or 2)")
        if v:
            pts.append([float(kp[j]), float(kp[j + 1])])
            labels.append(str(names[j // 3]) if names else str(j // 3 + 1))
            vis.append(v)
    g: dict[str, Any] = {"kind": "points", "points": pts}
    if names or gaps:
        g["labels"] = labels
    if any(v != 2 for v in vis):
        g["visibility"] = vis
    return g


def import_results(ctx: ImportContext, path: Path) -> None:
    """A COCO results list (``[{image_id, category_id, bbox|segmentation, score}, ...]``).

    Image ids and category ids are those of the ground-truth file (option ``gt``); without one,
    string image ids are asset names and category ids are the classes' label values (our export's)."""
    with InputTree(path, ctx.report) as tree:
        name = _json_members(tree)[0]
        results = tree.json(name)
        where = tree.location(name)
    if not isinstance(results, list):
        raise InputError(where, "not a COCO results file: the top level is not a list")
    images: dict[Any, tuple[Asset, Plane] | str] = {}
    cats: dict[Any, dict[str, Any]] = {}
    gt = ctx.options.get("gt")
    if gt:
        with InputTree(Path(str(gt)).expanduser()) as gtree:
            gname = _json_members(gtree)[0]
            doc = gtree.json(gname)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
            raise InputError(gt, "not a COCO ground-truth file (no 'images' list)")
        cats = _class_specs(doc, str(gt))
        for im in doc["images"]:
            if isinstance(im, dict) and _key(im.get("id")) is not None:
                images[im["id"]] = ctx.index_find(str(im.get("file_name", "")))
    else:
        cats = {c.value: {"id": c.value, "name": c.name} for c in ctx.project.classes()
                if not c.merged_into and c.value is not None}
        ctx.report.note(where, "no ground-truth file given (--gt): category ids read as the classes' label "
                               "values (as labeldesk's COCO export writes them)")
    min_score = float(ctx.options.get("min_score") or 0.0)
    cache: dict[Any, ClassRef | None] = {}
    low = 0
    for i, r in enumerate(results):
        if i % CHUNK == 0:
            ctx.progress.report(i, len(results), f"reading {where}")
        loc = f"{where}: [{i}]"
        if not isinstance(r, dict):
            ctx.report.refuse(loc, "not an object")
            continue
        score = _score(r)
        if score is not None and score < min_score:
            low += 1
            continue
        iid = r.get("image_id")
        target = images.get(_key(iid))
        if target is None:
            if isinstance(iid, str) and iid:
                target = images[iid] = ctx.index_find(iid)
            else:
                ctx.report.refuse(loc, f"image_id {iid!r} is unknown" + ("" if gt else
                                  " (give the ground-truth file with --gt)"))
                continue
        if isinstance(target, str):
            ctx.report.refuse(loc, f"image_id {iid!r}: {target}")
            continue
        cls = _category_class(ctx, cats, r.get("category_id"), loc, cache)
        if cls is None:
            continue
        for g in geometries(ctx, r, target, loc, cats.get(_key(r.get("category_id"))) or {}):
            ctx.annotation(loc, target[0], target[1], g, cls, None, score=score)
    if low:
        ctx.report.note(where, f"{low} detection(s) below min_score {min_score} left out")


# ---- export ------------------------------------------------------------------------------------
def export_coco(ctx: Any, out: Any) -> None:
    from labeldesk.core.formats.coco_export import export_coco as write
    write(ctx, out)
