"""The app's own SVG icon set (resources/icons): one line style on a 24 px grid, drawn in the
theme's text colour (the ink #333333 in the files is replaced) with one accent colour."""
from __future__ import annotations

from functools import lru_cache

from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from labeldesk.paths import resources_dir

INK = "#333333"
SIZES = (16, 20, 24, 32, 40, 48)


def ink_colour() -> str:
    app = QtWidgets.QApplication.instance()
    if app is None:
        return INK
    return app.palette().color(QtGui.QPalette.ColorRole.WindowText).name()


def icon(name: str) -> QtGui.QIcon:
    """The icon ``name`` (file stem) in the current theme's ink; an empty icon if there is none."""
    return _icon(name, ink_colour())


@lru_cache(maxsize=256)
def _icon(name: str, ink: str) -> QtGui.QIcon:
    path = resources_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        return QtGui.QIcon()
    data = path.read_text(encoding="utf-8").replace(INK, ink).encode()
    renderer = QtSvg.QSvgRenderer(QtCore.QByteArray(data))
    out = QtGui.QIcon()
    for size in SIZES:
        pm = QtGui.QPixmap(size, size)
        pm.fill(QtCore.Qt.GlobalColor.transparent)
        painter = QtGui.QPainter(pm)
        renderer.render(painter)
        painter.end()
        out.addPixmap(pm)
        disabled = QtGui.QPixmap(pm)
        p = QtGui.QPainter(disabled)
        p.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_DestinationIn)
        p.fillRect(disabled.rect(), QtGui.QColor(0, 0, 0, 90))
        p.end()
        out.addPixmap(disabled, QtGui.QIcon.Mode.Disabled)
    return out


def names() -> list[str]:
    return sorted(p.stem for p in (resources_dir() / "icons").glob("*.svg"))


def set_icon(action: QtGui.QAction, name: str) -> None:
    """Give an action an icon that follows theme changes (MainWindow.set_theme redraws by name)."""
    action.setProperty("icon_name", name)
    action.setIcon(icon(name))


def letter_icon(text: str) -> QtGui.QIcon:
    """For a tool with no drawing yet: its key in a rounded square, in the same ink and weight."""
    out = QtGui.QIcon()
    for size in SIZES:
        pm = QtGui.QPixmap(size, size)
        pm.fill(QtCore.Qt.GlobalColor.transparent)
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        pen = QtGui.QPen(QtGui.QColor(ink_colour()), max(1.0, size * 1.75 / 24))
        p.setPen(pen)
        m = size * 3.5 / 24
        p.drawRoundedRect(QtCore.QRectF(m, m, size - 2 * m, size - 2 * m), size / 8, size / 8)
        font = p.font()
        font.setPixelSize(int(size * 0.5))
        font.setBold(True)
        p.setFont(font)
        p.drawText(pm.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, text[:2])
        p.end()
        out.addPixmap(pm)
    return out
