"""Import/Export dialogs driven like a user: choose, run, read the refusals, cancel, undo."""
from __future__ import annotations

import json

import pytest
from PySide6 import QtCore

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.qt.dialogs.interchange_dialog import ExportDialog, ImportDialog


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", "dialogs", user_name="alice")
    asset = ids.new_id()
    p.apply(OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "a.png", "content_hash": "h" + asset,
                                                   "width": 100, "height": 80}}))
    yield p
    p.close()


def _coco(tmp_path, n, names=("a.png", "missing.png")):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({
        "images": [{"id": i + 1, "file_name": f, "width": 100, "height": 80} for i, f in enumerate(names)],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"id": i, "image_id": 1 + (i == 0 and len(names) > 1), "category_id": 1,
                         "bbox": [i % 90, 2, 5, 5]} for i in range(n)]}))
    return path


def _count(project):
    return project.counts()["annotations"]


def test_import_shows_refusals_and_undo_takes_it_back(qtbot, project, tmp_path):
    dialog = ImportDialog(project, path=str(_coco(tmp_path, 4)))
    qtbot.addWidget(dialog)
    assert dialog.detected.text() == "detected: coco"
    dialog.create_classes.setChecked(True)
    dialog.layer_combo.setEditText("imported boxes")
    with qtbot.waitSignal(dialog.sig_project_changed):
        qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    assert _count(project) == 3
    assert "imported 3 item(s)" in dialog.summary.text() and "created classes: car" in dialog.summary.text()
    rows = dialog.results.rows()
    assert ("refused", "in.json: images[1] (missing.png)",
            "no asset named 'missing.png' in the project (matched by file name or relative path); "
            "its 1 annotation(s) were not imported") in rows
    assert any(l.name == "imported boxes" for l in project.layers())
    assert dialog.undo_button.isEnabled()
    with qtbot.waitSignal(dialog.sig_project_changed):
        qtbot.mouseClick(dialog.undo_button, QtCore.Qt.MouseButton.LeftButton)
    assert _count(project) == 0 and "Import undone" in dialog.summary.text()
    assert not dialog.undo_button.isEnabled()


def test_cancel_during_the_import_changes_nothing(qtbot, project, tmp_path):
    dialog = ImportDialog(project, path=str(_coco(tmp_path, 3000, ("a.png",))))
    qtbot.addWidget(dialog)
    dialog.create_classes.setChecked(True)
    ops_before = project.counts()["ops"]
    seen = []

    def click_cancel(done, total, text):
        seen.append((done, text))
        if text == "writing annotations" and done == 1000:
            # delivered by the event loop the dialog runs between reports, like a real click
            QtCore.QTimer.singleShot(0, lambda: qtbot.mouseClick(dialog.cancel_button, QtCore.Qt.MouseButton.LeftButton))

    dialog.sig_progress.connect(click_cancel)
    with qtbot.waitSignal(dialog.sig_finished) as finished:
        qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    assert finished.args[0].cancelled
    assert "cancelled: nothing was changed" in dialog.summary.text()
    assert project.counts()["ops"] == ops_before and _count(project) == 0
    assert (1000, "writing annotations") in seen
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_a_malformed_file_is_reported_in_the_dialog(qtbot, project, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [}')
    dialog = ImportDialog(project, path=str(bad))
    qtbot.addWidget(dialog)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("coco"))
    qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    assert "Failed:" in dialog.summary.text() and "line 1, column 13" in dialog.summary.text()
    assert _count(project) == 0


def test_export_with_a_class_subset(qtbot, project, tmp_path):
    car, bus = ids.new_id(), ids.new_id()
    project.apply_all([OpDraft("ontology.class.create", car, {"class": {"name": "car", "color": "#ff0000"}}),
                       OpDraft("ontology.class.create", bus, {"class": {"name": "bus", "color": "#00ff00"}})])
    asset = project.assets()[0].id
    for cid in (car, bus):
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": project.my_layer_id, "class_id": cid,
            "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    dialog = ExportDialog(project, dest=str(tmp_path / "out.json"))
    qtbot.addWidget(dialog)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("coco"))
    dialog.class_list.item(1).setCheckState(QtCore.Qt.CheckState.Checked)      # bus
    with qtbot.waitSignal(dialog.sig_finished):
        qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    doc = json.loads((tmp_path / "out.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["bus"] and len(doc["annotations"]) == 1
    assert "exported 1 item(s)" in dialog.summary.text()
    qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)           # exists, no overwrite
    assert "exists already" in dialog.summary.text()
    dialog.overwrite.setChecked(True)
    dialog.since_check.setChecked(True)
    dialog.since_edit.setDateTime(QtCore.QDateTime.currentDateTime().addDays(1))
    qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    assert "exported 0 item(s)" in dialog.summary.text()


def test_export_a_trainable_yolo_dataset_from_the_dialog(qtbot, project, tmp_path):
    car = ids.new_id()
    project.apply(OpDraft("ontology.class.create", car, {"class": {"name": "car", "color": "#ff0000"}}))
    asset = project.assets()[0].id
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "class_id": car,
        "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    dialog = ExportDialog(project, dest=str(tmp_path / "ds"))
    qtbot.addWidget(dialog)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("yolo"))
    qtbot.keyClicks(dialog.split_edit, "train=1")
    dialog.images_combo.setCurrentIndex(dialog.images_combo.findData("png"))
    with qtbot.waitSignal(dialog.sig_finished):
        qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    assert (tmp_path / "ds/labels/train/a.txt").read_text().startswith("0 ")
    assert "train: images/train" in (tmp_path / "ds/data.yaml").read_text()
    # the asset's pixels are not on this machine: refused by name, labels still written
    assert any("a.png" in r[1] and "pixels cannot be read" in r[2] for r in dialog.results.rows())


def test_label_studio_predictions_through_both_dialogs(qtbot, project, tmp_path):
    car = ids.new_id()
    project.apply(OpDraft("ontology.class.create", car, {"class": {"name": "car", "color": "#ff0000"}}))
    task = [{"id": 1, "data": {"image": "a.png"}, "annotations": [],
             "predictions": [{"model_version": "det-2", "result": [
                 {"id": "p", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": 100, "original_height": 80, "score": 0.6,
                  "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["car"]}}]}]}]
    (tmp_path / "t.json").write_text(json.dumps(task))
    dialog = ImportDialog(project, path=str(tmp_path / "t.json"))
    qtbot.addWidget(dialog)
    dialog.threshold_check.setChecked(True)           # a DICOM SEG option: ignored by other formats
    assert dialog.options()["threshold"] == pytest.approx(0.5)
    with qtbot.waitSignal(dialog.sig_finished):
        qtbot.mouseClick(dialog.run_button, QtCore.Qt.MouseButton.LeftButton)
    assert any(l.name == "predictions: det-2" and l.kind == "predictions" for l in project.layers())
    export = ExportDialog(project, dest=str(tmp_path / "out.json"))
    qtbot.addWidget(export)
    export.format_combo.setCurrentIndex(export.format_combo.findData("label-studio"))
    export.predictions_check.setChecked(True)
    export.seg_type_combo.setCurrentIndex(export.seg_type_combo.findData("fractional"))
    assert export.options()["segmentation_type"] == "fractional"
    with qtbot.waitSignal(export.sig_finished):
        qtbot.mouseClick(export.run_button, QtCore.Qt.MouseButton.LeftButton)
    [pred] = json.loads((tmp_path / "out.json").read_text())[0]["predictions"]
    assert pred["model_version"] == "det-2" and pred["result"][0]["score"] == 0.6
