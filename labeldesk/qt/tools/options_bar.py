"""The tool-options bar: the options of the active tool only (brush size, wand tolerance,
threshold range…), or a one-line hint for tools without options. One page per tool in a stack of
fixed height, so the bar never jumps as the tool changes."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

HINTS = {
    "select": "Click to select, Ctrl+click to add; drag a shape or a vertex to edit it; Alt+click removes a vertex",
    "box": "Drag to draw a box",
    "rotated_box": "Drag to draw, then drag the handle to rotate",
    "ellipse": "Drag to draw an ellipse",
    "polygon": "Click the vertices; Enter or double-click closes; Backspace removes the last one",
    "polyline": "Click the vertices; Enter or double-click ends the line",
    "points": "Click to place a point",
    "grabcut": "Drag a box around the object; GrabCut outlines it",
    "scissors": "Click along the edge; the outline follows the image edges; Enter closes",
}


def _labelled(*pairs: tuple[str, QtWidgets.QWidget]) -> QtWidgets.QWidget:
    page = QtWidgets.QWidget()
    row = QtWidgets.QHBoxLayout(page)
    row.setContentsMargins(4, 0, 4, 0)
    for text, widget in pairs:
        if text:
            row.addWidget(QtWidgets.QLabel(text))
        row.addWidget(widget)
    row.addStretch(1)
    return page


class ToolOptionsBar(QtWidgets.QToolBar):
    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Tool options", parent)
        self.setObjectName("tool_options_toolbar")
        self.setMovable(False)
        self.session = session
        self.title = QtWidgets.QLabel()
        self.title.setMinimumWidth(110)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.stack = QtWidgets.QStackedWidget()
        self.stack.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        self.addWidget(self.title)
        self.addWidget(self.stack)
        self.pages: dict[str, QtWidgets.QWidget] = {}
        self.hint = QtWidgets.QLabel()
        self.hint.setEnabled(False)
        self._add_page("hint", _labelled(("", self.hint)))
        self.brush_size = QtWidgets.QSpinBox()
        self.brush_size.setRange(1, 400)
        self.brush_size.setSuffix(" px")
        self.brush_size.setToolTip("Brush diameter ([ and ] change it)")
        self.brush_size.valueChanged.connect(lambda v: setattr(session, "brush_radius", v / 2.0))
        self.sphere = QtWidgets.QCheckBox("Spherical across slices (\\)")
        self.sphere.toggled.connect(lambda on: setattr(session, "brush_sphere", on))
        self._add_page("brush", _labelled(("Size", self.brush_size), ("", self.sphere)))
        self.tolerance = QtWidgets.QSpinBox()
        self.tolerance.setRange(0, 255)
        self.tolerance.setToolTip("How different a neighbour may be and still be taken ([ and ] change it)")
        self.tolerance.valueChanged.connect(lambda v: setattr(session, "wand_tolerance", int(v)))
        self._add_page("wand", _labelled(("Tolerance", self.tolerance)))
        self.threshold_low, self.threshold_high = QtWidgets.QDoubleSpinBox(), QtWidgets.QDoubleSpinBox()
        for box, value in ((self.threshold_low, -100.0), (self.threshold_high, 200.0)):
            box.setRange(-100000, 100000)
            box.setValue(value)
            box.setToolTip("Threshold range in the image's units (HU on CT)")
            box.valueChanged.connect(self._on_threshold_changed)
        self._add_page("threshold", _labelled(("From", self.threshold_low), ("to", self.threshold_high)))
        self._on_threshold_changed()
        session.sig_tool_changed.connect(self.show_tool)
        self.show_tool(session.tool.name)

    def _add_page(self, key: str, page: QtWidgets.QWidget) -> None:
        self.pages[key] = page
        self.stack.addWidget(page)

    def _on_threshold_changed(self, _v: float = 0.0) -> None:
        self.session.set_threshold_range(self.threshold_low.value(), self.threshold_high.value())

    def show_tool(self, name: str) -> None:
        tool = self.session.tools.get(name)
        self.title.setText(getattr(tool, "label", name))
        key = {"eraser": "brush"}.get(name, name)
        if key == "brush":
            self.brush_size.blockSignals(True)
            self.brush_size.setValue(int(round(2 * self.session.brush_radius)))
            self.brush_size.blockSignals(False)
            self.sphere.setChecked(bool(self.session.brush_sphere))
        elif key == "wand":
            self.tolerance.setValue(int(self.session.wand_tolerance))
        if key not in self.pages:
            self.hint.setText(HINTS.get(name, ""))
            key = "hint"
        self.stack.setCurrentWidget(self.pages[key])
        self.current = key

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        return QtCore.QSize(hint.width(), max(hint.height(), 34))
