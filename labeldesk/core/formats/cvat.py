"""CVAT XML 1.1: "CVAT for images" (shapes and tags per image) and "CVAT for video" (tracks).

Images, pyramids and the planes of volumes go to ``annotations.xml`` as ``<image>`` elements
(planes named like ``ct.nii.gz/axial_0040``, see :mod:`.matching`); each video goes to its own
document with ``<track>`` elements. A track's keyframes are written with ``keyframe="1"``, its
interpolated frames with ``keyframe="0"`` and the frame after its last keyframe with
``outside="1"``; an annotation that is not part of a track becomes a one-frame track. On import the
keyframes are kept and the in-betweens rebuilt by our interpolation; a shape CVAT holds until an
``outside`` frame (or the end of the video) gets a copy of its keyframe at its last frame.

Geometry: ``box`` (with ``rotation``: degrees clockwise on screen; ours is counter-clockwise),
``polygon``, ``polyline``, ``points``, ``ellipse`` and ``mask`` (CVAT's RLE in the mask's box,
background first, row-major: the same as ours). ``<tag>`` is a classification (``frame`` on a
video tag: that frame; no ``frame``: the whole asset). ``occluded`` maps to a boolean class
attribute ``occluded`` when the class has one. Numbers are written so that they read back exactly.
Images named ``frame_000012`` (CVAT for images of a video task) are frames of the task's video.
Instance groups are CVAT's ``group_id`` on shapes of an image (1, 2, ... per export). With option
``images`` the image files go to ``images/<name>`` beside ``annotations.xml`` (CVAT's "with images"
layout, which datumaro requires); planes of videos and volumes are then named with ``.png``.

Reading is here; writing is in :mod:`.cvat_export`.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.cvat_export import _angle, _read_span, export_cvat  # noqa: F401 (registry name)
from labeldesk.core.formats.matching import FRAME_RE, SLICE_RE, extent, strip_suffix
from labeldesk.core.geometry import GeometryError, geometry_from_dict
from labeldesk.core.groups import GROUP_KEY, GroupIds
from labeldesk.core.interpolation import interpolate
from labeldesk.core.model import Asset, Plane

SHAPES = ("box", "polygon", "polyline", "points", "ellipse", "mask")
UNSUPPORTED = ("cuboid", "skeleton")
INPUT_TYPES = {"select": "enum", "radio": "enum", "checkbox": "bool", "number": "number", "text": "text"}


class _Bad(ValueError):
    """One element cannot be read; the message says why."""


# ---- numbers and angles ------------------------------------------------------------------------
def _num(el: ET.Element, name: str) -> float:
    raw = el.get(name)
    if raw is None:
        raise _Bad(f"<{el.tag}> has no {name}")
    try:
        v = float(raw)
    except ValueError:
        raise _Bad(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(v):
        raise _Bad(f"{name}={raw!r} is not finite")
    return v


def _points(el: ET.Element) -> list[list[float]]:
    raw = el.get("points")
    if not raw:
        raise _Bad(f"<{el.tag}> has no points")
    out = []
    for pair in raw.strip().split(";"):
        try:
            x, y = (float(v) for v in pair.split(","))
        except ValueError:
            raise _Bad(f"points: {pair!r} is not x,y") from None
        out.append([x, y])
    return out


def _decimal(el: ET.Element, name: str) -> Decimal:
    _num(el, name)                               # the same checks and messages as other numbers
    return Decimal(str(el.get(name)).strip())


# ---- reading -----------------------------------------------------------------------------------
def _geometry(el: ET.Element) -> dict[str, Any]:
    tag = el.tag
    if tag == "box":
        x0, y0, x1, y1 = (_num(el, k) for k in ("xtl", "ytl", "xbr", "ybr"))
        if el.get("rotation") in (None, ""):          # CVAT writes rotation only when it is not 0
            return {"kind": "box", "xyxy": [x0, y0, x1, y1]}
        if x1 <= x0 or y1 <= y0:
            raise _Bad(f"box has zero area: {[x0, y0, x1, y1]}")
        cx, w = _read_span(_decimal(el, "xtl"), _decimal(el, "xbr"))
        cy, h = _read_span(_decimal(el, "ytl"), _decimal(el, "ybr"))
        return {"kind": "rotated_box", "cxcywha": [cx, cy, w, h, _angle(_decimal(el, "rotation"))]}
    if tag == "ellipse":
        cx, cy, rx, ry = (_num(el, k) for k in ("cx", "cy", "rx", "ry"))
        angle = _angle(_decimal(el, "rotation")) if el.get("rotation") not in (None, "") else 0.0
        return {"kind": "ellipse", "cxcyrxrya": [cx, cy, rx, ry, angle]}
    if tag == "polygon":
        return {"kind": "polygon", "shell": _points(el)}
    if tag in ("polyline", "points"):
        return {"kind": tag, "points": _points(el)}
    if tag == "mask":
        left, top, w, h = (int(_num(el, k)) for k in ("left", "top", "width", "height"))
        try:
            counts = [int(float(c)) for c in (el.get("rle") or "").replace(" ", "").split(",") if c != ""]
        except ValueError:
            raise _Bad("rle is not a list of run lengths") from None
        if sum(counts) != w * h:
            raise _Bad(f"mask rle covers {sum(counts)} pixels, not its {w}x{h} box")
        return {"kind": "mask", "bbox": [left, top, w, h], "counts": counts}
    raise _Bad(f"<{tag}> shapes are not supported")


def _raw_attributes(el: ET.Element) -> dict[str, Any]:
    return {a.get("name", ""): (a.text or "") for a in el.findall("attribute")}


def _label_defs(root: ET.Element) -> dict[str, tuple[list[dict[str, Any]], str | None]]:
    """Attribute schemas and colours of the labels in the document's meta (for new classes)."""
    from labeldesk.core.formats.context import attribute_key
    out: dict[str, tuple[list[dict[str, Any]], str | None]] = {}
    for label in root.iterfind(".//meta//labels/label"):
        name = (label.findtext("name") or "").strip()
        defs = []
        for a in label.iterfind("attributes/attribute"):
            kind = INPUT_TYPES.get((a.findtext("input_type") or "text").strip(), "text")
            d: dict[str, Any] = {"key": attribute_key(a.findtext("name") or ""), "type": kind,
                                 "name": (a.findtext("name") or "").strip()}
            text = a.findtext("values") or ""
            values = [v.strip() for v in text.split("\n") if v.strip()]
            default = (a.findtext("default_value") or "").strip()
            if len(values) == 1 and " " in values[0] and default in values[0].split():
                values = values[0].split()          # older CVAT files separate the values by spaces
            if kind == "enum":
                if not values:
                    d["type"] = "text"
                else:
                    d["options"] = values
            defs.append(d)
        colour = (label.findtext("color") or "").strip()
        out[name] = (defs, colour if len(colour) == 7 and colour.startswith("#") else None)
    return out


