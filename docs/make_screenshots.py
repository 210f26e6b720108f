"""Screenshots for the README, taken in a real window (run under Xvfb with the xcb platform):

    xvfb-run -a -s "-screen 0 1700x1100x24" .venv/bin/python docs/make_screenshots.py DEMO_PROJECT
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from labeldesk.core.model import Plane
from labeldesk.qt.main_window import MainWindow

OUT = Path(__file__).resolve().parent / "screenshots"


def settle(app: QtWidgets.QApplication, window: MainWindow, ms: int = 400) -> None:
    timer = QtCore.QElapsedTimer()
    timer.start()
    while timer.elapsed() < ms or window._loading is not None:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if timer.elapsed() > 20000:
            break
    window.grid.tile_loader.wait(5000)
    for _ in range(10):
        app.processEvents()


def asset(window: MainWindow, prefix: str) -> str:
    return next(a.id for a in window.project.assets() if a.name.startswith(prefix))


def main(project: str) -> None:
    app = QtWidgets.QApplication([])
    window = MainWindow()
    window.offer_guide = False
    window.resize(1600, 1000)
    window.show()
    window.open_project(project)
    settle(app, window)
    OUT.mkdir(exist_ok=True)

    window.show_asset(asset(window, "CT series"))
    settle(app, window)
    window.show_mpr()
    axial = window.grid.visible_views()[0]
    window._on_view_crosshair_requested(axial, (0.34 * 512, 0.56 * 512))
    settle(app, window)
    window.grab().save(str(OUT / "ct-mpr-crosshair.png"))

    window.set_layout("1x1")
    window.show_asset(asset(window, "aerial"))
    settle(app, window)
    view = window.viewport
    view.zoom, view.center = 0.8, (6200, 4300)
    view._display = None
    view.update()
    settle(app, window, 800)
    window.grab().save(str(OUT / "large-image-overview.png"))

    window.show_asset(asset(window, "traffic"))
    settle(app, window)
    window.playback.play()
    settle(app, window, 1500)
    window.grab().save(str(OUT / "video-mid-play.png"))
    window.playback.pause()
    window.close()
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main(sys.argv[1])
