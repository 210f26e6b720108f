"""CSV of classifications: ``asset,frame,slice,axis,class``, one row per class given.

A row with empty ``frame`` and ``slice`` classifies the whole asset; ``frame`` (0-based) names a
video frame or time point, ``slice`` (0-based, with ``axis`` axial/coronal/sagittal, default
axial) a slice of a volume. ``asset`` is the asset's name or a relative path (see
:mod:`labeldesk.core.formats.matching`). Columns ``image``/``file``/``filename`` are read as
``asset`` and ``label`` as ``class``; other columns are ignored.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.model import AXES, Plane

COLUMNS = ("asset", "frame", "slice", "axis", "class")
ALIASES = {"image": "asset", "file": "asset", "filename": "asset", "file_name": "asset", "label": "class",
           "class_name": "class", "t": "frame", "z": "slice"}


def _index(value: str | None, what: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        n = int(value.strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a whole number") from None
    if n < 0:
        raise ValueError(f"{what} {n} is negative")
    return n


def import_csv(ctx: ImportContext, path: Path) -> None:
    with InputTree(path, ctx.report) as tree:
        files = tree.names(".csv") or tree.names()
        for member in files:
            _read(ctx, tree.text(member), tree.location(member))


def _read(ctx: ImportContext, text: str, where: str) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(where, "the file is empty")
        cols = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
        missing = [c for c in ("asset", "class") if c not in cols]
        if missing:
            raise InputError(where, f"line 1: no {' or '.join(repr(m) for m in missing)} column "
                                    f"(expected the columns {','.join(COLUMNS)})")
        at = {c: cols.index(c) for c in COLUMNS if c in cols}
        for row in reader:
            loc = f"{where} line {reader.line_num}"
            if not any(v.strip() for v in row):
                continue
            if len(row) != len(header):
                ctx.report.refuse(loc, f"{len(row)} fields, the header has {len(header)}")
                continue
            _row(ctx, {c: row[i] for c, i in at.items()}, loc)
    except csv.Error as exc:
        raise InputError(where, f"malformed CSV at line {reader.line_num}: {exc}") from None


def _row(ctx: ImportContext, row: dict[str, str], loc: str) -> None:
    try:
        frame = _index(row.get("frame"), "frame")
        z = _index(row.get("slice"), "slice")
        axis = (row.get("axis") or "").strip().lower() or "axial"
        if axis not in AXES:
            raise ValueError(f"axis {axis!r} is not one of {', '.join(AXES)}")
    except ValueError as exc:
        ctx.report.refuse(loc, str(exc))
        return
    found = ctx.asset(row["asset"].strip(), loc)
    if found is None:
        return
    asset, named_plane = found
    cls = ctx.class_for(row["class"], loc)
    if cls is None:
        return
    if frame is None and z is None:
        plane = None if named_plane == Plane() else named_plane
    else:
        plane = Plane(z or 0, frame or 0, axis)
    ctx.classification(loc, asset, plane, cls)


def export_csv(ctx: ExportContext, out: Any) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for asset in ctx.each_asset():
        for c in ctx.classifications(asset):
            entry = ctx.classes.resolve(c["class_id"])
            if entry is None:
                continue
            if c["scope"] == "asset":
                writer.writerow([asset.name, "", "", "", entry.name])
            else:
                volume = asset.kind == "volume"
                writer.writerow([asset.name, c["plane_t"] if (asset.frames > 1 or not volume) else "",
                                 c["plane_z"] if volume else "", c["plane_axis"] if volume else "", entry.name])
            ctx.report.count("classification")
    out.write("classifications.csv", buf.getvalue())
