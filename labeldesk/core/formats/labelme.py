"""labelme JSON: one file per image with ``shapes`` (written from the format's description; labelme
itself is GPL and none of its code is used).

Shape types: ``rectangle`` (two corners) <-> box, ``polygon`` <-> polygon (labelme has no holes:
they are left out, with a note), ``circle`` (centre and a point on the circle) <-> ellipse with equal
radii, ``line`` / ``linestrip`` <-> polyline, ``point`` <-> points, ``mask`` (two inclusive corner
pixels and a base64 PNG of that box) <-> mask; ``rotation`` (X-AnyLabeling's four corners) is read
as a rotated box. A points annotation with several points is written as ``point`` shapes sharing a
``group_id``, which are read back as one annotation; keypoint names go in ``point_label``. Other
shapes sharing a ``group_id`` are one instance in parts: an instance group (labeldesk.core.groups),
written back with one ``group_id`` per group. Boolean
attributes are labelme ``flags``; all attributes also go in an ``attributes`` object.

Coordinates are written as they are, so shapes come back bit for bit; a circle's radius is stored
as the distance to a point on it, exact where ``cx + r`` keeps every bit of ``r`` (otherwise within
an ulp of ``cx``, about 1e-14 px). ``imagePath`` is relative to the JSON file; ``imageData`` is not written (null).
"""
from __future__ import annotations

import base64
import io
import json
import math
import posixpath
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import MAX_VERTICES, ImportContext
from labeldesk.core.formats.floats import offset_for
from labeldesk.core.formats.matching import extent, item_name, strip_suffix
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.formats.yolo import rotated_from_corners
from labeldesk.core.groups import GROUP_KEY, GroupIds
from labeldesk.core.geometry import Box, Ellipse, Mask, Points, Polygon, Polyline, RotatedBox
from labeldesk.core.model import Plane

VERSION = "5.5.0"


