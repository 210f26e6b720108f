"""The corner texts and orientation markers of a viewport, toggled for every viewport by one key
(H, View ▸ Corner overlays).

Top left: series, slice n/N (1-based) and its position in mm, frame; top right: patient and study
where the data holds them and they are not de-identified; bottom left: W/L and zoom (above the scale
bar); edges: the patient direction each edge faces (from the affine; oblique-aware)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.core.corner_text import patient_lines, series_line, slice_position_label
from labeldesk.core.orientation import edge_labels

TEXT = QtGui.QColor(230, 230, 120)
MARKER = QtGui.QColor(255, 190, 60)


class CornerState:
    """One switch for every viewport (a radiologist hides them all at once)."""
    visible = True


def facts_for(window: Any, view: Any) -> None:
    """Remember the asset facts a viewport prints (read once per asset shown)."""
    asset_id = getattr(view, "asset_id", None)
    if getattr(view, "corner_facts_for", None) == asset_id:
        return
    view.corner_facts_for = asset_id
    view.corner_facts = {"series": "", "patient": []}
    if window.project is None or asset_id is None:
        return
    asset = window.project.asset(asset_id)
    view.corner_facts = {"series": series_line(asset), "patient": []}
    locator = window.project.locator(asset_id)
    if not asset or not locator or locator.get("reader") != "dicom":
        return
    # the patient lines come from the first file's header: read on the pool (pydicom's import
    # alone is 0.2-0.6 s, which the window's first paint does not wait for), shown when in; the
    # read starts once the viewport has painted (on two cores the import would otherwise take
    # the interpreter from the thread that shows the window)
    from labeldesk.qt.tasks import TaskRunner
    runner = TaskRunner(patient_lines, asset, locator, with_progress=False)

    def shown(found: list[str], v: Any = view, a: str = asset_id) -> None:
        if getattr(v, "corner_facts_for", None) == a and found:
            v.corner_facts = {**v.corner_facts, "patient": found}
            v.update()
    runner.signals.sig_finished.connect(shown)
    view.corner_task = runner                  # kept until the next asset's (the runner is not auto-deleted)

    def start(v: Any = view, r: Any = runner) -> None:
        if getattr(v, "corner_task", None) is r:      # still the asset's (not replaced meanwhile)
            r.start()
    if getattr(view, "_painted_once", True):
        start()
    else:
        from labeldesk.qt.edit_session import after_first_paint
        after_first_paint(view, start)


def lines(view: Any) -> dict[str, list[str]]:
    """The text of each corner ('tl', 'tr', 'bl')."""
    info = view.source.info
    facts = getattr(view, "corner_facts", None) or {"series": "", "patient": []}
    tl = [facts["series"]] if facts["series"] else []
    if info.kind == "volume":
        n = view.source.plane_count(view.plane.axis)
        where = slice_position_label(view.plane.axis, view.slice_position_mm())
        tl.append(f"{view.plane.axis} {view.plane.z + 1}/{n}" + (f"   {where}" if where else ""))
        if info.frames > 1:
            tl.append(f"time {view.plane.t + 1}/{info.frames}")
    elif info.frames > 1:
        tl.append(f"frame {view.plane.t + 1}/{info.frames}")
    bl = []
    if info.kind in ("volume", "image") and info.channels == 1:
        bl.append(f"W {view.window[1]:.0f}  L {view.window[0]:.0f}" + ("  inverted" if view.invert else ""))
    bl.append(f"zoom {view.zoom * 100:.0f}%")
    return {"tl": tl, "tr": list(facts["patient"]), "bl": bl}


def markers(view: Any) -> dict[str, str]:
    info = view.source.info
    if info.kind != "volume" or info.affine is None:
        return {}
    flip_x, flip_y = view.flips()
    return edge_labels(info.affine, view.plane.axis, flip_y, flip_x)


def paint(painter: QtGui.QPainter, view: Any) -> None:
    if not CornerState.visible or view.source is None:
        return
    painter.save()
    font = painter.font()
    font.setPointSizeF(max(8.0, font.pointSizeF()))
    painter.setFont(font)
    metrics = QtGui.QFontMetricsF(font)
    step = metrics.height()
    w, h = view.width(), view.height()
    text = lines(view)
    painter.setPen(TEXT)
    left_w = max((metrics.horizontalAdvance(t) for t in text["tl"]), default=0)
    right_w = max((metrics.horizontalAdvance(t) for t in text["tr"]), default=0)
    rows = len(text["tl"])
    below = left_w + right_w + 24 > w            # narrow viewport: the right column goes under the left
    for i, line in enumerate(text["tl"]):
        painter.drawText(QtCore.QPointF(8, 6 + step * (i + 1)), line)
    for i, line in enumerate(text["tr"]):
        row = i + 1 + (rows if below else 0)
        painter.drawText(QtCore.QPointF(w - 8 - metrics.horizontalAdvance(line), 6 + step * row), line)
    top_rows = rows + len(text["tr"]) if below else max(rows, len(text["tr"]))
    for i, line in enumerate(reversed(text["bl"])):
        painter.drawText(QtCore.QPointF(8, h - 40 - step * i), line)
    labels = markers(view)
    if labels:
        bold = QtGui.QFont(font)
        bold.setBold(True)
        bold.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(bold)
        bm = QtGui.QFontMetricsF(bold)
        painter.setPen(MARKER)
        for edge, label in labels.items():
            tw = bm.horizontalAdvance(label)
            # the top marker sits under the corner texts when they would cover the middle
            covered = w / 2 - tw / 2 - 6 < (left_w + 8 if rows else 0) or \
                (text["tr"] and w / 2 + tw / 2 + 6 > w - 8 - right_w)
            top_y = 6 + bm.ascent() + (step * top_rows if covered else 0)
            at = {"left": QtCore.QPointF(6, h / 2 + bm.ascent() / 2),
                  "right": QtCore.QPointF(w - 6 - tw, h / 2 + bm.ascent() / 2),
                  "top": QtCore.QPointF(w / 2 - tw / 2, top_y),
                  "bottom": QtCore.QPointF(w / 2 - tw / 2, h - 6)}[edge]
            painter.drawText(at, label)
    painter.restore()


def toggle(window: Any) -> None:
    CornerState.visible = not CornerState.visible
    for v in window.grid.views:
        v.update()
