"""The window a new user meets: start page, new project, recent projects, drops, who you are,
role-gated actions, the tool-options bar, panels, theme, settings. Pixels where it shows."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.core.samples import images
from tests.qt.test_main_window import grab_rgb


@pytest.fixture
def bare(qtbot, monkeypatch):
    """The window as `labeldesk gui` opens it with no project."""
    from labeldesk.qt.main_window import MainWindow
    monkeypatch.setattr(MainWindow, "show_labeling_guide_once", lambda self: None)
    monkeypatch.delenv("LABELDESK_USER", raising=False)
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    w.files.ask_options = False
    yield w
    w.close()


def _centre_brightness(window) -> float:
    rgb = grab_rgb(window)
    h, w = rgb.shape[:2]
    return float(rgb[h // 3: 2 * h // 3, w // 3: 2 * w // 3].mean())


def _new_project(monkeypatch, window, folder, name="Study", user="alice"):
    from labeldesk.qt.dialogs.new_project_dialog import NewProjectDialog

    def fake_exec(dialog):
        dialog.name.setText(name)
        dialog.location.setText(str(folder))
        dialog.user.setText(user)
        assert dialog.problem_text() == ""
        return QtWidgets.QDialog.DialogCode.Accepted
    monkeypatch.setattr(NewProjectDialog, "exec", fake_exec)
    assert window.files.new_project()


def test_start_page_new_project_and_recent_projects(qtbot, bare, monkeypatch, tmp_path):
    w = bare
    assert w.pages.currentWidget() is w.start_page
    assert not w.actions_by_id["close_project"].isEnabled()
    assert not w.findChild(QtWidgets.QDockWidget, "assets_dock").isVisible()     # the start page alone
    light = _centre_brightness(w)
    _new_project(monkeypatch, w, tmp_path)
    assert w.project is not None and w.project.name == "Study" and w.project.root == (tmp_path / "Study").resolve()
    assert w.pages.currentWidget() is w.work and w.findChild(QtWidgets.QDockWidget, "assets_dock").isVisible()
    assert _centre_brightness(w) < light - 60       # the (dark) viewer replaced the start page
    assert "alice" in w.identity_label.text() and "admin" in w.identity_label.text()
    # File ▸ Open recent and the start page list it; Close project goes back to the start page
    recent = [a.text() for a in w.recent_menu.actions()]
    assert any(str(tmp_path / "Study") in t for t in recent)
    w.actions_by_id["close_project"].trigger()
    assert w.project is None and w.pages.currentWidget() is w.start_page
    assert w.start_page.recent.count() == 1 and w.start_page.recent.item(0).toolTip() == str(tmp_path / "Study")
    with qtbot.waitSignal(w.sig_asset_shown, timeout=100, raising=False):
        qtbot.keyClick(w.start_page, QtCore.Qt.Key.Key_Return)         # Enter opens the recent project
    assert w.project is not None and w.project.name == "Study"


def test_new_project_dialog_explains_what_is_wrong(qtbot, tmp_path):
    from labeldesk.qt.dialogs.new_project_dialog import NewProjectDialog
    (tmp_path / "Taken").mkdir()
    (tmp_path / "Taken" / "x.txt").write_text("x")
    d = NewProjectDialog(None, str(tmp_path))
    qtbot.addWidget(d)
    ok = d.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and "name" in d.problem_text()
    d.name.setText("Taken")
    assert not ok.isEnabled() and "not empty" in d.problem.text()
    d.name.setText("Fresh")
    assert ok.isEnabled()


def _drop(window, paths):
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QtCore.QPointF(window.width() / 2, window.height() / 2)
    enter = QtGui.QDragEnterEvent(pos.toPoint(), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(pos, QtCore.Qt.DropAction.CopyAction, mime, QtCore.Qt.MouseButton.LeftButton,
                            QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(window, drop)


def test_dropping_a_folder_adds_it_and_reports_refusals(qtbot, bare, monkeypatch, tmp_path):
    w = bare
    (tmp_path / "projects").mkdir()
    _new_project(monkeypatch, w, tmp_path / "projects")
    images.write_image(tmp_path / "drop" / "a.png", images.scene_rgb(60, 40))
    images.write_zero_byte(tmp_path / "drop" / "broken.png")
    before = grab_rgb(w.viewport)
    _drop(w, [tmp_path / "drop"])
    qtbot.waitUntil(lambda: getattr(w, "last_report", None) is not None, timeout=20000)
    assert [a.name for a in w.last_report.added] == ["a.png"]
    assert w.last_report.refused[0][0].endswith("broken.png")
    assert "refused  " in w.add_report_box.detailedText() and "broken.png" in w.add_report_box.detailedText()
    w.add_report_box.close()
    qtbot.waitUntil(lambda: w.viewport.source is not None, timeout=20000)   # the first added asset is shown
    assert not np.array_equal(before, grab_rgb(w.viewport))


@pytest.fixture
def keyring(tmp_path, monkeypatch):
    """A private keyring for the test: acting as a member needs their private key on this computer."""
    from labeldesk.core.sync import keys
    monkeypatch.setenv("LABELDESK_KEYS_DIR", str(tmp_path / "keys"))
    return lambda project, user_id, name: keys.generate(project.id, user_id, name)


def test_status_bar_names_the_user_and_actions_follow_roles(qtbot, window, keyring):
    from labeldesk.core.review.roles import add_user
    w = window
    text = w.identity_label.text()
    assert text.startswith(w.project.users()[0].name) and "admin, annotator, reviewer, adjudicator" in text
    assert w.actions_by_id["approve"].isEnabled()                 # the admin holds every role
    bob = add_user(w.project, "bob", ["annotator"], reason="team")
    carol = add_user(w.project, "carol", ["annotator"], reason="team")
    w.set_user(carol)                                   # carol's private key is not on this computer
    assert w.identity_label.text().startswith(w.project.users()[0].name)
    keyring(w.project, bob, "bob")
    w.set_user(bob)
    assert w.identity_label.text() == "bob · annotator"
    approve = w.actions_by_id["approve"]
    assert not approve.isEnabled() and "needs role reviewer or adjudicator" in approve.toolTip()
    assert not w.actions_by_id["add_files"].isEnabled() and "admin" in w.actions_by_id["add_files"].toolTip()
    assert w.actions_by_id["submit"].isEnabled()
    assert w.project.user_id == bob                     # what the window does is done as bob
    # the label is painted in the status bar
    assert w.identity_label.isVisible() and w.identity_label.grab().width() > 40


def test_the_gui_honours_labeldesk_user(qtbot, window, demo_project, monkeypatch, keyring):
    from labeldesk.core.review.roles import add_user
    rita = add_user(window.project, "rita", ["reviewer"], reason="team")
    monkeypatch.setenv("LABELDESK_USER", "rita")
    window.open_project(demo_project)                       # no key for rita here: the own user, and why
    assert not window.identity_label.text().startswith("rita")
    assert "private key" in window.statusBar().currentMessage()
    keyring(window.project, rita, "rita")
    window.open_project(demo_project)
    assert window.identity_label.text() == "rita · reviewer"
    monkeypatch.setenv("LABELDESK_USER", "nobody")
    window.open_project(demo_project)
    assert "LABELDESK_USER" in window.statusBar().currentMessage() and "nobody" in window.statusBar().currentMessage()


def test_tool_options_bar_shows_the_active_tool_only_and_toolbar_does_not_shift(qtbot, window, show):
    w = window
    show("site-photo-1")
    bar = w.findChild(QtWidgets.QToolBar, "tools_toolbar")
    width = bar.sizeHint().width()
    options = w.tool_options
    w.tool_actions["threshold"].trigger()
    assert options.stack.currentWidget() is options.pages["threshold"] and options.threshold_low.isVisible()
    threshold_pixels = grab_rgb(options)
    w.tool_actions["brush"].trigger()
    assert options.brush_size.isVisible() and not options.threshold_low.isVisible()
    assert not np.array_equal(threshold_pixels, grab_rgb(options))
    w.tool_actions["box"].trigger()
    assert not options.brush_size.isVisible() and "Drag" in options.hint.text()
    # draw a box: the undo action's text changes ("Undo Add box") but the toolbar keeps its width
    view = w.viewport
    a, b = view.image_to_view(100, 100).toPoint(), view.image_to_view(300, 250).toPoint()
    qtbot.mousePress(view, QtCore.Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(view, b)
    qtbot.mouseRelease(view, QtCore.Qt.MouseButton.LeftButton, pos=b)
    assert w.undo_action.isEnabled() and w.undo_action.text() != "&Undo"
    assert bar.sizeHint().width() == width
    assert all(not act.icon().isNull() for act in w.tool_actions.values())


def test_view_panels_brings_back_a_closed_panel(qtbot, window):
    dock = window.findChild(QtWidgets.QDockWidget, "annotations_dock")
    dock.close()
    assert not dock.isVisible()
    window._fill_panels_menu()
    action = next(a for a in window.panels_menu.actions() if a.text() == "Annotations")
    action.trigger()
    assert dock.isVisible()


def test_extensions_add_docks_and_menus(qtbot, window):
    label = QtWidgets.QLabel("quality checks")
    dock = window.add_dock("quality", "Quality", label, "bottom")
    menu = window.menu("Quality")
    menu.addAction("Check")
    assert window.docks["quality"] is dock and dock.isVisible()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles.index("Quality") == titles.index("Help") - 1
    assert window.menu("Review") is not menu


def test_dark_theme_and_settings(qtbot, window, monkeypatch):
    from labeldesk.qt import preferences
    from labeldesk.qt.dialogs.settings_dialog import SettingsDialog
    from labeldesk.qt.theme import apply_theme
    panel = window.asset_panel
    apply_theme("light")
    light = grab_rgb(panel).mean()
    d = SettingsDialog(window.project, window.user_id, window)
    qtbot.addWidget(d)
    d.sig_theme_changed.connect(window.set_theme)
    d.theme.setCurrentIndex(d.theme.findData("dark"))
    d.wheel.setCurrentIndex(1)
    d.sync.setValue(30)
    d.accept()
    try:
        assert grab_rgb(panel).mean() < light - 80
        assert preferences.value("appearance/theme") == "dark"
        assert preferences.value("viewer/wheel_zooms_volumes", False, bool) is True
        assert preferences.value("team/sync_interval_s", 0, int) == 30
    finally:
        apply_theme("light")


def test_asset_names_are_middle_elided_with_a_tooltip(window):
    lst = window.asset_panel.list
    assert lst.textElideMode() == QtCore.Qt.TextElideMode.ElideMiddle
    assert all(lst.item(i).toolTip().startswith(lst.item(i).data(QtCore.Qt.ItemDataRole.DisplayRole).split("\n")[0])
               for i in range(lst.count()))


def test_locate_files_from_the_window(qtbot, window, tmp_path):
    w = window
    images.write_image(tmp_path / "in" / "x.png", images.scene_rgb(44, 33))
    w.files.ask_options = False
    runner = w.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: runner not in w._tasks, timeout=20000)
    with w.project.transaction() as conn:
        conn.execute("DELETE FROM asset_local WHERE asset_id = ?", (w.last_report.added[0].id,))
    (tmp_path / "moved").mkdir()
    (tmp_path / "in" / "x.png").rename(tmp_path / "moved" / "y.png")
    w.offer_guide = False
    runner = w.files.locate_files(str(tmp_path / "moved"))
    qtbot.waitUntil(lambda: runner not in w._tasks, timeout=20000)
    assert [a.name for a in w.files.last_locate.linked] == ["x.png"]
    assert "found the files of 1 asset" in w.statusBar().currentMessage()


def test_nifti_header_values_are_plain():
    from labeldesk.qt.dialogs.header_dialog import plain
    assert plain(np.bytes_(b"n+1\x00")) == "n+1"
    assert plain(np.array([3, 4, 5], np.int16)) == "3 4 5"
    assert plain(np.float32(0.5)) == "0.5"
    assert plain(np.array(b"abc", dtype="S3")) == "abc"


def test_a_new_project_can_start_with_example_classes(qtbot, tmp_path):
    from labeldesk.core.project import Project
    from labeldesk.qt.dialogs.new_project_dialog import NewProjectDialog
    d = NewProjectDialog(None, str(tmp_path))
    qtbot.addWidget(d)
    d.name.setText("With classes")
    d.classes.setCurrentIndex(1)
    folder = d.create()
    with Project.open(folder) as p:
        assert {"Vehicle", "Person"} <= {c.name for c in p.classes()}


def test_arrow_keys_in_a_list_move_the_list_not_the_slice(qtbot, window, show):
    from labeldesk.core.model import Plane
    show("CT series")
    view = window.viewport
    view.set_plane(Plane(z=5))
    tree = window.ontology_panel.tree
    tree.setFocus()
    tree.setCurrentItem(tree.topLevelItem(0))
    qtbot.keyClick(tree, QtCore.Qt.Key.Key_Down)
    assert tree.currentItem() is not tree.topLevelItem(0)          # the list moved…
    assert view.plane.z == 5                                         # …the slice did not
    view.setFocus()                                                  # (a click in the viewport)
    qtbot.keyClick(view, QtCore.Qt.Key.Key_Up)                      # in the viewport the arrows step
    assert view.plane.z == 6


def test_window_layout_is_remembered_per_user(qtbot, window, demo_project, keyring):
    classes = window.findChild(QtWidgets.QDockWidget, "classes_dock")
    assert classes.isVisible()
    classes.close()
    window.close_project()
    window.open_project(demo_project)
    assert not window.findChild(QtWidgets.QDockWidget, "classes_dock").isVisible()
    from labeldesk.core.review.roles import add_user
    bob = add_user(window.project, "bob", ["annotator"], reason="team")
    keyring(window.project, bob, "bob")
    window.set_user(bob)                          # bob has no layout yet: the window stays as it is
    window.findChild(QtWidgets.QDockWidget, "classes_dock").show()
    window.findChild(QtWidgets.QDockWidget, "assets_dock").close()
    window.set_user(window.project._meta("user_id"))        # back: the first user's layout
    assert not window.findChild(QtWidgets.QDockWidget, "classes_dock").isVisible()
    assert window.findChild(QtWidgets.QDockWidget, "assets_dock").isVisible()


def test_de_identification_is_asked_only_where_dicom_may_be(tmp_path):
    from labeldesk.qt.project_files import maybe_dicom
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in ("a.png", "b.JPG", "sub/c.tif", "labels.json", "notes.txt", ".DS_Store"):
        (photos / name).write_bytes(b"x")
    assert not maybe_dicom([str(photos)])
    assert not maybe_dicom([str(photos / "a.png"), str(photos / "labels.json")])
    (photos / "sub" / "IM0001").write_bytes(b"x")            # DICOM files often have no suffix
    assert maybe_dicom([str(photos)])
    assert maybe_dicom([str(tmp_path / "x.dcm")])
    many = tmp_path / "many"
    many.mkdir()
    for i in range(30):
        (many / f"{i}.png").write_bytes(b"x")
    assert maybe_dicom([str(many)], budget=10)                # too big to look through: ask
