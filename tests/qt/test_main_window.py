from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from labeldesk.core.model import Plane
from labeldesk.core.samples.ct import INTERCEPT, phantom_hu
from labeldesk.core.samples.video import read_stamp

Key = QtCore.Qt.Key


def grab_rgb(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_assets_listed_with_thumbnails(window):
    panel = window.asset_panel
    assert panel.list.count() == 6
    for i in range(panel.list.count()):
        assert not panel.list.item(i).icon().isNull()
    panel.filter_edit.setText("traffic")
    visible = [panel.list.item(i).text() for i in range(panel.list.count()) if not panel.list.item(i).isHidden()]
    assert len(visible) == 1 and "traffic.mp4" in visible[0]


def test_ct_slice_stepping_axis_and_hu_readout(qtbot, window, show):
    show("CT series")
    view = window.viewport
    assert view.plane == Plane(z=8)
    qtbot.keyClick(view, Key.Key_Up)
    assert view.plane.z == 9
    qtbot.keyClick(view, Key.Key_PageDown)
    assert view.plane.z == 0                          # clamped at the first slice
    qtbot.keyClick(view, Key.Key_C)
    assert view.plane.axis == "coronal" and view.plane.z == 64
    qtbot.keyClick(view, Key.Key_A)
    view.set_plane(Plane(z=5))
    hu = phantom_hu(128, 16)
    # the readout under a known pixel shows the stored value and its HU
    pos = view.image_to_view(70.5, 40.5)
    with qtbot.waitSignal(view.sig_readout) as blocker:
        qtbot.mouseMove(view, pos.toPoint())
    text = blocker.args[0]
    assert "x 70  y 40" in text
    assert f"value {int(hu[5, 40, 70]) - INTERCEPT}" in text and f"→ {int(hu[5, 40, 70])} HU" in text


def test_window_level_drag_presets_and_invert_change_pixels(qtbot, window, show):
    show("CT series")
    view = window.viewport
    assert view.window == (40.0, 400.0)            # from the DICOM header
    centre = view.rect().center()
    before = grab_rgb(view)
    qtbot.mousePress(view, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.ControlModifier, centre)
    qtbot.mouseMove(view, centre + QtCore.QPoint(40, 20))
    qtbot.mouseRelease(view, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.ControlModifier,
                       centre + QtCore.QPoint(40, 20))
    c, w = view.window
    assert w > 400 and c > 40
    window.actions_by_id["wl_lung"].trigger()
    assert view.window == (-600.0, 1500.0)
    qtbot.keyClick(view, Key.Key_I)
    assert view.invert
    assert not np.array_equal(before, grab_rgb(view))


def test_pixels_on_screen_match_the_window(qtbot, window, show):
    show("CT series")
    view = window.viewport
    view.set_window(0, 2000)                        # HU -1000..1000 -> 0..255
    p = view.image_to_view(64.5, 64.5 + 0.2 * 128)  # the spine (~700 HU) of slice 8
    hu = phantom_hu(128, 16)[8, int(64 + 0.2 * 128), 64]
    rgb = grab_rgb(view)[int(p.y()), int(p.x())]
    assert abs(int(rgb[0]) - round((hu + 1000) / 2000 * 255)) <= 2


def test_video_frame_stepping_shows_the_stamped_frame(qtbot, window, show):
    show("traffic")
    view = window.viewport
    qtbot.keyClick(view, Key.Key_Right)
    qtbot.keyClick(view, Key.Key_Right, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert view.plane.t == 11
    assert read_stamp(view._plane_pixels) == 11
    qtbot.keyClick(view, Key.Key_Left)
    assert read_stamp(view._plane_pixels) == 10


def test_pyramid_reads_only_the_visible_level(qtbot, window, show):
    show("aerial")
    view = window.viewport
    assert view.source.info.kind == "pyramid" and view._plane_pixels is None
    view.grab()
    _, _, rect = view._render()
    assert rect.width() >= 9000 * 0.9                # fitted: the whole width, from a coarse level
    view.zoom = 2.0
    view.center = (4500, 500)
    view._display = None
    view.grab()
    disp, _, rect = view._render()
    assert rect.width() < 1000 and disp.shape[1] < 1000    # zoomed in: a small level-0 region


def test_add_files_reports_refusals(qtbot, window, show, tmp_path):
    from labeldesk.core.samples import images
    images.write_image(tmp_path / "new.png", images.scene_rgb(50, 40, seed=9))
    images.write_zero_byte(tmp_path / "empty.png")
    n = window.asset_panel.list.count()
    runner = window.add_paths([str(tmp_path)])
    # (the worker may finish before a waitSignal could connect: wait for its result to be handled)
    qtbot.waitUntil(lambda: runner not in window._tasks, timeout=20000)
    qtbot.waitUntil(lambda: window.asset_panel.list.count() == n + 1, timeout=5000)
    report = window.last_report
    assert [a.name for a in report.added] == ["new.png"]
    assert report.refused[0][0].endswith("empty.png")


def test_shortcuts_dialog_lists_actions(qtbot, window, show):
    from labeldesk.qt.dialogs.shortcuts_dialog import ShortcutsDialog
    dlg = ShortcutsDialog(window)
    qtbot.addWidget(dlg)
    keys = {k for _g, k, _a in dlg.visible_rows()}
    assert {"Up", "PgUp", "Shift+Right", "A", "C", "S", "I", "Ctrl + left drag"} <= keys
    groups = [dlg.tree.topLevelItem(i).text(0) for i in range(dlg.tree.topLevelItemCount())]
    assert groups[:3] == ["File", "Edit", "View"] and "Mouse" in groups
    total = len(dlg.visible_rows())
    dlg.search.setText("window/level")                    # searchable: keys, actions and notes
    hits = dlg.visible_rows()
    assert 0 < len(hits) < total / 4
    assert ("Mouse", "Ctrl + left drag", "Window/level") in hits
    dlg.search.setText("ctrl+i")
    assert {k for _g, k, _a in dlg.visible_rows()} >= {"Ctrl+I"}


def test_shortcuts_dialog_lists_every_tool(qtbot, window):
    from labeldesk.qt.dialogs.shortcuts_dialog import ShortcutsDialog
    from labeldesk.qt.edit_session import TOOLS
    dlg = ShortcutsDialog(window)
    qtbot.addWidget(dlg)
    rows = {k: a for _g, k, a in dlg.visible_rows()}
    for tool in TOOLS:
        assert rows[tool.shortcut] == f"{tool.label} tool"
    assert "Ctrl+I" in rows and "1 … 9" in rows


def test_readout_mm_follow_the_plane_and_clear_on_another_asset(qtbot, window, show):
    show("CT series")
    view = window.viewport
    view.show_coronal()
    sx, sy, sz = view.source.info.spacing
    assert sz != sy
    pos = view.image_to_view(40.5, 10.5)
    with qtbot.waitSignal(view.sig_readout) as blocker:
        qtbot.mouseMove(view, pos.toPoint())
    x, y = view.view_to_image(QtCore.QPointF(pos.toPoint()))
    assert f"({x * sx:.1f}, {y * sz:.1f} mm)" in blocker.args[0]
    assert window.readout.text() == blocker.args[0]
    show("site-photo-1")                             # the CT's value is not shown over the photo
    assert window.readout.text() == ""


def test_next_and_previous_asset_keys_follow_the_filtered_list(qtbot, window, show):
    from tests.qt.test_viewer_repaint import grab
    show("site-photo-1")
    view = window.viewport
    names = lambda: window.project.asset(window.current_asset_id).name      # noqa: E731
    before = grab(view)
    qtbot.keyClick(view, Key.Key_PageDown, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert names() == "site-photo-2.png"
    qtbot.waitUntil(lambda: view.source is not None and not np.array_equal(grab(view), before))
    qtbot.keyClick(view, Key.Key_PageUp, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert names() == "site-photo-1.jpg"
    window.asset_panel.filter_edit.setText(".png")         # only the filtered assets are stepped
    window.asset_panel.select(window.current_asset_id)
    assert window.actions_by_id["asset_next"].shortcut().toString() == "Ctrl+PgDown"
    window.actions_by_id["asset_next"].trigger()
    assert names() == "site-photo-2.png"
    assert not window.asset_panel.step_next()             # the last one: stays
    assert names() == "site-photo-2.png"
