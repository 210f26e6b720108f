"""CVAT XML 1.1 writing (see :mod:`labeldesk.core.formats.cvat` for the format and the mapping),
and the decimal codec both directions share: rotations and rotated-box ends are written as the
shortest decimals that read back to our floats exactly."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext
from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree as ET

from labeldesk.core.formats.archive import OutputTree
from labeldesk.core.formats.dataset import close_sources, file_name, image_mode, write_image
from labeldesk.core.formats.floats import number
from labeldesk.core.formats.matching import extent, item_name
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.model import Asset, Plane

OUTPUT_TYPES = {"enum": "select", "multi": "text", "bool": "checkbox", "number": "number", "text": "text"}


# ---- exact decimals ----------------------------------------------------------------------------
def _angle(rotation: Decimal) -> float:
    """CVAT rotation (clockwise on screen) -> our angle (counter-clockwise, in (-180, 180]).
    Decimal arithmetic: the text we write reads back to our float exactly."""
    with localcontext() as c:
        c.prec = 120
        r = rotation % 360
        r = r + 360 if r < 0 else r
        if r > 180:
            return float(Decimal(360) - r)
        return 180.0 if r == 180 else float(-r)


def _shortest(exact: Decimal, ok: Any) -> str:
    """The fewest decimals of ``exact`` that ``ok`` accepts (the exact expansion at worst)."""
    for n in range(0, 60):
        text = f"{exact:.{n}f}"
        if ok(text):
            return text
    return str(exact)


def _rotation(angle: float) -> str:
    """Text of the CVAT rotation for our angle (reads back through :func:`_angle` exactly)."""
    a = angle if -180 < angle <= 180 else (angle + 180.0) % 360.0 - 180.0
    with localcontext() as c:
        c.prec = 120
        exact = Decimal(360) - Decimal(a) if 0 < a < 180 else (Decimal(180) if a in (180, -180) else -Decimal(a))
        return _shortest(exact, lambda t: _angle(Decimal(t)) == a)


def _read_span(lo: Decimal, hi: Decimal) -> tuple[float, float]:
    """(centre, size) of an interval given by its ends, computed exactly, rounded once."""
    with localcontext() as c:
        c.prec = 120
        return float((lo + hi) / 2), float(hi - lo)


def _span(c: float, size: float) -> tuple[str, str]:
    """Texts of the ends of an interval of centre ``c`` and ``size`` that read back exactly."""
    with localcontext() as ctx:
        ctx.prec = 120
        lo, hi = Decimal(c) - Decimal(size) / 2, Decimal(c) + Decimal(size) / 2
        for n in range(0, 60):
            t_lo, t_hi = f"{lo:.{n}f}", f"{hi:.{n}f}"
            if _read_span(Decimal(t_lo), Decimal(t_hi)) == (c, size):
                return t_lo, t_hi
        return str(lo), str(hi)


# ---- writing -----------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _pts(points: Any) -> str:
    return ";".join(f"{number(x)},{number(y)}" for x, y in points)


def _shape_attrs(ctx: ExportContext, asset: Asset, ann: Any) -> tuple[str, dict[str, str]] | None:
    g = ann.geometry
    kind = g.kind
    if kind == "box":
        return "box", {"xtl": number(g.x0), "ytl": number(g.y0), "xbr": number(g.x1), "ybr": number(g.y1)}
    if kind == "rotated_box":
        x0, x1 = _span(g.cx, g.w)
        y0, y1 = _span(g.cy, g.h)
        return "box", {"xtl": x0, "ytl": y0, "xbr": x1, "ybr": y1, "rotation": _rotation(g.angle)}
    if kind == "ellipse":
        out = {"cx": number(g.cx), "cy": number(g.cy), "rx": number(g.rx), "ry": number(g.ry)}
        if g.angle:
            out["rotation"] = _rotation(g.angle)
        return "ellipse", out
    if kind == "polygon":
        if g.holes:
            ctx.converted(asset, ann, f"{len(g.holes)} hole(s) dropped: CVAT polygons have no holes")
        return "polygon", {"points": _pts(g.shell)}
    if kind == "polyline":
        return "polyline", {"points": _pts(g.points)}
    if kind == "points":
        if g.labels:
            ctx.converted(asset, ann, "point labels dropped: CVAT points have none")
        return "points", {"points": _pts(g.points)}
    if kind == "mask":
        return "mask", {"rle": ", ".join(str(c) for c in g.counts), "left": str(g.x), "top": str(g.y),
                        "width": str(g.width), "height": str(g.height)}
    ctx.skip(asset, ann, f"CVAT has no {kind} shape")
    return None


# An annotation without a class: written with an empty label (CVAT readers and labeldesk read it
# back as an unlabelled shape) instead of being left out.
NO_CLASS = SimpleNamespace(name="", attributes=())


def _shape(parent: ET.Element, ctx: ExportContext, asset: Asset, ann: Any, entry: Any,
           extra: dict[str, str]) -> bool:
    made = _shape_attrs(ctx, asset, ann)
    if made is None:
        return False
    tag, geo = made
    attrs = {} if "frame" in extra else {"label": entry.name}       # a track's shapes take its label
    attrs.update({"source": "manual", "occluded": "1" if ann.attributes.get("occluded") is True else "0",
                  **extra, **geo})
    if ann.z_order:
        attrs["z_order"] = number(ann.z_order)
    group = ctx.group_number(ann)
    if group is not None and "frame" not in extra:     # an instance group: CVAT's group_id (1, 2, ...)
        attrs["group_id"] = str(group)
    el = ET.SubElement(parent, tag, attrs)
    for d in entry.attributes:
        value = ann.attributes.get(d["key"])
        if value is not None:
            ET.SubElement(el, "attribute", {"name": d["key"]}).text = _text(value)
    ctx.report.count(ann.geometry.kind)
    return True


def _meta(root: ET.Element, ctx: ExportContext, name: str, size: int, mode: str, video: Asset | None) -> None:
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    ET.SubElement(task, "name").text = name
    ET.SubElement(task, "size").text = str(size)
    ET.SubElement(task, "mode").text = mode
    labels = ET.SubElement(task, "labels")
    for entry in ctx.classes:
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = entry.name
        ET.SubElement(label, "color").text = entry.color
        ET.SubElement(label, "type").text = "any"
        attributes = ET.SubElement(label, "attributes")
        for d in entry.attributes:
            a = ET.SubElement(attributes, "attribute")
            ET.SubElement(a, "name").text = d["key"]
            ET.SubElement(a, "mutable").text = "True"
            ET.SubElement(a, "input_type").text = OUTPUT_TYPES.get(d["type"], "text")
            options = list(d.get("options") or [])
            ET.SubElement(a, "default_value").text = {"enum": options[0] if options else "", "bool": "false",
                                                      "number": number(d.get("min") or 0)}.get(d["type"], "")
            ET.SubElement(a, "values").text = "\n".join(options) if d["type"] == "enum" else \
                ("false\ntrue" if d["type"] == "bool" else "")
    if video is not None:
        size_el = ET.SubElement(task, "original_size")
        ET.SubElement(size_el, "width").text = str(video.width)
        ET.SubElement(size_el, "height").text = str(video.height)
        ET.SubElement(task, "source").text = video.name
    ET.SubElement(meta, "dumped").text = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _tag(parent: ET.Element, ctx: ExportContext, c: dict[str, Any], extra: dict[str, str]) -> None:
    entry = ctx.classes.resolve(c["class_id"])
    if entry is not None:
        ET.SubElement(parent, "tag", {"label": entry.name, "source": "manual", **extra})
        ctx.report.count("classification")


def _images_document(ctx: ExportContext, assets: list[Asset], out: OutputTree) -> ET.Element:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    items: list[tuple[Asset, Plane | None, list[Any], list[dict[str, Any]]]] = []
    for asset in assets:
        tags = ctx.classifications(asset)
        planes = dict(ctx.planes(asset))
        flat = asset.kind in ("image", "pyramid") and asset.frames == 1
        if flat:
            items.append((asset, Plane(), planes.get(Plane(), []), tags))
            continue
        asset_tags = [c for c in tags if c["scope"] == "asset"]
        if asset_tags:
            items.append((asset, None, [], asset_tags))
        for c in tags:
            if c["scope"] == "plane":
                planes.setdefault(Plane(c["plane_z"], c["plane_t"], c["plane_axis"]), [])
        for plane in sorted(planes):
            here = [c for c in tags if c["scope"] == "plane" and
                    Plane(c["plane_z"], c["plane_t"], c["plane_axis"]) == plane]
            items.append((asset, plane, planes[plane], here))
    _meta(root, ctx, ctx.project.name, len(items), "annotation", None)
    mode = image_mode(ctx)
    sources: dict[Any, Any] = {}
    try:
        _image_elements(ctx, root, items, mode, sources, out)
    finally:
        close_sources(sources)
    return root


def _image_elements(ctx: ExportContext, root: ET.Element, items: list[Any], mode: str | None,
                    sources: dict[Any, Any], out: OutputTree) -> None:
    for i, (asset, plane, anns, tags) in enumerate(items):
        w, h, _ = extent(asset, plane or Plane())
        name = asset.name if plane is None else item_name(asset, plane)
        if mode and plane is not None:      # CVAT for images with its images/ folder
            name = file_name(asset, plane, mode)
            write_image(ctx, out, asset, plane, "images", name, mode, sources)
        image = ET.SubElement(root, "image", {"id": str(i), "name": name, "width": str(w), "height": str(h)})
        for ann in anns:
            if ann.class_id is None and not ctx.selection.classes:
                _shape(image, ctx, asset, ann, NO_CLASS, {})      # kept: read back without a class
                continue
            entry = ctx.entry(asset, ann)
            if entry is not None:
                _shape(image, ctx, asset, ann, entry, {})
        for c in tags:
            _tag(image, ctx, c, {})


def _video_document(ctx: ExportContext, asset: Asset) -> ET.Element:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    _meta(root, ctx, asset.name, asset.frames, "interpolation", asset)
    groups: dict[str, list[Any]] = {}
    for ann in ctx.annotations(asset):
        groups.setdefault(ann.track_id or f"single:{ann.id}", []).append(ann)
    n = 0
    for key in sorted(groups, key=lambda k: (min(a.plane.t for a in groups[k]), k)):
        members = sorted(groups[key], key=lambda a: a.plane.t)
        first = next((a for a in members if a.keyframe), members[0])
        entry = NO_CLASS if first.class_id is None and not ctx.selection.classes else ctx.entry(asset, first)
        if entry is None:
            continue
        if entry is not NO_CLASS and any(ctx.classes.resolve(a.class_id) != entry for a in members):
            ctx.converted(asset, first, f"track members have different classes: written as {entry.name!r}")
        track = ET.SubElement(root, "track", {"id": str(n), "label": entry.name, "source": "manual"})
        n += 1
        last = members[-1].plane.t
        for k, ann in enumerate(members):
            key_flag = "1" if (ann.keyframe or ann is members[0] or ann is members[-1]) else "0"
            if k and ann.plane.t > members[k - 1].plane.t + 1:       # it left the view and came back
                _outside(track, ctx, asset, members[k - 1])
                key_flag = "1"
            _shape(track, ctx, asset, ann, entry, {"frame": str(ann.plane.t), "outside": "0", "keyframe": key_flag})
        if last + 1 < asset.frames:
            _outside(track, ctx, asset, members[-1])
    grouped = {ctx.group_number(a) for ms in groups.values() for a in ms} - {None}
    if grouped:          # CVAT for video has no group_id on tracks: say so, do not drop silently
        ctx.report.note(asset.name, f"{len(grouped)} instance group(s) not kept: CVAT for video has no "
                                    "instance groups (their parts are written as separate tracks)")
    for c in ctx.classifications(asset):
        _tag(root, ctx, c, {"frame": str(c["plane_t"])} if c["scope"] == "plane" else {})
    return root


def _outside(track: ET.Element, ctx: ExportContext, asset: Asset, before: Any) -> None:
    """The frame after ``before`` marked outside (the object is not in view from there)."""
    made = _shape_attrs(ctx, asset, before)
    if made is not None:
        ET.SubElement(track, made[0], {"source": "manual", "occluded": "0", "frame": str(before.plane.t + 1),
                                       "outside": "1", "keyframe": "1", **made[1]})


def _bytes(root: ET.Element) -> bytes:
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def export_cvat(ctx: ExportContext, out: OutputTree) -> None:
    assets = list(ctx.each_asset())
    videos = [a for a in assets if a.kind == "video"]
    others = [a for a in assets if a.kind != "video"]
    docs: list[tuple[str, ET.Element]] = []
    if others:
        docs.append(("annotations.xml", _images_document(ctx, others, out)))
    for v in videos:
        ctx.progress.check()
        docs.append((f"videos/{v.name}.xml", _video_document(ctx, v)))
    if len(docs) == 1:
        docs = [("annotations.xml", docs[0][1])]
    for name, root in docs:
        out.write(name, _bytes(root))
