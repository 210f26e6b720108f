"""Class ▸ Label value, code and concepts…: the interchange identity of one class (its stable label
value, short code, coded concepts for DICOM SEG, keypoint names and skeleton), changed by one
``ontology.class.update`` op on the undo stack."""
from __future__ import annotations

from typing import Any

from PySide6 import QtWidgets

from labeldesk.core.ontology import MAX_LABEL_VALUE
from labeldesk.core.ontology_codes import concept_of, identity_changes, value_collisions
from labeldesk.core.ops import OpDraft


def _coded(c: dict[str, Any] | None) -> str:
    return f"{c['scheme']}:{c['value']}:{c['meaning']}" if c else ""


class ClassIdentityDialog(QtWidgets.QDialog):
    def __init__(self, cls: Any, parent: QtWidgets.QWidget | None = None, classes: list[Any] | None = None) -> None:
        super().__init__(parent)
        self.cls = cls
        self.setWindowTitle(f"Label value, code and concepts of {cls.name}")
        form = QtWidgets.QFormLayout(self)
        self.value = QtWidgets.QSpinBox()
        self.value.setRange(1, MAX_LABEL_VALUE)
        self.value.setValue(int(cls.value or 1))
        form.addRow("Label value", self.value)
        clash = [c for v, cs in value_collisions(classes or []) if v == cls.value for c in cs if c.id != cls.id]
        self.clash = QtWidgets.QLabel(
            f"⚠ {', '.join(repr(c.name) for c in clash)} has this value too (made on another device while apart): "
            "give one of them its own value; exports that write label values refuse until then" if clash else "")
        self.clash.setWordWrap(True)
        self.clash.setStyleSheet("color: #b00020")
        self.clash.setVisible(bool(clash))
        form.addRow(self.clash)
        self.code = QtWidgets.QLineEdit(cls.code or "")
        form.addRow("Code", self.code)
        concept, standard = concept_of(cls.name, cls.concept, cls.code, cls.value or 0)
        self.type_edit = QtWidgets.QLineEdit(_coded((cls.concept or {}).get("type")),
                                             placeholderText=_coded(concept["type"]) if standard else "SCT:code:meaning")
        form.addRow("Coded type", self.type_edit)
        self.category_edit = QtWidgets.QLineEdit(_coded((cls.concept or {}).get("category")),
                                                 placeholderText=_coded(concept["category"]))
        form.addRow("Coded category", self.category_edit)
        kp = cls.keypoints or {}
        self.keypoints = QtWidgets.QLineEdit(", ".join(kp.get("names", [])), placeholderText="nose, left_eye, …")
        form.addRow("Keypoint names", self.keypoints)
        self.skeleton = QtWidgets.QLineEdit(",".join(f"{a}-{b}" for a, b in kp.get("skeleton", [])),
                                            placeholderText="1-2, 1-3")
        form.addRow("Skeleton", self.skeleton)
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        form.addRow(self.error)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def changes(self) -> dict[str, Any]:
        """The update's ``set``; ValueError says what is wrong with the input."""
        return identity_changes(self.cls, value=self.value.value(), code=self.code.text(),
                                concept_type=self.type_edit.text(), concept_category=self.category_edit.text(),
                                keypoints=self.keypoints.text(), skeleton=self.skeleton.text())

    def accept(self) -> None:
        try:
            self.changes()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        super().accept()


def edit(window: Any, class_id: str) -> None:
    cls = next((c for c in window.project.classes() if c.id == class_id), None)
    if cls is None:
        return
    dialog = ClassIdentityDialog(cls, window, window.project.classes())
    if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
        changes = dialog.changes()
        if changes:
            window.session.commit([OpDraft("ontology.class.update", class_id, {"set": changes})],
                                  "Change label value, code and concepts")
