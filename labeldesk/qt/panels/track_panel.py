"""The Tracks panel: one row per track of the asset on screen (class, frames, keyframes, the
track's attributes); a row expands to its keyframes and interpolated frames, overrides marked.
Clicking a frame shows it. Attribute edits on a frame of a track apply to the whole track unless
"this frame only" is chosen (then the frame keeps its own values and becomes a keyframe)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

ANN_ROLE = QtCore.Qt.ItemDataRole.UserRole
TRACK_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1


def _values(attrs: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in attrs.items() if v not in (None, "", [])) or "no attributes"


class TrackPanel(QtWidgets.QWidget):
    sig_jump_requested = QtCore.Signal(object)          # an annotation (a frame of a track)
    sig_track_selected = QtCore.Signal(object)          # a TrackSummary or None

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["Track / frame", "Attributes"])
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.whole_track = QtWidgets.QRadioButton("Edits apply to the whole track")
        self.frame_only = QtWidgets.QRadioButton("This frame only")
        self.whole_track.setChecked(True)
        self.whole_track.setToolTip("Attribute edits of a frame of a track set the track's attributes: every "
                                    "frame that does not override them follows")
        self.frame_only.setToolTip("The frame keeps its own values (an override) and becomes a keyframe")
        self.empty = QtWidgets.QLabel("No tracks on this asset. Select two or more annotations on different "
                                      "frames (Ctrl+click) and press Ctrl+I.")
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.empty)
        layout.addWidget(self.tree, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.whole_track)
        row.addWidget(self.frame_only)
        row.addStretch(1)
        layout.addLayout(row)
        self.tracks: list[Any] = []
        self.tree.itemExpanded.connect(self._fill_frames)
        self.tree.itemClicked.connect(self._on_item_clicked)
        self.tree.currentItemChanged.connect(lambda cur, _prev: self.sig_track_selected.emit(self._track_of(cur)))

    def set_tracks(self, tracks: list[Any], class_names: dict[Any, str], selected: set[str] | None = None) -> None:
        from labeldesk.qt.icons import icon
        keep = self.current_track_id()
        self.tracks = tracks
        self.tree.clear()
        self.empty.setVisible(not tracks)
        for i, t in enumerate(tracks):
            first, last = t.span
            text = f"{class_names.get(t.class_id, 'no class')} #{i + 1} · {first + 1}–{last + 1}"
            detail = (f"{class_names.get(t.class_id, 'no class')} #{i + 1}: frames {first + 1}–{last + 1}, "
                      f"{len(t.keyframes)} keyframes, {t.interpolated} interpolated")
            item = QtWidgets.QTreeWidgetItem([text, _values(t.attributes)])
            item.setIcon(0, icon("track"))
            item.setData(0, TRACK_ROLE, t.track_id)
            item.setToolTip(0, detail)
            item.setToolTip(1, "The track's attributes (set once, every frame follows)")
            if t.overrides:
                item.setText(1, item.text(1) + f"  ({len(t.overrides)} frame(s) override)")
            item.setChildIndicatorPolicy(QtWidgets.QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.tree.addTopLevelItem(item)
            if t.track_id == keep or (selected and any(a.id in selected for a in t.members)):
                self.tree.setCurrentItem(item)
        self.tree.setColumnWidth(0, max(150, min(self.tree.sizeHintForColumn(0) + 8, self.tree.width() // 2)))

    def _fill_frames(self, item: QtWidgets.QTreeWidgetItem) -> None:
        from labeldesk.qt.icons import icon
        if item.childCount() or item.parent() is not None:
            return
        t = self._track_of(item)
        if t is None:
            return
        grey = self.palette().color(QtGui.QPalette.ColorGroup.Disabled, QtGui.QPalette.ColorRole.Text)
        for a in t.members:
            override = t.overrides.get(a.id)
            label = f"frame {t.index_of(a) + 1}" + ("  keyframe" if a.keyframe else "")
            child = QtWidgets.QTreeWidgetItem([label, ("override: " + _values(override)) if override else ""])
            child.setData(0, ANN_ROLE, a.id)
            if a.keyframe:
                child.setIcon(0, icon("keyframe"))
            else:
                child.setForeground(0, grey)
            if override:
                font = child.font(1)
                font.setItalic(True)
                child.setFont(1, font)
                child.setToolTip(1, "This frame overrides the track's attributes")
            item.addChild(child)

    def _track_of(self, item: QtWidgets.QTreeWidgetItem | None) -> Any:
        while item is not None and item.parent() is not None:
            item = item.parent()
        if item is None:
            return None
        tid = item.data(0, TRACK_ROLE)
        return next((t for t in self.tracks if t.track_id == tid), None)

    def current_track_id(self) -> str | None:
        t = self._track_of(self.tree.currentItem())
        return t.track_id if t is not None else None

    def _on_item_clicked(self, item: QtWidgets.QTreeWidgetItem, _column: int) -> None:
        t = self._track_of(item)
        if t is None:
            return
        aid = item.data(0, ANN_ROLE)
        target = next((a for a in t.members if a.id == aid), None) if aid else t.head
        if target is not None:
            self.sig_jump_requested.emit(target)

    def applies_to_track(self) -> bool:
        return self.whole_track.isChecked()


class KeyframeMarks(QtWidgets.QWidget):
    """Diamonds over the playback slider at the keyframes of the asset's tracks (the selected
    track's in the accent colour); transparent to the mouse, so the slider works as before."""

    def __init__(self, slider: QtWidgets.QSlider) -> None:
        super().__init__(slider)
        self.slider = slider
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.marks: list[int] = []
        self.selected: set[int] = set()
        slider.installEventFilter(self)
        self.setGeometry(slider.rect())

    def set_marks(self, marks: list[int], selected: set[int] | None = None) -> None:
        self.marks, self.selected = sorted(set(marks)), set(selected or ())
        self.setGeometry(self.slider.rect())
        self.raise_()
        self.update()

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Resize:
            self.setGeometry(self.slider.rect())
        return False

    def x_of(self, value: int) -> float:
        opt = QtWidgets.QStyleOptionSlider()
        self.slider.initStyleOption(opt)
        style = self.slider.style()
        groove = style.subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                      QtWidgets.QStyle.SubControl.SC_SliderGroove, self.slider)
        handle = style.subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                      QtWidgets.QStyle.SubControl.SC_SliderHandle, self.slider)
        span = groove.width() - handle.width()
        pos = QtWidgets.QStyle.sliderPositionFromValue(self.slider.minimum(), self.slider.maximum(), value, span)
        return groove.x() + handle.width() / 2 + pos

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt override
        if not self.marks or self.slider.maximum() <= self.slider.minimum():
            return
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        y = self.height() - 4.0
        for value in self.marks:
            x = self.x_of(value)
            colour = QtGui.QColor("#2f81f7") if value in self.selected else QtGui.QColor("#e0a526")
            p.setBrush(colour)
            p.setPen(QtGui.QPen(QtGui.QColor("#111111"), 0.8))
            p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(x, y - 4), QtCore.QPointF(x + 4, y),
                                           QtCore.QPointF(x, y + 4), QtCore.QPointF(x - 4, y)]))
        p.end()
