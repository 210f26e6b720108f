"""Navigation as radiologists know it: wheel pages slices on volumes, reference lines follow every
slice change, orientation markers and corner overlays are painted and toggled by one key."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest

from labeldesk.qt.viewer import navigation
from tests.qt.test_viewer_repaint import grab

Qt = QtCore.Qt


def wheel(view, clicks: int, ctrl: bool = False) -> None:
    pos = QtCore.QPointF(view.width() / 2, view.height() / 2)
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QtGui.QWheelEvent(pos, view.mapToGlobal(pos), QtCore.QPoint(0, 0), QtCore.QPoint(0, 120 * clicks),
                              Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(view, event)


def test_wheel_pages_volumes_ctrl_wheel_zooms_and_the_setting_swaps(qtbot, window, show):
    show("CT series")
    view = window.viewport
    z, zoom = view.plane.z, view.zoom
    wheel(view, -2)                                        # toward you: next slices
    assert view.plane.z == z + 2 and view.zoom == zoom
    wheel(view, 1)
    assert view.plane.z == z + 1
    wheel(view, 1, ctrl=True)
    assert view.zoom > zoom and view.plane.z == z + 1
    window.actions_by_id["wheel_zooms_volumes"].setChecked(True)
    assert navigation.wheel_zooms_volumes()
    zoom = view.zoom
    wheel(view, 1)
    assert view.zoom > zoom and view.plane.z == z + 1
    wheel(view, -1, ctrl=True)
    assert view.plane.z == z + 2
    window.actions_by_id["wheel_zooms_volumes"].setChecked(False)
    show("site-photo-1")                                   # images keep wheel zoom
    zoom = view.zoom
    wheel(view, 1)
    assert view.zoom > zoom


def green_rows(pixels: np.ndarray) -> np.ndarray:
    """Rows where the crosshair's green runs across most of the width."""
    p = pixels.astype(int)
    g = (p[..., 1] > p[..., 0] + 60) & (p[..., 1] > p[..., 2] + 30)
    return np.flatnonzero(g.sum(axis=1) > pixels.shape[1] * 0.5)


def test_reference_lines_follow_every_slice_change(qtbot, window, show):
    show("CT series")
    window.show_mpr()
    axial, coronal, sagittal = window.grid.visible_views()
    window.grid.set_active(axial)
    for move in (lambda: wheel(axial, -3), lambda: axial.next_slice(), lambda: axial.set_plane(
            type(axial.plane)(2, 0, "axial"))):
        move()
        k = axial.plane.z
        assert coronal.crosshair_ijk[2] == k and sagittal.crosshair_ijk[2] == k
        for v in (coronal, sagittal):
            rows = green_rows(grab(v))
            want = v.image_to_view(0, k + 0.5).y()
            assert rows.size and np.min(np.abs(rows - want)) <= 1.5, (rows, want)


def marker_pixels(pixels: np.ndarray, box: tuple[slice, slice]) -> int:
    p = pixels[box]
    return int(((p[..., 0] > 200) & (p[..., 1] > 150) & (p[..., 1] < 220) & (p[..., 2] < 110)).sum())


