"""The selected annotation: its class, its typed attributes (required ones that are missing are
shown in red; attributes with a ``shown_when`` condition appear only when it holds), and its
measurement (length or area, in mm when the asset is calibrated)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.core.ontology import missing_required


class AttributePanel(QtWidgets.QWidget):
    sig_attributes_edited = QtCore.Signal(str, dict)      # annotation id, new values
    sig_class_edited = QtCore.Signal(str, object)         # annotation id, class id

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QtWidgets.QLabel("No annotation selected")
        self.class_combo = QtWidgets.QComboBox()
        self.form = QtWidgets.QFormLayout()
        self.measure = QtWidgets.QLabel()
        self.missing = QtWidgets.QLabel()
        self.missing.setStyleSheet("color: #d33")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.class_combo)
        layout.addLayout(self.form)
        layout.addWidget(self.missing)
        layout.addWidget(self.measure)
        layout.addStretch(1)
        self.annotation: Any = None
        self.cls: Any = None
        self.widgets: dict[str, QtWidgets.QWidget] = {}
        self._building = False
        self.class_combo.activated.connect(self._on_class_combo_activated)

    def show_annotation(self, annotation: Any, classes: list[Any], measurement: str = "") -> None:
        self._building = True
        self.annotation = annotation
        while self.form.rowCount():
            self.form.removeRow(0)
        self.widgets = {}
        self.class_combo.clear()
        if annotation is None:
            self.title.setText("No annotation selected")
            self.class_combo.setEnabled(False)
            self.missing.setText("")
            self.measure.setText("")
            self._building = False
            return
        self.class_combo.setEnabled(True)
        self.class_combo.addItem("(no class)", None)
        for c in classes:
            if not c.deprecated and not c.merged_into:
                self.class_combo.addItem(c.name, c.id)
        by_id = {c.id: c for c in classes}
        self.cls = by_id.get(annotation.class_id)
        idx = self.class_combo.findData(annotation.class_id)
        if idx < 0 and self.cls is not None:
            self.class_combo.addItem(f"{self.cls.name} (deprecated)", self.cls.id)
            idx = self.class_combo.count() - 1
        self.class_combo.setCurrentIndex(max(idx, 0))
        p = annotation.plane
        where = [f"{p.axis} slice {p.z + 1}"] if (p.z or p.axis != "axial") else []
        where += [f"frame {p.t + 1}"] if p.t else []
        self.title.setText(annotation.geometry.kind + (" on " + ", ".join(where) if where else ""))
        self.measure.setText(measurement)
        for d in (self.cls.attributes if self.cls else ()):
            cond = d.get("shown_when")
            if cond and annotation.attributes.get(cond["key"]) != cond["equals"]:
                continue
            widget = self._widget(d, annotation.attributes.get(d["key"]), d["key"])
            self.widgets[d["key"]] = widget
            self.form.addRow(d.get("name", d["key"]) + (" *" if d.get("required") else ""), widget)
        missing = missing_required(list(self.cls.attributes), annotation.attributes) if self.cls else []
        self.missing.setText("Missing required: " + ", ".join(missing) if missing else "")
        self._building = False

    def _widget(self, d: dict[str, Any], value: Any, key: str) -> QtWidgets.QWidget:
        t = d["type"]
        if t == "enum":
            w = QtWidgets.QComboBox()
            w.addItem("—", None)
            for o in d["options"]:
                w.addItem(o, o)
            w.setCurrentIndex(max(0, w.findData(value)))
            w.currentIndexChanged.connect(lambda _i: self._emit(key))
        elif t == "multi":
            w = QtWidgets.QListWidget()
            for o in d["options"]:
                item = QtWidgets.QListWidgetItem(o)
                item.setCheckState(QtCore.Qt.CheckState.Checked if value and o in value else QtCore.Qt.CheckState.Unchecked)
                w.addItem(item)
            w.setMaximumHeight(22 * len(d["options"]) + 6)
            w.itemChanged.connect(lambda _i: self._emit(key))
        elif t == "bool":
            w = QtWidgets.QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda _b: self._emit(key))
        elif t == "number":
            w = QtWidgets.QDoubleSpinBox()
            w.setRange(d.get("min", -1e9) if d.get("min") is not None else -1e9,
                       d.get("max", 1e9) if d.get("max") is not None else 1e9)
            w.setDecimals(3)
            w.setSpecialValueText("—")
            w.setValue(float(value) if value is not None else w.minimum())
            w.editingFinished.connect(lambda: self._emit(key))
        else:
            w = QtWidgets.QLineEdit(value or "")
            w.editingFinished.connect(lambda: self._emit(key))
        w.setProperty("attr_type", t)
        return w

    def value_of(self, key: str) -> Any:
        w = self.widgets[key]
        t = w.property("attr_type")
        if t == "enum":
            return w.currentData()
        if t == "multi":
            return [w.item(i).text() for i in range(w.count())
                    if w.item(i).checkState() == QtCore.Qt.CheckState.Checked] or None
        if t == "bool":
            return w.isChecked()
        if t == "number":
            return None if w.value() == w.minimum() else w.value()
        return w.text() or None

    def _emit(self, key: str) -> None:
        """Send the annotation's values with just this attribute changed (untouched ones stay unset)."""
        if self._building or self.annotation is None:
            return
        values = dict(self.annotation.attributes)
        value = self.value_of(key)
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        if values != self.annotation.attributes:
            self.sig_attributes_edited.emit(self.annotation.id, values)

    def _on_class_combo_activated(self, _index: int) -> None:
        if self.annotation is not None:
            self.sig_class_edited.emit(self.annotation.id, self.class_combo.currentData())
