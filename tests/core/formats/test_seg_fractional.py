"""Fractional DICOM SEG keeps its probabilities: imported beside the masks, exported FRACTIONAL
(highdicom segread and dciodvfy read it), thresholded only when the user asks."""
from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from highdicom.sr.coding import CodedConcept
from test_seg_meaning import N, SIZE, ct, dciodvfy_errors  # noqa: F401  (fixture)

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.formats.probabilities import PROBABILITY_KEY, decode
from labeldesk.core.interchange import export, import_file


def _probabilities() -> np.ndarray:
    """(N, SIZE, SIZE) probabilities: a ramp 0.1..1.0 in a square on slices 1 and 2."""
    p = np.zeros((N, SIZE, SIZE), np.float32)
    ramp = np.linspace(0.1, 1.0, 10, dtype=np.float32)
    p[1, 5:15, 4:14] = ramp[None, :]
    p[2, 8:12, 8:20] = 0.6
    return p


def _fractional_seg(ct_dir: Path, out: Path) -> np.ndarray:
    sources = sorted((pydicom.dcmread(f) for f in ct_dir.rglob("*") if f.is_file()),
                     key=lambda d: float(d.ImagePositionPatient[2]))
    for ds in sources:       # type 2 attributes highdicom copies (the sample series lacks some)
        for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "StudyID", "AccessionNumber"):
            if key not in ds:
                setattr(ds, key, "")
    probs = _probabilities()
    desc = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Tumour",
        segmented_property_category=CodedConcept("49755003", "SCT", "Morphologically Altered Structure"),
        segmented_property_type=CodedConcept("108369006", "SCT", "Neoplasm"),
        algorithm_type="AUTOMATIC", algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="tumour-net", version="3", family=CodedConcept("123110", "DCM", "Artificial Intelligence")))
    seg = hd.seg.Segmentation(source_images=sources, pixel_array=probs, segmentation_type="FRACTIONAL",
                              segment_descriptions=[desc], series_instance_uid=hd.UID(), series_number=9,
                              sop_instance_uid=hd.UID(), instance_number=1, manufacturer="test",
                              manufacturer_model_name="test", software_versions="1", device_serial_number="1")
    seg.save_as(out)
    return probs


def _slice_order(seg, ct_dir):
    sources = sorted((pydicom.dcmread(f, stop_before_pixels=True) for f in ct_dir.rglob("*") if f.is_file()),
                     key=lambda d: float(d.ImagePositionPatient[2]))
    return [str(d.SOPInstanceUID) for d in sources]


def test_probabilities_are_kept_and_written_fractional(proj, ct, tmp_path):
    src = tmp_path / "frac.dcm"
    probs = _fractional_seg(tmp_path / "ct", src)
    rep = import_file(proj, "dicom-seg", src, options={"create_classes": True})
    assert not rep.refused and rep.imported == 2, rep.lines()
    assert not any("threshold" in n.reason for n in rep.notes)
    anns = sorted(proj.annotations(ct.id), key=lambda a: a.plane.z)
    for a in anns:
        kept = decode(a.geometry, a.attributes[PROBABILITY_KEY])
        g = a.geometry
        want = probs[a.plane.z, g.y:g.y + g.height, g.x:g.x + g.width]
        assert np.abs(kept - want).max() <= 0.5 / 255 + 1e-6
    assert int(anns[0].geometry.area()) == 100           # every pixel above 0, not only those above 0.5

    out = tmp_path / "back.dcm"
    rep = export(proj, "dicom-seg", out)
    assert not rep.refused, rep.lines()
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    assert seg.segmentation_type.value == "FRACTIONAL"
    uids = _slice_order(seg, tmp_path / "ct")
    arr = seg.get_pixels_by_source_instance(uids, assert_missing_frames_are_empty=True)
    assert np.abs(arr[..., 0] - probs).max() <= 1 / 255 + 1e-6
    assert seg.get_segment_description(1).algorithm_type.value == "AUTOMATIC"


def test_threshold_only_when_asked(proj, ct, tmp_path):
    src = tmp_path / "frac.dcm"
    probs = _fractional_seg(tmp_path / "ct", src)
    rep = import_file(proj, "dicom-seg", src, options={"create_classes": True, "threshold": "0.5"})
    assert any("thresholded at 0.5 as asked" in n.reason for n in rep.notes)
    anns = sorted(proj.annotations(ct.id), key=lambda a: a.plane.z)
    assert all(PROBABILITY_KEY not in a.attributes for a in anns)
    assert int(anns[0].geometry.area()) == int((probs[1] >= 0.5).sum())
    out = tmp_path / "binary.dcm"
    export(proj, "dicom-seg", out)
    assert hd.seg.segread(out).segmentation_type.value == "BINARY"
    export(proj, "dicom-seg", tmp_path / "asked.dcm", options={"segmentation_type": "fractional"})
    assert hd.seg.segread(tmp_path / "asked.dcm").segmentation_type.value == "FRACTIONAL"
    with pytest.raises(LabeldeskError, match="between 0 and 1"):
        import_file(proj, "dicom-seg", src, options={"threshold": "half"})


def test_binary_export_of_probabilities_thresholds_with_a_note(proj, ct, tmp_path):
    src = tmp_path / "frac.dcm"
    probs = _fractional_seg(tmp_path / "ct", src)
    import_file(proj, "dicom-seg", src, options={"create_classes": True})
    out = tmp_path / "b.dcm"
    rep = export(proj, "dicom-seg", out, options={"segmentation_type": "binary"})
    assert any("thresholded at 0.5" in n.reason for n in rep.notes)
    seg = hd.seg.segread(out)
    arr = seg.get_pixels_by_source_instance(_slice_order(seg, tmp_path / "ct"), assert_missing_frames_are_empty=True)
    assert seg.segmentation_type.value == "BINARY" and np.array_equal(arr[..., 0] > 0, probs >= 0.5)


def test_other_formats_list_the_probabilities_they_cannot_hold(proj, ct, tmp_path):
    src = tmp_path / "frac.dcm"
    _fractional_seg(tmp_path / "ct", src)
    import_file(proj, "dicom-seg", src, options={"create_classes": True})
    rep = export(proj, "nifti", tmp_path / "maps")
    assert any("probabilities of 2 mask(s) not written: nifti" in n.reason for n in rep.notes)
    rep = export(proj, "dicom-seg", tmp_path / "again.dcm")
    assert not any("probabilities" in n.reason for n in rep.notes)
