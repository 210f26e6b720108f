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
