"""`labeldesk gui`: the QApplication, error reporting and the headless screenshot mode."""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk import __version__
from labeldesk.qt import platform_messages
from labeldesk.qt.main_window import MainWindow


def _excepthook(exc_type: Any, exc: BaseException, tb: Any) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(text)
    app = QtWidgets.QApplication.instance()
    if app is not None and QtGui.QGuiApplication.platformName() != "offscreen":
        QtWidgets.QMessageBox.critical(None, "labeldesk: unexpected error", f"{exc}\n\n{text[-2000:]}")


# Qt's own diagnostics that say nothing to a user of labeldesk (platform, fonts, window manager)
QT_NOISE = ("propagateSizeHints", "XDG_RUNTIME_DIR", "QFont::", "Populating font family", "OpenType support",
            "This plugin does not support", "qt.qpa.", "Fontconfig", "QStandardPaths", "Wayland",
            "QWindowsWindow::setGeometry", "could not connect to display")


def qt_message(mode: Any, _context: Any, message: str) -> None:
    """Qt messages: known noise is dropped, anything else becomes one line of our own on stderr."""
    if any(n in message for n in QT_NOISE) or mode == QtCore.QtMsgType.QtDebugMsg:
        return
    line = " ".join(message.split())[:300]
    try:
        sys.stderr.write(f"labeldesk: Qt: {line}\n")
    except (OSError, ValueError):
        pass


def take_screenshot(window: MainWindow, path: str, app: QtWidgets.QApplication, timeout_ms: int = 20000) -> bool:
    """Wait until the current asset (if any) is shown, then grab the window to ``path``."""
    timer = QtCore.QElapsedTimer()
    timer.start()
    while timer.elapsed() < timeout_ms:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if window.project is None or window.viewport.source is not None or window._loading is None:
            break
    window.grid.tile_loader.wait(timeout_ms)          # large images: let visible tiles arrive
    for _ in range(5):
        app.processEvents()
    return window.grab().save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labeldesk gui")
    parser.add_argument("project", nargs="?")
    parser.add_argument("--screenshot", metavar="PNG")
    args = parser.parse_args((argv or sys.argv)[1:])
    sys.excepthook = _excepthook
    QtCore.qInstallMessageHandler(qt_message)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["labeldesk"])
    app.setApplicationName("labeldesk")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("labeldesk")           # the installed .desktop entry (icon on Wayland)
    platform_messages.install()
    from labeldesk.qt.dialogs.settings_dialog import theme_choice
    from labeldesk.qt.theme import apply_theme
    apply_theme(theme_choice(), app)
    window = MainWindow()
    from labeldesk.qt import preferences
    geometry = preferences.value("layout/geometry")
    if geometry is not None and not args.screenshot:
        window.restoreGeometry(geometry)
    window.offer_guide = not args.screenshot
    if args.project:
        try:
            window.open_project(args.project)
        except Exception as exc:
            print(f"labeldesk: error: {exc}", file=sys.stderr)
            if args.screenshot:
                return 1
            QtWidgets.QMessageBox.critical(window, "Cannot open project", str(exc))
    window.show()
    if args.screenshot:
        ok = take_screenshot(window, args.screenshot, app)
        window.close()
        return 0 if ok else 1
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
