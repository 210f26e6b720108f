"""Classical segmentation from a user's hint: GrabCut from a box, magic wand (flood fill within a
tolerance in window/level display space) and threshold painting within a physical (e.g. HU) range.
Inputs are plane pixels as stored; outputs are :class:`~labeldesk.core.geometry.Mask`."""
from __future__ import annotations

import numpy as np

from labeldesk.core.geometry import GeometryError, Mask


def _rgb8(pixels: np.ndarray, display: np.ndarray | None) -> np.ndarray:
    from labeldesk.core.io.opencv import cv2
    img = display if display is not None else pixels
    if img.dtype != np.uint8:
        lo, hi = np.percentile(img, [1, 99])
        img = np.clip((img.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(img[..., :3])


def grabcut_from_box(pixels: np.ndarray, box: tuple[float, float, float, float], iterations: int = 5,
                     display: np.ndarray | None = None) -> Mask:
    """Foreground inside ``box`` (x0, y0, x1, y1) by OpenCV GrabCut, on the display image if given."""
    from labeldesk.core.io.opencv import cv2
    img = _rgb8(pixels, display)
    h, w = img.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 3 or y1 - y0 < 3:
        raise GeometryError("the box is too small for GrabCut (at least 3 x 3 pixels)")
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(img, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if not fg.any():
        raise GeometryError("GrabCut found no foreground in the box")
    return Mask.from_array(fg)


def magic_wand(display: np.ndarray, seed_xy: tuple[float, float], tolerance: int = 10,
               connectivity: int = 8) -> Mask:
    """Pixels connected to the seed whose display value is within ``tolerance`` of the seed's."""
    from labeldesk.core.io.opencv import cv2
    img = np.ascontiguousarray(display if display.ndim == 2 else display[..., :3])
    h, w = img.shape[:2]
    x, y = int(seed_xy[0]), int(seed_xy[1])
    if not (0 <= x < w and 0 <= y < h):
        raise GeometryError("the seed is outside the image")
    flood = np.zeros((h + 2, w + 2), np.uint8)
    tol = (tolerance,) * (1 if img.ndim == 2 else 3)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    cv2.floodFill(img.copy(), flood, (x, y), 0, tol, tol, flags)
    return Mask.from_array(flood[1:-1, 1:-1] > 0)


def threshold_mask(pixels: np.ndarray, low: float, high: float, slope: float = 1.0, intercept: float = 0.0,
                   within: Mask | None = None, seed_xy: tuple[float, float] | None = None) -> Mask:
    """Pixels whose physical value (stored * slope + intercept) is in [low, high], optionally only
    inside ``within`` and only the connected part that holds ``seed_xy``."""
    from labeldesk.core.io.opencv import cv2
    slope = slope or 1.0
    lo, hi = sorted(((low - intercept) / slope, (high - intercept) / slope))
    sel = (pixels >= lo) & (pixels <= hi)
    if within is not None:
        sel &= within.paste(pixels.shape[1], pixels.shape[0])
    if seed_xy is not None:
        n, labels = cv2.connectedComponents(sel.astype(np.uint8), connectivity=8)
        label = labels[int(seed_xy[1]), int(seed_xy[0])]
        if label == 0:
            raise GeometryError("the clicked pixel is outside the intensity range")
        sel = labels == label
    if not sel.any():
        raise GeometryError(f"no pixel has a value between {low:g} and {high:g}")
    return Mask.from_array(sel)
