"""Segments: one structure on a volume (one class in one layer, at one time point) stored as one 3-D
label map, with its volume in mL — as in 3D Slicer's Segment Editor and ITK-SNAP.

The label map has the volume's voxel grid ``(Z, Y, X)`` (axial slice ``k``, row ``j``, column
``i``). It is stored per axial slice (zlib of the packed bits) and changed only by ops
(``op_types/segments.py``): ``segment.paint`` carries the voxels a stroke turned on and those it
turned off inside the box it touched, so undo is the same op with the two swapped and a stroke
over 11 slices is one op, not 11 annotations. Large paint payloads travel through the sync
blobs like any large op.

Reading API (exports, agreement, statistics): :func:`segments` lists them, :func:`label_map`
gives one segment's boolean ``(Z, Y, X)`` array, :func:`label_volume` one layer's segments as
one integer label volume (each segment's class value, or its own number).
"""
from __future__ import annotations

import base64
import sqlite3
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft

AXIS_OF_PLANE = {"axial": 0, "coronal": 1, "sagittal": 2}      # which (Z, Y, X) axis a plane fixes


@dataclass(frozen=True)
class Segment:
    id: str
    asset_id: str
    layer_id: str
    class_id: str | None
    t: int
    name: str
    color: str
    locked: bool
    voxels: int
    deleted: bool = False
    revision: str | None = None

    def volume_ml(self, spacing: Any) -> float | None:
        """The segment's volume in millilitres (voxel count × voxel volume), None without spacing."""
        if not spacing:
            return None
        sx, sy, sz = (list(spacing) + [1.0, 1.0, 1.0])[:3]
        return self.voxels * sx * sy * sz / 1000.0


def _segment(row: sqlite3.Row) -> Segment:
    return Segment(row["id"], row["asset_id"], row["layer_id"], row["class_id"], int(row["t"]), row["name"],
                   row["color"] or "#ff0000", bool(row["locked"]), int(row["voxels"]), bool(row["deleted"]),
                   row["revision"])


def segments(conn: sqlite3.Connection, asset_id: str, layer_id: str | None = None,
             include_deleted: bool = False) -> list[Segment]:
    sql = "SELECT * FROM segments WHERE asset_id = ?"
    args: list[Any] = [asset_id]
    if layer_id is not None:
        sql += " AND layer_id = ?"
        args.append(layer_id)
    if not include_deleted:
        sql += " AND deleted = 0"
    return [_segment(r) for r in conn.execute(sql + " ORDER BY rowid", args)]


def segment(conn: sqlite3.Connection, segment_id: str) -> Segment | None:
    row = conn.execute("SELECT * FROM segments WHERE id = ?", (segment_id,)).fetchone()
    return _segment(row) if row is not None else None


# ---- codec --------------------------------------------------------------------------------------
def encode_bits(mask: np.ndarray) -> str:
    """Packed bits, zlib, base64: the form paint payloads carry."""
    return base64.b64encode(zlib.compress(np.packbits(np.ascontiguousarray(mask, dtype=bool).ravel()).tobytes(), 1)
                            ).decode("ascii")


