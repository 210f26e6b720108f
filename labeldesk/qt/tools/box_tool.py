"""Box: press at one corner, drag, release at the other."""
from __future__ import annotations

from labeldesk.qt.tools.base import DragTool


class BoxTool(DragTool):
    name, label, shortcut = "box", "Box", "B"

    def finish(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        if abs(end[0] - start[0]) < 1 or abs(end[1] - start[1]) < 1:
            self.session.message("box not created: it has no area (drag to draw one)")
            return
        self.session.create({"kind": "box", "xyxy": [*start, *end]}, "Draw box")
