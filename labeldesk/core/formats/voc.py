"""Pascal VOC XML: one ``Annotations/<image stem>.xml`` per image, axis-aligned boxes.

VOC boxes are 1-based and inclusive: the pixel-edge box ``[x0, x1)`` of ``image_xy`` is written
as ``xmin = x0 + 1``, ``xmax = x1`` (and read back the same way). That is exact for every coordinate of 1 px or more; below 1 px
``x0 + 1`` cannot keep every bit and the error is at most 2.2e-16 px.
``<filename>`` names the image (our plane names for video frames and slices); ``truncated``,
``difficult``, ``occluded`` and ``pose`` are the class's attributes of those names where it has
them, and every attribute is also written in CVAT's ``<attributes>`` block. Shapes other than
boxes are written as their bounding box (noted); points and polylines are not written.

Layout (VOC2012, as datumaro and torchvision read it): ``Annotations/``, ``ImageSets/Main/<subset>.txt``
(subsets from option ``split``), ``labelmap.txt`` (datumaro's ``name:r,g,b::``) and, with option
``images``, ``JPEGImages/``.

Import keeps what VOC says about an object: ``truncated``, ``difficult``, ``occluded`` (bool),
``pose`` (text), ``<actions>`` (bool attribute ``action_<name>`` each) and CVAT's ``<attributes>``
- as attributes of a class the import creates, and listed in the report where an existing class
lacks them. An object with ``<part>`` s (a person's head, hands, feet) is an instance group: its box
and a box per part (of the class the part names); an instance group whose one member holds the
others' boxes (and has a class of its own) is written back as that object with its parts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.floats import number, offset_for
from labeldesk.core.formats.matching import extent, strip_suffix
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
        roots = []
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
            roots.append((root, where, member))
        defs = _definitions([r for r, _, _ in roots])
        for root, where, member in roots:
            _read_file(ctx, root, where, member, defs)


def _raw_attributes(obj: ET.Element) -> dict[str, Any]:
    """What a VOC object says about itself, as typed values."""
    out: dict[str, Any] = {}
    for tag in ("truncated", "difficult", "occluded"):
        value = _text(obj, tag)
        if value not in (None, ""):
            out[tag] = value.lower() in ("1", "true", "yes")
    pose = _text(obj, "pose")
    if pose not in (None, "", "Unspecified"):
        out["pose"] = pose
    actions = obj.find("actions")
    if actions is not None:
        for a in actions:
            if a.text is not None and a.text.strip():
                out[f"action_{a.tag}"] = a.text.strip().lower() in ("1", "true", "yes")
    block = obj.find("attributes")
    if block is not None:
        for a in block.findall("attribute"):
            name = _text(a, "name")
            if name:
                out[name] = _text(a, "value") or ""
    return out


def _definitions(roots: list[ET.Element]) -> dict[str, list[dict[str, Any]]]:
    """Attribute definitions per class name, for the classes an import creates."""
    from labeldesk.core.formats.context import attribute_key
    seen: dict[str, dict[str, str]] = {}
    for root in roots:
        for obj in root.findall("object"):
            name = _text(obj, "name") or ""
            keys = seen.setdefault(name, {})
            for key, value in _raw_attributes(obj).items():
                kind = "bool" if isinstance(value, bool) else "text"
                keys[attribute_key(key)] = kind if keys.get(attribute_key(key)) in (None, kind) else "text"
            for tag in ("truncated", "difficult", "occluded"):
                keys.setdefault(tag, "bool")
    return {name: [{"key": k, "type": t} for k, t in keys.items()] for name, keys in seen.items()}


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


def _read_file(ctx: ImportContext, root: ET.Element, where: str, member: str,
               defs: dict[str, list[dict[str, Any]]] | None = None) -> None:
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
        name = _text(obj, "name")
        cls = ctx.class_for(name, loc, (defs or {}).get(name or ""))
        if cls is None:
            continue
        parts = obj.findall("part")
        group = ids.new_id() if parts else None        # the object and its parts: one instance group
        ctx.annotation(loc, asset, plane, {"kind": "box", "xyxy": [xmin - 1, ymin - 1, xmax, ymax]}, cls,
                       _attributes(ctx, obj, cls, loc), group=group)
        for k, part in enumerate(parts):
            _part(ctx, part, f"{loc} part[{k}]", asset, plane, defs, group)


def _part(ctx: ImportContext, part: ET.Element, loc: str, asset: Any, plane: Any,
          defs: dict[str, list[dict[str, Any]]] | None, group: str | None) -> None:
    box = part.find("bndbox")
    try:
        xmin, ymin, xmax, ymax = (float(_text(box, t) or "") for t in ("xmin", "ymin", "xmax", "ymax"))
    except ValueError:
        ctx.report.refuse(loc, "bad part box")
        return
    cls = ctx.class_for(_text(part, "name"), loc, (defs or {}).get(_text(part, "name") or ""))
    if cls is not None:
        ctx.annotation(loc, asset, plane, {"kind": "box", "xyxy": [xmin - 1, ymin - 1, xmax, ymax]}, cls, group=group)


def _attributes(ctx: ImportContext, obj: ET.Element, cls: Any, loc: str) -> dict[str, Any]:
    """The object's attributes the class has; the others listed in the report, never dropped silently."""
    from labeldesk.core.formats.context import attribute_key
    keys = {d["key"] for d in cls.attributes}
    out: dict[str, Any] = {}
    lost = []
    for key, value in _raw_attributes(obj).items():
        if key in keys or attribute_key(key) in keys:
            if value is not False or key not in STANDARD:     # VOC writes 0 for "not said"
                out[key] = value
        elif value not in (False, "", "Unspecified"):
            lost.append(f"{key}={value}")
    if lost:
        ctx.report.note(loc, f"not kept ({', '.join(lost)}): class {cls.name!r} has no such attribute")
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


