"""Ruler, angle and ROI tools: drawn with the mouse, stored as annotations by ops (undo), painted
with their values, listed in the Measurements panel with statistics in HU and mm²."""
from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore
from PySide6.QtTest import QTest

from labeldesk.core.measure import roi_stats
from tests.qt.test_viewer_repaint import grab

Qt = QtCore.Qt


def label_pixels(pixels: np.ndarray) -> int:
    p = pixels.astype(int)          # the cyan of measurement labels
    return int(((p[..., 2] > 200) & (p[..., 1] > 180) & (p[..., 0] < 160)).sum())


def at(view, fx, fy):
    """image_xy at a fraction of the plane's width and height."""
    w, h = view.plane_size()
    return (fx * w, fy * h)


def drag(view, a, b):
    pa, pb = view.image_to_view(*a).toPoint(), view.image_to_view(*b).toPoint()
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pa)
    QTest.mouseMove(view, (pa + pb) / 2)
    QTest.mouseMove(view, pb)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pb)


def test_ruler_in_mm_painted_listed_and_undone(qtbot, window, show):
    show("CT series")
    view = window.viewport
    before = label_pixels(grab(view))
    QTest.keyClick(view, Qt.Key.Key_U)
    assert window.session.tool.name == "ruler"
    drag(view, at(view, 0.15, 0.25), at(view, 0.75, 0.25))
    [ann] = [a for a in window.session.painter.annotations if a.attributes.get("measure") == "ruler"]
    (x0, y0), (x1, y1) = ann.geometry.points
    want = f"{math.hypot(x1 - x0, y1 - y0) * 0.7:.2f} mm"
    panel = window.measurements_panel
    assert [r["value"] for r in panel.rows] == [want] and panel.rows[0]["where"] == f"axial {view.plane.z + 1}"
    assert label_pixels(grab(view)) > before + 30
    window.undo_action.trigger()
    assert panel.rows == [] and label_pixels(grab(view)) <= before


def test_angle_from_three_clicks(qtbot, window, show):
    show("CT series")
    view = window.viewport
    window.tool_actions["angle"].trigger()
    for xy in (at(view, 0.6, 0.2), at(view, 0.2, 0.2), at(view, 0.2, 0.6)):
        QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         view.image_to_view(*xy).toPoint())
    assert [r["value"] for r in window.measurements_panel.rows] == ["90.0°"]


def test_ellipse_roi_statistics_in_hounsfield_units(qtbot, window, show):
    show("CT series")
    view = window.viewport
    QTest.keyClick(view, Qt.Key.Key_J)
    drag(view, at(view, 0.3, 0.45), at(view, 0.55, 0.65))
    [ann] = [a for a in window.session.painter.annotations if a.attributes.get("measure") == "roi"]
    want = roi_stats(view._plane_pixels, ann.geometry, (1.0, -1024.0), (0.7, 0.7), "HU")
    [row] = window.measurements_panel.rows
    assert row["mean"] == f"{want.mean:.1f}" and row["SD"] == f"{want.sd:.1f}"
    assert row["area mm²"] == f"{ann.geometry.area() * 0.49:.1f}" and int(row["pixels"]) == want.pixels > 100
    assert want.min < 0 <= view._plane_pixels.min()             # HU (stored values are HU + 1024)
    assert label_pixels(grab(view)) > 60
