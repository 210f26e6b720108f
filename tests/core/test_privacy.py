from __future__ import annotations

import shutil

import pydicom
import pytest
from pydicom.data import get_testdata_file

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.importer import add_paths
from labeldesk.core.ops import OpDraft
from labeldesk.core.privacy import PhiGuard, check_publishable, identifiers_from, known_identifiers, phi_findings


def test_findings_name_the_field_and_kind_never_the_value():
    known = identifiers_from({"PatientName": ["Doe^Jane^Q"], "PatientID": ["MRN-44812"],
                              "PatientBirthDate": ["19610304"], "AccessionNumber": ["A7781"]},
                             ["1.2.826.0.1.3680043.8.498.123456789"])
    payload = {"annotation": {"attributes": {"note": "jane doe, follow-up"}},
               "name": "scan of DOE^JANE", "list": ["born 04.03.1961", "MRN-44812"],
               "ok": "MRN-448120 and A77812 are other tokens", "xyxy": [19610304, 1, 2, 3],
               "ref": "see 1.2.826.0.1.3680043.8.498.123456789 please",
               "longer_uid": "1.2.826.0.1.3680043.8.498.1234567890"}
    found = phi_findings(payload, known)
    assert "annotation.attributes.note: patient name" in found
    assert "name: patient name" in found
    assert "list[0]: birth date" in found and "list[1]: patient ID" in found
    assert "ref: original UID" in found
    assert not [f for f in found if f.startswith(("ok", "xyxy", "longer_uid"))]
    assert not [f for f in found if "Doe" in f or "MRN" in f or "1961" in f]
    assert phi_findings("Smith^John was here") == ["text: a DICOM-style person name (FAMILY^GIVEN)"]
    assert phi_findings("nothing to see", known) == []
    assert phi_findings({"c": "id MRN-44812"}, ["MRN-44812"]) == ["c: patient identifier"]


def _comment_op(project, asset_id, text, reason=None):
    """An op as it would be written with ``text`` in a text attribute (typed text with an
    identifier is refused before it is written, so the op is made with a clean text and changed)."""
    import dataclasses
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": f"finding-{cid[-4:]}", "color": "#112233", "kinds": [],
        "attributes": [{"key": "note", "type": "text"}]}}))
    aid = ids.new_id()
    applied = project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset_id, "layer_id": project.my_layer_id, "class_id": cid, "plane": {},
        "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}, "attributes": {"note": "clean"}}}))
    payload = {"annotation": dict(applied.op.payload["annotation"], attributes={"note": text})}
    return dataclasses.replace(applied.op, payload=payload, reason=reason)


def test_publishing_refuses_identifiers_of_deidentified_series(project, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "ct.dcm")
    original = pydicom.dcmread(src / "ct.dcm")
    add_paths(project, [src], deidentify=True)
    asset = project.assets()[0]
    check_publishable(project, list(project.ops()))          # the import itself is publishable
    op = _comment_op(project, asset.id, "looks like CompressedSamples CT1 again")
    with pytest.raises(LabeldeskError) as err:
        check_publishable(project, [op])
    assert op.op_id in str(err.value) and "payload.annotation.attributes.note: patient name" in str(err.value)
    assert "CompressedSamples" not in str(err.value)
    uid_op = _comment_op(project, asset.id, "fine", reason=f"from series {original.SeriesInstanceUID}")
    with pytest.raises(LabeldeskError, match=r"field reason: original UID"):
        check_publishable(project, [uid_op.to_dict()])
    guard = PhiGuard(project)
    assert guard.problems([op, uid_op]) and not guard.problems(list(project.ops())[:-4])


def test_identifiers_of_series_added_without_deidentification(project, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(get_testdata_file("MR_small.dcm"), src / "mr.dcm")
    add_paths(project, [src])
    asset = project.assets()[0]
    kinds = {k.kind for k in known_identifiers(project)}
    assert {"patient name", "patient ID", "original UID"} <= kinds
    draft = OpDraft("asset.rename", asset.id, {"name": "4MR1 knee"})
    with pytest.raises(LabeldeskError, match=r"asset.rename: refused .*payload.name: patient ID"):
        project.apply(draft)                       # typed: refused before it is written
    with pytest.raises(LabeldeskError, match=r"asset.rename.*field payload.name: patient ID"):
        check_publishable(project, [draft])


def test_import_reasons_carry_the_file_name_not_its_folders(project, tmp_path):
    from labeldesk.core.interchange import import_file
    aid = ids.new_id()
    project.apply(OpDraft("asset.add", aid, {"asset": {
        "kind": "image", "name": "a.png", "content_hash": "sha256:" + aid, "width": 10, "height": 10}},
        local={"locator": {"reader": "raster", "path": "/x/a.png"}}))
    folder = tmp_path / "DOE_JANE_19610304"
    folder.mkdir()
    f = folder / "labels.xml"
    f.write_text('<annotations><version>1.1</version><image name="a.png" width="10" height="10">'
                 '<box label="car" xtl="1" ytl="1" xbr="5" ybr="5"/></image></annotations>')
    rep = import_file(project, "cvat", f, options={"create_classes": True})
    assert rep.imported == 1
    reasons = [op.reason for op in project.ops() if op.reason]
    assert reasons and all(r == "imported from cvat file labels.xml" for r in reasons)


def test_guard_takes_drafts_and_store_rows(project, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "ct.dcm")
    add_paths(project, [src], deidentify=True)
    asset = project.assets()[0]
    guard = PhiGuard(project)
    draft = OpDraft("asset.rename", asset.id, {"name": "CompressedSamples^CT1 abdomen"})
    with pytest.raises(LabeldeskError, match=r"draft for .*asset.rename.*payload.name: patient name"):
        guard.check([draft])
    guard.check([OpDraft("asset.rename", asset.id, {"name": "abdomen 1"})])
    rows = project.conn.execute("SELECT * FROM ops").fetchall()
    assert guard.problems(rows) == []
    project.apply(OpDraft("asset.add", ids.new_id(), {"asset": {      # a file's name, not typed
        "kind": "image", "name": "see 1CT1", "content_hash": "h1", "width": 8, "height": 8}}))
    rows = project.conn.execute("SELECT * FROM ops").fetchall()
    assert [p.split(" field ")[1] for p in guard.problems(rows)] == ["payload.asset.name: patient ID",
                                                                     "payload.asset.name: study ID"]