def _labelmap(ctx: ExportContext) -> str:
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    for e in sorted(ctx.classes, key=lambda e: e.value):
        c = e.color.lstrip("#")
        rgb = ",".join(str(int(c[i:i + 2], 16)) for i in (0, 2, 4)) if len(c) == 6 else ""
        lines.append(f"{e.name.replace(':', '_')}:{rgb}::")
    return "\n".join(lines) + "\n"


def export_voc(ctx: ExportContext, out: Any) -> None:
    from labeldesk.core.formats.dataset import DEFAULT_SUBSET, close_sources, image_mode, subsets
    mode = image_mode(ctx)
    groups = {k: ("train" if v == DEFAULT_SUBSET else v) for k, v in subsets(ctx).items()}
    lists: dict[str, list[str]] = {}
    sources: dict[Any, Any] = {}
    try:
        _write_annotations(ctx, out, mode, groups, lists, sources)
    finally:
        close_sources(sources)
    for subset, ids_ in sorted(lists.items()):
        out.write(f"ImageSets/Main/{subset}.txt", "\n".join(ids_) + "\n")
    out.write("labelmap.txt", _labelmap(ctx))


def _write_annotations(ctx: ExportContext, out: Any, mode: Any, groups: dict[str, str],
                       lists: dict[str, list[str]], sources: dict[Any, Any]) -> None:
    from labeldesk.core.formats.dataset import file_name, write_image
    for asset in ctx.each_asset():
        for plane, items in ctx.export_planes(asset):
            name = file_name(asset, plane, mode)
            member = f"Annotations/{strip_suffix(name)}.xml"
            if not ctx.claim(asset, member):
                continue
            lists.setdefault(groups[asset.id], []).append(strip_suffix(name))
            if mode:
                write_image(ctx, out, asset, plane, "JPEGImages", name, mode, sources)
            w, h, _ = extent(asset, plane)
            root = ET.Element("annotation")
            _sub(root, "folder", "")
            _sub(root, "filename", name)
            _sub(_sub(root, "source"), "database", "labeldesk")
            size = _sub(root, "size")
            for tag, v in (("width", w), ("height", h), ("depth", asset.channels)):
                _sub(size, tag, str(v))
            _sub(root, "segmented", "0")
            hosts, part_of = _layouts(ctx, items)
            for ann in items:
                if ann.id in part_of:
                    continue                    # written inside its object
                entry = ctx.entry(asset, ann)
                if entry is None or not _boxable(ctx, asset, ann):
                    continue
                obj = _object(root, entry.name, ann.geometry.bounds(), ann.attributes)
                ctx.report.count(ann.geometry.kind)
                for part in hosts.get(ann.id, []):
                    pe = ctx.entry(asset, part)
                    if pe is None or not _boxable(ctx, asset, part):
                        continue
                    el = _sub(obj, "part")
                    _sub(el, "name", pe.name)
                    _bndbox(el, part.geometry.bounds())
                    ctx.report.count(part.geometry.kind)
            ET.indent(root)
            out.write(member, ET.tostring(root, encoding="unicode") + "\n")


