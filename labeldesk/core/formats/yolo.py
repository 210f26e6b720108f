"""YOLO text labels: detection (``c cx cy w h``), segmentation (``c x1 y1 x2 y2 ...``) and oriented
boxes (``c x1 y1 ... x4 y4``), all normalised by the image width and height.

Layout (Ultralytics): ``data.yaml`` (class names; ``classes.txt`` or ``obj.names`` are read too),
``images/<subset>/`` (with option ``images``) and ``labels/<subset>/<image stem>.txt``, one line
per object; an image without objects has an empty file. Subsets come from option ``split``
(:mod:`labeldesk.core.formats.dataset`); without one everything is ``train`` (and data.yaml names
it as ``val`` too, which Ultralytics requires). The class index is the class's stable label value
- 1, so indices never move between exports; a gap in the values is a placeholder name
(``unused_<n>``) in ``names``. Imports take index + 1 as the label value of a class they create.
A trailing extra number on a line is a confidence (model predictions) and becomes the score.
Planes of videos and volumes are written flat, ``labels/<subset>/clip.mp4__frame_000012.txt`` and
``images/<subset>/clip.mp4__frame_000012.png`` (datumaro's YOLO reader takes no sub-folders;
:mod:`labeldesk.core.formats.matching` reads both forms). ``data.yaml`` has no ``path``: Ultralytics
then takes the folder of ``data.yaml`` (a relative ``path`` is resolved against its own datasets
folder or the working directory). YOLO files hold no attributes.

Numbers are written so that reading them back (``v * width``) gives our pixel coordinates exactly;
for detection boxes the centre and size are chosen so that ``cx - w/2`` and ``cx + w/2`` are the
box edges exactly where such floats exist. Oriented boxes go through their corners, so angle and
size come back to within rounding of the trigonometry (about 1e-12 px).
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np

from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import MAX_VERTICES, ImportContext
from labeldesk.core.formats.floats import fraction_for, number
from labeldesk.core.formats.matching import extent, flat_item_name, item_name, strip_suffix
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Box, Ellipse, Mask, Points, Polygon, Polyline, RotatedBox

NAME_FILES = ("data.yaml", "dataset.yaml", "classes.txt", "obj.names")


# ---- class names -------------------------------------------------------------------------------
def _unquote(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        return str(json.loads(text))
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def names_from_yaml(text: str) -> list[str] | None:
    """``names`` of a YOLO data.yaml: ``[a, b]``, a ``- a`` list or a ``0: a`` mapping."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("names:"):
            continue
        rest = line[len("names:"):].split(" #")[0].strip()
        if rest.startswith("["):
            inner = rest.strip("[]")
            return [_unquote(v) for v in inner.split(",") if v.strip()]
        out: dict[int, str] = {}
        for sub in lines[i + 1:]:
            if sub.strip() == "" or sub.lstrip().startswith("#"):
                continue
            if not sub.startswith((" ", "\t", "-")):
                break
            item = sub.strip()
            if item.startswith("- "):
                out[len(out)] = _unquote(item[2:])
            elif ":" in item:
                key, _, value = item.partition(":")
                out[int(key.strip())] = _unquote(value)
        return [out[k] for k in sorted(out)] if out else None
    return None


def _task(tree: InputTree) -> str | None:
    for name in tree.names(("data.yaml", "dataset.yaml")):
        for line in tree.text(name).splitlines():
            if line.startswith("task:"):
                return line[5:].split("#")[0].strip()
    return None


def _class_names(ctx: ImportContext, tree: InputTree) -> list[str] | None:
    for name in tree.names(NAME_FILES):
        text = tree.text(name)
        if name.lower().endswith(("data.yaml", "dataset.yaml")):
            found = names_from_yaml(text)
        else:
            found = [l.strip() for l in text.splitlines() if l.strip()]
        if found:
            return found
    return None


