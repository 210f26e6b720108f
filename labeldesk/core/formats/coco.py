"""COCO JSON: boxes, polygons (holes as extra rings, or RLE), RLE masks, keypoints; COCO results.

Conventions (design/ecosystem.md §1.1): ``bbox`` is ``[x, y, w, h]`` in pixel-edge ``image_xy``;
polygons are flat ``[x1, y1, x2, y2, ...]`` rings; masks are pycocotools RLE over the whole image
(column-major). Numbers are written so that reading them back gives our coordinates exactly
(:mod:`labeldesk.core.formats.floats`).

Rings of one annotation: a ring that lies inside an earlier ring is a hole of it, any other ring
starts a new polygon (COCO's own meaning of several rings: parts of one object). Note that
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

from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import ClassRef, ImportContext
from labeldesk.core.formats.floats import width_for
from labeldesk.core.formats.matching import extent, item_name
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Box, Ellipse, Mask, Points, Polygon, Polyline, RotatedBox
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
        vals = [float(v) for v in flat]
        rings.append(list(zip(vals[0::2], vals[1::2])))
    return rings


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
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _category_class(ctx: ImportContext, cats: dict[Any, dict[str, Any]], cid: Any, loc: str,
                    cache: dict[Any, ClassRef | None]) -> ClassRef | None:
    raw, cid = cid, _key(cid)
    cat = cats.get(cid)
    if cat is None:
        ctx.report.refuse(loc, f"category_id {raw!r} is not among the file's categories")
        return None
    if cid in cache and cache[cid] is not None:
        return cache[cid]
    defs = cat.get("labeldesk_attributes") if isinstance(cat.get("labeldesk_attributes"), list) else None
    colour = cat.get("color") if isinstance(cat.get("color"), str) and len(str(cat.get("color"))) == 7 else None
    ref = ctx.class_for(cat.get("name"), loc, defs, colour)
    cache[cid] = ref
    return ref


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
    for i, a in enumerate(anns):
        if i % CHUNK == 0:
            ctx.progress.report(i, len(anns), f"reading {where}")
        loc = f"{where}: annotations[{i}]" + (f" (id {a.get('id')})" if isinstance(a, dict) and "id" in a else "")
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
        cls = _category_class(ctx, cats, a.get("category_id"), loc, cache)
        if cls is None:
            continue
        attrs = dict(a["attributes"]) if isinstance(a.get("attributes"), dict) else {}
        if a.get("iscrowd") == 1 and any(d["key"] == "iscrowd" for d in cls.attributes):
            attrs.setdefault("iscrowd", True)       # kept where the class has an iscrowd attribute
        for g in geometries(ctx, a, target, loc, cats.get(_key(a.get("category_id"))) or {}):
            ctx.annotation(loc, target[0], target[1], g, cls, attrs, score=_score(a))


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
    try:
        shapes: list[dict[str, Any]] = []
        if isinstance(seg, dict):
            w, h, _ = extent(asset, plane)
            arr = rle_to_array(seg, w, h)
            if not arr.any():
                raise ValueError("the mask is empty")
            shapes = [Mask.from_array(arr).to_dict()]
        elif isinstance(seg, list) and seg:
            shapes = polygons_from_rings(rings_of(seg))
            if len(shapes) > 1:
                ctx.report.note(loc, f"segmentation has {len(shapes)} separate parts: imported as {len(shapes)} polygons")
        if shapes:
            if has_kp:
                ctx.report.note(loc, "keypoints imported as a points annotation of their own")
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


def _keypoints(kp: list[Any], cat: dict[str, Any]) -> dict[str, Any]:
    if len(kp) % 3:
        raise ValueError("keypoints need x, y, v triples")
    names = cat.get("keypoints") if isinstance(cat.get("keypoints"), list) else None
    if names is not None and len(names) != len(kp) // 3:
        names = None
    pts, labels = [], []
    for j in range(0, len(kp), 3):
        if kp[j + 2]:
            pts.append([float(kp[j]), float(kp[j + 1])])
            if names is not None:
                labels.append(str(names[j // 3]))
    g: dict[str, Any] = {"kind": "points", "points": pts}
    if labels:
        g["labels"] = labels
    return g


def import_results(ctx: ImportContext, path: Path) -> None:
    """A COCO results list (``[{image_id, category_id, bbox|segmentation, score}, ...]``).

    Image ids and category ids are those of the ground-truth file (option ``gt``); without one,
    string image ids are asset names and category ids are our export's (ontology order + 1)."""
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
        cats = {i + 1: {"id": i + 1, "name": c.name} for i, c in
                enumerate(c for c in ctx.project.classes() if not c.merged_into)}
        ctx.report.note(where, "no ground-truth file given (--gt): category ids read as the project's "
                               "class order (as labeldesk's COCO export writes them)")
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
def export_coco(ctx: ExportContext, out: Any) -> None:
    holes_as_rle = str(ctx.options.get("polygon_holes", "rings")).lower() == "rle"
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    keypoint_names: dict[str, list[str]] = {}
    labelled: list[tuple[dict[str, Any], str]] = []
    track_numbers: dict[str, int] = {}
    for asset in ctx.each_asset():
        for plane, items in ctx.export_planes(asset):
            w, h, _ = extent(asset, plane)
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": item_name(asset, plane), "width": w, "height": h})
            for ann in items:
                entry = ctx.entry(asset, ann)
                if entry is None:
                    continue
                seg = _segment(ctx, asset, ann, w, h, holes_as_rle, keypoint_names.setdefault(entry.id, []))
                if seg is None:
                    continue
                rec = {"id": len(anns) + 1, "image_id": image_id, "category_id": entry.index + 1, **seg}
                if ann.track_id:          # one object across frames (as in TAO / YouTube-VIS style COCO)
                    rec["track_id"] = track_numbers.setdefault(ann.track_id, len(track_numbers) + 1)
                if isinstance(ann.geometry, Points) and ann.geometry.labels:
                    labelled.append((rec, entry.id))
                if ann.attributes:
                    rec["attributes"] = ann.attributes
                    if ann.attributes.get("iscrowd") is True:
                        rec["iscrowd"] = 1
                anns.append(rec)
                ctx.report.count(ann.geometry.kind)
    for rec, cid in labelled:       # a class's keypoint names grew after this record was written
        rec["keypoints"] += [0, 0, 0] * (len(keypoint_names[cid]) - len(rec["keypoints"]) // 3)
    cats = []
    for e in ctx.classes:
        c: dict[str, Any] = {"id": e.index + 1, "name": e.name, "supercategory": e.parent or "", "color": e.color}
        if e.attributes:
            c["labeldesk_attributes"] = list(e.attributes)
        if keypoint_names.get(e.id):
            c["keypoints"] = keypoint_names[e.id]
        cats.append(c)
    doc = {"info": {"description": f"labeldesk export of {ctx.project.name}", "version": "1.0"},
           "licenses": [], "images": images, "annotations": anns, "categories": cats}
    out.write("annotations.json", json.dumps(doc, ensure_ascii=False, allow_nan=False))


def _bbox(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, width_for(x0, x1), width_for(y0, y1)]


def _segment(ctx: ExportContext, asset: Asset, ann: Any, w: int, h: int, holes_as_rle: bool,
             kp_names: list[str]) -> dict[str, Any] | None:
    g = ann.geometry
    if isinstance(g, Box):
        return {"bbox": _bbox(*g.bounds()), "area": g.area(), "iscrowd": 0, "segmentation": []}
    if isinstance(g, (RotatedBox, Ellipse)):
        ctx.converted(asset, ann, f"{g.kind} written as a polygon (COCO has no {g.kind})")
        pts = g.corners() if isinstance(g, RotatedBox) else g.outline(64)
        g = Polygon(pts)
    if isinstance(g, Polygon):
        if g.holes and holes_as_rle:
            ctx.converted(asset, ann, "polygon with holes written as an RLE mask (option polygon_holes=rle)")
            return _segment(ctx, asset, ann.with_(geometry=_rasterised(g, w, h)), w, h, holes_as_rle, kp_names)
        return {"bbox": _bbox(*g.bounds()), "area": g.area(), "iscrowd": 0,
                "segmentation": [flat(g.shell)] + [flat(r) for r in g.holes]}
    if isinstance(g, Mask):
        rle = mask_to_rle(g, w, h)
        return {"bbox": [g.x, g.y, g.width, g.height], "area": g.area(), "iscrowd": 0, "segmentation": rle}
    if isinstance(g, Points):
        return _keypoint_record(ctx, asset, ann, g, kp_names)
    if isinstance(g, Polyline):
        ctx.skip(asset, ann, "COCO cannot hold a polyline")
        return None
    ctx.skip(asset, ann, f"COCO cannot hold a {g.kind}")
    return None


def _rasterised(g: Polygon, w: int, h: int) -> Mask:
    """A polygon with holes as a mask, rasterised by pycocotools (its pixel-edge convention)."""
    from pycocotools import mask as cmask
    rles = cmask.frPyObjects([flat(g.shell)], h, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        shell = cmask.decode(cmask.merge(rles)).astype(bool)
        for hole in g.holes:
            shell &= ~cmask.decode(cmask.merge(cmask.frPyObjects([flat(hole)], h, w))).astype(bool)
    return Mask.from_array(shell)


def _keypoint_record(ctx: ExportContext, asset: Asset, ann: Any, g: Points, names: list[str]) -> dict[str, Any]:
    x0, y0, x1, y1 = g.bounds()
    bbox = _bbox(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else [x0, y0, 0.0, 0.0]
    if not g.labels:
        kp = [v for p in g.points for v in (p[0], p[1], 2)]
        return {"bbox": bbox, "area": 0.0, "iscrowd": 0, "keypoints": kp, "num_keypoints": len(g.points)}
    labels = list(g.labels)
    if len(set(labels)) != len(labels):
        ctx.converted(asset, ann, "repeated keypoint labels: only the first point of each label is written")
    for lab in labels:
        if lab not in names:
            names.append(lab)
    at = {}
    for p, lab in zip(g.points, labels):
        at.setdefault(lab, p)
    order = [n for n in names if n in at]
    if order != list(dict.fromkeys(labels)):
        ctx.converted(asset, ann, "keypoints written in the order of the class's keypoint names")
    kp = []
    for n in names:
        p = at.get(n)
        kp += [p[0], p[1], 2] if p is not None else [0, 0, 0]
    return {"bbox": bbox, "area": 0.0, "iscrowd": 0, "keypoints": kp, "num_keypoints": len(at)}
