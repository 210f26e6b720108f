"""COCO export that the readers on the other side read exactly (pycocotools, COCOeval, torchvision,
datumaro, detectron2).

* Layout: a ``.json`` destination is one file; a folder (or ``.zip``) is the standard dataset
  layout ``annotations/instances_<subset>.json`` (+ ``images/<subset>/...`` with option
  ``images``); subsets by option ``split`` (see :mod:`labeldesk.core.formats.dataset`).
* Ids: category id = the class's stable label value; image id = a stable number per plane of an
  asset (the same on every export); annotation ids count from 1.
* Every record has a non-empty ``segmentation`` (COCOeval ``segm`` reads every record): boxes as
  their rectangle, keypoint-only objects as the rectangle around their points. Polygons with holes
  are written as RLE by default (COCO readers take every ring as filled, so rings would fill the
  hole): ``area`` is then the mask's pixel count (option ``polygon_holes=rings`` keeps the rings,
  with a note). Rotated boxes and ellipses are written as polygons. The exact labeldesk geometry of
  anything converted is kept under ``labeldesk_geometry`` (other readers ignore it), so labeldesk
  reads its own export back exactly.
* Keypoints: the class's keypoint names and skeleton in the category; one triple per name in that
  order, ``v`` = 2 (visible), 1 (labelled, not visible) or 0 (not labelled: 0, 0, 0); ``area`` =
  the box around the points.
* ``iscrowd`` from a class attribute ``iscrowd``; other attribute values under ``attributes``
  (CVAT's convention); a track's frames share ``track_id`` (COCO-VID/TAO style).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.formats.coco import flat, mask_to_rle
from labeldesk.core.formats.dataset import ImageIds, close_sources, file_name, image_mode, subsets, write_image
from labeldesk.core.formats.floats import width_for
from labeldesk.core.formats.matching import extent
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Box, Ellipse, Mask, Points, Polygon, Polyline, RotatedBox
from labeldesk.core.model import Asset


def _bbox(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, width_for(x0, x1), width_for(y0, y1)]


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


class _Doc:
    def __init__(self) -> None:
        self.images: list[dict[str, Any]] = []
        self.anns: list[dict[str, Any]] = []


def export_coco(ctx: ExportContext, out: Any) -> None:
    holes = str(ctx.options.get("polygon_holes", "rle")).lower()
    if holes not in ("rle", "rings"):
        raise LabeldeskError(f"polygon_holes={holes!r}: choose rle or rings")
    mode = image_mode(ctx)
    single = str(out.dest).lower().endswith(".json")
    groups = subsets(ctx)
    if single and (mode or len(set(groups.values())) > 1):
        raise LabeldeskError(f"{out.dest.name}: a split or image files need a folder or .zip as the destination "
                             "(annotations/instances_<subset>.json + images/<subset>/)")
    ids = ImageIds()
    docs: dict[str, _Doc] = {}
    kp_names = {e.id: list((e.keypoints or {}).get("names") or []) for e in ctx.classes}
    fixed_names = {cid for cid, names in kp_names.items() if names}
    labelled: list[tuple[dict[str, Any], str]] = []
    tracks: dict[str, int] = {}
    counts = {"holes": 0, "boxes": 0}
    sources: dict[Any, Any] = {}
    try:
        for asset in ctx.each_asset():
            subset = groups[asset.id]
            doc = docs.setdefault(subset, _Doc())
            for plane, items in ctx.export_planes(asset):
                w, h, _ = extent(asset, plane)
                image_id = ids.id_for(asset, plane)
                name = file_name(asset, plane, mode)
                doc.images.append({"id": image_id, "file_name": name, "width": w, "height": h})
                if mode:
                    write_image(ctx, out, asset, plane, f"images/{subset}", name, mode, sources)
                for ann, parts in _instances(ctx, asset, items):
                    entry = ctx.entry(asset, ann)
                    if entry is None:
                        continue
                    if parts:
                        seg = _group_segment(ctx, asset, parts, w, h, holes, kp_names[entry.id],
                                             entry.id in fixed_names, counts)
                    else:
                        seg = _segment(ctx, asset, ann, w, h, holes, kp_names[entry.id], entry.id in fixed_names,
                                       counts)
                    if seg is None:
                        continue
                    rec = {"id": sum(len(d.anns) for d in docs.values()) + 1, "image_id": image_id,
                           "category_id": entry.value, **seg}
                    if isinstance(ann.geometry, Points) and ann.geometry.labels and entry.id not in fixed_names:
                        labelled.append((rec, entry.id))
                    attrs = {k: v for k, v in ann.attributes.items() if k != "iscrowd"}
                    if attrs:
                        rec["attributes"] = attrs
                    if ann.attributes.get("iscrowd") is True:
                        rec["iscrowd"] = 1
                    if ann.track_id:
                        rec["track_id"] = tracks.setdefault(ann.track_id, len(tracks) + 1)
                        rec["labeldesk_track"] = ann.track_id
                    doc.anns.append(rec)
                    for part in _written(parts) if parts else [ann]:
                        ctx.report.count(part.geometry.kind)
    finally:
        close_sources(sources)
    for rec, cid in labelled:       # a class's keypoint names grew after this record was written
        rec["keypoints"] += [0, 0, 0] * (len(kp_names[cid]) - len(rec["keypoints"]) // 3)
    if counts["holes"]:
        ctx.report.note("", f"{counts['holes']} polygon(s) with holes written as RLE masks (COCO readers fill "
                            "every polygon ring); area is the mask's pixel count")
    cats = []
    for e in sorted(ctx.classes, key=lambda e: e.value):
        c: dict[str, Any] = {"id": e.value, "name": e.name, "supercategory": e.parent or "", "color": e.color}
        if e.attributes:
            c["labeldesk_attributes"] = list(e.attributes)
        if e.code:
            c["labeldesk_code"] = e.code
        if kp_names.get(e.id):
            c["keypoints"] = kp_names[e.id]
            c["skeleton"] = [list(p) for p in (e.keypoints or {}).get("skeleton") or []]
        cats.append(c)
    for subset, doc in sorted(docs.items()):
        body = {"info": {"description": f"labeldesk export of {ctx.project.name}", "version": "1.0"},
                "licenses": [], "images": doc.images, "annotations": doc.anns, "categories": cats}
        member = "annotations.json" if single else f"annotations/instances_{subset}.json"
        out.write(member, json.dumps(body, ensure_ascii=False, allow_nan=False))


def _segment(ctx: ExportContext, asset: Asset, ann: Any, w: int, h: int, holes: str,
             kp_names: list[str], fixed: bool, counts: dict[str, int]) -> dict[str, Any] | None:
    g = ann.geometry
    if isinstance(g, Box):
        x0, y0, x1, y1 = g.bounds()
        return {"bbox": _bbox(x0, y0, x1, y1), "area": g.area(), "iscrowd": 0, "segmentation": _rect(x0, y0, x1, y1),
                "labeldesk_geometry": g.to_dict()}
    original = None
    if isinstance(g, (RotatedBox, Ellipse)):
        ctx.converted(asset, ann, f"{g.kind} written as a polygon (COCO has no {g.kind})")
        original = g.to_dict()
        g = Polygon(g.corners() if isinstance(g, RotatedBox) else g.outline(64))
    if isinstance(g, Polygon):
        if g.holes and holes == "rle":
            counts["holes"] += 1
            rec = _segment(ctx, asset, ann.with_(geometry=_rasterised(g, w, h)), w, h, holes, kp_names, fixed, counts)
            if rec is not None:
                rec["labeldesk_geometry"] = original or g.to_dict()
            return rec
        if g.holes:
            ctx.converted(asset, ann, "polygon with holes written as rings (option polygon_holes=rings): COCO "
                                      "readers fill the holes")
        rec = {"bbox": _bbox(*g.bounds()), "area": g.area(), "iscrowd": 0,
               "segmentation": [flat(g.shell)] + [flat(r) for r in g.holes]}
        if original:
            rec["labeldesk_geometry"] = original
        return rec
    if isinstance(g, Mask):
        rle = mask_to_rle(g, w, h)
        return {"bbox": [g.x, g.y, g.width, g.height], "area": g.area(), "iscrowd": 0, "segmentation": rle}
    if isinstance(g, Points):
        return _keypoint_record(ctx, asset, ann, g, kp_names, fixed)
    if isinstance(g, Polyline):
        ctx.skip(asset, ann, "COCO cannot hold a polyline")
        return None
    ctx.skip(asset, ann, f"COCO cannot hold a {g.kind}")
    return None


def _instances(ctx: ExportContext, asset: Asset, items: list[Any]) -> list[tuple[Any, list[Any]]]:
    """The COCO instances of one plane: (annotation, []) for a lone annotation, (first part, parts)
    for an instance group whose parts share a class (parts of different classes go alone)."""
    members: dict[str, list[Any]] = {}
    for ann in items:
        gid = ctx.group_id(ann)
        if gid is not None:
            members.setdefault(gid, []).append(ann)
    out: list[tuple[Any, list[Any]]] = []
    done: set[str] = set()
    for ann in items:
        gid = ctx.group_id(ann)
        parts = members.get(gid or "", [])
        if gid is None or len(parts) < 2:
            out.append((ann, []))
        elif len({ctx.classes.resolve(p.class_id) for p in parts}) > 1:
            ctx.converted(asset, ann, "its instance group has parts of different classes: written as an instance of its own")
            out.append((ann, []))
        elif gid not in done:
            done.add(gid)
            out.append((ann, parts))
    return out


def _group_segment(ctx: ExportContext, asset: Asset, parts: list[Any], w: int, h: int, holes: str,
                   kp_names: list[str], fixed: bool, counts: dict[str, int]) -> dict[str, Any] | None:
    """ONE COCO instance of an instance group's parts: a multi-polygon segmentation (RLE where a
    part is a mask or has holes), the union's box and area, the keypoints of its points part. The
    exact parts go under ``labeldesk_parts`` (labeldesk reads the group back from them)."""
    import shapely
    from shapely.geometry import Polygon as SPolygon
    points = [p for p in parts if isinstance(p.geometry, Points)]
    lines = [p for p in parts if isinstance(p.geometry, Polyline)]
    areas = [p for p in parts if not isinstance(p.geometry, (Points, Polyline))]
    for p in lines:
        ctx.skip(asset, p, "COCO cannot hold a polyline (part of an instance group)")
    for p in points[1:]:
        ctx.skip(asset, p, "a COCO instance holds one set of keypoints: a second points part of the group")
    if not areas and not points:
        return None
    rec: dict[str, Any] = {"iscrowd": 0}
    if areas:
        polys: list[Polygon] = []
        rle = False
        for p in areas:
            g = p.geometry
            if isinstance(g, Box):
                x0, y0, x1, y1 = g.bounds()
                polys.append(Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]))
            elif isinstance(g, (RotatedBox, Ellipse)):
                ctx.converted(asset, p, f"{g.kind} written as a polygon (COCO has no {g.kind})")
                polys.append(Polygon(g.corners() if isinstance(g, RotatedBox) else g.outline(64)))
            elif isinstance(g, Polygon):
                polys.append(g)
                rle = rle or (bool(g.holes) and holes == "rle")
                if g.holes and holes == "rings":
                    ctx.converted(asset, p, "polygon with holes written as rings (option polygon_holes=rings): "
                                            "COCO readers fill the holes")
            else:
                rle = True
        if rle or any(isinstance(p.geometry, Mask) for p in areas):
            counts["holes"] += sum(1 for g in polys if g.holes)
            full = np.zeros((h, w), bool)
            for g in polys:
                full |= _rasterised(g, w, h).paste(w, h) if g.holes else _ring_pixels(g, w, h)
            for p in areas:
                if isinstance(p.geometry, Mask):
                    full |= p.geometry.paste(w, h)
            if not full.any():
                return None
            m = Mask.from_array(full)
            rec.update(bbox=[m.x, m.y, m.width, m.height], area=m.area(), segmentation=mask_to_rle(m, w, h))
        else:
            union = shapely.union_all([SPolygon(g.shell, g.holes) for g in polys])
            x0, y0, x1, y1 = (float(v) for v in union.bounds)
            rec.update(bbox=_bbox(x0, y0, x1, y1), area=float(union.area),
                       segmentation=[flat(r) for g in polys for r in (g.shell, *g.holes)])
    if points:
        kp = _keypoint_record(ctx, asset, points[0], points[0].geometry, kp_names, fixed)
        if kp is not None:
            rec["keypoints"], rec["num_keypoints"] = kp["keypoints"], kp["num_keypoints"]
            if not areas:
                rec.update({k: kp[k] for k in ("bbox", "area", "segmentation")})
    written = _written(parts)
    rec["labeldesk_parts"] = [p.geometry.to_dict() for p in written]
    if any(p.attributes != parts[0].attributes for p in written):     # the instance has the first part's
        rec["labeldesk_part_attributes"] = [dict(p.attributes) for p in written]
    return rec


def _written(parts: list[Any]) -> list[Any]:
    """The parts of a group a COCO instance holds: every area part and the first points part."""
    points = [p for p in parts if isinstance(p.geometry, Points)]
    return [p for p in parts if not isinstance(p.geometry, (Points, Polyline))] + points[:1]


def _ring_pixels(g: Polygon, w: int, h: int) -> Any:
    import warnings

    from pycocotools import mask as cmask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cmask.decode(cmask.merge(cmask.frPyObjects([flat(g.shell)], h, w))).astype(bool)


def _rasterised(g: Polygon, w: int, h: int) -> Mask:
    """A polygon with holes as a mask, rasterised by pycocotools (its pixel-edge convention)."""
    import warnings

    from pycocotools import mask as cmask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        shell = cmask.decode(cmask.merge(cmask.frPyObjects([flat(g.shell)], h, w))).astype(bool)
        for hole in g.holes:
            shell &= ~cmask.decode(cmask.merge(cmask.frPyObjects([flat(hole)], h, w))).astype(bool)
    return Mask.from_array(shell)


def _keypoint_record(ctx: ExportContext, asset: Asset, ann: Any, g: Points, names: list[str],
                     fixed: bool) -> dict[str, Any] | None:
    x0, y0, x1, y1 = g.bounds()
    box = {"bbox": _bbox(x0, y0, x1, y1), "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0,
           "segmentation": _rect(x0, y0, x1, y1)}
    vis = list(g.visibility) or [2] * len(g.points)
    if not g.labels:
        if fixed and len(g.points) != len(names):
            ctx.converted(asset, ann, f"{len(g.points)} unnamed points for a class with {len(names)} keypoint "
                                      "names: written in order")
        kp = [v for p, vv in zip(g.points, vis) for v in (p[0], p[1], vv)]
        kp += [0, 0, 0] * max(0, len(names) - len(g.points)) if fixed else []
        return {**box, "keypoints": kp, "num_keypoints": len(g.points)}
    labels = list(g.labels)
    if len(set(labels)) != len(labels):
        ctx.converted(asset, ann, "repeated keypoint labels: only the first point of each label is written")
    unknown = [lab for lab in labels if lab not in names]
    if unknown and fixed:
        ctx.converted(asset, ann, f"keypoint(s) {', '.join(unknown)} are not among the class's keypoint names: "
                                  "not written")
    elif unknown:
        names.extend(dict.fromkeys(unknown))
    at: dict[str, tuple[Any, int]] = {}
    for p, lab, v in zip(g.points, labels, vis):
        at.setdefault(lab, (p, v))
    kp: list[float] = []
    for n in names:
        hit = at.get(n)
        kp += [hit[0][0], hit[0][1], hit[1]] if hit is not None else [0, 0, 0]
    return {**box, "keypoints": kp, "num_keypoints": sum(1 for n in names if n in at)}
