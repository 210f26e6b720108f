"""The current asset's annotations: class, shape, plane, author and any flag (deprecated class,
missing required attributes…); filter by any of them; visibility (checkbox), opacity, lock;
selection synced with the viewport; double-click jumps to the annotation's plane."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

ANN_ROLE = QtCore.Qt.ItemDataRole.UserRole


class AnnotationPanel(QtWidgets.QWidget):
    sig_selection_requested = QtCore.Signal(object)     # set of annotation ids
    sig_jump_requested = QtCore.Signal(object)          # an Annotation
    sig_visibility_changed = QtCore.Signal(object)      # set of hidden ids
    sig_opacity_changed = QtCore.Signal(float)
    sig_lock_requested = QtCore.Signal(bool)            # lock / unlock the selection

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.classified = QtWidgets.QLabel()
        self.classified.setWordWrap(True)
        self.filter = QtWidgets.QLineEdit(placeholderText="Filter by class, shape, author or flag…")
        self.list = QtWidgets.QListWidget()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.count = QtWidgets.QLabel()
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(25)
        self.opacity.setToolTip("Fill opacity")
        lock, unlock = QtWidgets.QPushButton("Lock"), QtWidgets.QPushButton("Unlock")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        row.addWidget(lock)
        row.addWidget(unlock)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.classified)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(self.count)
        self.opacity.valueChanged.connect(lambda v: self.sig_opacity_changed.emit(v / 100))
        lock.clicked.connect(lambda: self.sig_lock_requested.emit(True))
        unlock.clicked.connect(lambda: self.sig_lock_requested.emit(False))
        self.list.itemChanged.connect(self._on_list_item_changed)
        self._annotations: dict[str, Any] = {}
        self._syncing = False
        self.filter.textChanged.connect(lambda _t: self._apply_filter())
        self.list.itemSelectionChanged.connect(self._on_list_item_selection_changed)
        self.list.itemDoubleClicked.connect(
            lambda item: self.sig_jump_requested.emit(self._annotations[item.data(ANN_ROLE)]))

    def set_annotations(self, annotations: list[Any], class_names: dict[str | None, str],
                        authors: dict[str | None, str] | None = None, flags: dict[str, str] | None = None,
                        hidden: set[str] | None = None, locked: set[str] | None = None) -> None:
        self._syncing = True
        authors, flags, hidden, locked = authors or {}, flags or {}, hidden or set(), locked or set()
        self.list.clear()
        self._annotations = {a.id: a for a in annotations}
        for a in annotations:
            plane = a.plane
            where = f"{plane.axis} {plane.z + 1}" if plane.axis != "axial" or plane.z else ""
            where += f" t{plane.t + 1}" if plane.t else ""
            text = f"{class_names.get(a.class_id, 'no class')} · {a.geometry.kind}" + (f" · {where}" if where else "")
            text += f" · {authors.get(a.author, '?')}" + (" · 🔒" if a.id in locked else "")
            if a.id in flags:
                text += f"\n   ⚠ {flags[a.id]}"
            item = QtWidgets.QListWidgetItem(text)
            item.setData(ANN_ROLE, a.id)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Unchecked if a.id in hidden else QtCore.Qt.CheckState.Checked)
            self.list.addItem(item)
        self._syncing = False
        self._apply_filter()

    def show_classifications(self, rows: list[dict[str, Any]], plane: Any) -> None:
        whole = [r["class_name"] for r in rows if r["scope"] == "asset"]
        here = [r["class_name"] for r in rows if r["scope"] == "plane" and plane is not None
                and (r["plane_axis"], r["plane_z"], r["plane_t"]) == (plane.axis, plane.z, plane.t)]
        parts = ([f"asset: {', '.join(whole)}"] if whole else []) + ([f"this slice/frame: {', '.join(here)}"] if here else [])
        self.classified.setText("Classified — " + "; ".join(parts) if parts else "")

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

    def _on_list_item_changed(self, _item: QtWidgets.QListWidgetItem) -> None:
        if self._syncing:
            return
        hidden = {self.list.item(i).data(ANN_ROLE) for i in range(self.list.count())
                  if self.list.item(i).checkState() == QtCore.Qt.CheckState.Unchecked}
        self.sig_visibility_changed.emit(hidden)
