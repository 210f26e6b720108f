"""The seam between volume exports and radiology *segments* (one 3-D label map per structure).

NIfTI label maps, DICOM SEG and RTSTRUCT rasterise annotations plane by plane; a segment is
already voxels. :func:`segment_items` yields each selected segment of an asset in the same form
as the exporters' annotation loop (an item with ``id``, ``geometry.kind == "segment"`` and a
``plane`` whose axis is ``"volume"``, the class entry, and its boolean ``(Z, Y, X)`` map), so
every volume format exports segments with the class's label value, codes and colour. It reads
segments through the segment store's documented API (``segments``, ``label_map``) and yields
nothing where that store does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np


VOLUME_AXIS = "volume"


@dataclass(frozen=True)
class _Kind:
    kind: str = "segment"


@dataclass(frozen=True)
class VolumePlane:
    """Where a segment lives: the whole (Z, Y, X) grid at time point ``t``."""
    t: int = 0
    z: int = 0
    axis: str = VOLUME_AXIS


@dataclass(frozen=True)
class SegmentItem:
    id: str
    name: str
    plane: VolumePlane
    geometry: _Kind = _Kind()


def segment_items(ctx: Any, asset: Any) -> Iterator[tuple[SegmentItem, Any, np.ndarray]]:
    if asset.kind != "volume":
        return
    try:
        from labeldesk.core import segments as store
    except ImportError:
        return
    conn = ctx.project.conn
    for layer in ctx.layers:
        for seg in store.segments(conn, asset.id, layer.id):
            item = SegmentItem(seg.id, seg.name, VolumePlane(t=int(seg.t)))
            if seg.class_id is None:
                ctx.report.refuse(f"{asset.name} segment {seg.name!r}", "has no class; not exported")
                continue
            entry = ctx.classes.resolve(seg.class_id)
            if entry is None or not 0 <= seg.t < asset.frames:
                continue
            yield item, entry, store.label_map(conn, seg.id)
