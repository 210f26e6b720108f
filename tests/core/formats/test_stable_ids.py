"""Stable label values: set at creation, kept on import, never renumbered by exports."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from labeldesk.core.errors import OpRejected
from labeldesk.core.importer import add_paths
from labeldesk.core.interchange import Selection, export, import_file
from labeldesk.core.ops import OpDraft
from tests.core.formats.format_fixtures import add_class


@pytest.fixture
def volume(proj, tmp_path):
    data = np.zeros((12, 10, 4), np.int16)
    path = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([0.7, 0.7, 2.0, 1.0])), str(path))
    report = add_paths(proj, [path])
    assert report.added, report.refused
    return tmp_path / "ct.nii.gz"


def _values(project):
    return {c.name: c.value for c in project.classes()}


def test_classes_get_values_at_creation_and_values_are_unique(proj):
    a, b = add_class(proj, "A"), add_class(proj, "B")
    assert _values(proj) == {"A": 1, "B": 2}
    with pytest.raises(OpRejected, match="belongs to class 'A'"):
        proj.apply(OpDraft("ontology.class.update", b, {"set": {"value": 1}}))
    proj.apply(OpDraft("ontology.class.update", b, {"set": {"value": 250, "code": "B-250"}}))
    add_class(proj, "C")
    assert _values(proj) == {"A": 1, "B": 250, "C": 251}


def test_nifti_values_3_7_250_round_trip_and_import_never_moves_existing_values(proj, volume, tmp_path):
    add_class(proj, "Spleen")
    liver = add_class(proj, "Liver")
    assert _values(proj)["Liver"] == 2
    lab = np.zeros((12, 10, 4), np.uint8)
    lab[1:4, 1:4, 0] = 3
    lab[5:8, 5:8, 1] = 7
    lab[2:6, 6:9, 2] = 250
    lab[8:10, 1:3, 3] = 2          # 2 is Liver's value: the map's unnamed 2 is Liver
    src = nib.load(str(volume))
    nib.save(nib.Nifti1Image(lab, src.affine), str(tmp_path / "ct.labels.nii.gz"))
    rep = import_file(proj, "nifti", tmp_path / "ct.labels.nii.gz", options={"create_classes": True})
    assert not rep.refused, rep.refused
    values = _values(proj)
    assert values["Liver"] == 2 and values["Spleen"] == 1                   # not moved
    assert values["label 3"] == 3 and values["label 7"] == 7 and values["label 250"] == 250
    assert sorted(rep.created_classes) == ["label 250", "label 3", "label 7"]
    out = tmp_path / "out"
    rep = export(proj, "nifti", out, options={})
    assert not rep.refused
    back = np.asanyarray(nib.load(str(out / "ct.labels.nii.gz")).dataobj)
    assert np.array_equal(back, lab)
    table = (out / "ct.labels.txt").read_text()
    assert '"label 250"' in table and "  250 " in table
    # a second export numbers the same way whatever classes are added in between
    add_class(proj, "Aorta")
    out2 = tmp_path / "out2"
    export(proj, "nifti", out2)
    assert np.array_equal(np.asanyarray(nib.load(str(out2 / "ct.labels.nii.gz")).dataobj), lab)


def test_a_new_class_whose_file_value_is_taken_gets_the_next_free_one(proj, volume, tmp_path):
    add_class(proj, "Liver")                                            # value 1
    lab = np.zeros((12, 10, 4), np.uint8)
    lab[1:3, 1:3, 0] = 1
    src = nib.load(str(volume))
    nib.save(nib.Nifti1Image(lab, src.affine), str(tmp_path / "ct.labels.nii.gz"))
    (tmp_path / "ct.labels.txt").write_text('    1   255    0    0        1  1  1    "Kidney"\n')
    rep = import_file(proj, "nifti", tmp_path / "ct.labels.nii.gz", options={"create_classes": True})
    assert _values(proj) == {"Liver": 1, "Kidney": 2}
    assert any("belongs to another class" in n.reason for n in rep.notes)


def test_cli_lists_and_sets_values_codes_and_concepts(tmp_path, capsys):
    from labeldesk.cli import main
    from labeldesk.core.project import Project
    with Project.create(tmp_path / "p", "p", user_name="a") as p:
        add_class(p, "Liver")
        add_class(p, "widget")
    assert main(["classes", str(tmp_path / "p"), "--set", "widget", "--value", "250", "--code", "WID",
                 "--type", "SCT:71854001:Colon", "--keypoints", "a,b", "--skeleton", "1-2"]) == 0
    out = capsys.readouterr().out
    assert "SCT 10200004 Liver (default table)" in out and "  250  WID" in out and "Colon" in out
    assert main(["classes", str(tmp_path / "p"), "--set", "widget", "--value", "1"]) == 1
    assert "label value 1 belongs to class 'Liver'" in capsys.readouterr().err


def test_a_value_two_classes_share_is_refused_by_value_formats_and_named(proj, tmp_path):
    from format_fixtures import add_asset, annotate
    from labeldesk.core.errors import LabeldeskError
    a, b = add_class(proj, "A"), add_class(proj, "B")
    # as after two machines made a class at once: both with value 1 (the merge keeps both)
    proj.conn.execute("UPDATE classes SET value = 1")
    img = add_asset(proj, "x.png", 20, 20)
    for c in (a, b):
        annotate(proj, img, c, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    for fmt in ("coco", "yolo", "mot"):
        with pytest.raises(LabeldeskError, match="label value 1 is shared by classes 'A' and 'B'"):
            export(proj, fmt, tmp_path / f"{fmt}.out")
        assert not (tmp_path / f"{fmt}.out").exists()
    rep = export(proj, "labelme", tmp_path / "lm")          # a format without values is not held up
    assert rep.exported == 2 and not rep.refused
    rep = export(proj, "coco", tmp_path / "only-a.json", Selection(classes=("A",)))   # one of them: fine
    assert rep.exported == 1


def test_a_sync_replay_gives_legacy_classes_the_numbers_the_migration_gave(tmp_path):
    """Classes made before label values existed: the migration numbers them in the order a replay
    re-applies their create ops, so replaying the ontology (as a merge does) changes nothing."""
    import dataclasses
    from importlib import resources
    from labeldesk.core.op_types.ontology import CreateClass
    from labeldesk.core.project import Project
    from labeldesk.core.store.migrations import statements
    from labeldesk.core.sync.reducer import reset
    with Project.create(tmp_path / "p", "p", user_name="a") as p:
        for name in ("A", "B", "C"):
            add_class(p, name)
        # as an old store: no values, and a sort order that is not the creation order
        p.conn.execute("UPDATE classes SET value = NULL")
        p.conn.execute("UPDATE classes SET sort_order = 5 WHERE name = 'A'")
        script = resources.files("labeldesk.core.store").joinpath("schema_class_codes.sql").read_text("utf-8")
        p.conn.execute(statements(script)[-1])                 # the migration's numbering
        migrated = {c.name: c.value for c in p.classes()}
        assert migrated == {"A": 1, "B": 2, "C": 3}
        reset(p.conn, ("ontology", None))                      # a replay of the ontology group
        for op in p.ops():
            if op.type == "ontology.class.create":
                old = {k: v for k, v in op.payload["class"].items() if k != "value"}   # as an old device wrote it
                CreateClass().apply(p.conn, dataclasses.replace(op, payload={"class": old}), None)
        assert {c.name: c.value for c in p.classes()} == migrated
