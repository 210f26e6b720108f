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


def test_a_shared_label_value_is_shown_in_red(qtbot, project):
    project.conn.execute("UPDATE classes SET value = 1")       # as after two devices made one each
    widget = next(c for c in project.classes() if c.name == "Widget")
    plain = ClassIdentityDialog(widget, classes=[widget])
    clashing = ClassIdentityDialog(widget, classes=project.classes())
    for d in (plain, clashing):
        qtbot.addWidget(d)
        d.show()
    assert not plain.clash.isVisible()
    assert clashing.clash.isVisible() and "'Liver' has this value too" in clashing.clash.text()
    img = clashing.clash.grab().toImage()
    reds = sum(1 for x in range(0, img.width(), 2) for y in range(img.height())
               if (lambda c: c.red() > 120 and c.green() < 80 and c.blue() < 80)(img.pixelColor(x, y)))
    assert reds > 10                                           # painted in red, not only in the text
