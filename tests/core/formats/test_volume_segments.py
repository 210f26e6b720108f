"""3-D segments (one label map per structure) export through NIfTI, DICOM SEG and RTSTRUCT with
their class's label value and coded concept."""
from __future__ import annotations

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom

from labeldesk.core import ids
from labeldesk.core import segments as seg
from labeldesk.core.importer import add_paths
from labeldesk.core.interchange import export
from labeldesk.core.ops import OpDraft
from labeldesk.core.samples.ct import write_ct_series

N, SIZE = 4, 24


def test_segments_export_with_their_label_values(proj, tmp_path):
    paths = write_ct_series(tmp_path / "ct", n_slices=N, size=SIZE)
    asset = add_paths(proj, [tmp_path / "ct"]).added[0]
    liver = ids.new_id()
    proj.apply(OpDraft("ontology.class.create", liver, {"class": {"name": "Liver", "color": "#aa3300", "value": 7}}))
    ball = np.zeros((N, SIZE, SIZE), bool)
    ball[1:3, 5:15, 6:12] = True
    create = seg.create_draft(asset.id, proj.my_layer_id, liver, "liver 1", "#aa3300")
    proj.apply(create)
    proj.apply(seg.paint_draft(create.entity, np.zeros(ball.shape, bool), ball))

    rep = export(proj, "nifti", tmp_path / "n")
    assert rep.exported == 2 and not rep.refused, rep.lines()                 # two painted slices
    vol = np.asanyarray(nib.load(str(next((tmp_path / "n").glob("*.nii.gz")))).dataobj)
    assert np.array_equal(vol.transpose(2, 1, 0) == 7, ball) and set(np.unique(vol)) == {0, 7}

    rep = export(proj, "dicom-seg", tmp_path / "s.dcm")
    assert not rep.refused, rep.lines()
    seg_ds = hd.seg.segread(tmp_path / "s.dcm")
    uids = [str(pydicom.dcmread(p).SOPInstanceUID) for p in paths]
    pixels = seg_ds.get_pixels_by_source_instance(uids, segment_numbers=[1])
    assert np.array_equal(pixels[:, :, :, 0].astype(bool), ball)
    assert seg_ds.get_segment_description(1).segmented_property_type.value == "10200004"

    rep = export(proj, "rtstruct", tmp_path / "r.dcm")
    assert not rep.refused, rep.lines()
    rt = pydicom.dcmread(tmp_path / "r.dcm")
    assert int(rt.StructureSetROISequence[0].ROINumber) == 7
    assert len(rt.ROIContourSequence[0].ContourSequence) == 2                # slices 1 and 2
