"""APP-1: cold start to an interactive main window vs a bare QApplication + empty QMainWindow.

    python benchmarks/bench_app.py [--repeats 5]

Each sample is a fresh process (offscreen), timed from spawn to the window being shown.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine, row  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Each child prints how long after its spawn the window was shown and events processed; it then
# exits at once (os._exit), so background loading after the window is up is not counted.
STAMP = "import os, sys, time; t0 = float(os.environ['T0']); "
DONE = "app.processEvents(); print(time.time() - t0); sys.stdout.flush(); os._exit(0)"
BARE = STAMP + ("from PySide6 import QtWidgets; app = QtWidgets.QApplication([]); w = QtWidgets.QMainWindow(); "
                "w.show(); " + DONE)
OURS = STAMP + ("from PySide6 import QtWidgets; app = QtWidgets.QApplication([]); "
                "from labeldesk.qt.main_window import MainWindow; w = MainWindow(); w.open_project(sys.argv[1]); "
                "w.show(); " + DONE)
SAMPLES: dict[str, list[float]] = {"ours": [], "bare": []}


def spawn(code: str, *args: str, key: str = "") -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "T0": repr(time.time())}
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    try:
        value = float(out.stdout.strip().splitlines()[-1]) * 1000
    except (ValueError, IndexError):
        raise SystemExit(f"child failed: {out.stdout} {out.stderr}") from None
    if key:
        SAMPLES[key].append(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--project", help="project folder (default: a small demo built first)")
    a = ap.parse_args()
    print(machine())
    project = a.project
    if project is None:
        project = "/tmp/labeldesk-bench-app"
        if not Path(project, "project.labeldesk").exists():
            subprocess.run([sys.executable, "-m", "labeldesk", "demo", "--no-gui", "--small", "--dir", project],
                           check=True, capture_output=True, cwd=ROOT)
    spawn(BARE)      # warm the page cache for both
    spawn(OURS, project)
    for _ in range(a.repeats):
        spawn(OURS, project, key="ours")
        spawn(BARE, key="bare")
    x, b = SAMPLES["ours"], SAMPLES["bare"]
    print(row("APP-1", "start to main window with a project open", x, b, "<= 1.5x B31"))


if __name__ == "__main__":
    main()