# ---- masks -------------------------------------------------------------------------------------
def png_b64(arr: np.ndarray) -> str:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8) * 255).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def png_array(text: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """The bool pixels of a base64 PNG mask; with ``size`` (width, height) its header must say that
    size, checked before anything is decoded (a PNG bomb inflates to gigabytes)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as im:
            if size is not None and tuple(im.size) != tuple(size):
                raise ValueError(f"mask of the wrong shape: the PNG is {im.size[0]}x{im.size[1]}, its box is "
                                 f"{size[0]}x{size[1]}")
            arr = np.asarray(im)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"the mask PNG is refused: {exc}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"the mask is not a base64 PNG ({exc})") from None
    except ValueError as exc:
        if "wrong shape" in str(exc):
            raise
        raise ValueError(f"the mask is not a base64 PNG ({exc})") from None
    return arr.any(axis=2) if arr.ndim == 3 else arr.astype(bool)


# ---- import ------------------------------------------------------------------------------------
def points_array(pts: list[Any]) -> np.ndarray | None:
    """``pts`` as an (n, 2) float64 array when it is n pairs of numbers (ints or floats, as JSON
    gives them), else None (strings, nulls, other lengths: the reader's own checks say what)."""
    try:
        arr = np.array(pts)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "fiu":
        return None
    return arr.astype(np.float64, copy=False)


_POLYGON = (None, "", "polygon")              # shape_type values read as a polygon


def shape_reader() -> Any:
    """What each item of a file's ``shapes`` becomes as it is decoded (formats/json_items.py):
    a polygon with its points as one float64 array (≈ 0.6 KB for 32 vertices instead of ≈ 4 KB
    of lists of Python floats); any other item as it is."""
    def shape(s: Any) -> Any:
        if type(s) is not dict:
            return s
        pts = s.get("points")
        if type(pts) is list and pts and s.get("shape_type") in _POLYGON:   # (other shapes have a few points)
            arr = points_array(pts)
            if arr is not None:
                s["points"] = arr
        return s
    return shape


def import_labelme(ctx: ImportContext, path: Path) -> None:
    with InputTree(path, ctx.report) as tree:
        files = tree.names(".json")
        if not files:
            raise InputError(path, "no .json file in it")
        for n, member in enumerate(files):
            ctx.progress.report(n, len(files), f"reading {member}")
            try:
                doc = tree.json(member, {"shapes": shape_reader()})
            except InputError as exc:
                if tree.is_single_file:
                    raise
                ctx.report.refuse(exc.path or member, exc.problem + "; the file was skipped")
                continue
            where = tree.location(member)
            if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
                ctx.report.refuse(where, "not a labelme file (no 'shapes' list)")
                continue
            _read_file(ctx, doc, where, member)


def _target(ctx: ImportContext, doc: dict[str, Any], member: str) -> Any:
    folder = posixpath.dirname(member)
    image_path = str(doc.get("imagePath") or "").replace("\\", "/")
    found: Any = "no imagePath"
    if image_path:
        ref = posixpath.normpath(posixpath.join(folder, image_path)) if not image_path.startswith("/") else image_path
        while ref.startswith("../"):
            ref = ref[3:]
        found = ctx.index_find(ref)
    if isinstance(found, str):
        alt = ctx.index_find(strip_suffix(member), ignore_suffix=True)
        if not isinstance(alt, str):
            return alt
    return found


def _read_file(ctx: ImportContext, doc: dict[str, Any], where: str, member: str) -> None:
    shapes = doc["shapes"]
    found = _target(ctx, doc, member)
    if isinstance(found, str):
        ctx.report.refuse(where, found + (f"; its {len(shapes)} shape(s) were not imported" if shapes else ""))
        return
    asset, plane = found
    w, h, _ = extent(asset, plane)
    if (doc.get("imageWidth"), doc.get("imageHeight")) not in ((w, h), (None, None)):
        ctx.report.note(where, f"the file says {doc.get('imageWidth')}x{doc.get('imageHeight')}, the asset is "
                               f"{w}x{h}: coordinates taken as they are")
    groups: dict[tuple[Any, Any], tuple[str, list[Any], list[str], Any]] = {}
    pending: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    group_ids = GroupIds()
    for i, s in enumerate(shapes):
        loc = f"{where}: shapes[{i}]"
        if not isinstance(s, dict):
            ctx.report.refuse(loc, "not an object")
            continue
        loc += f" ({s.get('label')})" if s.get("label") else ""
        kind = str(s.get("shape_type") or "polygon")
        try:
            raw = s.get("points")
            if type(raw) is np.ndarray:             # n pairs of numbers (shape_reader)
                pts: Any = raw if kind == "polygon" else [tuple(p) for p in raw.tolist()]
            else:
                pts = [(float(p[0]), float(p[1])) for p in raw or []]
            gid = s.get("group_id")
            if kind == "point" and isinstance(gid, (int, str)) and len(pts) == 1:
                key = (str(s.get("label")), gid)
                first = groups.setdefault(key, (loc, [], [], s))
                first[1].append(list(pts[0]))
                first[2].append(str(s.get("point_label") or ""))
                continue
            if len(pts) > MAX_VERTICES:
                raise ValueError(f"{len(pts)} points, more than the {MAX_VERTICES} an import accepts")
            geometry = _geometry(kind, pts, s, (w, h))
        except (ValueError, TypeError, IndexError) as exc:
            ctx.report.refuse(loc, f"bad {kind}: {exc}")
            continue
        pending.append((loc, geometry, s))
    for loc, pts, labels, s in groups.values():
        g: dict[str, Any] = {"kind": "points", "points": pts}
        if any(labels):
            g["labels"] = labels
        pending.append((loc, g, s))
    # group_id shared by two or more annotations: one instance in parts (an instance group);
    # point shapes of one label sharing a group_id are one points annotation (above)
    uses: dict[str, int] = {}
    for _, _, s in pending:
        if s.get("group_id") is not None:
            uses[str(s["group_id"])] = uses.get(str(s["group_id"]), 0) + 1
    for loc, g, s in pending:
        gid = s.get("group_id")
        group = group_ids.attributes(member, gid).get(GROUP_KEY) if gid is not None and uses[str(gid)] > 1 else None
        _add(ctx, loc, asset, plane, g, s, group)


def _add(ctx: ImportContext, loc: str, asset: Any, plane: Plane, geometry: dict[str, Any], s: dict[str, Any],
         group: str | None = None) -> None:
    cls = ctx.class_for(s.get("label"), loc)
    if cls is None:
        return
    attrs: dict[str, Any] = {}
    keys = {d["key"] for d in cls.attributes}
    flags = s.get("flags") if isinstance(s.get("flags"), dict) else {}
    attrs.update({k: v for k, v in flags.items() if k in keys})
    if isinstance(s.get("attributes"), dict):
        attrs.update(s["attributes"])
    ctx.annotation(loc, asset, plane, geometry, cls, attrs, group=group)


def _geometry(kind: str, pts: Any, s: dict[str, Any],
              limit: tuple[int, int] | None = None) -> dict[str, Any]:
    def need(n: int, exact: bool = True) -> None:
        if (len(pts) != n) if exact else (len(pts) < n):
            raise ValueError(f"{'exactly' if exact else 'at least'} {n} point(s) needed, got {len(pts)}")

    if kind == "rectangle":
        need(2)
        (x0, y0), (x1, y1) = pts
        return {"kind": "box", "xyxy": [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]}
    if kind == "polygon":
        need(3, exact=False)
        return {"kind": "polygon", "shell": pts if type(pts) is np.ndarray else [list(p) for p in pts]}
    if kind == "circle":
        need(2)
        (cx, cy), (px, py) = pts
        r = math.hypot(px - cx, py - cy)
        return {"kind": "ellipse", "cxcyrxrya": [cx, cy, r, r, 0.0]}
    if kind in ("line", "linestrip"):
        need(2, exact=kind == "line")
        return {"kind": "polyline", "points": [list(p) for p in pts]}
    if kind in ("point", "points"):
        need(1, exact=kind == "point")
        g: dict[str, Any] = {"kind": "points", "points": [list(p) for p in pts]}
        if kind == "point" and s.get("point_label"):
            g["labels"] = [str(s["point_label"])]
        return g
    if kind == "rotation":
        need(4)
        return rotated_from_corners(pts)
    if kind == "mask":
        need(2)
        (x0, y0), (x1, y1) = ((int(round(x)), int(round(y))) for x, y in pts)
        want = (y1 - y0 + 1, x1 - x0 + 1)
        if want[0] <= 0 or want[1] <= 0:
            raise ValueError(f"the mask's box {x0},{y0} - {x1},{y1} is empty")
        if limit is not None and want[0] * want[1] > limit[0] * limit[1]:
            raise ValueError(f"the mask's box ({want[1]}x{want[0]}) is larger than the {limit[0]}x{limit[1]} image")
        arr = png_array(str(s.get("mask") or ""), (want[1], want[0]))
        if arr.shape != want:
            raise ValueError(f"mask of the wrong shape: the PNG is {arr.shape[1]}x{arr.shape[0]}, its box "
                             f"is {want[1]}x{want[0]}")
        if not arr.any():
            raise ValueError("the mask is empty")
        return Mask.from_array(arr, x0, y0).to_dict()
    raise ValueError(f"unknown shape_type {kind!r}")


# ---- export ------------------------------------------------------------------------------------
def _shape(label: str, kind: str, pts: Any, attrs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    s = {"label": label, "points": [[float(x), float(y)] for x, y in pts], "group_id": extra.pop("group_id", None),
         "description": "", "shape_type": kind,
         "flags": {k: v for k, v in attrs.items() if isinstance(v, bool)}, "mask": None}
    if attrs:
        s["attributes"] = attrs
    s.update(extra)
    return s


def _shapes(ctx: ExportContext, asset: Any, ann: Any, label: str) -> list[dict[str, Any]]:
    shapes = _plain_shapes(ctx, asset, ann, label)
    number = ctx.group_number(ann)
    if number is not None:                      # an instance group: its parts share a group_id
        for s in shapes:
            s["group_id"] = number
    return shapes


def _plain_shapes(ctx: ExportContext, asset: Any, ann: Any, label: str) -> list[dict[str, Any]]:
    g, attrs = ann.geometry, dict(ann.attributes)
    if isinstance(g, Box):
        return [_shape(label, "rectangle", [(g.x0, g.y0), (g.x1, g.y1)], attrs)]
    if isinstance(g, Ellipse) and g.rx == g.ry and g.angle == 0:
        return [_shape(label, "circle", [(g.cx, g.cy), (offset_for(g.rx, g.cx), g.cy)], attrs)]
    if isinstance(g, (Ellipse, RotatedBox)):
        ctx.converted(asset, ann, f"{g.kind} written as a polygon (labelme has no {g.kind})")
        g = Polygon(g.outline(64) if isinstance(g, Ellipse) else g.corners())
    if isinstance(g, Polygon):
        if g.holes:
            ctx.converted(asset, ann, f"labelme polygons have no holes: {len(g.holes)} hole(s) left out")
        return [_shape(label, "polygon", g.shell, attrs)]
    if isinstance(g, Polyline):
        return [_shape(label, "line" if len(g.points) == 2 else "linestrip", g.points, attrs)]
    if isinstance(g, Points):
        if len(g.points) == 1:
            extra = {"point_label": g.labels[0]} if g.labels else {}
            return [_shape(label, "point", g.points, attrs, **extra)]
        if ctx.group_number(ann) is not None:
            ctx.converted(asset, ann, "a points annotation in an instance group: its points are written with the "
                                      "group's group_id (a reader joins the group's points of one label)")
        group = ctx.spare_group_number(ann)
        return [_shape(label, "point", [p], attrs, group_id=group,
                       **({"point_label": g.labels[i]} if g.labels else {})) for i, p in enumerate(g.points)]
    if isinstance(g, Mask):
        return [_shape(label, "mask", [(g.x, g.y), (g.x + g.width - 1, g.y + g.height - 1)], attrs,
                       mask=png_b64(g.to_array()))]
    ctx.skip(asset, ann, f"labelme cannot hold a {g.kind}")
    return []


def export_labelme(ctx: ExportContext, out: Any) -> None:
    for asset in ctx.each_asset():
        for plane, items in ctx.export_planes(asset):
            name = item_name(asset, plane)
            member = f"{strip_suffix(name)}.json"
            if not ctx.claim(asset, member):
                continue
            w, h, _ = extent(asset, plane)
            shapes: list[dict[str, Any]] = []
            for ann in items:
                entry = ctx.entry(asset, ann)
                if entry is None:
                    continue
                made = _shapes(ctx, asset, ann, entry.name)
                if made:
                    shapes += made
                    ctx.report.count(ann.geometry.kind)
            doc = {"version": VERSION, "flags": {}, "shapes": shapes, "imagePath": posixpath.basename(name),
                   "imageData": None, "imageHeight": h, "imageWidth": w}
            out.write(member, json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))
