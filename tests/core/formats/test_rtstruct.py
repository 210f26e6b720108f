"""DICOM RTSTRUCT: written with pydicom, valid for dciodvfy, pixels back exactly (holes too)."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest

from labeldesk.core import ids
from labeldesk.core.formats.rtstruct import fill_even_odd, mask_contours
from labeldesk.core.geometry import Mask
from labeldesk.core.importer import add_paths
from labeldesk.core.interchange import export, import_file
from labeldesk.core.ops import OpDraft
from labeldesk.core.samples.ct import write_ct_series
from test_seg_meaning import dciodvfy_errors

N, SIZE = 4, 40


def test_contours_give_back_the_pixels_exactly():
    rng = np.random.default_rng(5)
    for _ in range(20):
        m = np.zeros((30, 40), bool)
        for _ in range(4):
            y, x = rng.integers(0, 26), rng.integers(0, 36)
            m[y:y + rng.integers(1, 9), x:x + rng.integers(1, 9)] ^= True
        m[12:20, 12:20] = True
        m[14:17, 14:17] = False                                       # a hole
        assert np.array_equal(fill_even_odd(mask_contours(m), 40, 30), m)


@pytest.fixture
def ct(proj, tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=N, size=SIZE)
    report = add_paths(proj, [tmp_path / "ct"])
    return report.added[0]


def test_rtstruct_export_is_valid_and_reads_back(proj, ct, tmp_path):
    liver, ring = ids.new_id(), ids.new_id()
    proj.apply_all([OpDraft("ontology.class.create", liver, {"class": {"name": "Liver", "color": "#aa3300"}}),
                    OpDraft("ontology.class.create", ring, {"class": {"name": "ring", "color": "#00ff00", "value": 9}})])
    donut = np.zeros((SIZE, SIZE), bool)
    donut[5:30, 5:30] = True
    donut[12:20, 12:22] = False
    blob = np.zeros((SIZE, SIZE), bool)
    blob[30:36, 2:9] = True
    made = {(1, liver): blob, (2, ring): donut}
    for (z, cls), m in made.items():
        proj.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": ct.id, "layer_id": proj.my_layer_id, "class_id": cls, "plane": {"z": z},
            "geometry": Mask.from_array(m).to_dict()}}))
    out = tmp_path / "s.dcm"
    rep = export(proj, "rtstruct", out)
    assert not rep.refused and rep.exported == 2, rep.lines()
    assert dciodvfy_errors(out) == []
    ds = pydicom.dcmread(out)
    assert ds.Modality == "RTSTRUCT"
    assert {int(r.ROINumber): str(r.ROIName) for r in ds.StructureSetROISequence} == {1: "Liver", 9: "ring"}
    obs = {int(o.ReferencedROINumber): o for o in ds.RTROIObservationsSequence}
    assert obs[1].RTROIIdentificationCodeSequence[0].CodeValue == "10200004"
    back = import_file(proj, "rtstruct", out, options={"layer": "back"})
    assert not back.refused and back.imported == 2, back.lines()
    layer = next(l.id for l in proj.layers() if l.name == "back")
    for key, m in made.items():
        assert np.array_equal(proj_mask(proj, ct.id, layer, key), m), key


def proj_mask(proj, asset_id, layer, key):
    z, cls = key
    ann = next(a for a in proj.annotations(asset_id, layer_id=layer) if a.plane.z == z and a.class_id == cls)
    return ann.geometry.paste(SIZE, SIZE)


def test_the_rtstruct_that_ships_with_pydicom(proj, tmp_path):
    """A real file (no preamble, a body outline and two isocentre POINTs, no image references)."""
    from pydicom.data import get_testdata_file
    from labeldesk.core.errors import InputError
    path = get_testdata_file("rtstruct.dcm")
    write_ct_series(tmp_path / "ct", n_slices=N, size=SIZE)          # slice 0 lies at z = -200 mm
    asset = add_paths(proj, [tmp_path / "ct"]).added[0]
    with pytest.raises(InputError, match="none of the images its contours reference"):
        import_file(proj, "rtstruct", path, options={"create_classes": True})
    rep = import_file(proj, "rtstruct", path, options={"create_classes": True, "asset": asset.name})
    assert rep.imported == 1, rep.lines()
    assert sum("POINT contour" in i.reason for i in rep.refused) == 2
    ann = proj.annotations(asset.id)[0]
    assert ann.plane.z == 0 and ann.geometry.area() == SIZE * SIZE      # the 400 mm outline covers the slice
    assert {c.name: c.value for c in proj.classes()} == {"patient": 1}
