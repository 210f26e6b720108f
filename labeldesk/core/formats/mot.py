"""MOT Challenge tracks (MOT16/17/20 ground truth), written from the format's description.

Layout: one sequence per video, ``<video>/gt/gt.txt`` and ``<video>/seqinfo.ini`` (name, frame
count, size, frame rate). A line is ``frame,id,left,top,width,height,conf,class,visibility``:
frames are 1-based, the box is in pixels, ``conf`` is 1 (0 marks a box evaluators ignore),
``class`` is the class's stable label value (``gt/labels.txt`` names them, line n = value n, as
datumaro reads it) and ``visibility`` comes from a number attribute
``visibility`` (else 1). Every track is one ``id`` (a track that leaves the view and comes back
keeps it); an annotation that is not part of a track gets an id of its own. Other shapes are
written as their bounding box (noted); points and polylines are not written. With option
``images`` every frame is written as ``<video>/img1/000001.png`` (1-based, as MOT tools read it).

Import reads ``gt.txt`` (9 columns) and detection/result files (``det.txt``, 7 or 10 columns, no
class: option ``class`` names it, default ``object``): each ``id`` becomes one track of keyframes
(boxes). Class values that a class carries are that class; others become ``class <n>`` (with
--create-classes). The video is the asset named like the sequence (``seqinfo.ini`` name, or the
folder), or the ``asset`` option.
"""
from __future__ import annotations

import configparser
from pathlib import PurePosixPath
from typing import Any

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.dataset import close_sources, image_mode, write_image
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.floats import number
from labeldesk.core.formats.matching import strip_suffix
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Points, Polyline
from labeldesk.core.model import Plane

LABELS = "labels.txt"       # gt/labels.txt: class names by value (line 1 = value 1)


# ---- import ------------------------------------------------------------------------------------
def _sequence_asset(ctx: ImportContext, tree: InputTree, member: str, where: str) -> Any:
    wanted = ctx.options.get("asset")
    refs = [str(wanted)] if wanted else []
    folder = PurePosixPath(member).parent
    if folder.name in ("gt", "det"):
        folder = folder.parent
    ini = str(folder / "seqinfo.ini") if str(folder) != "." else "seqinfo.ini"
    if not wanted and ini in tree.names():
        cfg = configparser.ConfigParser()
        try:
            cfg.read_string(tree.text(ini))
            refs.append(cfg.get("Sequence", "name", fallback=""))
        except configparser.Error as exc:
            ctx.report.note(tree.location(ini), f"not read ({str(exc).splitlines()[0]})")
    if not wanted:
        refs += [folder.name, tree.path.stem]
    for ref in [r for r in refs if r and r != "."]:
        found = ctx.index_find(ref, ignore_suffix=True)
        if not isinstance(found, str):
            return found[0]
    raise InputError(where, "no video in the project for this sequence (tried "
                            + ", ".join(repr(r) for r in refs if r and r != ".") + "; name it with the asset option)")


def import_mot(ctx: ImportContext, path: Any) -> None:
    with InputTree(path, ctx.report) as tree:
        files = [n for n in tree.names(".txt") if PurePosixPath(n).name.lower() in ("gt.txt", "det.txt")] or \
            tree.names(".txt")
        if not files:
            raise InputError(path, "no gt.txt or det.txt in it")
        for member in files:
            where = tree.location(member)
            try:
                asset = _sequence_asset(ctx, tree, member, where)
            except InputError as exc:
                if len(files) == 1:
                    raise
                ctx.report.refuse(where, exc.problem)
                continue
            labels = str(PurePosixPath(member).parent / LABELS)
            names = [l.strip() for l in tree.text(labels).splitlines()] if labels in tree.names() else []
            _read(ctx, tree.text(member), where, asset, names)


