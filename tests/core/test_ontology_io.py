from __future__ import annotations

import json

import pytest

from labeldesk.core import ids
from labeldesk.core.ontology import SchemaError
from labeldesk.core.ontology_io import export_ontology, flagged_annotations, import_ontology, validate_ontology_json
from labeldesk.core.ops import OpDraft
from labeldesk.paths import resources_dir

DEMO = json.loads((resources_dir() / "ontologies" / "demo.json").read_text())


def test_demo_ontology_imports_and_exports_equal(project):
    drafts, notes = import_ontology(project, DEMO)
    project.apply_all(drafts)
    assert not notes
    out = export_ontology(project)
    names = [c["name"] for c in out["classes"]]
    assert names == [c["name"] for c in DEMO["classes"]]
    lesion = next(c for c in out["classes"] if c["name"] == "Lesion")
    assert lesion["attributes"][0]["options"] == ["benign", "malignant", "uncertain"]
    liver = next(c for c in out["classes"] if c["name"] == "Liver")
    assert liver["parent_id"] == next(c["id"] for c in out["classes"] if c["name"] == "Anatomy")
    again, _ = import_ontology(project, out)
    assert again == []                                   # exporting then importing changes nothing


@pytest.mark.parametrize("mutate,path", [
    (lambda d: d["classes"][4]["attributes"][0].update(options=[]), "classes[4].attributes[0].options"),
    (lambda d: d["classes"][2].update(color="green"), "classes[2].color"),
    (lambda d: d["classes"][3].update(hotkey="1"), "classes[3].hotkey"),
    (lambda d: d["classes"].append({"color": "#000000"}), "classes[10].name"),
    (lambda d: d.update(classes={}), "classes"),
])
def test_invalid_json_names_the_first_error(mutate, path):
    data = json.loads(json.dumps(DEMO))
    mutate(data)
    with pytest.raises(SchemaError) as err:
        validate_ontology_json(data)
    assert err.value.path == path


def test_import_never_deletes_and_reports_missing(project):
    keep = ids.new_id()
    project.apply(OpDraft("ontology.class.create", keep, {"class": {"name": "Mine"}}))
    drafts, notes = import_ontology(project, {"classes": [{"name": "New", "color": "#112233"}]})
    project.apply_all(drafts)
    assert {c.name for c in project.classes()} == {"Mine", "New"}
    assert notes == ["class 'Mine' is not in the file: kept unchanged"]


def test_flags_deprecated_merged_changed_and_missing_required(project, image_asset):
    drafts, _ = import_ontology(project, DEMO)
    project.apply_all(drafts)
    cls = {c.name: c.id for c in project.classes()}

    def ann(class_id, attrs=None):
        aid = ids.new_id()
        project.apply(OpDraft("annotation.create", aid, {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id, "class_id": class_id,
            "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}, "attributes": attrs or {}}}))
        return aid
    lesion = ann(cls["Lesion"])                          # missing required malignancy
    ok = ann(cls["Lesion"], {"malignancy": "benign"})
    kidney = ann(cls["Defect"], {"severity": "minor"})
    person = ann(cls["Person"])
    project.apply(OpDraft("ontology.class.update", cls["Person"], {"set": {"deprecated": True}}))
    project.apply(OpDraft("ontology.class.merge", cls["Defect"], {"into": cls["Building"]}))
    flags = {a.id: r for a, r in flagged_annotations(project)}
    assert "missing required: malignancy" in flags[lesion]
    assert ok not in flags
    assert "deprecated" in flags[person] and "merged into 'Building'" in flags[kidney]
    project.apply(OpDraft("ontology.class.update", cls["Lesion"], {"set": {"color": "#000000"}}))
    assert "changed after" in {a.id: r for a, r in flagged_annotations(project)}[ok]
