"""Semi-automatic tools; each result lands as an ordinary, editable mask annotation.

* Wand (W): click; flood fill in window/level display space within the tolerance (``[``/``]``).
* GrabCut (G): drag a box around the object.
* Threshold (T): click inside a structure; the connected region within the session's intensity
  range (physical units, e.g. HU) is taken.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core.geometry import GeometryError
from labeldesk.qt.tools.segment_target import commit_mask
from labeldesk.qt.tools.base import DragTool, Tool


def _display(view: Any) -> np.ndarray:
    from labeldesk.core.display import window_level
    pixels = view._plane_pixels
    slope, intercept = view.rescale
    return window_level(pixels, *view.window, slope=slope, intercept=intercept)


def plane_pixels(tool: Tool) -> np.ndarray | None:
    """The current plane's pixels, or None (and a message) on a tiled large image."""
    if tool.view._plane_pixels is None:
        tool.session.message(f"{tool.label} works on images, frames and slices, not on tiled large images yet")
        return None
    return tool.view._plane_pixels


class _PlaneTool(Tool):
    def _pixels(self) -> np.ndarray | None:
        return plane_pixels(self)


class WandTool(_PlaneTool):
    name, label, shortcut = "wand", "Magic wand", "W"

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self._pixels() is None:
            return False
        from labeldesk.core.assist.segment import magic_wand
        try:
            mask = magic_wand(_display(self.view), image_xy, self.session.wand_tolerance)
        except GeometryError as exc:
            self.session.message(f"wand: {exc}")
            return True
        commit_mask(self.session, mask, "Magic wand") or self.session.create(mask.to_dict(), "Magic wand")
        return True

    def key(self, event: QtGui.QKeyEvent) -> bool:
        step = {QtCore.Qt.Key.Key_BracketLeft: -2, QtCore.Qt.Key.Key_BracketRight: 2}.get(event.key())
        if step:
            self.session.wand_tolerance = int(np.clip(self.session.wand_tolerance + step, 0, 255))
            self.session.message(f"wand tolerance {self.session.wand_tolerance}")
            return True
        return super().key(event)


class GrabCutTool(DragTool):
    name, label, shortcut = "grabcut", "GrabCut", "G"

    def ready(self) -> bool:
        return plane_pixels(self) is not None

    def finish(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        from labeldesk.core.assist.segment import grabcut_from_box
        (x0, y0), (x1, y1) = start, end
        try:
            mask = grabcut_from_box(self.view._plane_pixels, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                                    display=_display(self.view))
        except GeometryError as exc:
            self.session.message(f"GrabCut: {exc}")
            return
        commit_mask(self.session, mask, "GrabCut") or self.session.create(mask.to_dict(), "GrabCut")


class ThresholdTool(_PlaneTool):
    name, label, shortcut = "threshold", "Threshold", "T"

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self._pixels() is None:
            return False
        from labeldesk.core.assist.segment import threshold_mask
        low, high = self.session.threshold_range
        slope, intercept = self.view.rescale
        try:
            mask = threshold_mask(self.view._plane_pixels, low, high, slope, intercept, seed_xy=image_xy)
        except GeometryError as exc:
            self.session.message(f"threshold {low:g}..{high:g}: {exc}")
            return True
        text = f"Threshold {low:g}..{high:g}"
        commit_mask(self.session, mask, text) or self.session.create(mask.to_dict(), text)
        return True
