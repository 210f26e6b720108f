"""Brush and eraser on masks (per plane), a spherical brush for 3-D label maps, and hole filling."""
from __future__ import annotations

import numpy as np

from labeldesk.core.geometry import Mask


def disk(radius: float) -> np.ndarray:
    r = max(0.5, float(radius))
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    return (xx * xx + yy * yy) <= r * r


def paint(mask: Mask | None, center_xy: tuple[float, float], radius: float, plane_size: tuple[int, int],
          erase: bool = False) -> Mask | None:
    """The mask after one brush dab (None when erasing removes everything)."""
    w, h = plane_size
    canvas = mask.paste(w, h) if mask is not None else np.zeros((h, w), bool)
    stamp = disk(radius)
    n = stamp.shape[0] // 2
    cx, cy = int(np.floor(center_xy[0])), int(np.floor(center_xy[1]))
    x0, y0, x1, y1 = max(0, cx - n), max(0, cy - n), min(w, cx + n + 1), min(h, cy + n + 1)
    if x1 <= x0 or y1 <= y0:
        return mask
    part = stamp[y0 - (cy - n):y1 - (cy - n), x0 - (cx - n):x1 - (cx - n)]
    if erase:
        canvas[y0:y1, x0:x1] &= ~part
    else:
        canvas[y0:y1, x0:x1] |= part
    return Mask.from_array(canvas) if canvas.any() else None


def stroke(mask: Mask | None, points: list[tuple[float, float]], radius: float, plane_size: tuple[int, int],
           erase: bool = False) -> Mask | None:
    """Dabs along a drag, spaced at a third of the radius so the stroke has no gaps."""
    out = mask
    for (x0, y0), (x1, y1) in zip(points, points[1:] or points):
        steps = max(1, int(np.hypot(x1 - x0, y1 - y0) / max(radius / 3, 0.5)))
        for i in range(steps + 1):
            t = i / steps
            out = paint(out, (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t), radius, plane_size, erase)
    return out


def fill_holes(mask: Mask) -> Mask:
    """Fill background regions not connected to the mask's bounding-box border."""
    from labeldesk.core.io.opencv import cv2
    arr = np.pad(mask.to_array(), 1).astype(np.uint8)
    flood = np.zeros((arr.shape[0] + 2, arr.shape[1] + 2), np.uint8)
    outside = arr.copy()
    cv2.floodFill(outside, flood, (0, 0), 2)
    filled = (outside != 2)[1:-1, 1:-1]
    return Mask.from_array(filled, mask.x, mask.y)


def paint_sphere(labels: np.ndarray, center_ijk: tuple[float, float, float], radius_mm: float,
                 spacing: tuple[float, float, float], value: int) -> np.ndarray:
    """Set ``value`` inside a sphere (in mm, so anisotropic voxels give an ellipsoid of voxels) in a
    (Z, Y, X) label map, in place; returns the changed boolean region mask."""
    sx, sy, sz = spacing
    i, j, k = center_ijk
    ri, rj, rk = radius_mm / sx, radius_mm / sy, radius_mm / sz
    z0, z1 = max(0, int(k - rk)), min(labels.shape[0], int(k + rk) + 1)
    y0, y1 = max(0, int(j - rj)), min(labels.shape[1], int(j + rj) + 1)
    x0, x1 = max(0, int(i - ri)), min(labels.shape[2], int(i + ri) + 1)
    zz, yy, xx = np.mgrid[z0:z1, y0:y1, x0:x1]
    inside = ((xx - i) * sx) ** 2 + ((yy - j) * sy) ** 2 + ((zz - k) * sz) ** 2 <= radius_mm ** 2
    region = labels[z0:z1, y0:y1, x0:x1]
    region[inside] = value
    full = np.zeros(labels.shape, bool)
    full[z0:z1, y0:y1, x0:x1] = inside
    return full
