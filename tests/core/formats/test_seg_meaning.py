"""DICOM SEG keeps its meaning: attributed classes export, SNOMED CT codes, AUTOMATIC with the
algorithm; checked with highdicom segread and dciodvfy (dicom3tools)."""
from __future__ import annotations

import shutil
import subprocess

import highdicom as hd
import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.geometry import Mask
from labeldesk.core.importer import add_paths
from labeldesk.core.interchange import export, import_file
from labeldesk.core.ops import OpDraft
from labeldesk.core.samples.ct import write_ct_series

N, SIZE = 4, 32


@pytest.fixture
def ct(proj, tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=N, size=SIZE)
    report = add_paths(proj, [tmp_path / "ct"])
    assert len(report.added) == 1, report.refused
    return report.added[0]


def _class(project, name, **extra):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name, "color": "#cc3300", **extra}}))
    return cid


def _mask(project, asset, cls, z, x0, source=None):
    m = np.zeros((SIZE, SIZE), bool)
    m[5:15, x0:x0 + 8] = True
    ann = {"asset_id": asset, "layer_id": project.my_layer_id, "class_id": cls, "plane": {"z": z},
           "geometry": Mask.from_array(m).to_dict(), "attributes": {}}
    if source:
        ann["source"] = source
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": ann}))
    return m


def dciodvfy_errors(path) -> list[str]:
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed: apt-get install dicom3tools")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def test_attributed_classes_codes_and_algorithm_survive_and_the_file_is_valid(proj, ct, tmp_path):
    lesion = _class(proj, "Lesion", attributes=[{"key": "malignant", "type": "bool"},
                                                {"key": "grade", "type": "enum", "options": ["1", "2", "3"]}])
    liver = _class(proj, "Liver")
    organ = _class(proj, "Thing", code="THG",
                   concept={"category": {"value": "91723000", "scheme": "SCT", "meaning": "Anatomical Structure"},
                            "type": {"value": "71854001", "scheme": "SCT", "meaning": "Colon"}})
    _mask(proj, ct.id, lesion, 1, 2)
    _mask(proj, ct.id, liver, 2, 12, source={"model": "unet-liver", "version": "2.1", "score": 0.9})
    _mask(proj, ct.id, organ, 3, 20)
    out = tmp_path / "seg.dcm"
    rep = export(proj, "dicom-seg", out)
    assert not rep.refused and rep.exported == 3, rep.lines()
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    descs = {seg.get_segment_description(n).segment_label: seg.get_segment_description(n)
             for n in seg.segment_numbers}
    assert set(descs) == {"Lesion", "Liver", "Thing"}
    kind = {k: (d.segmented_property_type.value, d.segmented_property_type.scheme_designator)
            for k, d in descs.items()}
    assert kind == {"Lesion": ("52988006", "SCT"), "Liver": ("10200004", "SCT"), "Thing": ("71854001", "SCT")}
    assert descs["Liver"].algorithm_type.value == "AUTOMATIC"
    assert descs["Liver"].algorithm_identification[0].AlgorithmName == "unet-liver"
    assert descs["Liver"].algorithm_identification[0].AlgorithmVersion == "2.1"
    assert descs["Lesion"].algorithm_type.value == "MANUAL"

    # into a fresh project: the classes come back with their codes, the prediction with its model
    from labeldesk.core.project import Project
    other = Project.create(tmp_path / "other", "o", user_name="bob")
    try:
        add_paths(other, [tmp_path / "ct"])
        back = import_file(other, "dicom-seg", out, options={"create_classes": True})
        assert not back.refused and back.imported == 3, back.lines()
        by_name = {c.name: c for c in other.classes()}
        assert by_name["Thing"].concept["type"] == {"value": "71854001", "scheme": "SCT", "meaning": "Colon"}
        again = tmp_path / "again.dcm"
        export(other, "dicom-seg", again)
        d2 = hd.seg.segread(again)
        types = {d2.get_segment_description(n).segment_label: d2.get_segment_description(n).segmented_property_type.value
                 for n in d2.segment_numbers}
        assert types == {"Lesion": "52988006", "Liver": "10200004", "Thing": "71854001"}
        assert {d2.get_segment_description(n).segment_label: d2.get_segment_description(n).algorithm_type.value
                for n in d2.segment_numbers}["Liver"] == "AUTOMATIC"
    finally:
        other.close()
