"""Every view-state change repaints at once: the test grabs the viewport's pixels before and after
and checks them against what the new state says (not that a number changed)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui
from PySide6.QtTest import QTest

from labeldesk.core.display import CT_PRESETS, window_level

Qt = QtCore.Qt


@pytest.fixture(autouse=True)
def no_corner_texts():
    """The probes look at image pixels: corner texts and markers stay out of the way."""
    from labeldesk.qt.viewer.corner_overlay import CornerState
    before = CornerState.visible
    CornerState.visible = False
    yield
    CornerState.visible = before


def grab(view) -> np.ndarray:
    img = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def probe_points(view, n: int = 40) -> list[tuple[int, int]]:
    """View pixels on the image (away from the corner texts and the image border), spread over
    the central area of what is visible of the image."""
    pw, ph = view.plane_size()
    a, b = view.image_to_view(0, 0), view.image_to_view(pw, ph)
    x0, x1 = max(min(a.x(), b.x()), 0), min(max(a.x(), b.x()), view.width())
    y0, y1 = max(min(a.y(), b.y()), 0), min(max(a.y(), b.y()), view.height())
    rng = np.random.default_rng(1)
    xs = rng.integers(x0 + (x1 - x0) * 0.25, x0 + (x1 - x0) * 0.75, 4 * n)
    ys = rng.integers(y0 + (y1 - y0) * 0.25, y0 + (y1 - y0) * 0.75, 4 * n)
    keep = np.ones(len(xs), bool)
    xy = view.crosshair_xy() if hasattr(view, "crosshair_xy") else None
    if xy is not None:                   # not on the crosshair's lines (drawn over the image)
        c = view.image_to_view(*xy)
        keep &= (np.abs(xs - c.x()) > 3) & (np.abs(ys - c.y()) > 3)
    return [(int(x), int(y)) for x, y in zip(xs[keep][:n], ys[keep][:n])]


def expected_grey(view, points, spread: bool = False) -> np.ndarray:
    """The grey level each view pixel must show under the viewport's current window; with
    ``spread``, the (low, high) range over the voxel and its neighbours (a probe on a voxel border
    may show the neighbour)."""
    slope, intercept = view.rescale
    display = window_level(view._plane_pixels, *view.window, slope=slope, intercept=intercept, invert=view.invert)
    out = []
    for x, y in points:
        ix, iy = view.view_to_image(QtCore.QPointF(x + 0.5, y + 0.5))
        ix, iy = int(ix), int(iy)
        if not spread:
            out.append(int(display[iy, ix]))
            continue
        patch = display[max(0, iy - 1):iy + 2, max(0, ix - 1):ix + 2]
        out.append((int(patch.min()), int(patch.max())))
    return np.array(out)


def shown_grey(view, points) -> np.ndarray:
    pixels = grab(view)
    return np.array([int(pixels[y, x, 0]) for x, y in points])


def assert_shows_window(view) -> None:
    points = probe_points(view)
    shown = shown_grey(view, points)
    lo_hi = expected_grey(view, points, spread=True)
    ok = (shown >= lo_hi[:, 0] - 2) & (shown <= lo_hi[:, 1] + 2)
    assert np.mean(ok) >= 0.9, (shown, lo_hi)          # (a probe may fall on a crosshair line)


def test_presets_menu_and_auto_repaint_at_once(qtbot, window, show):
    show("CT series")
    view = window.viewport
    assert_shows_window(view)
    for key in ("wl_lung", "wl_bone", "wl_brain", "wl_abdomen", "wl_soft"):
        before = grab(view)
        window.actions_by_id[key].trigger()                  # the View menu entry and Alt+1…5
        assert view.window == CT_PRESETS[{"wl_soft": "soft tissue"}.get(key, key[3:])]
        after = grab(view)
        assert (np.abs(after.astype(int) - before).max(axis=-1) > 8).sum() > 500, key
        assert_shows_window(view)
    QTest.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)        # W/L auto
    assert_shows_window(view)


def test_ctrl_drag_repaints_every_move(qtbot, window, show):
    show("CT series")
    view = window.viewport
    window.actions_by_id["wl_soft"].trigger()
    start = QtCore.QPoint(view.width() // 2, view.height() // 2)
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, start)
    for dx in (40, 80, 160):
        before = grab(view)
        QTest.mouseMove(view, start + QtCore.QPoint(dx, dx // 2))
        assert view.window != CT_PRESETS["soft tissue"]
        assert (np.abs(grab(view).astype(int) - before).max(axis=-1) > 8).sum() > 200
        assert_shows_window(view)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, start)


def test_linked_mpr_views_repaint_with_the_window(qtbot, window, show):
    show("CT series")
    window.show_mpr()
    axial, coronal, sagittal = window.grid.visible_views()
    window.grid.set_active(axial)
    axial.preset("lung")
    for v in (coronal, sagittal):          # W/L is linked across the views of one volume by default
        assert v.window == CT_PRESETS["lung"]
        assert_shows_window(v)
    axial.preset("bone")
    assert_shows_window(coronal)


def test_invert_and_colour_map_repaint(qtbot, window, show):
    show("CT series")
    view = window.viewport
    window.actions_by_id["wl_abdomen"].trigger()
    points = probe_points(view)
    grey = shown_grey(view, points)
    window.actions_by_id["invert"].trigger()
    assert np.mean(np.abs(shown_grey(view, points) - (255 - grey)) <= 2) >= 0.9
    window.actions_by_id["invert"].trigger()
    window.actions_by_id["colourmap"].trigger()            # grey -> hot
    from labeldesk.qt.viewer.viewport_view import apply_colourmap
    pixels = grab(view)
    want = apply_colourmap(expected_grey(view, points).astype(np.uint8)[None, :], "hot")[0]
    got = np.array([pixels[y, x] for x, y in points]).astype(int)
    assert np.mean(np.abs(got - want).max(axis=-1) <= 3) >= 0.8       # (voxel borders: see above)
    assert (np.abs(got[:, 0] - got[:, 2]) > 60).sum() >= 10             # and it is not grey


def test_annotation_visibility_and_opacity_repaint(qtbot, window, show):
    show("CT series")
    view = window.viewport
    session = window.session
    session.set_active_class(next(c.id for c in window.project.classes() if c.name == "Lesion"))
    w, h = view.plane_size()
    ann = session.create({"kind": "box", "xyxy": [w * 0.3, h * 0.3, w * 0.7, h * 0.7]}, "Box")
    assert ann is not None
    session.select(set())
    inside = view.image_to_view(w * 0.5, h * 0.5)
    probe = (int(inside.x()), int(inside.y()))
    shown = grab(view)[probe[1], probe[0]].astype(int)
    window.annotation_panel.sig_opacity_changed.emit(0.9)
    opaque = grab(view)[probe[1], probe[0]].astype(int)
    assert np.abs(opaque - shown).max() > 20                 # a stronger fill shows at once
    window.annotation_panel.sig_visibility_changed.emit({ann})
    hidden = grab(view)[probe[1], probe[0]].astype(int)
    assert np.abs(hidden - opaque).max() > 20
    assert_shows_window(view)                                # nothing of the box is left