def _boxable(ctx: ExportContext, asset: Any, ann: Any) -> bool:
    g = ann.geometry
    if isinstance(g, (Points, Polyline)):
        ctx.skip(asset, ann, f"VOC cannot hold a {g.kind}")
        return False
    if g.kind != "box":
        ctx.converted(asset, ann, f"{g.kind} written as its bounding box")
    return True


def _layouts(ctx: ExportContext, items: list[Any]) -> tuple[dict[str, list[Any]], set[str]]:
    """VOC's person layout from instance groups: a group whose one member (of its own class) holds
    every other member's box is an object with ``<part>`` s (host id -> parts; the part ids). Other
    groups are written as separate objects (the export lists them as not kept)."""
    members: dict[str, list[Any]] = {}
    for ann in items:
        gid = ctx.group_id(ann)
        if gid is not None:
            members.setdefault(gid, []).append(ann)
    hosts: dict[str, list[Any]] = {}
    part_of: set[str] = set()
    unkept = 0
    for parts in members.values():
        if len(parts) < 2:
            continue
        host = max(parts, key=lambda a: a.geometry.area() if a.geometry.kind not in ("points", "polyline") else -1)
        x0, y0, x1, y1 = host.geometry.bounds()
        others = [a for a in parts if a is not host]
        inside = all(b[0] >= x0 and b[1] >= y0 and b[2] <= x1 and b[3] <= y1
                     for b in (a.geometry.bounds() for a in others))
        if inside and all(a.class_id != host.class_id for a in others):
            hosts[host.id] = others
            part_of.update(a.id for a in others)
        else:
            unkept += 1
    if unkept:
        ctx.report.note("", f"{unkept} instance group(s) not kept: VOC keeps a group only as an object with parts "
                            "(one member of its own class holding the others' boxes); written as separate objects")
    return hosts, part_of


def _bndbox(parent: ET.Element, bounds: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = bounds
    box = _sub(parent, "bndbox")
    for tag, v in (("xmin", offset_for(x0, 1)), ("ymin", offset_for(y0, 1)), ("xmax", x1), ("ymax", y1)):
        _sub(box, tag, number(v))


def _object(root: ET.Element, name: str, bounds: tuple[float, float, float, float],
            attrs: dict[str, Any]) -> ET.Element:
    obj = _sub(root, "object")
    _sub(obj, "name", name)
    _sub(obj, "pose", _value(attrs.get("pose", "Unspecified")))
    for tag in ("truncated", "difficult", "occluded"):
        v = attrs.get(tag)
        _sub(obj, tag, "1" if v in (True, 1, "1", "true") else "0")
    _bndbox(obj, bounds)
    if attrs:
        block = _sub(obj, "attributes")
        for k, v in attrs.items():
            a = _sub(block, "attribute")
            _sub(a, "name", k)
            _sub(a, "value", _value(v))
    return obj