# ---- import ------------------------------------------------------------------------------------
def _label_files(tree: InputTree) -> list[tuple[str, str]]:
    """(member, image reference) of every label file: the .txt files under a ``labels`` folder if
    there is one (not ``train.txt`` lists of images), else every .txt file."""
    out = []
    names = tree.names(".txt")
    under = [n for n in names if "labels" in n.split("/")[:-1]]
    for name in under or names:
        low = PurePosixPath(name.lower())
        if low.name in NAME_FILES or low.name.startswith(("readme", "license")):
            continue
        parts = name.split("/")
        if "labels" in parts:
            parts = parts[len(parts) - parts[::-1].index("labels"):]
        out.append((name, strip_suffix("/".join(parts))))
    return out


def _read(ctx: ImportContext, path: Path, make: Callable[[list[float], int, int], dict[str, Any]], kind: str) -> None:
    with InputTree(path, ctx.report) as tree:
        names = _class_names(ctx, tree)
        if names is None:
            live = [c for c in ctx.project.classes() if not c.merged_into and c.value]
            names = [PLACEHOLDER.format(i) for i in range(max((c.value for c in live), default=0))]
            for c in live:
                names[c.value - 1] = c.name
            ctx.report.note(path.name, "no data.yaml, classes.txt or obj.names: class index n read as the class "
                                       "whose label value is n + 1 (as labeldesk's YOLO export writes them)")
        files = _label_files(tree)
        classes: dict[int, Any] = {}             # class index -> its class, once found
        for n, (member, ref) in enumerate(files):
            ctx.progress.report(n, len(files), f"reading {member}")
            where = tree.location(member)
            found = ctx.index_find(ref, ignore_suffix=True)
            if isinstance(found, str):
                ctx.report.refuse(where, found)
                continue
            asset, plane = found
            w, h, _ = extent(asset, plane)
            for lineno, line in enumerate(tree.text(member).splitlines(), 1):
                text = line.lstrip()
                if not text or text.startswith("#"):
                    continue
                loc = f"{where} line {lineno}"
                try:
                    if line.count(" ") > 2 * MAX_VERTICES + 1:
                        raise ValueError(f"more than {MAX_VERTICES} vertices (simplify it in the tool that made it)")
                    vals = list(map(float, line.split()))
                    if not vals or not vals[0].is_integer() or vals[0] < 0:
                        raise ValueError("the first number is not a class index")
                    geometry = make(vals[1:], w, h)
                except (ValueError, IndexError) as exc:
                    ctx.report.refuse(loc, f"not a YOLO {kind} line ({exc})")
                    continue
                index = int(vals[0])
                if index >= len(names):
                    ctx.report.refuse(loc, f"class index {index} is not among the {len(names)} class names")
                    continue
                cls = classes.get(index)
                if cls is None:
                    cls = ctx.class_for(names[index], loc, value=index + 1)
                    if cls is None:
                        continue
                    classes[index] = cls
                score = geometry.pop("_score", None)
                ctx.annotation(loc, asset, plane, geometry, cls, score=score)


@functools.lru_cache(maxsize=64)
def _scale(w: int, h: int) -> np.ndarray:
    return np.array([float(w), float(h)])


def _box_or_polygon(vals: list[float], w: int, h: int) -> dict[str, Any]:
    n = len(vals)
    score = None
    if n in (4, 5):
        cx, cy, bw, bh = vals[0] * w, vals[1] * h, vals[2] * w, vals[3] * h
        g: dict[str, Any] = {"kind": "box", "xyxy": [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]}
        score = vals[4] if n == 5 else None
    elif n >= 6:
        if n % 2:
            score, vals = vals[-1], vals[:-1]
        shell = np.array(vals, dtype=np.float64).reshape(-1, 2)      # (the import's compact form)
        shell *= _scale(w, h)                                         # (x * w, y * h as Python does it)
        g = {"kind": "polygon", "shell": shell}
    else:
        raise ValueError(f"{n} numbers after the class index")
    if score is not None:
        g["_score"] = score
    return g