class _Document:
    def __init__(self, ctx: ImportContext, root: ET.Element, where: str, member: str) -> None:
        self.ctx, self.root, self.where, self.member = ctx, root, where, member
        self.labels = _label_defs(root)
        self._video: tuple[Asset | None] | None = None
        self.groups = GroupIds()
        # labels with an occluded shape: a class the import creates for them gets a bool
        # attribute 'occluded' so that the flag is kept, not dropped
        self.occluded = {el.get("label") or parent.get("label") for parent in [root, *root.iter("image"),
                                                                               *root.iter("track")]
                         for el in parent if el.get("occluded") == "1"}

    def cls(self, name: Any, loc: str) -> Any:
        defs, colour = self.labels.get(str(name or "").strip(), ([], None))
        if name in self.occluded and not any(d.get("key") == "occluded" for d in defs):
            defs = [*defs, {"key": "occluded", "type": "bool"}]
        return self.ctx.class_for(name, loc, defs, colour)

    def read(self) -> None:
        for i, image in enumerate(self.root.findall("image")):
            self.ctx.progress.check()
            self.image(image, i)
        for i, track in enumerate(self.root.findall("track")):
            self.track(track, i)
        for i, tag in enumerate(self.root.findall("tag")):
            self.video_tag(tag, i)

    # images --------------------------------------------------------------------------------------
    def image(self, image: ET.Element, i: int) -> None:
        name = image.get("name") or ""
        loc = f"{self.where}: image {name!r}" if name else f"{self.where}: image #{i}"
        frame = FRAME_RE.match(strip_suffix(name)) if name and "/" not in name else None
        hit = None
        if frame is not None:            # CVAT names the frames of a video task frame_000012
            try:
                hit = self.ctx.index.find(name)
            except LookupError:
                video = self.video(loc)
                if video is None:
                    return
                t = int(frame.group(1))
                if t >= video.frames:
                    self.ctx.report.refuse(loc, f"frame {t} is outside {video.name} (0..{video.frames - 1})")
                    return
                hit = (video, Plane(t=t))
        hit = hit or self.ctx.asset(name, loc)
        if hit is None:
            return
        asset, plane = hit
        w, h, _ = extent(asset, plane)
        declared = (image.get("width"), image.get("height"))
        if all(declared):
            try:
                same = (float(declared[0] or 0), float(declared[1] or 0)) == (w, h)
            except ValueError:
                same = False
            if not same:
                self.ctx.report.refuse(loc, f"the file says {declared[0]}x{declared[1]} but {asset.name} is "
                                            f"{w}x{h}; its shapes were not imported")
                return
        leaf = strip_suffix(name.rsplit("/", 1)[-1]) if "/" in name else ""
        flat = asset.kind in ("image", "pyramid") and asset.frames == 1
        has_plane = not flat and (frame is not None or bool(FRAME_RE.match(leaf) or SLICE_RE.match(leaf)))
        counters: dict[str, int] = {}
        for el in image:
            n = counters[el.tag] = counters.get(el.tag, -1) + 1
            where = f"{loc} {el.tag} #{n}"
            if el.tag == "tag":
                cls = self.cls(el.get("label"), where)
                if cls is not None:
                    self.ctx.classification(where, asset, plane if has_plane else None, cls)
            elif el.tag in SHAPES or el.tag in UNSUPPORTED:
                self.shape(el, where, asset, plane)

    def shape(self, el: ET.Element, where: str, asset: Asset, plane: Plane, *, track_id: str | None = None,
              keyframe: bool = True, geometry: dict[str, Any] | None = None) -> bool:
        try:
            g = geometry or _geometry(el)
        except _Bad as exc:
            self.ctx.report.refuse(where, str(exc))
            return False
        label = el.get("label") if el.get("label") is not None else el.get("_track_label")
        if label is not None and not label.strip():
            cls = None
            self.ctx.report.note(where, "no label: imported without a class")
        else:
            cls = self.cls(label, where)
            if cls is None:
                return False
        attrs = _raw_attributes(el)
        if el.get("occluded") == "1" and "occluded" not in attrs and cls is not None:
            if any(d.get("key") == "occluded" and d.get("type") == "bool" for d in cls.attributes):
                attrs["occluded"] = "true"
            else:
                self.ctx.report.note(where, f"occluded flag dropped: class {cls.name!r} has no boolean "
                                            "attribute 'occluded'")
        z = el.get("z_order")
        try:
            z_order = float(z) if z not in (None, "") else None
        except ValueError:
            z_order = None
        group = None
        if track_id is None and el.get("group_id") not in (None, "", "0"):     # CVAT's instance group
            group = self.groups.attributes((asset.id, plane), el.get("group_id")).get(GROUP_KEY)
        return self.ctx.annotation(where, asset, plane, g, cls, attrs, track_id=track_id, keyframe=keyframe,
                                   z_order=z_order, group=group)

    # videos --------------------------------------------------------------------------------------
    def video(self, loc: str) -> Asset | None:
        if self._video is None:
            task = self.root.find("meta/task")
            wanted = [self.ctx.options.get("asset")]
            if task is not None:
                wanted += [task.findtext("source")]
            wanted += [self.root.findtext("meta/source")]           # where CVAT 1.x writes it
            if task is not None:
                wanted += [task.findtext("name")]
            stem = self.member.rsplit("/", 1)[-1]
            wanted.append(stem[:-4] if stem.lower().endswith(".xml") else stem)
            found = None
            explicit = self.ctx.options.get("asset")
            for ref in [w.strip() for w in wanted if w and w.strip()] if not explicit else [str(explicit)]:
                try:
                    asset, _ = self.ctx.index.find(ref)
                except LookupError:
                    continue
                found = asset
                break
            self._video = (found,)
            if found is None and explicit:
                self.ctx.report.refuse(self.where, f"no asset named {explicit!r} (the asset option)")
                return None
            if found is None:
                self.ctx.report.refuse(self.where, "no video in the project for its tracks or frames (tried "
                                       + ", ".join(repr(w) for w in wanted if w) + "; name one with the asset option)")
        return self._video[0]

    def _frame(self, el: ET.Element, asset: Asset, loc: str) -> int | None:
        try:
            frame = int(el.get("frame", ""))
        except ValueError:
            self.ctx.report.refuse(loc, f"frame={el.get('frame')!r} is not a frame number")
            return None
        if not 0 <= frame < asset.frames:
            self.ctx.report.refuse(loc, f"frame {frame} is outside {asset.name} (0..{asset.frames - 1})")
            return None
        return frame

    def video_tag(self, el: ET.Element, i: int) -> None:
        loc = f"{self.where}: tag #{i}"
        asset = self.video(loc)
        if asset is None:
            return
        cls = self.cls(el.get("label"), loc)
        if cls is None:
            return
        if el.get("frame") in (None, ""):
            self.ctx.classification(loc, asset, None, cls)
            return
        frame = self._frame(el, asset, f"{loc} frame {el.get('frame')}")
        if frame is not None:
            self.ctx.classification(loc, asset, Plane(t=frame), cls)

    def track(self, track: ET.Element, i: int) -> None:
        loc = f"{self.where}: track {track.get('id', i)}"
        asset = self.video(loc)
        if asset is None or self.cls(track.get("label"), loc) is None:
            return
        kinds = {el.tag for el in track if el.tag in UNSUPPORTED}
        if kinds:
            self.ctx.report.refuse(loc, f"<{'>, <'.join(sorted(kinds))}> tracks are not supported")
            return
        shapes: list[tuple[int, ET.Element]] = []
        for el in track:
            if el.tag not in SHAPES and el.tag not in UNSUPPORTED:
                continue
            frame = self._frame(el, asset, f"{loc} frame {el.get('frame')}")
            if frame is not None:
                el.set("_track_label", track.get("label") or "")
                shapes.append((frame, el))
        shapes.sort(key=lambda s: s[0])
        # One CVAT track is one object: the stretches between its "outside" frames (it left the
        # view and came back) share one track id; the frames in between have no shape.
        stretches: list[tuple[list[tuple[int, ET.Element]], int]] = []
        segment: list[tuple[int, ET.Element]] = []
        for frame, el in shapes:
            if el.get("outside") == "1":
                if segment:
                    stretches.append((segment, frame - 1))
                segment = []
            elif el.get("keyframe", "1") == "1" or not segment:
                segment.append((frame, el))
        if segment:
            stretches.append((segment, asset.frames - 1))
        visible = sum(len(keys) for keys, _ in stretches)
        track_id = ids.new_id() if len(stretches) > 1 or visible > 1 or \
            any(end > keys[-1][0] for keys, end in stretches) else None
        for keys, end in stretches:
            self.segment(keys, end, loc, asset, track_id)
        if len(stretches) > 1:
            self.ctx.report.note(loc, f"leaves the view and comes back ({len(stretches)} visible stretches): "
                                      "kept as one track")

    def segment(self, keys: list[tuple[int, ET.Element]], end: int, loc: str, asset: Asset,
                track_id: str | None = None) -> None:
        """One visible stretch of a track: keyframes, held to ``end``, in-betweens interpolated."""
        if not keys:
            return
        if len(keys) == 1 and end == keys[0][0]:
            self.shape(keys[0][1], f"{loc} frame {keys[0][0]}", asset, Plane(t=keys[0][0]), track_id=track_id)
            return
        geoms: list[tuple[int, ET.Element, dict[str, Any]]] = []
        for frame, el in keys:
            try:
                geoms.append((frame, el, _geometry(el)))
            except _Bad as exc:
                self.ctx.report.refuse(f"{loc} frame {frame}", str(exc))
        if not geoms:
            return
        if end > geoms[-1][0]:
            self.ctx.report.note(f"{loc} frame {geoms[-1][0]}", f"CVAT holds the shape until frame {end}: "
                                                               f"a keyframe copy was added there")
            geoms.append((end, geoms[-1][1], geoms[-1][2]))
        if len(geoms) == 1:
            frame, el, g = geoms[0]
            self.shape(el, f"{loc} frame {frame}", asset, Plane(t=frame), geometry=g, track_id=track_id)
            return
        track_id = track_id or ids.new_id()
        for (f0, e0, g0), (f1, _, g1) in zip(geoms, geoms[1:]):
            self.shape(e0, f"{loc} frame {f0}", asset, Plane(t=f0), track_id=track_id, geometry=g0)
            try:
                a, b = geometry_from_dict(g0), geometry_from_dict(g1)
                for v in range(f0 + 1, f1):
                    # identical keyframes hold the shape exactly (interpolation would resample it)
                    mid = g0 if g0 == g1 else interpolate(a, b, (v - f0) / (f1 - f0)).to_dict()
                    self.shape(e0, f"{loc} frame {v} (interpolated)", asset, Plane(t=v), track_id=track_id,
                               keyframe=False, geometry=mid)
            except GeometryError as exc:
                self.ctx.report.refuse(f"{loc} frames {f0 + 1}..{f1 - 1}", f"not interpolated: {exc}")
        f_last, e_last, g_last = geoms[-1]
        self.shape(e_last, f"{loc} frame {f_last}", asset, Plane(t=f_last), track_id=track_id, geometry=g_last)


def import_cvat(ctx: ImportContext, path: Any) -> None:
    with InputTree(path, ctx.report) as tree:
        names = tree.names(".xml")
        if not names:
            raise InputError(path, "no .xml file in it (CVAT XML 1.1 expected)")
        single = len(names) == 1
        for name in names:
            where = tree.location(name)
            try:
                root = tree.xml(name)
                if root.tag != "annotations":
                    raise InputError(where, f"not a CVAT XML file: the root element is <{root.tag}>, "
                                            "not <annotations>")
            except InputError as exc:
                if single:
                    raise
                ctx.report.refuse(where, exc.problem + "; file skipped")
                continue
            version = (root.findtext("version") or "").strip()
            if version and version != "1.1":
                ctx.report.note(where, f"CVAT XML version {version}: read as 1.1")
            _Document(ctx, root, where, name).read()
