from __future__ import annotations

import pytest

from labeldesk.core.samples.demo import build_demo


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path_factory):
    """QSettings go to a fresh temporary folder per test, never to the user's configuration."""
    from PySide6 import QtCore
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                             str(tmp_path_factory.mktemp("qsettings")))


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo") / "project", small=True)


@pytest.fixture
def demo_project(demo_template, tmp_path):
    """A fresh copy of the demo project per test (source data stays shared and read-only)."""
    import shutil
    dest = tmp_path / "project"
    shutil.copytree(demo_template, dest, ignore=shutil.ignore_patterns("source-data", "project.lock"))
    # assets are found relative to the project folder: the copy sees the template's files
    (dest / "source-data").symlink_to(demo_template / "source-data", target_is_directory=True)
    return dest


@pytest.fixture
def win(qtbot, monkeypatch):
    """A main window with no project (not shown: tests that need it shown show it)."""
    from labeldesk.qt.main_window import MainWindow
    monkeypatch.setattr(MainWindow, "show_labeling_guide_once", lambda self: None)
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    yield w
    w.close()


@pytest.fixture
def window(qtbot, demo_project, monkeypatch):
    from PySide6 import QtWidgets

    from labeldesk.qt.main_window import MainWindow
    # the first-open labeling guide is tested on its own (test_labeling_guide_opens_once…)
    monkeypatch.setattr(MainWindow, "show_labeling_guide_once", lambda self: None)
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: None)
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical", lambda *a, **k: None)
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    w.open_project(demo_project)
    yield w
    w.close()


@pytest.fixture
def show(qtbot, window):
    return lambda name_part: _show(qtbot, window, name_part)


def _show(qtbot, window, name_part):
    """Select the asset whose name contains ``name_part`` and wait until it is displayed."""
    for a in window.project.assets():
        if name_part in a.name:
            # (only this asset's: an earlier asset's late "shown" must not end the wait)
            with qtbot.waitSignal(window.sig_asset_shown, timeout=20000, check_params_cb=lambda x, a=a: x == a.id):
                window.asset_panel.select(a.id)
                if window.current_asset_id == a.id and window.viewport.source is not None:
                    window.sig_asset_shown.emit(a.id)
            # DICOM series open progressively: wait until every slice is in
            qtbot.waitUntil(lambda: getattr(window.viewport.source, "complete", True), timeout=20000)
            qtbot.waitUntil(lambda: window._loading is None, timeout=20000)
            return a
    raise AssertionError(f"no asset named like {name_part}")
