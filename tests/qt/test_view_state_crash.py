"""The view state (zoom, pan, slice, W/L, layout) is saved as it changes: after kill -9 of the app
the next start shows the same asset as it was."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6 import QtCore

SCRIPT = r"""
import os, sys, time
from PySide6 import QtCore, QtWidgets
QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, os.environ["LD_QSETTINGS"])
app = QtWidgets.QApplication([])
from labeldesk.qt.main_window import MainWindow
from labeldesk.core.model import Plane
MainWindow.show_labeling_guide_once = lambda self: None
w = MainWindow(); w.resize(1000, 700); w.show()
w.open_project(sys.argv[1])
def until(cond, limit=30):
    end = time.time() + limit
    while not cond():
        app.processEvents(); time.sleep(0.01)
        if time.time() > end: raise SystemExit("timed out")
ct = next(a.id for a in w.project.assets() if "CT series" in a.name)
w.asset_panel.select(ct)
until(lambda: w.viewport.source is not None and getattr(w.viewport.source, "complete", True) and w._loading is None)
mode = sys.argv[2]
if mode == "mpr":
    w.show_mpr()
    axial = w.grid.visible_views()[0]
    w.grid.set_active(axial)
    axial.set_plane(Plane(3, 0, "axial"))
    axial.set_window(-600, 1500)
else:
    v = w.viewport
    v.set_plane(Plane(11, 0, "axial"))
    v.set_window(400, 1800)
    v.zoom_by(2.0)
    v.center = (100.0, 90.0); v.sig_view_changed.emit()
deadline = time.time() + 1.0          # longer than the save delay; then nothing more happens
while time.time() < deadline:
    app.processEvents(); time.sleep(0.01)
print("READY", w.viewport.zoom, flush=True)
while True:
    app.processEvents(); time.sleep(0.05)
"""


def run_and_kill(project: Path, mode: str) -> str:
    ini = QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                           "labeldesk", "labeldesk").fileName()
    env = dict(os.environ, LD_QSETTINGS=str(Path(ini).parent.parent), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(project), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), proc.stderr.read() if proc.poll() is not None else line
    finally:
        os.kill(proc.pid, signal.SIGKILL)             # a crash: no closeEvent, no save on exit
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    return line


def reopen(qtbot, project: Path, monkeypatch):
    from labeldesk.qt.main_window import MainWindow
    monkeypatch.setattr(MainWindow, "show_labeling_guide_once", lambda self: None)
    QtCore.QSettings().sync()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    with qtbot.waitSignal(w.sig_asset_shown, timeout=20000):
        w.open_project(project)
    qtbot.waitUntil(lambda: getattr(w.viewport.source, "complete", True) and w._loading is None, timeout=20000)
    return w


def test_zoom_pan_slice_and_window_survive_kill_9(qtbot, demo_project, monkeypatch):
    line = run_and_kill(demo_project, "single")
    w = reopen(qtbot, demo_project, monkeypatch)
    v = w.viewport
    assert "CT series" in w.project.asset(w.current_asset_id).name      # not the first asset
    assert v.plane.z == 11 and v.window == (400.0, 1800.0)
    assert abs(v.zoom - float(line.split()[1])) < 1e-9 and v.center == (100.0, 90.0)
    w.close()


def test_the_mpr_layout_survives_kill_9(qtbot, demo_project, monkeypatch):
    run_and_kill(demo_project, "mpr")
    w = reopen(qtbot, demo_project, monkeypatch)
    qtbot.waitUntil(lambda: w.grid.layout_name == "1x3", timeout=5000)
    axial, coronal, sagittal = w.grid.visible_views()
    assert [v.plane.axis for v in (axial, coronal, sagittal)] == ["axial", "coronal", "sagittal"]
    assert axial.plane.z == 3 and coronal.window == (-600.0, 1500.0)
    w.close()
