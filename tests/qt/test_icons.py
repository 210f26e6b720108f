"""The SVG icons are drawn when a size is first asked for, in the theme's ink; disabled is paler."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui


def _rgba(pixmap: QtGui.QPixmap) -> np.ndarray:
    image = pixmap.toImage().convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4).copy()


def test_icons_are_drawn_at_the_size_asked_in_the_ink_and_paler_when_disabled(qtbot):
    from labeldesk.qt import icons
    dark = icons._icon("box", "#000000")
    light = icons._icon("box", "#ffffff")
    assert not dark.isNull() and icons._icon("no-such-icon", "#000000").isNull()
    for side in (16, 22, 37):
        pm = dark.pixmap(QtCore.QSize(side, side))
        assert (pm.width(), pm.height()) == (side, side)
        assert (_rgba(pm)[..., 3] > 128).sum() > side        # the outline is drawn at that size
    normal = _rgba(dark.pixmap(QtCore.QSize(22, 22)))
    disabled = _rgba(dark.pixmap(QtCore.QSize(22, 22), QtGui.QIcon.Mode.Disabled))
    ink = normal[..., 3] > 200
    assert disabled[..., 3][ink].max() < 120                 # the same drawing, paler
    assert normal[ink][:, :3].mean() < 60 and _rgba(light.pixmap(QtCore.QSize(22, 22)))[ink][:, :3].mean() > 190
    hidpi = dark.pixmap(QtCore.QSize(22, 22), 2.0)           # a 2x screen: drawn at 44 px, not scaled
    assert (hidpi.width(), hidpi.height(), hidpi.devicePixelRatio()) == (44, 44, 2.0)
