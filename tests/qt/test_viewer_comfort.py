from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from labeldesk.core.model import Plane
from labeldesk.core.samples.video import read_stamp

Key = QtCore.Qt.Key


def test_video_plays_at_its_rate_pauses_and_scrubs(qtbot, window, show):
    show("traffic")
    bar = window.playback
    assert bar.isVisible() and bar.fps_box.value() == 25.0 and bar.slider.maximum() == 49
    qtbot.keyClick(window.viewport, Key.Key_Space)
    assert bar.playing and bar.timer.interval() == 40
    qtbot.waitUntil(lambda: window.viewport.plane.t >= 3, timeout=3000)
    qtbot.keyClick(window.viewport, Key.Key_Space)
    assert not bar.playing
    bar.slider.setValue(37)                                  # scrub
    assert window.viewport.plane.t == 37 and read_stamp(window.viewport._plane_pixels) == 37
    assert bar.label.text() == "38 / 50"
    bar.jump(500)
    assert window.viewport.plane.t == 49


def test_cine_through_volume_slices(qtbot, window, show):
    show("CT series")
    bar = window.playback
    assert bar.isVisible() and bar.slider.maximum() == 15
    bar.play()
    start = window.viewport.plane.z
    qtbot.waitUntil(lambda: window.viewport.plane.z != start, timeout=3000)
    bar.pause()


def test_view_state_is_remembered_per_asset(qtbot, window, show):
    show("CT series")
    view = window.viewport
    view.set_plane(Plane(z=3))
    view.set_window(-600, 1500)
    view.zoom_by(2.0)
    zoom = view.zoom
    show("site-photo-1")
    show("CT series")
    assert view.plane.z == 3 and view.window == (-600.0, 1500.0) and view.zoom == zoom


def test_colour_maps_scale_bar_and_overview(qtbot, window, show):
    show("CT series")
    view = window.viewport
    grey = view._render()[0]
    qtbot.keyClick(view, Key.Key_M)
    assert view.colourmap == "hot"
    hot = view._render()[0]
    assert grey.ndim == 2 and hot.ndim == 3
    assert view.pixel_mm() == 0.7
    show("aerial")
    view.zoom = 1.0
    view.center = (4500, 500)
    view._display = None
    view.grab()
    box = view.overview_rect
    assert box.width() <= 181 and box.right() <= view.width()
    press = QtCore.QPointF(box.left() + box.width() * 0.1, box.top() + box.height() / 2)
    from PySide6.QtTest import QTest
    QTest.mouseClick(view, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, press.toPoint())
    assert abs(view.center[0] - 900) < 120                  # the view jumped to 10 % of the width


def test_dicom_tag_browser_and_nifti_header(qtbot, window, show):
    show("CT series")
    window.show_header()
    dlg = window.header_dialog
    qtbot.addWidget(dlg)
    dlg.search.setText("Rescale Intercept")
    assert "Rescale Intercept" in dlg.matching()
    assert "Patient's Name" not in dlg.matching()
    show("brain-phantom")
    window.show_header()
    names = [window.header_dialog.tree.topLevelItem(i).text(1) for i in range(window.header_dialog.tree.topLevelItemCount())]
    assert "sform_code" in names and "pixdim" in names


def test_pyramid_tiles_load_off_the_gui_thread_with_placeholders(qtbot, window, show):
    show("aerial")
    view = window.viewport
    view.zoom, view.center = 1.0, (3000, 500)
    view.source.cache.clear()
    view._display = None
    first = view._render()[0].copy()
    assert view.missing_tiles > 0                       # drawn from the coarse level meanwhile
    def settled() -> bool:
        view._display = None
        view._render()
        return view.missing_tiles == 0
    qtbot.waitUntil(settled, timeout=10000)
    disp, _, rect = view._render()
    assert view.missing_tiles == 0
    x0, y0 = int(rect.left()), int(rect.top())
    exact = view.source.read_region(0, x0, y0, disp.shape[1], disp.shape[0])
    assert np.array_equal(disp, exact)                  # uint8 RGB passes W/L unchanged
    assert not np.array_equal(first, disp)


def test_stale_tile_requests_are_dropped():
    import threading

    from labeldesk.qt.viewer.tile_loader import TileLoader
    gate = threading.Event()
    decoded = []

    class SlowSource:
        def read_tile(self, level, col, row):
            if (level, col, row) == (0, 0, 0):
                gate.wait(5)
            decoded.append((level, col, row))

    loader = TileLoader(threads=1)
    src = SlowSource()
    loader.request(src, [(0, 0, 0), (0, 1, 0), (0, 2, 0), (0, 3, 0)])
    loader.request(src, [(0, 0, 0), (0, 9, 9)])        # the view moved: 1..3 are no longer wanted
    gate.set()
    assert loader.wait(5000)
    assert (0, 9, 9) in decoded and not {(0, 1, 0), (0, 2, 0), (0, 3, 0)} & set(decoded)
    assert loader.stats["dropped"] == 3


def test_a_tile_that_cannot_be_decoded_is_said_once_and_not_asked_for_again(qtbot, window):
    from labeldesk.core.errors import InputError
    from labeldesk.qt.viewer.tile_loader import TileLoader
    tried = []

    class DamagedSource:
        def read_tile(self, level, col, row):
            tried.append((level, col, row))
            if col == 1:
                raise InputError("aerial.pyramid", f"tile {level}/{col}/{row} is corrupt; re-add the image")

    loader = TileLoader(threads=1)
    said = []
    loader.sig_tile_failed.connect(said.append)
    src = DamagedSource()
    loader.request(src, [(0, 0, 0), (0, 1, 0), (0, 1, 1)])
    assert loader.wait(5000)
    qtbot.waitUntil(lambda: bool(said), timeout=2000)
    loader.request(src, [(0, 0, 0), (0, 1, 0), (0, 1, 1)])    # the next paint asks again
    assert loader.wait(5000)
    QtWidgets.QApplication.processEvents()
    assert sorted(tried) == [(0, 0, 0), (0, 0, 0), (0, 1, 0), (0, 1, 1)]      # the bad ones once
    assert len(said) == 1 and "corrupt; re-add the image" in said[0] and loader.stats["failed"] == 2
    # the window says it in its status bar
    window.grid.tile_loader.sig_tile_failed.emit(said[0])
    assert "re-add the image" in window.statusBar().currentMessage()


def test_escape_cancels_a_slow_load(qtbot, window, show, monkeypatch):
    import threading

    from labeldesk.core.io import registry
    release = threading.Event()
    real = registry.open_locator

    def slow(locator, progress=None):
        for i in range(200):
            progress.report(i, 200, "reading")           # raises Cancelled once Esc was pressed
            release.wait(0.02)
        return real(locator)
    monkeypatch.setattr(registry, "open_locator", slow)
    photo = next(a for a in window.project.assets() if a.name.startswith("site-photo-2"))
    window.show_asset(photo.id)
    view = window.viewport
    qtbot.waitUntil(lambda: "%" in view.message, timeout=5000)
    qtbot.keyClick(view, Key.Key_Escape)
    qtbot.waitUntil(lambda: "cancelled" in view.message, timeout=5000)
    assert view.source is None
