"""The class identity dialog: a user changes a class's label value, code and coded type."""
from __future__ import annotations

import pytest
from PySide6 import QtCore, QtWidgets

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.qt.dialogs.class_identity_dialog import ClassIdentityDialog


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", "ids", user_name="alice")
    for name in ("Liver", "Widget"):
        p.apply(OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": name, "color": "#ff0000"}}))
    yield p
    p.close()


def test_the_dialog_edits_value_code_concepts_and_keypoints(qtbot, project):
    widget = next(c for c in project.classes() if c.name == "Widget")
    dialog = ClassIdentityDialog(widget)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.value.value() == 2
    dialog.value.setValue(250)
    qtbot.keyClicks(dialog.code, "WID")
    qtbot.keyClicks(dialog.type_edit, "SCT:71854001:Colon")
    qtbot.keyClicks(dialog.keypoints, "a, b")
    qtbot.keyClicks(dialog.skeleton, "1-2")
    changes = dialog.changes()
    project.apply(OpDraft("ontology.class.update", widget.id, {"set": changes}))
    widget = next(c for c in project.classes() if c.id == widget.id)
    assert (widget.value, widget.code) == (250, "WID")
    assert widget.concept["type"] == {"value": "71854001", "scheme": "SCT", "meaning": "Colon"}
    assert widget.keypoints == {"names": ["a", "b"], "skeleton": [[1, 2]]}
    liver = next(c for c in project.classes() if c.name == "Liver")
    d2 = ClassIdentityDialog(liver)
    qtbot.addWidget(d2)
    d2.show()
    assert "SCT:10200004:Liver" in d2.type_edit.placeholderText()       # the default table, shown as a hint
    qtbot.keyClicks(d2.type_edit, "nonsense")
    box = d2.findChild(QtWidgets.QDialogButtonBox)
    qtbot.mouseClick(box.button(QtWidgets.QDialogButtonBox.StandardButton.Ok), QtCore.Qt.MouseButton.LeftButton)
    assert "SCHEME:CODE:MEANING" in d2.error.text() and d2.isVisible()
