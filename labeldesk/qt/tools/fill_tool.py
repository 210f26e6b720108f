"""Fill (Q): on a volume, click inside a closed outline painted in the active segment to fill it on
this slice (one ``segment.paint`` op, one undo step); clicking a painted voxel fills the holes of
that region instead. The region must not reach the edge of the plane."""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore

from labeldesk.qt.tools.base import Tool


def enclosed(mask: np.ndarray, x: int, y: int) -> np.ndarray | None:
    """The background region around (x, y) when it is enclosed by ``mask`` (else None); with
    (x, y) on the mask, the holes of the mask's component there."""
    from labeldesk.core.io.opencv import cv2
    h, w = mask.shape
    if not (0 <= x < w and 0 <= y < h):
        return None
    if mask[y, x]:
        n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        part = labels == labels[y, x]
        outside = np.zeros((h + 2, w + 2), np.uint8)
        outside[1:-1, 1:-1] = part
        flood = outside.copy()
        cv2.floodFill(flood, None, (0, 0), 2)
        holes = (flood[1:-1, 1:-1] == 0)
        return holes if holes.any() else None
    n, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    region = labels == labels[y, x]
    if region[0, :].any() or region[-1, :].any() or region[:, 0].any() or region[:, -1].any():
        return None
    return region


class FillTool(Tool):
    name, label, shortcut = "fill", "Fill", "Q"

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return False
        view = self.view
        state = getattr(view, "segment_state", None)
        if state is None or view.source is None or view.source.info.kind != "volume":
            self.session.message("fill works on segments of volumes: paint an outline with the brush, then click inside")
            return True
        segment_id, first = state.target(view, erase=True)
        if segment_id is None:
            self.session.message("fill: paint an outline in a segment first, then click inside it")
            return True
        ed = state.editor(view.asset_id)
        plane = ed.plane_mask(segment_id, view.plane.axis, view.plane.z)
        region = enclosed(plane, int(image_xy[0]), int(image_xy[1]))
        if region is None:
            self.session.message("fill: click inside a closed outline of the active segment")
            return True
        ed.set_plane(segment_id, view.plane.axis, view.plane.z, region)
        state.finish(view.asset_id, segment_id, first, "Fill")
        view.update()
        return True
