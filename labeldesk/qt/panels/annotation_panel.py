"""The current asset's annotations: class, shape, plane; filter by class; selection synced with the
viewport; double-click jumps to the annotation's plane."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

ANN_ROLE = QtCore.Qt.ItemDataRole.UserRole


class AnnotationPanel(QtWidgets.QWidget):
    sig_selection_requested = QtCore.Signal(object)     # set of annotation ids
    sig_jump_requested = QtCore.Signal(object)          # an Annotation

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QtWidgets.QLineEdit(placeholderText="Filter by class or shape…")
        self.list = QtWidgets.QListWidget()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.count = QtWidgets.QLabel()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        layout.addWidget(self.count)
        self._annotations: dict[str, Any] = {}
        self._syncing = False
        self.filter.textChanged.connect(lambda _t: self._apply_filter())
        self.list.itemSelectionChanged.connect(self._on_list_item_selection_changed)
        self.list.itemDoubleClicked.connect(
            lambda item: self.sig_jump_requested.emit(self._annotations[item.data(ANN_ROLE)]))

    def set_annotations(self, annotations: list[Any], class_names: dict[str | None, str]) -> None:
        self._syncing = True
        self.list.clear()
        self._annotations = {a.id: a for a in annotations}
        for a in annotations:
            plane = a.plane
            where = f"{plane.axis} {plane.z + 1}" if plane.axis != "axial" or plane.z else ""
            where += f" t{plane.t + 1}" if plane.t else ""
            text = f"{class_names.get(a.class_id, 'no class')} · {a.geometry.kind}" + (f" · {where}" if where else "")
            item = QtWidgets.QListWidgetItem(text)
            item.setData(ANN_ROLE, a.id)
            self.list.addItem(item)
        self._syncing = False
        self._apply_filter()

    def show_selection(self, ids: set[str]) -> None:
        self._syncing = True
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setSelected(item.data(ANN_ROLE) in ids)
        self._syncing = False

    def _apply_filter(self) -> None:
        needle = self.filter.text().strip().lower()
        shown = 0
        for i in range(self.list.count()):
            item = self.list.item(i)
            hide = bool(needle) and needle not in item.text().lower()
            item.setHidden(hide)
            shown += not hide
        self.count.setText(f"{shown} of {self.list.count()} annotations")

    def _on_list_item_selection_changed(self) -> None:
        if not self._syncing:
            self.sig_selection_requested.emit({i.data(ANN_ROLE) for i in self.list.selectedItems()})