def decode_bits(text: str, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    raw = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    return np.unpackbits(raw, count=n).astype(bool).reshape(shape)


def slice_blob(mask2d: np.ndarray) -> bytes:
    return zlib.compress(np.packbits(mask2d.ravel()).tobytes(), 1)


def slice_from_blob(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    raw = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    return np.unpackbits(raw, count=shape[0] * shape[1]).astype(bool).reshape(shape)


# ---- reading --------------------------------------------------------------------------------------
def grid_shape(conn: sqlite3.Connection, asset_id: str) -> tuple[int, int, int]:
    row = conn.execute("SELECT width, height, depth FROM assets WHERE id = ?", (asset_id,)).fetchone()
    return int(row["depth"]), int(row["height"]), int(row["width"])


def label_map(conn: sqlite3.Connection, segment_id: str, shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """One segment's boolean ``(Z, Y, X)`` label map."""
    if shape is None:
        row = conn.execute("SELECT asset_id FROM segments WHERE id = ?", (segment_id,)).fetchone()
        shape = grid_shape(conn, row["asset_id"])
    out = np.zeros(shape, dtype=bool)
    for z, data in conn.execute("SELECT z, data FROM segment_slices WHERE segment_id = ?", (segment_id,)):
        if 0 <= z < shape[0]:
            out[z] = slice_from_blob(data, shape[1:])
    return out


def label_volume(conn: sqlite3.Connection, asset_id: str, layer_id: str, t: int = 0,
                 values: dict[str, int] | None = None) -> tuple[np.ndarray, list[tuple[int, Segment]]]:
    """One layer's segments at time ``t`` as one uint16 label volume ``(Z, Y, X)``: each segment's
    voxels get ``values[segment.id]`` (e.g. its class value), else its 1-based order; later
    segments win where they overlap. Returns the volume and (value, segment) pairs."""
    shape = grid_shape(conn, asset_id)
    out = np.zeros(shape, dtype=np.uint16)
    legend = []
    for n, seg in enumerate([s for s in segments(conn, asset_id, layer_id) if s.t == t], 1):
        value = (values or {}).get(seg.id, n)
        out[label_map(conn, seg.id, shape)] = value
        legend.append((value, seg))
    return out, legend


def plane_mask(volume_map: np.ndarray, axis: str, z: int) -> np.ndarray:
    """The 2-D mask of a label map on a plane (a view; plane pixels as the volume reader gives)."""
    if axis == "axial":
        return volume_map[z]
    if axis == "coronal":
        return volume_map[:, z]
    return volume_map[:, :, z]


def statistics(volume_map: np.ndarray, voxels: np.ndarray, rescale: tuple[float, float] = (1.0, 0.0)) -> dict[str, float]:
    """Mean and SD of the rescaled values (e.g. HU) inside a segment."""
    values = voxels[volume_map].astype(np.float64) * rescale[0] + rescale[1]
    if values.size == 0:
        return {"mean": float("nan"), "sd": float("nan")}
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0}


# ---- drafts ---------------------------------------------------------------------------------------
def create_draft(asset_id: str, layer_id: str, class_id: str | None, name: str, color: str,
                 t: int = 0, segment_id: str | None = None) -> OpDraft:
    return OpDraft("segment.create", segment_id or ids.new_id(), {"segment": {
        "asset_id": asset_id, "layer_id": layer_id, "class_id": class_id, "name": name, "color": color, "t": t}})


def paint_draft(segment_id: str, before: np.ndarray, after: np.ndarray,
                origin: tuple[int, int, int] = (0, 0, 0)) -> OpDraft | None:
    """The op that turns ``before`` into ``after`` (boolean arrays of one box of the label map whose
    first voxel is ``origin`` (z, y, x)); None when nothing changed. Only the box of the changed
    voxels travels."""
    on = after & ~before
    off = before & ~after
    changed = on | off
    if not changed.any():
        return None
    box = [np.flatnonzero(changed.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    lo = [int(b[0]) for b in box]
    hi = [int(b[-1]) + 1 for b in box]
    sl = tuple(slice(a, b) for a, b in zip(lo, hi))
    payload: dict[str, Any] = {"origin": [origin[i] + lo[i] for i in range(3)], "shape": [hi[i] - lo[i] for i in range(3)]}
    if on[sl].any():
        payload["on"] = encode_bits(on[sl])
    if off[sl].any():
        payload["off"] = encode_bits(off[sl])
    return OpDraft("segment.paint", segment_id, payload)


def pick_color(used: list[str], class_color: str | None) -> str:
    """The class colour for a class's first segment; distinct hues for more."""
    if class_color and class_color not in used:
        return class_color
    palette = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
               "#bcf60c", "#fabebe", "#008080", "#e6beff")
    return next((c for c in palette if c not in used), palette[len(used) % len(palette)])


def export_items(ctx: Any, asset: Any) -> Any:
    """For the label-map exporters (NIfTI, DICOM SEG): each selected segment of ``asset`` (the
    export's layers and classes) as one mask item per painted axial slice — (item, class entry,
    the (rows, cols) target of ``vol[t][z]``, pixels) like ``formats.nifti_labels.rasterised``."""
    from labeldesk.core.geometry import Mask
    from labeldesk.core.model import Annotation, Plane
    if asset.kind != "volume":
        return
    layer_ids = [layer.id for layer in ctx.layers]
    shape = (asset.depth, asset.height, asset.width)
    for layer_id in layer_ids:
        for s in segments(ctx.project.conn, asset.id, layer_id):
            if s.voxels == 0:
                continue
            volume_map = label_map(ctx.project.conn, s.id, shape)
            for z in np.flatnonzero(volume_map.reshape(shape[0], -1).any(axis=1)):
                item = Annotation(s.id, asset.id, s.layer_id, s.class_id, Plane(int(z), s.t),
                                  Mask.from_array(volume_map[z]), revision=s.revision)
                entry = ctx.entry(asset, item)
                if entry is None:
                    break                                  # reported once per segment
                yield item, entry, volume_map[z]


def agreement(conn: sqlite3.Connection, asset: Any, layer_a: str, layer_b: str, tolerance: float = 1.0) -> list[Any]:
    """(class id, time point, SurfaceReport: Dice, HD95 mm, surface Dice) of two layers' segments
    on one volume, class by class (a layer's segments of one class are joined), in 3-D."""
    from labeldesk.core.review.masks import compare_masks
    shape = (asset.depth, asset.height, asset.width)
    sp = asset.spacing or (1.0, 1.0, 1.0)
    spacing = (float(sp[2]) if len(sp) > 2 else 1.0, float(sp[1]), float(sp[0]))
    a = [s for s in segments(conn, asset.id, layer_a) if s.voxels]
    b = [s for s in segments(conn, asset.id, layer_b) if s.voxels]
    out = []
    for cid, t in sorted({(s.class_id, s.t) for s in a + b}, key=lambda k: (k[0] or "", k[1])):
        va, vb = np.zeros(shape, bool), np.zeros(shape, bool)
        for side, vol in ((a, va), (b, vb)):
            for s in side:
                if s.class_id == cid and s.t == t:
                    vol |= label_map(conn, s.id, shape)
        both = va | vb
        box = tuple(slice(int(i[0]), int(i[-1]) + 1) for i in
                    (np.flatnonzero(both.any(axis=tuple(x for x in range(3) if x != ax))) for ax in range(3)))
        out.append((cid, t, compare_masks(va[box], vb[box], spacing, tolerance=tolerance)))
    return out
