"""Pascal VOC XML: one ``Annotations/<image stem>.xml`` per image, axis-aligned boxes.

VOC boxes are 1-based and inclusive: the pixel-edge box ``[x0, x1)`` of ``image_xy`` is written
as ``xmin = x0 + 1``, ``xmax = x1`` (and read back the same way). That is exact for every coordinate of 1 px or more; below 1 px
``x0 + 1`` cannot keep every bit and the error is at most 2.2e-16 px.
``<filename>`` names the image (our plane names for video frames and slices); ``truncated``,
``difficult``, ``occluded`` and ``pose`` are the class's attributes of those names where it has
them, and every attribute is also written in CVAT's ``<attributes>`` block. Shapes other than
boxes are written as their bounding box (noted); points and polylines are not written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.floats import number, offset_for
from labeldesk.core.formats.matching import extent, item_name, strip_suffix
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Points, Polyline

STANDARD = ("pose", "truncated", "difficult", "occluded")


# ---- import ------------------------------------------------------------------------------------
def _text(el: ET.Element | None, tag: str) -> str | None:
    if el is None:
        return None
    child = el.find(tag)
    return child.text.strip() if child is not None and child.text is not None else None


def import_voc(ctx: ImportContext, path: Path) -> None:
    with InputTree(path, ctx.report) as tree:
        files = tree.names(".xml")
        for n, member in enumerate(files):
            ctx.progress.report(n, len(files), f"reading {member}")
            try:
                root = tree.xml(member)
            except InputError as exc:
                if tree.is_single_file:
                    raise
                ctx.report.refuse(exc.path or member, exc.problem + "; the file was skipped")
                continue
            where = tree.location(member)
            if root.tag != "annotation":
                ctx.report.refuse(where, f"not a VOC file (the root element is <{root.tag}>)")
                continue
            _read_file(ctx, root, where, member)


def _target(ctx: ImportContext, root: ET.Element, member: str) -> Any:
    filename = _text(root, "filename") or ""
    found = ctx.index_find(filename) if filename else "no <filename>"
    if isinstance(found, str):
        parts = member.split("/")
        if "Annotations" in parts:
            parts = parts[len(parts) - parts[::-1].index("Annotations"):]
        alt = ctx.index_find(strip_suffix("/".join(parts)), ignore_suffix=True)
        if not isinstance(alt, str):
            return alt
    return found


def _read_file(ctx: ImportContext, root: ET.Element, where: str, member: str) -> None:
    found = _target(ctx, root, member)
    objects = root.findall("object")
    if isinstance(found, str):
        ctx.report.refuse(where, found + (f"; its {len(objects)} object(s) were not imported" if objects else ""))
        return
    asset, plane = found
    w, h, _ = extent(asset, plane)
    size = root.find("size")
    if size is not None and (_text(size, "width"), _text(size, "height")) not in ((str(w), str(h)), (None, None)):
        ctx.report.note(where, f"<size> says {_text(size, 'width')}x{_text(size, 'height')}, the asset is {w}x{h}: "
                               "coordinates taken as they are")
    for i, obj in enumerate(objects):
        loc = f"{where}: object[{i}]" + (f" ({_text(obj, 'name')})" if _text(obj, "name") else "")
        box = obj.find("bndbox")
        try:
            if box is None:
                raise ValueError("no <bndbox>")
            vals = [_text(box, t) for t in ("xmin", "ymin", "xmax", "ymax")]
            if any(v is None for v in vals):
                raise ValueError("<bndbox> needs xmin, ymin, xmax and ymax")
            xmin, ymin, xmax, ymax = (float(v) for v in vals)  # type: ignore[arg-type]
        except ValueError as exc:
            ctx.report.refuse(loc, f"bad box: {exc}")
            continue
        cls = ctx.class_for(_text(obj, "name"), loc)
        if cls is None:
            continue
        ctx.annotation(loc, asset, plane, {"kind": "box", "xyxy": [xmin - 1, ymin - 1, xmax, ymax]}, cls,
                       _attributes(obj, cls))


def _attributes(obj: ET.Element, cls: Any) -> dict[str, Any]:
    keys = {d["key"] for d in cls.attributes}
    out: dict[str, Any] = {}
    for tag in STANDARD:
        value = _text(obj, tag)
        if tag in keys and value is not None and value not in ("Unspecified", "0", ""):   # not the defaults
            out[tag] = value
    block = obj.find("attributes")
    if block is not None:
        for a in block.findall("attribute"):
            name = _text(a, "name")
            if name:
                out[name] = _text(a, "value") or ""
    return out


# ---- export ------------------------------------------------------------------------------------
def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return number(v)
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def export_voc(ctx: ExportContext, out: Any) -> None:
    for asset in ctx.each_asset():
        for plane, items in ctx.export_planes(asset):
            name = item_name(asset, plane)
            member = f"Annotations/{strip_suffix(name)}.xml"
            if not ctx.claim(asset, member):
                continue
            w, h, _ = extent(asset, plane)
            root = ET.Element("annotation")
            _sub(root, "folder", "")
            _sub(root, "filename", name)
            _sub(_sub(root, "source"), "database", "labeldesk")
            size = _sub(root, "size")
            for tag, v in (("width", w), ("height", h), ("depth", asset.channels)):
                _sub(size, tag, str(v))
            _sub(root, "segmented", "0")
            for ann in items:
                entry = ctx.entry(asset, ann)
                if entry is None:
                    continue
                g = ann.geometry
                if isinstance(g, (Points, Polyline)):
                    ctx.skip(asset, ann, f"VOC cannot hold a {g.kind}")
                    continue
                if g.kind != "box":
                    ctx.converted(asset, ann, f"{g.kind} written as its bounding box")
                _object(root, entry.name, g.bounds(), ann.attributes)
                ctx.report.count(g.kind)
            ET.indent(root)
            out.write(member, ET.tostring(root, encoding="unicode") + "\n")


def _object(root: ET.Element, name: str, bounds: tuple[float, float, float, float], attrs: dict[str, Any]) -> None:
    x0, y0, x1, y1 = bounds
    obj = _sub(root, "object")
    _sub(obj, "name", name)
    _sub(obj, "pose", _value(attrs.get("pose", "Unspecified")))
    for tag in ("truncated", "difficult", "occluded"):
        v = attrs.get(tag)
        _sub(obj, tag, "1" if v in (True, 1, "1", "true") else "0")
    box = _sub(obj, "bndbox")
    for tag, v in (("xmin", offset_for(x0, 1)), ("ymin", offset_for(y0, 1)), ("xmax", x1), ("ymax", y1)):
        _sub(box, tag, number(v))
    if attrs:
        block = _sub(obj, "attributes")
        for k, v in attrs.items():
            a = _sub(block, "attribute")
            _sub(a, "name", k)
            _sub(a, "value", _value(v))
