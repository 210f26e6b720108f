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


class SvgIconEngine(QtGui.QIconEngine):
    """An icon drawn from its SVG at the size asked, when first asked (a toolbar's 22 px, a
    menu's 16 px; a menu never opened draws nothing): a window with ~40 icons no longer renders
    12 pixmaps of each before it shows (≈ 70 ms). Disabled: the same drawing at 35 % opacity."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data
        self._renderer: QtSvg.QSvgRenderer | None = None
        self._pixmaps: dict[tuple[int, int, bool], QtGui.QPixmap] = {}

    def pixmap(self, size: QtCore.QSize, mode: QtGui.QIcon.Mode,
               state: QtGui.QIcon.State) -> QtGui.QPixmap:  # noqa: ARG002
        disabled = mode == QtGui.QIcon.Mode.Disabled
        key = (size.width(), size.height(), disabled)
        pm = self._pixmaps.get(key)
        if pm is None:
            if self._renderer is None:
                self._renderer = QtSvg.QSvgRenderer(QtCore.QByteArray(self.data))
            pm = QtGui.QPixmap(max(1, size.width()), max(1, size.height()))
            pm.fill(QtCore.Qt.GlobalColor.transparent)
            painter = QtGui.QPainter(pm)
            self._renderer.render(painter)
            if disabled:
                painter.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_DestinationIn)
                painter.fillRect(pm.rect(), QtGui.QColor(0, 0, 0, 90))
            painter.end()
            self._pixmaps[key] = pm
        return pm

    def scaledPixmap(self, size: QtCore.QSize, mode: QtGui.QIcon.Mode, state: QtGui.QIcon.State,  # noqa: N802
                     scale: float) -> QtGui.QPixmap:
        pm = QtGui.QPixmap(self.pixmap(QtCore.QSize(round(size.width() * scale), round(size.height() * scale)),
                                       mode, state))
        pm.setDevicePixelRatio(scale)
        return pm

    def paint(self, painter: QtGui.QPainter, rect: QtCore.QRect, mode: QtGui.QIcon.Mode,
              state: QtGui.QIcon.State) -> None:
        device = painter.device()
        ratio = device.devicePixelRatioF() if device is not None else 1.0
        painter.drawPixmap(rect, self.pixmap(QtCore.QSize(round(rect.width() * ratio), round(rect.height() * ratio)),
                                             mode, state))

    def actualSize(self, size: QtCore.QSize, mode: QtGui.QIcon.Mode,  # noqa: N802
                   state: QtGui.QIcon.State) -> QtCore.QSize:  # noqa: ARG002
        side = min(size.width(), size.height())           # the drawings are square
        return QtCore.QSize(side, side)

    def availableSizes(self, mode: QtGui.QIcon.Mode = QtGui.QIcon.Mode.Normal,  # noqa: N802,ARG002
                       state: QtGui.QIcon.State = QtGui.QIcon.State.Off) -> list[QtCore.QSize]:
        return [QtCore.QSize(s, s) for s in SIZES]

    def clone(self) -> "SvgIconEngine":
        return SvgIconEngine(self.data)


@lru_cache(maxsize=256)
def _icon(name: str, ink: str) -> QtGui.QIcon:
    path = resources_dir() / "icons" / f"{name}.svg"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return QtGui.QIcon()
    return QtGui.QIcon(SvgIconEngine(text.replace(INK, ink).encode()))


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
