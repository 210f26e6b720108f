"""Intelligent scissors (live wire) on OpenCV's IntelligentScissorsMB: after an anchor is set,
``path_to`` returns the minimum-cost path along edges from the anchor to the cursor."""
from __future__ import annotations

import numpy as np


class LiveWire:
    def __init__(self, display: np.ndarray) -> None:
        from labeldesk.core.io.opencv import cv2
        img = display if display.dtype == np.uint8 else np.clip(display, 0, 255).astype(np.uint8)
        self.shape = img.shape[:2]
        self._tool = cv2.segmentation.IntelligentScissorsMB()
        self._tool.setEdgeFeatureCannyParameters(32, 100)
        self._tool.setGradientMagnitudeMaxLimit(200)
        self._tool.applyImage(img)
        self.anchor: tuple[int, int] | None = None

    def _clamp(self, xy: tuple[float, float]) -> tuple[int, int]:
        h, w = self.shape
        return (int(min(max(xy[0], 0), w - 1)), int(min(max(xy[1], 0), h - 1)))

    def set_anchor(self, xy: tuple[float, float]) -> None:
        self.anchor = self._clamp(xy)
        self._tool.buildMap(self.anchor)

    def path_to(self, xy: tuple[float, float]) -> list[tuple[float, float]]:
        """Pixel-centre points from the anchor to ``xy`` (anchor first)."""
        if self.anchor is None:
            raise ValueError("set an anchor first")
        contour = np.asarray(self._tool.getContour(self._clamp(xy))).reshape(-1, 2)
        pts = [(float(x) + 0.5, float(y) + 0.5) for x, y in contour]
        if pts and pts[0] != (self.anchor[0] + 0.5, self.anchor[1] + 0.5):
            pts.reverse()
        return pts
