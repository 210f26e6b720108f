"""Play, pause and scrub frames (video) or slices (cine through a volume) at a set rate.

The timer asks the viewport for the next frame; a frame that is not ready in time is skipped, not
queued, so playback keeps its pace. Space plays/pauses, the slider scrubs, Ctrl+G jumps.
"""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.core.model import Plane


class PlaybackBar(QtWidgets.QWidget):
    def __init__(self, viewport: Any, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewport = viewport
        self.play_button = QtWidgets.QPushButton()
        self.play_button.setFixedWidth(36)
        from labeldesk.qt.icons import icon
        self._icons = (icon("play"), icon("pause"))      # the app's set (the style's would make QStyle's enums: ≈ 15 ms)
        self.play_button.setIcon(self._icons[0])
        self.play_button.setToolTip("Play / pause (Space)")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.label = QtWidgets.QLabel()
        self.fps_box = QtWidgets.QDoubleSpinBox()
        self.fps_box.setRange(0.5, 240)
        self.fps_box.setSuffix(" fps")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        for w in (self.play_button, self.slider, self.label, self.fps_box):
            layout.addWidget(w, 1 if w is self.slider else 0)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.play_button.clicked.connect(self.toggle)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.fps_box.valueChanged.connect(lambda v: self.timer.setInterval(int(1000 / v)))
        viewport.sig_plane_changed.connect(self._on_viewport_plane_changed)
        self.setVisible(False)

    # ---- what is being played ------------------------------------------------------------------
    def _axis(self) -> str | None:
        src = self.viewport.source
        if src is None:
            return None
        if src.info.kind == "video" or (src.info.kind == "volume" and src.info.frames > 1):
            return "t"
        if src.info.kind == "volume":
            return "z"
        return None

    def _count(self) -> int:
        src = self.viewport.source
        axis = self._axis()
        if axis == "t":
            return src.info.frames
        return src.plane_count(self.viewport.plane.axis) if axis == "z" else 1

    def source_changed(self) -> None:
        self.pause()
        axis = self._axis()
        self.setVisible(axis is not None)
        if axis is None:
            return
        src = self.viewport.source
        self.fps_box.setValue((src.info.fps or 25.0) if axis == "t" else 10.0)
        self.slider.blockSignals(True)
        self.slider.setRange(0, self._count() - 1)
        self.slider.blockSignals(False)
        self._on_viewport_plane_changed(self.viewport.plane)

    # ---- control ---------------------------------------------------------------------------------
    def toggle(self) -> None:
        self.pause() if self.timer.isActive() else self.play()

    def play(self) -> None:
        if self._axis() is None:
            return
        self.timer.start(int(1000 / self.fps_box.value()))
        self.play_button.setIcon(self._icons[1])

    def pause(self) -> None:
        self.timer.stop()
        self.play_button.setIcon(self._icons[0])

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def jump(self, index: int) -> None:
        axis = self._axis()
        if axis is None:
            return
        index = max(0, min(self._count() - 1, index))
        p = self.viewport.plane
        self.viewport.set_plane(Plane(p.z, index, p.axis) if axis == "t" else Plane(index, p.t, p.axis))

    def jump_dialog(self) -> None:
        if self._axis() is None:
            return
        value, ok = QtWidgets.QInputDialog.getInt(self, "Go to", f"Frame or slice (1–{self._count()}):",
                                                  self.slider.value() + 1, 1, self._count())
        if ok:
            self.jump(value - 1)

    def _on_timer_timeout(self) -> None:
        current = self.slider.value()
        if current >= self._count() - 1:
            self.jump(0)                      # loop
        else:
            self.jump(current + 1)

    def _on_slider_value_changed(self, value: int) -> None:
        self.jump(value)

    def _on_viewport_plane_changed(self, plane: Any) -> None:
        axis = self._axis()
        if axis is None:
            return
        index = plane.t if axis == "t" else plane.z
        self.slider.blockSignals(True)
        self.slider.setRange(0, self._count() - 1)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.label.setText(f"{index + 1} / {self._count()}")
