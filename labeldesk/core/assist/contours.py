"""Between masks and polygons: outline a mask (with holes) and rasterise a polygon."""
from __future__ import annotations

import numpy as np

from labeldesk.core.geometry import GeometryError, Mask, Polygon


def mask_to_polygons(mask: Mask, tolerance: float = 0.7) -> list[Polygon]:
    """Outer contours with their holes, simplified by ``tolerance`` pixels (Douglas–Peucker)."""
    from labeldesk.core.io.opencv import cv2
    arr = mask.to_array().astype(np.uint8)
    contours, hierarchy = cv2.findContours(arr, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    out: list[Polygon] = []
    if hierarchy is None:
        return out
    for i, c in enumerate(contours):
        if hierarchy[0][i][3] != -1:
            continue                                    # a hole: attached to its parent below
        shell = _ring(c, mask, tolerance)
        holes = []
        child = hierarchy[0][i][2]
        while child != -1:
            ring = _ring(contours[child], mask, tolerance)
            if len(ring) >= 3:
                holes.append(ring)
            child = hierarchy[0][child][0]
        if len(shell) >= 3:
            try:
                out.append(Polygon(tuple(shell), tuple(tuple(h) for h in holes)))
            except GeometryError:
                continue
    return out


def _ring(contour: np.ndarray, mask: Mask, tolerance: float) -> list[tuple[float, float]]:
    from labeldesk.core.io.opencv import cv2
    approx = cv2.approxPolyDP(contour, tolerance, True) if tolerance > 0 else contour
    # contour points are pixel indices; pixel (i, j) covers [i, i+1): take centres + 0.5
    return [(float(p[0][0]) + mask.x + 0.5, float(p[0][1]) + mask.y + 0.5) for p in approx]


def polygon_to_mask(polygon: Polygon, width: int, height: int) -> Mask:
    from labeldesk.core.io.opencv import cv2
    canvas = np.zeros((height, width), np.uint8)
    rings = [np.round(np.array(polygon.shell) - 0.5).astype(np.int32)]
    cv2.fillPoly(canvas, rings, 1)
    for h in polygon.holes:
        cv2.fillPoly(canvas, [np.round(np.array(h) - 0.5).astype(np.int32)], 0)
    if not canvas.any():
        raise GeometryError("the polygon covers no pixel")
    return Mask.from_array(canvas.astype(bool))
