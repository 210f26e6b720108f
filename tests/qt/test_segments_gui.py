"""Segments in the app: on a volume the brush, spherical brush, eraser and wand edit the active
segment (one 3-D label map, one undo step per stroke); the Segments panel lists it with its volume;
interpolation fills between painted slices; per-slice masks convert into segments."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore
from PySide6.QtTest import QTest

from labeldesk.core import segments as seg
from labeldesk.core.geometry import Mask
from tests.qt.test_measurements_gui import at, drag
from tests.qt.test_viewer_repaint import grab

Qt = QtCore.Qt


def coloured(pixels: np.ndarray, colour: str) -> int:
    """Pixels tinted toward a segment colour (red here) relative to grey."""
    p = pixels.astype(int)
    return int(((p[..., 0] - p[..., 1] > 40) & (p[..., 0] - p[..., 2] > 40)).sum())


def lesion(window):
    return next(c for c in window.project.classes() if c.name == "Lesion")


def test_spherical_brush_stroke_is_one_segment_and_one_undo_step(qtbot, window, show):
    ct = show("CT series")
    view = window.viewport
    window.session.set_active_class(lesion(window).id)
    before = grab(view)
    QTest.keyClick(view, Qt.Key.Key_D)
    QTest.keyClick(view, Qt.Key.Key_Backslash)               # spherical brush on
    window.session.set_brush_radius(6)
    undo_before = window.session.undo_stack.count()
    drag(view, at(view, 0.3, 0.5), at(view, 0.6, 0.5))
    assert window.session.undo_stack.count() == undo_before + 1
    [s] = seg.segments(window.project.conn, ct.id)
    lm = seg.label_map(window.project.conn, s.id)
    painted = np.flatnonzero(lm.reshape(lm.shape[0], -1).any(axis=1))
    assert len(painted) >= 3 and view.plane.z in painted      # one segment over several slices
    assert window.project.annotations(ct.id) == [] or all(a.geometry.kind != "mask"
                                                           for a in window.project.annotations(ct.id))
    panel = window.segments_panel
    assert [r["name"] for r in panel.rows] == ["Lesion"] and float(panel.rows[0]["volume mL"]) > 0
    assert "HU" in panel.rows[0]["mean ± SD"]
    assert coloured(grab(view), s.color) > coloured(before, s.color) + 200
    window.undo_action.trigger()
    assert seg.segments(window.project.conn, ct.id) == [] and panel.rows == []
    assert coloured(grab(view), s.color) <= coloured(before, s.color) + 5


def test_strokes_add_to_the_class_segment_and_new_segment_splits(qtbot, window, show):
    ct = show("CT series")
    view = window.viewport
    window.session.set_active_class(lesion(window).id)
    window.tool_actions["brush"].trigger()
    drag(view, at(view, 0.3, 0.4), at(view, 0.4, 0.4))
    view.next_slice()
    drag(view, at(view, 0.3, 0.4), at(view, 0.4, 0.4))
    [first] = seg.segments(window.project.conn, ct.id)
    assert first.voxels > 0 and len(np.flatnonzero(seg.label_map(window.project.conn, first.id).any(axis=(1, 2)))) == 2
    window.segments_panel.buttons["new"].click()
    drag(view, at(view, 0.6, 0.6), at(view, 0.7, 0.6))
    segs = seg.segments(window.project.conn, ct.id)
    assert [s.name for s in segs] == ["Lesion", "Lesion 2"] and segs[1].voxels > 0 and segs[0].voxels == first.voxels
    window.tool_actions["eraser"].trigger()
    drag(view, at(view, 0.55, 0.6), at(view, 0.75, 0.6))
    assert seg.segments(window.project.conn, ct.id)[1].voxels == 0


def test_wand_and_fill_between_slices(qtbot, window, show):
    ct = show("CT series")
    view = window.viewport
    window.session.set_active_class(lesion(window).id)
    window.tool_actions["wand"].trigger()
    z0 = view.plane.z
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.image_to_view(*at(view, 0.5, 0.2)).toPoint())
    [s] = seg.segments(window.project.conn, ct.id)
    assert s.voxels > 0 and not any(a.geometry.kind == "mask" for a in window.project.annotations(ct.id))
    view.set_plane(type(view.plane)(z0 + 4, 0, "axial"))
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.image_to_view(*at(view, 0.5, 0.2)).toPoint())
    window.segments_panel.table.selectRow(0)
    window.segments_panel.buttons["fill"].click()
    lm = seg.label_map(window.project.conn, s.id)
    assert all(lm[z].sum() > 0 for z in range(z0, z0 + 5))
    window.undo_action.trigger()                              # the fill is one undo step
    lm = seg.label_map(window.project.conn, s.id)
    assert lm[z0 + 2].sum() == 0 and lm[z0].sum() > 0


def test_slice_masks_convert_into_a_segment(qtbot, window, show):
    ct = show("CT series")
    view = window.viewport
    window.session.set_active_class(lesion(window).id)
    w, h = view.plane_size()
    arr = np.zeros((h, w), bool)
    arr[h // 3: h // 2, w // 3: w // 2] = True
    for dz in (0, 1):
        window.session.create(Mask.from_array(arr).to_dict(), "mask")
        view.next_slice()
    panel = window.segments_panel
    panel.refresh()
    assert panel.buttons["convert"].isEnabled()
    panel.buttons["convert"].click()
    [s] = seg.segments(window.project.conn, ct.id)
    assert s.voxels == 2 * arr.sum() and not any(a.geometry.kind == "mask" for a in window.project.annotations(ct.id))
    window.undo_action.trigger()
    assert seg.segments(window.project.conn, ct.id) == []
    assert sum(a.geometry.kind == "mask" for a in window.project.annotations(ct.id)) == 2


def test_segment_statistics_wait_for_a_volume_still_loading(qtbot, window, show):
    ct = show("CT series")
    view = window.viewport
    window.session.set_active_class(lesion(window).id)
    window.tool_actions["brush"].trigger()
    view.source.complete = False                       # as while a DICOM series streams in
    drag(view, at(view, 0.3, 0.5), at(view, 0.4, 0.5))
    panel = window.segments_panel
    assert panel.rows[0]["mean ± SD"] == "loading…"
    view.source.complete = True
    view._load_plane()                                 # what the window does when the series is complete
    assert panel.rows[0]["mean ± SD"].endswith("HU")
    assert seg.segments(window.project.conn, ct.id)[0].voxels > 0