def test_orientation_markers_and_corner_overlays_toggle_with_one_key(qtbot, window, show):
    show("CT series")
    view = window.viewport
    from labeldesk.qt.viewer.corner_overlay import lines, markers
    assert markers(view) == {"right": "L", "left": "R", "bottom": "P", "top": "A"}
    qtbot.waitUntil(lambda: "LABELDESK DEMO" in lines(view)["tr"])   # not de-identified (header read on the pool)
    text = lines(view)
    n = view.source.plane_count("axial")
    assert any(f"axial {view.plane.z + 1}/{n}" in line and " mm" in line for line in text["tl"])
    assert text["bl"][0].startswith("W 400  L 40")
    h, w = view.height(), view.width()
    left = (slice(h // 2 - 20, h // 2 + 10), slice(0, 30))
    corner = (slice(0, 60), slice(0, 250))
    before = grab(view)
    assert marker_pixels(before, left) > 5
    QTest.keyClick(view, Qt.Key.Key_H)
    after = grab(view)
    assert marker_pixels(after, left) == 0
    assert (np.abs(after[corner].astype(int) - before[corner]).max(axis=-1) > 60).sum() > 50
    QTest.keyClick(view, Qt.Key.Key_H)
    assert marker_pixels(grab(view), left) > 5
    view.show_coronal()
    assert markers(view) == {"right": "L", "left": "R", "top": "S", "bottom": "I"}


def test_a_ras_nifti_is_shown_in_the_radiological_convention(qtbot, window, show):
    """The demo NIfTI is stored RAS (i toward the patient's right, j anterior): it is mirrored both
    ways on screen, so its right is on the left and anterior on top, like the DICOM series; the
    painted pixels follow the mirrored mapping, and a click lands on the voxel under it."""
    from labeldesk.core.display import window_level
    from labeldesk.qt.viewer.corner_overlay import markers
    show("brain-phantom")
    view = window.viewport
    assert markers(view) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    w, h = view.plane_size()
    a, b = view.image_to_view(0.5, 0.5), view.image_to_view(w - 0.5, h - 0.5)
    assert a.x() > b.x() and a.y() > b.y()                  # voxel (0, 0) is bottom right
    x, y = view.view_to_image(QtCore.QPointF(a))
    assert abs(x - 0.5) < 1e-6 and abs(y - 0.5) < 1e-6
    pixels = view._plane_pixels
    disp = window_level(pixels, *view.window, slope=view.rescale[0], intercept=view.rescale[1],
                        invert=False)
    shot = grab(view)
    rng = np.random.default_rng(1)
    same = mirrored = 0
    for _ in range(200):                 # the noise tells the two ways apart (zoomed in: nearest)
        i, j = int(rng.integers(2, w - 2)), int(rng.integers(2, h - 2))
        p = view.image_to_view(i + 0.5, j + 0.5)
        got = int(shot[int(p.y()), int(p.x()), 0])
        same += abs(got - int(disp[j, i])) <= 1
        mirrored += abs(got - int(disp[h - 1 - j, w - 1 - i])) <= 1
    assert same >= 190 and mirrored < 150, (same, mirrored)
    view.show_coronal()
    assert markers(view) == {"left": "R", "right": "L", "top": "S", "bottom": "I"}


def test_drawing_on_a_mirrored_plane_lands_under_the_pointer(qtbot, window, show):
    """A box dragged on the mirrored NIfTI plane is stored in voxel coordinates and painted where
    it was dragged (the annotation layer is mirrored with the image)."""
    asset = show("brain-phantom")
    view = window.viewport
    window.session.set_active_class(None)
    a = QtCore.QPoint(view.width() // 2 - 60, view.height() // 2 - 40)
    b = QtCore.QPoint(view.width() // 2 + 40, view.height() // 2 + 50)
    QTest.keyClick(view, Qt.Key.Key_B)
    before = grab(view).astype(int)
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(view, QtCore.QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    QTest.mouseMove(view, b)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    (ann,) = window.project.annotations(asset.id)
    (xa, ya), (xb, yb) = view.view_to_image(QtCore.QPointF(a)), view.view_to_image(QtCore.QPointF(b))
    assert ann.geometry.bounds() == pytest.approx((min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)), abs=1e-6)
    assert xa > xb and ya > yb                         # mirrored both ways
    window.session.select(set())
    QTest.mouseMove(view, QtCore.QPoint(5, 5))
    changed = np.abs(grab(view).astype(int) - before).max(axis=-1) > 12
    inside = changed[a.y() + 5:b.y() - 5, a.x() + 5:b.x() - 5].mean()
    outside = changed[b.y() + 15:b.y() + 45, a.x():b.x()].mean()
    assert inside > 0.8 and outside < 0.05, (inside, outside)


def test_the_reformat_layout_follows_the_series_chosen_in_the_list(qtbot, window, show):
    from labeldesk.qt.viewer.corner_overlay import markers
    show("CT series")
    window.show_mpr()
    views = window.grid.visible_views()
    assert [v.plane.axis for v in views] == ["axial", "coronal", "sagittal"]
    ct = views[0].source
    nifti = next(a for a in window.project.assets() if a.name.startswith("brain-phantom"))
    window.grid.set_active(views[2])                    # the sagittal view is the active one
    window.asset_panel.select(nifti.id)
    qtbot.waitUntil(lambda: all(v.source is not None and v.source is not ct for v in window.grid.visible_views()))
    views = window.grid.visible_views()
    assert len({id(v.source) for v in views}) == 1
    assert [v.plane.axis for v in views] == ["axial", "coronal", "sagittal"]
    assert markers(views[0]) == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    photo = next(a for a in window.project.assets() if a.name == "site-photo-1.jpg")
    window.asset_panel.select(photo.id)                  # not a volume: only the active view changes
    qtbot.waitUntil(lambda: window.viewport.source is not None and window.viewport.source.info.kind != "volume")
    assert window.grid.visible_views()[1].source.info.kind == "volume"