def _read(ctx: ImportContext, text: str, where: str, asset: Any, names: list[str] | None = None) -> None:
    tracks: dict[int, str] = {}
    classes: dict[int, Any] = {}
    default = str(ctx.options.get("class") or "object")
    ignored = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        loc = f"{where} line {lineno}"
        try:
            vals = [float(v) for v in line.replace(" ", "").split(",")]
            if len(vals) < 6:
                raise ValueError(f"{len(vals)} values; MOT lines have frame,id,left,top,width,height,...")
            frame, tid, left, top, w, h = vals[:6]
            if not frame.is_integer() or frame < 1 or not tid.is_integer():
                raise ValueError("frame and id must be whole numbers (frames from 1)")
        except ValueError as exc:
            ctx.report.refuse(loc, f"not a MOT line ({exc})")
            continue
        gt = len(vals) == 9
        if gt and int(vals[6]) == 0:
            ignored += 1
        value = int(vals[7]) if gt else None
        if value not in classes:
            cls = ctx.class_with_value(value) if value is not None else None
            named = names[value - 1] if names and value is not None and 0 < value <= len(names) and \
                names[value - 1] and not names[value - 1].startswith("unused_") else None
            classes[value] = cls or ctx.class_for(named or (f"class {value}" if value is not None else default), loc,
                                                  value=value)
        cls = classes[value]
        if cls is None:
            continue
        t = int(frame) - 1
        if t >= asset.frames:
            ctx.report.refuse(loc, f"frame {int(frame)} is outside {asset.name} (1..{asset.frames})")
            continue
        attrs: dict[str, Any] = {}
        if gt and any(d["key"] == "visibility" for d in cls.attributes):
            attrs["visibility"] = vals[8]
        track = tracks.setdefault(int(tid), ids.new_id()) if int(tid) >= 0 else None
        score = vals[6] if not gt and len(vals) >= 7 and vals[6] >= 0 else None
        ctx.annotation(loc, asset, Plane(t=t), {"kind": "box", "xyxy": [left, top, left + w, top + h]}, cls, attrs,
                       track_id=track, score=score)
    if ignored:
        ctx.report.note(where, f"{ignored} box(es) marked conf=0 (ignored by MOT evaluation) imported like the others")


# ---- export ------------------------------------------------------------------------------------
def _label_names(ctx: ExportContext) -> list[str]:
    """Line n of gt/labels.txt names class value n (datumaro's MOT reader; gaps: ``unused_<n>``)."""
    top = max((e.value for e in ctx.classes), default=0)
    names = [f"unused_{v}" for v in range(1, top + 1)]
    for e in ctx.classes:
        names[e.value - 1] = e.name
    return names


def export_mot(ctx: ExportContext, out: Any) -> None:
    videos = [a for a in ctx.each_asset() if a.kind == "video"]
    if not videos:
        ctx.report.note("", "no video among the exported assets: MOT holds video tracks only")
    for asset in videos:
        lines: list[tuple[int, int, str]] = []
        track_ids: dict[str, int] = {}
        for ann in ctx.annotations(asset):
            entry = ctx.entry(asset, ann)
            if entry is None:
                continue
            g = ann.geometry
            if isinstance(g, (Points, Polyline)):
                ctx.skip(asset, ann, f"MOT holds boxes, not a {g.kind}")
                continue
            if g.kind != "box":
                ctx.converted(asset, ann, f"{g.kind} written as its bounding box")
            tid = track_ids.setdefault(ann.track_id or f"single:{ann.id}", len(track_ids) + 1)
            x0, y0, x1, y1 = g.bounds()
            vis = ann.attributes.get("visibility")
            vis = vis if isinstance(vis, (int, float)) and not isinstance(vis, bool) else 1
            lines.append((ann.plane.t, tid, f"{ann.plane.t + 1},{tid},{number(x0)},{number(y0)},{number(x1 - x0)},"
                                            f"{number(y1 - y0)},1,{entry.value},{number(vis)}"))
            ctx.report.count(g.kind)
        stem = strip_suffix(asset.name).replace("/", "_") or asset.id
        out.write(f"{stem}/gt/{LABELS}", "".join(f"{n}\n" for n in _label_names(ctx)))
        out.write(f"{stem}/gt/gt.txt", "\n".join(l for _, _, l in sorted(lines)) + ("\n" if lines else ""))
        fps = asset.meta.get("fps") if isinstance(asset.meta.get("fps"), (int, float)) else 30
        mode = image_mode(ctx)
        if mode:        # MOT's frames are 1-based: img1/000001.png is frame 0
            sources: dict[Any, Any] = {}
            try:
                for t in range(asset.frames):
                    ctx.progress.check()
                    write_image(ctx, out, asset, Plane(t=t), f"{stem}/img1", f"{t + 1:06d}.png", "png", sources)
            finally:
                close_sources(sources)
        out.write(f"{stem}/seqinfo.ini", "[Sequence]\n" f"name={stem}\n" "imDir=img1\n" f"frameRate={number(fps)}\n"
                                        f"seqLength={asset.frames}\n" f"imWidth={asset.width}\n"
                                        f"imHeight={asset.height}\n" "imExt=.png\n")
