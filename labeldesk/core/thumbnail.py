"""Small PNG previews of assets for the asset list (middle slice, first frame, top pyramid level)."""
from __future__ import annotations

from typing import Any

import numpy as np

from labeldesk.core.model import Plane

SIZE = 128


def make_thumbnail(locator: dict[str, Any], size: int = SIZE) -> bytes:
    from labeldesk.core.io.opencv import cv2

    from labeldesk.core.display import auto_window, window_level
    from labeldesk.core.io.registry import open_locator

    src = open_locator(locator)
    try:
        info = src.info
        if info.kind == "volume":
            plane = Plane(z=src.plane_count("axial") // 2)
            pixels = src.read_plane(plane)
        elif info.kind == "pyramid":
            level = len(info.levels) - 1
            pixels = src.read_plane(Plane(), level)
        else:
            pixels = src.read_plane(Plane())
    finally:
        src.close()
    if pixels.dtype != np.uint8 or pixels.ndim == 2:
        slope, intercept = info.rescale
        if info.window and info.kind == "volume":
            center, width = info.window
        else:
            center, width = auto_window(pixels, slope, intercept)
        pixels = window_level(pixels, center, width, slope=slope, intercept=intercept,
                              invert=info.photometric == "MONOCHROME1")
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        pixels = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))),
                            interpolation=cv2.INTER_AREA)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError("could not encode thumbnail")
    return buf.tobytes()
