"""What a start of the main window imports and builds: heavy modules wait until they are used
(APP-1/APP-3: the window and the first paint do not pay for panels nobody has opened)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
from labeldesk.qt.main_window import MainWindow
w = MainWindow(); w.offer_guide = False
print("constructed", " ".join(m for m in ("pyqtgraph", "cv2", "pydicom", "nibabel") if m in sys.modules))
w.open_project(sys.argv[1]); w.show(); app.processEvents()
print("after_open", "pyqtgraph" in sys.modules, "labeldesk.core.sync.engine" in sys.modules)
dock = w.quality.docks["dashboard"]
print("dashboard_before", type(dock.widget()).__name__)
w.quality.show_dashboard(); app.processEvents()
print("dashboard_after", type(dock.widget()).__name__, dock.widget() is w.quality.dashboard_panel,
      w.quality.dashboard_panel.project is w.project)
"""


def test_window_start_leaves_the_dashboard_and_readers_unimported(demo_project, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(demo_project)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.partition(" ")[::2] for line in out.stdout.splitlines())
    assert lines["constructed"] == ""                       # none of them imported by the window
    assert lines["after_open"] == "False False"  # the demo's first asset needs no plots, nor the unshared project sync
    assert lines["dashboard_before"] == "QWidget"           # a placeholder until first shown
    assert lines["dashboard_after"] == "DashboardPanel True True"


def test_the_sync_worker_reads_the_share_setting_of_the_engine():
    from labeldesk.core.sync import engine
    from labeldesk.qt import sync_worker
    assert sync_worker.SHARE_KEY == engine.SHARE_KEY


# What a start with an image open must not import: readers of other kinds, libraries of panels and
# tools nobody opened, the panels and dialogs themselves. Checked after the first complete paint.
HEAVY = ("pydicom", "nibabel", "scipy", "skimage", "sklearn", "pyqtgraph", "onnxruntime", "PIL", "shapely",
         "tifffile", "labeldesk.core.sync.engine", "labeldesk.qt.dialogs.start_page",
         "labeldesk.qt.panels.quality_panel", "labeldesk.qt.panels.organise_panel",
         "labeldesk.qt.panels.dashboard_panel", "labeldesk.qt.panels.metrics_panel",
         "labeldesk.qt.panels.prediction_panel", "labeldesk.qt.panels.model_panel")

IMAGE_CHILD = """
import sys, time
from PySide6 import QtCore, QtWidgets
app = QtWidgets.QApplication([])
from labeldesk.qt.main_window import MainWindow
w = MainWindow(); w.offer_guide = False
w.resize(1400, 900)
done = []
w.sig_asset_shown.connect(done.append)
w.open_project(sys.argv[1]); w.show()
while not done:
    app.processEvents(); time.sleep(0.002)
w.grab()
heavy = sys.argv[2].split(",")
print("imported", ",".join(m for m in heavy if m in sys.modules))
placeholder = lambda dock: type(dock.widget()).__name__ == "QWidget"
print("placeholders", ",".join(k for k in ("quality", "organise", "dashboard") if placeholder(w.quality.docks[k])),
      ",".join(k for k in ("predictions", "agreement") if placeholder(w.team.docks[k])),
      type(w.models.dock.widget()).__name__)
# the panels come when their docks are shown: from the menu, or by a remembered layout
w.quality.show_checks(); w.team.show_predictions(); w.models.show(); app.processEvents()
print("built", type(w.quality.docks["quality"].widget()).__name__, w.quality.quality_panel.project is w.project,
      type(w.team.docks["predictions"].widget()).__name__, w.team.prediction_panel.asset_id == w.current_asset_id,
      type(w.models.dock.widget().widget()).__name__, w.models.panel.sam_status.text().startswith("AI segment"))
w._save_layout()
w.close()
w2 = MainWindow(); w2.offer_guide = False
w2.resize(1400, 900)
w2.open_project(sys.argv[1]); w2.show(); app.processEvents()
print("restored", w2.quality.docks["quality"].isVisible(), type(w2.quality.docks["quality"].widget()).__name__,
      w2.team.docks["predictions"].isVisible(), type(w2.team.docks["predictions"].widget()).__name__,
      w2.quality.quality_panel.project is w2.project, w2.pages.currentWidget() is w2.work, w2._start_page is None)
w2.close()
"""


def test_a_window_opening_an_image_imports_and_builds_only_what_it_shows(tmp_path):
    import cv2
    import numpy as np

    from labeldesk.core.importer import add_paths
    from labeldesk.core.project import Project
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), np.full((64, 96, 3), 90, np.uint8))
    root = tmp_path / "p"
    p = Project.create(root, user_name="ann")
    add_paths(p, [image])
    p.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", IMAGE_CHILD, str(root), ",".join(HEAVY)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.partition(" ")[::2] for line in out.stdout.splitlines())
    assert lines["imported"] == ""                           # e.g. "pydicom,PIL" names what came in
    assert lines["placeholders"] == "quality,organise,dashboard predictions,agreement QWidget"
    assert lines["built"] == "QualityPanel True PredictionPanel True ModelPanel True"
    assert lines["restored"] == "True QualityPanel True PredictionPanel True True True"
