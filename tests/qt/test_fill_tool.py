"""Fill (Q) closes a painted outline of the active segment on the current slice, in one undo step."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore
from PySide6.QtTest import QTest

from labeldesk.core import segments as seg
from labeldesk.qt.tools.fill_tool import enclosed
from tests.qt.test_measurements_gui import at

Qt = QtCore.Qt


def test_enclosed_regions():
    ring = np.zeros((20, 20), bool)
    ring[5:15, 5:15] = True
    ring[7:13, 7:13] = False
    assert enclosed(ring, 10, 10).sum() == 36            # inside the ring
    assert enclosed(ring, 6, 6).sum() == 36              # on the ring: its hole
    assert enclosed(ring, 1, 1) is None                  # outside: reaches the edge


def test_fill_inside_a_painted_outline(qtbot, window, show):
    ct = show("CT series")
    view = window.viewport
    window.session.set_active_class(next(c.id for c in window.project.classes() if c.name == "Lesion"))
    window.tool_actions["brush"].trigger()
    window.session.set_brush_radius(1.5)
    corners = [at(view, 0.3, 0.3), at(view, 0.6, 0.3), at(view, 0.6, 0.6), at(view, 0.3, 0.6), at(view, 0.3, 0.3)]
    points = [view.image_to_view(*p).toPoint() for p in corners]
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for p in points[1:]:
        QTest.mouseMove(view, p)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
    [s] = seg.segments(window.project.conn, ct.id)
    outline = s.voxels
    QTest.keyClick(view, Qt.Key.Key_Q)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.image_to_view(*at(view, 0.45, 0.45)).toPoint())
    filled = seg.segments(window.project.conn, ct.id)[0].voxels
    w, h = view.plane_size()
    assert filled > outline + 0.25 * (0.3 * w) * (0.3 * h)
    window.undo_action.trigger()
    assert seg.segments(window.project.conn, ct.id)[0].voxels == outline
