"""The Annotations panel in a narrow dock: the opacity slider keeps room to be dragged (beside the
four buttons it was squeezed to its handle)."""
from __future__ import annotations

from PySide6 import QtCore

from labeldesk.qt.panels.annotation_panel import AnnotationPanel


def test_the_opacity_slider_keeps_its_room_in_a_narrow_dock(qtbot):
    panel = AnnotationPanel()
    qtbot.addWidget(panel)
    panel.resize(panel.minimumSizeHint().width(), 400)
    panel.show()
    qtbot.waitExposed(panel)
    slider = panel.opacity
    assert slider.isVisible() and slider.width() >= panel.width() // 2
    # dragging it is possible: a click near its right end moves the value up
    before = slider.value()
    qtbot.mouseClick(slider, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(slider.width() - 3, slider.height() // 2))
    assert slider.value() > before