def rotated_from_corners(pts: list[tuple[float, float]]) -> dict[str, Any]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts
    w = math.hypot(x1 - x0, y1 - y0)
    h = math.hypot(x2 - x1, y2 - y1)
    if w <= 0 or h <= 0:
        raise ValueError("the oriented box has zero size")
    angle = math.degrees(math.atan2(-(y1 - y0), x1 - x0))
    return {"kind": "rotated_box", "cxcywha": [(x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4, w, h, angle]}


def _oriented(vals: list[float], w: int, h: int) -> dict[str, Any]:
    if len(vals) not in (8, 9):
        raise ValueError(f"{len(vals)} numbers after the class index; an oriented box has 8")
    g = rotated_from_corners([(vals[i] * w, vals[i + 1] * h) for i in range(0, 8, 2)])
    if len(vals) == 9:
        g["_score"] = vals[8]
    return g


def import_yolo(ctx: ImportContext, path: Path) -> None:
    """Detection and segmentation lines (told apart line by line); a data.yaml saying
    ``task: obb`` (as our oriented-box export writes) reads oriented boxes."""
    with InputTree(path) as tree:
        task = _task(tree)
    if task == "obb":
        ctx.report.note(path.name, "data.yaml says task: obb: read as oriented boxes")
        import_obb(ctx, path)
        return
    _read(ctx, path, _box_or_polygon, "detection or segmentation")


def import_obb(ctx: ImportContext, path: Path) -> None:
    _read(ctx, path, _oriented, "oriented-box")


# ---- export ------------------------------------------------------------------------------------
def _around(v: float, steps: int = 4) -> list[float]:
    out, lo, hi = [v], v, v
    for _ in range(steps):
        lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
        out += [lo, hi]
    return out


def center_size(x0: float, x1: float, scale: float) -> tuple[float, float]:
    """Normalised (centre, size) with ``c*s - z*s/2 == x0`` and ``c*s + z*s/2 == x1`` where possible."""
    c0, z0 = (x0 + x1) / 2 / scale, (x1 - x0) / scale

    def ok(c: float, z: float) -> bool:
        cp, zp = c * scale, z * scale
        return cp - zp / 2 == x0 and cp + zp / 2 == x1

    if ok(c0, z0):
        return c0, z0
    cs = sorted(_around(c0), key=lambda v: abs(v - c0))
    zs = sorted(_around(z0), key=lambda v: abs(v - z0))
    for c in cs:
        for z in zs:
            if ok(c, z):
                return c, z
    return c0, z0


def _line(index: int, values: list[float]) -> str:
    return " ".join([str(index)] + [number(v) for v in values])


def _corners(pts: Any, w: int, h: int) -> list[float]:
    return [v for x, y in pts for v in (fraction_for(x, w), fraction_for(y, h))]


def _detect(ctx: ExportContext, asset: Any, ann: Any, w: int, h: int) -> list[float] | None:
    g = ann.geometry
    if isinstance(g, (Points, Polyline)):
        ctx.skip(asset, ann, f"YOLO detection cannot hold a {g.kind}")
        return None
    if not isinstance(g, Box):
        ctx.converted(asset, ann, f"{g.kind} written as its bounding box")
    x0, y0, x1, y1 = g.bounds()
    cx, bw = center_size(x0, x1, w)
    cy, bh = center_size(y0, y1, h)
    return [cx, cy, bw, bh]


def _outline(g: Any) -> Any:
    if isinstance(g, Box):
        return ((g.x0, g.y0), (g.x1, g.y0), (g.x1, g.y1), (g.x0, g.y1))
    if isinstance(g, RotatedBox):
        return g.corners()
    if isinstance(g, Ellipse):
        return g.outline(64)
    if isinstance(g, Mask):
        shp = g.to_shapely()
        parts = list(getattr(shp, "geoms", [shp]))
        return tuple(max(parts, key=lambda p: p.area).exterior.coords)[:-1]
    return g.shell


def _segment(ctx: ExportContext, asset: Any, ann: Any, w: int, h: int) -> list[float] | None:
    g = ann.geometry
    if isinstance(g, (Points, Polyline)):
        ctx.skip(asset, ann, f"YOLO segmentation cannot hold a {g.kind}")
        return None
    if isinstance(g, Polygon):
        if g.holes:
            ctx.converted(asset, ann, f"YOLO segmentation has no holes: {len(g.holes)} hole(s) left out")
    else:
        ctx.converted(asset, ann, f"{g.kind} written as a polygon"
                      + (" (its largest outline)" if isinstance(g, Mask) else ""))
    return _corners(_outline(g), w, h)


def _obb(ctx: ExportContext, asset: Any, ann: Any, w: int, h: int) -> list[float] | None:
    g = ann.geometry
    if isinstance(g, Box):
        ctx.converted(asset, ann, "box written as an oriented box (angle 0)")
        return _corners(_outline(g), w, h)
    if isinstance(g, RotatedBox):
        return _corners(g.corners(), w, h)
    ctx.skip(asset, ann, f"YOLO oriented boxes cannot hold a {g.kind}")
    return None


PLACEHOLDER = "unused_{}"


def _names(ctx: ExportContext) -> list[str]:
    """Class names by YOLO index (label value - 1); gaps get placeholder names."""
    top = max((e.value for e in ctx.classes), default=0)
    names = [PLACEHOLDER.format(i) for i in range(top)]
    for e in ctx.classes:
        names[e.value - 1] = e.name
    gaps = top - len(ctx.classes)
    if gaps:
        ctx.report.note("", f"{gaps} unused class index(es) below the highest label value {top}: named "
                            f"{PLACEHOLDER.format('<n>')} in data.yaml so that indices stay the label values - 1")
    return names


def _yaml(ctx: ExportContext, task: str, subsets: list[str]) -> str:
    names = _names(ctx)
    train = "train" if "train" in subsets else subsets[0]
    val = next((s for s in ("val", "valid", "validation") if s in subsets), train)
    lines = [f"# labeldesk export of {ctx.project.name}: images/<subset>/ and labels/<subset>/ (Ultralytics)",
             f"task: {task}", f"train: images/{train}", f"val: images/{val}"]
    if "test" in subsets:
        lines.append("test: images/test")
    lines += [f"nc: {len(names)}", "names:"]
    lines += [f"  {i}: {json.dumps(n, ensure_ascii=False)}" for i, n in enumerate(names)]
    return "\n".join(lines) + "\n"


def _export(ctx: ExportContext, out: Any, make: Callable[..., list[float] | None], task: str) -> None:
    from labeldesk.core.formats.dataset import DEFAULT_SUBSET, close_sources, file_name, image_mode, subsets, write_image
    mode = image_mode(ctx)
    groups = {k: ("train" if v == DEFAULT_SUBSET else v) for k, v in subsets(ctx).items()}
    sources: dict[Any, Any] = {}
    dropped = 0
    try:
        for asset in ctx.each_asset():
            subset = groups[asset.id]
            for plane, items in ctx.export_planes(asset):
                flat = flat_item_name(asset, plane)
                member = f"labels/{subset}/{strip_suffix(flat) if flat == asset.name else flat}.txt"
                if not ctx.claim(asset, member):
                    continue
                if mode:
                    write_image(ctx, out, asset, plane, f"images/{subset}", file_name(asset, plane, mode, flat=True),
                                mode, sources)
                w, h, _ = extent(asset, plane)
                lines = []
                for ann in items:
                    entry = ctx.entry(asset, ann)
                    if entry is None:
                        continue
                    values = make(ctx, asset, ann, w, h)
                    if values is None:
                        continue
                    dropped += bool(ann.attributes)
                    lines.append(_line(entry.value - 1, values))
                    ctx.report.count(ann.geometry.kind)
                out.write(member, "\n".join(lines) + ("\n" if lines else ""))
    finally:
        close_sources(sources)
    if dropped:
        ctx.report.note("", f"YOLO files hold no attributes: the attributes of {dropped} annotation(s) were not written")
    used = sorted(set(groups.values())) or ["train"]
    if "val" not in used and not any(s in used for s in ("valid", "validation")):
        ctx.report.note("", f"no val subset (option split=train=0.8,val=0.2): data.yaml names {used[0]} as val too")
    out.write("data.yaml", _yaml(ctx, task, used))


def export_detect(ctx: ExportContext, out: Any) -> None:
    _export(ctx, out, _detect, "detect")


def export_segment(ctx: ExportContext, out: Any) -> None:
    _export(ctx, out, _segment, "segment")


def export_obb(ctx: ExportContext, out: Any) -> None:
    _export(ctx, out, _obb, "obb")
