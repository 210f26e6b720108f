from __future__ import annotations

import pytest
from PySide6 import QtCore, QtWidgets
from PySide6.QtTest import QTest

from labeldesk.core.model import Plane
from labeldesk.qt.viewer.viewport_grid import ASSET_MIME, asset_mime

Key = QtCore.Qt.Key


def test_layouts_and_an_asset_per_viewport(qtbot, window, show):
    ct = show("CT series")
    for name, n in (("1x2", 2), ("2x1", 2), ("2x2", 4), ("1x3", 3), ("1x1", 1)):
        window.set_layout(name)
        assert len(window.grid.visible_views()) == n
    window.actions_by_id["layout_1x2"].trigger()
    left, right = window.grid.visible_views()
    photo = next(a for a in window.project.assets() if a.name.startswith("site-photo-1"))
    with qtbot.waitSignal(window.sig_asset_shown, timeout=10000, check_params_cb=lambda a: a == photo.id):
        window.show_asset(photo.id, right)
    assert left.asset_id == ct.id and right.asset_id == photo.id
    assert window.viewport is right and window.session.viewport is right
    # keys act on the active viewport only
    # (as a user clicks into it: focus too, so that a focus change still queued for the viewport
    # that just got its asset cannot make that one active again under load)
    window.grid.set_active(left)
    left.setFocus()
    QtWidgets.QApplication.processEvents()
    assert window.viewport is left
    qtbot.keyClick(left, Key.Key_Up)
    assert left.plane.z == 9


def test_same_asset_twice_shares_one_source_and_annotations_show_in_both(qtbot, window, show):
    ct = show("CT series")
    window.set_layout("1x2")
    left, right = window.grid.visible_views()
    with qtbot.waitSignal(window.sig_asset_shown, timeout=10000, check_params_cb=lambda a: a == ct.id):
        window.show_asset(ct.id, right)
    assert right.source is left.source
    window.session.create({"kind": "box", "xyxy": [10, 10, 30, 30]}, "b")
    assert len(left.overlay.annotations) == 1 and len(right.overlay.annotations) == 1


def test_drop_an_asset_into_a_viewport(qtbot, window, show):
    show("CT series")
    window.set_layout("1x2")
    _, right = window.grid.visible_views()
    video = next(a for a in window.project.assets() if a.kind == "video")
    mime = asset_mime(video.id)
    assert mime.hasFormat(ASSET_MIME)
    from PySide6 import QtGui
    drop = QtGui.QDropEvent(QtCore.QPointF(50, 50), QtCore.Qt.DropAction.CopyAction, mime,
                            QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    # Qt delivers drops only inside a real drag; hand the event to the grid's handler directly
    # (the CT's own late "shown" may come first under load: wait for the video's)
    with qtbot.waitSignal(window.sig_asset_shown, timeout=10000, check_params_cb=lambda a: a == video.id):
        assert window.grid.eventFilter(right, drop)
    assert right.asset_id == video.id and right.source.info.kind == "video"


def test_mpr_layout_with_a_linked_crosshair(qtbot, window, show):
    show("CT series")
    window.actions_by_id["mpr"].trigger()
    axial, coronal, sagittal = window.grid.visible_views()
    assert [v.plane.axis for v in (axial, coronal, sagittal)] == ["axial", "coronal", "sagittal"]
    assert axial.source is coronal.source is sagittal.source
    assert axial.crosshair_ijk == (64, 64, 8)
    # shift+click in the axial view at voxel (40, 70) moves the coronal and sagittal slices there
    pos = axial.image_to_view(40.5, 70.5).toPoint()
    QTest.mouseClick(axial, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.ShiftModifier, pos)
    assert axial.crosshair_ijk == (40, 70, 8)
    assert coronal.plane == Plane(z=70, axis="coronal") and sagittal.plane == Plane(z=40, axis="sagittal")
    # the coronal view shows the same voxel column: its pixel at (i, k) is the axial pixel at (i, j)
    vol = axial.source.voxels[0]
    assert coronal._plane_pixels[8, 40] == vol[8, 70, 40] == axial._plane_pixels[70, 40]
    # shift+click in the sagittal view moves the axial slice
    pos = sagittal.image_to_view(70.5, 3.5).toPoint()
    QTest.mouseClick(sagittal, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.ShiftModifier, pos)
    assert axial.plane.z == 3 and axial.crosshair_ijk == (40, 70, 3)
    assert "LPS" in window.statusBar().currentMessage()
    # anisotropic spacing: the coronal view draws slices 2.5 mm tall next to 0.7 mm pixels
    a = coronal.image_to_view(0, 0)
    b = coronal.image_to_view(1, 1)
    assert abs((b.y() - a.y()) / (b.x() - a.x())) == pytest.approx(2.5 / 0.7, rel=1e-6)


def test_mpr_refuses_non_volumes(qtbot, window, show):
    show("site-photo-1")
    window.show_mpr()
    assert "needs a volume" in window.statusBar().currentMessage()
    assert len(window.grid.visible_views()) == 1


def test_links_carry_pan_zoom_window_slice_and_frame(qtbot, window, show):
    ct = show("CT series")
    window.set_layout("1x2")
    left, right = window.grid.visible_views()
    with qtbot.waitSignal(window.sig_asset_shown, timeout=10000, check_params_cb=lambda a: a == ct.id):
        window.show_asset(ct.id, right)
    for key in ("pan_zoom", "window", "slice"):
        window.actions_by_id[f"link_{key}"].setChecked(True)
    left.zoom_by(2.0)
    assert right.zoom == left.zoom and right.center == left.center
    left.set_window(-600, 1500)
    assert right.window == (-600.0, 1500.0)
    left.set_plane(Plane(z=3))
    assert right.plane.z == 3
    # a different series: the nearest slice by patient position, not by index
    brain = next(a for a in window.project.assets() if a.name.startswith("brain"))
    with qtbot.waitSignal(window.sig_asset_shown, timeout=10000, check_params_cb=lambda a: a == brain.id):
        window.show_asset(brain.id, right)
    window.grid.set_active(left)
    left.set_plane(Plane(z=10))
    z_mm = left.slice_position_mm()[2]
    r_mm = right.slice_position_mm()[2]
    spacing = right.source.info.spacing[2]
    assert abs(z_mm - r_mm) <= spacing / 2 + 1e-6 or right.plane.z in (0, right.source.plane_count("axial") - 1)


def test_same_asset_two_viewports_two_layers(qtbot, window, show):
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    ct = show("CT series")
    other = ids.new_id()
    window.project.apply(OpDraft("layer.create", other, {"layer": {"name": "second reader"}}))
    window.session.create({"kind": "box", "xyxy": [10, 10, 30, 30]}, "mine")
    window.project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": ct.id, "layer_id": other, "plane": {"z": 8}, "geometry": {"kind": "box", "xyxy": [50, 50, 70, 70]}}}))
    window.set_layout("1x2")
    left, right = window.grid.visible_views()
    with qtbot.waitSignal(window.sig_asset_shown, timeout=10000, check_params_cb=lambda a: a == ct.id):
        window.show_asset(ct.id, right)
    window.grid.set_active(left)
    window.set_viewport_layer(window.project.my_layer_id)
    window.grid.set_active(right)
    window.set_viewport_layer(other)
    assert [a.layer_id for a in left.overlay.annotations] == [window.project.my_layer_id]
    assert [a.layer_id for a in right.overlay.annotations] == [other]
