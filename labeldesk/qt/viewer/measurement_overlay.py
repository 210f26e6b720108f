"""The value of each measurement on the viewport's plane, printed beside it: ruler length (mm),
angle (°), ROI statistics (mean, SD, min, max in HU or the data's units, area in mm²)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.core.measure import MEASURE_KEY, describe, measure_kind, pixel_size_mm, value_unit

LABEL = QtGui.QColor(120, 230, 255)


def rows_for(view: Any) -> list[tuple[Any, dict[str, Any]]]:
    """(annotation, describe row) of the measurements shown on this viewport's plane (cached by
    annotation revision, plane and pixels)."""
    painter = view.overlay
    if painter is None or view.source is None:
        return []
    info = view.source.info
    px = pixel_size_mm(info, view.plane.axis) if info.spacing else None
    unit = value_unit(info)
    cache = getattr(view, "_measure_cache", {})
    out, keep = [], {}
    for ann in painter.annotations_with_attribute(MEASURE_KEY):     # not every row of the plane
        if measure_kind(ann) is None:
            continue
        key = (ann.id, ann.revision, view.plane, id(view._plane_pixels))
        row = cache.get(key)
        if row is None:
            row = describe(ann, px, view._plane_pixels, tuple(info.rescale), unit)
        keep[key] = row
        out.append((ann, row))
    view._measure_cache = keep
    return out


def paint(painter: QtGui.QPainter, view: Any) -> None:
    rows = rows_for(view)
    if not rows:
        return
    painter.save()
    painter.setPen(LABEL)
    metrics = QtGui.QFontMetricsF(painter.font())
    for ann, row in rows:
        x0, y0, x1, y1 = ann.geometry.bounds()
        kind = row["kind"]
        if kind in ("ruler", "angle"):
            pts = ann.geometry.points
            anchor = view.image_to_view(*(pts[1] if kind == "angle" else pts[-1]))
            lines = [row["value"]]
        else:
            anchor = view.image_to_view(x1, y0)
            s = row["stats"]
            lines = [] if s is None else [f"mean {s.mean:.1f} SD {s.sd:.1f}" + (f" {s.unit}" if s.unit else ""),
                                          f"min {s.min:g} max {s.max:g}",
                                          f"{s.area_mm2:.1f} mm²" if s.area_mm2 is not None else f"{s.area_px:.0f} px²"]
        width = max((metrics.horizontalAdvance(line) for line in lines), default=0)
        x = anchor.x() + 8 if anchor.x() + 8 + width < view.width() else anchor.x() - 8 - width   # stay inside
        for i, line in enumerate(lines):
            painter.drawText(QtCore.QPointF(max(2.0, x), anchor.y() + 4 + i * metrics.height()), line)
    painter.restore()
