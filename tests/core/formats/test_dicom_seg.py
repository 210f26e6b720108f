from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats.nifti_labels import plane_mask
from labeldesk.core.geometry import Mask, geometry_from_dict
from labeldesk.core.importer import add_paths
from labeldesk.core.interchange import export, import_file
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.samples.ct import write_ct_series

N, SIZE = 6, 32


def _class(project, name, colour):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": name, "color": colour, "kinds": [], "attributes": []}}))
    return cid


def _ann(project, asset, cls, geometry, plane):
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "class_id": cls, "plane": plane,
        "geometry": geometry}}))


@pytest.fixture
def ct(project, tmp_path):
    paths = write_ct_series(tmp_path / "ct", n_slices=N, size=SIZE)
    report = add_paths(project, [tmp_path / "ct"])
    assert len(report.added) == 1, report.refused
    return report.added[0], paths


def _disk(cx, cy, r):
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def test_seg_written_read_back_by_highdicom_and_pydicom_and_imported(project, ct, tmp_path):
    asset, paths = ct
    liver, lesion = _class(project, "liver", "#aa3300"), _class(project, "lesion", "#00ff00")
    expected = {}     # (slice, class) -> bool (Y, X)
    for z in (1, 2, 4):
        m = _disk(10 + z, 12, 5)
        expected[(z, liver)] = m
        _ann(project, asset.id, liver, Mask.from_array(m).to_dict(), {"z": z})
    m = _disk(20, 20, 3)
    expected[(2, lesion)] = m
    _ann(project, asset.id, lesion, Mask.from_array(m).to_dict(), {"z": 2})
    out = tmp_path / "seg.dcm"
    rep = export(project, "dicom-seg", out)
    assert not rep.refused and rep.exported == 4, rep.lines()

    raw = pydicom.dcmread(out)
    assert raw.Modality == "SEG" and raw.SegmentationType == "BINARY"
    assert [s.SegmentLabel for s in raw.SegmentSequence] == ["liver", "lesion"]
    sources = [pydicom.dcmread(p) for p in paths]
    assert raw.ReferencedSeriesSequence[0].SeriesInstanceUID == sources[0].SeriesInstanceUID
    assert raw.StudyInstanceUID == sources[0].StudyInstanceUID and raw.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    assert raw.NumberOfFrames == 4                               # empty frames are omitted

    seg = hd.seg.segread(out)
    uids = [str(ds.SOPInstanceUID) for ds in sources]           # paths are in slice order
    pixels = seg.get_pixels_by_source_instance(uids, segment_numbers=[1, 2])
    for z in range(N):
        for s, cls in enumerate((liver, lesion)):
            want = expected.get((z, cls), np.zeros((SIZE, SIZE), bool))
            assert np.array_equal(pixels[z, :, :, s].astype(bool), want), (z, s)
    colour = hd.color.CIELabColor.from_dicom_value(list(seg.get_segment_description(2).RecommendedDisplayCIELabValue))
    assert tuple(int(v) for v in colour.to_rgb()) == (0, 255, 0)

    back = import_file(project, "dicom-seg", out, options={"layer": "from seg"})
    assert not back.refused, back.lines()
    layer = next(l.id for l in project.layers() if l.name == "from seg")
    got = {(a.plane.z, a.class_id): a.geometry for a in project.annotations(asset.id, layer_id=layer)}
    assert got == {k: Mask.from_array(v) for k, v in expected.items()}


def test_other_axes_land_on_the_slices_they_cross(project, ct, tmp_path):
    asset, paths = ct
    organ = _class(project, "organ", "#123456")
    poly = {"kind": "polygon", "shell": [[3.5, 0.5], [20.5, 1.5], [12.5, 4.5]]}
    _ann(project, asset.id, organ, poly, {"z": 9, "axis": "coronal"})      # rows k, columns i; j = 9
    _ann(project, asset.id, organ, {"kind": "polyline", "points": [[1, 1], [5, 5]]}, {"z": 0})
    rep = export(project, "dicom-seg", tmp_path / "s.dcm")
    assert any("polyline" in str(r) for r in rep.refused)
    seg = hd.seg.segread(tmp_path / "s.dcm")
    uids = [str(pydicom.dcmread(p).SOPInstanceUID) for p in paths]
    pixels = seg.get_pixels_by_source_instance(uids)
    coronal = plane_mask(geometry_from_dict(poly), SIZE, N)                  # (k, i)
    assert np.array_equal(pixels[:, 9, :, 0].astype(bool), coronal) and coronal.any()
    assert int(pixels.sum()) == int(coronal.sum())


def test_deidentified_series_seg_references_the_new_uids(project, tmp_path):
    paths = write_ct_series(tmp_path / "ct", n_slices=3, size=16)
    original = pydicom.dcmread(paths[0])
    add_paths(project, [tmp_path / "ct"], deidentify=True)
    asset = project.assets()[0]
    cls = _class(project, "x", "#ff0000")
    m = np.zeros((16, 16), bool)
    m[4:8, 4:9] = True
    _ann(project, asset.id, cls, Mask.from_array(m).to_dict(), {"z": 1})
    export(project, "dicom-seg", tmp_path / "d.dcm")
    seg = pydicom.dcmread(tmp_path / "d.dcm")
    text = str(seg)
    assert str(original.SeriesInstanceUID) not in text and str(original.StudyInstanceUID) not in text
    assert "LABELDESK^DEMO" not in text
    new = pydicom.dcmread(project.locator(asset.id)["files"][0])
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == new.SeriesInstanceUID


def test_bad_seg_input(project, ct, tmp_path):
    asset, paths = ct
    with pytest.raises(InputError, match="not a DICOM SEG \\(modality CT"):
        import_file(project, "dicom-seg", paths[0])
    other = write_ct_series(tmp_path / "other", n_slices=2, size=8)
    sources = [pydicom.dcmread(p) for p in other]
    for ds in sources:
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "", "", "", ""
        ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "", ""
    desc = hd.seg.SegmentDescription(
        1, "blob", hd.sr.CodedConcept("85756007", "SCT", "Tissue"), hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
        "MANUAL")
    pix = np.zeros((2, 8, 8), np.uint8)
    pix[0, 2:4, 2:4] = 1
    seg = hd.seg.Segmentation(sources, pix, "BINARY", [desc], hd.UID(), 5, hd.UID(), 1, "x", "x", "1", "1")
    seg.save_as(tmp_path / "foreign.dcm")
    before = project.counts()
    with pytest.raises(InputError, match="none of the 2 images it segments is in the project"):
        import_file(project, "dicom-seg", tmp_path / "foreign.dcm")
    assert project.counts() == before
    (tmp_path / "junk.dcm").write_bytes(b"\0" * 200)
    with pytest.raises(InputError, match="junk.dcm"):
        import_file(project, "dicom-seg", tmp_path / "junk.dcm")


def test_cli_export_and_import_seg_and_nifti(tmp_path, capsys):
    from labeldesk.cli import main
    from labeldesk.core.project import Project
    root = tmp_path / "proj"
    assert main(["init", str(root), "--user", "alice"]) == 0
    write_ct_series(tmp_path / "ct", n_slices=3, size=16)
    assert main(["add", str(root), str(tmp_path / "ct"), "--deidentify", "-q"]) == 0
    with Project.open(root) as p:
        asset = p.assets()[0]
        cls = _class(p, "organ", "#00aa00")
        m = np.zeros((16, 16), bool)
        m[2:9, 3:7] = True
        _ann(p, asset.id, cls, Mask.from_array(m).to_dict(), {"z": 2})
    assert main(["export", str(root), "dicom-seg", str(tmp_path / "out.dcm"), "-q"]) == 0
    assert main(["export", str(root), "nifti", str(tmp_path / "maps"), "-q"]) == 0
    assert main(["import", str(root), str(tmp_path / "out.dcm"), "--layer", "seg", "-q"]) == 0
    assert main(["import", str(root), str(tmp_path / "maps"), "--format", "nifti", "--layer", "nii", "-q"]) == 0
    capsys.readouterr()
    with Project.open(root) as p:
        by_layer = {l.name: [a.geometry for a in p.annotations(asset.id, layer_id=l.id)] for l in p.layers()}
    assert by_layer["seg"] == by_layer["nii"] == by_layer["alice"] == [Mask.from_array(m)]


def test_multiframe_source_round_trip_and_a_source_highdicom_refuses(project, tmp_path):
    from labeldesk.core.samples.ct import write_multiframe
    (tmp_path / "a").mkdir()
    good = write_multiframe(tmp_path / "a" / "mf.dcm", n_frames=5, size=16)
    ds = pydicom.dcmread(good)
    ds.FrameOfReferenceUID = hd.UID()
    ds.save_as(good)
    (tmp_path / "b").mkdir()
    bad = write_multiframe(tmp_path / "b" / "nofor.dcm", n_frames=3, size=16, seed=4)   # no Frame of Reference
    add_paths(project, [good, bad])
    vol, other = sorted(project.assets(), key=lambda a: -a.depth)
    cls = _class(project, "x", "#ff0000")
    m = np.zeros((16, 16), bool)
    m[2:5, 3:9] = True
    for asset in (vol, other):
        _ann(project, asset.id, cls, Mask.from_array(m).to_dict(), {"z": 1})
    rep = export(project, "dicom-seg", tmp_path / "segs")
    assert rep.exported == 1 and len(rep.files) == 1           # the refused asset counts for nothing
    assert any(other.name in str(r) and "Frame Of Reference" in str(r) for r in rep.refused)
    seg = hd.seg.segread(rep.files[0])
    frames = project.locator(vol.id)["frames"]                  # geometric order: stored frames reversed
    pixels = seg.get_pixels_by_source_frame(str(ds.SOPInstanceUID), [frames[1] + 1],
                                            assert_missing_frames_are_empty=True)
    assert np.array_equal(pixels[0, :, :, 0].astype(bool), m)
    back = import_file(project, "dicom-seg", rep.files[0], options={"layer": "mf"})
    layer = next(l.id for l in project.layers() if l.name == "mf")
    assert [(a.plane.z, a.geometry) for a in project.annotations(vol.id, layer_id=layer)] == [(1, Mask.from_array(m))]
    assert not back.refused


def test_seg_of_the_original_series_lands_on_the_deidentified_asset(project, tmp_path):
    paths = write_ct_series(tmp_path / "ct", n_slices=3, size=16)
    add_paths(project, [tmp_path / "ct"], deidentify=True)
    asset = project.assets()[0]
    _class(project, "blob", "#ff0000")
    sources = [pydicom.dcmread(p) for p in paths]                # the originals, as another tool saw them
    for ds in sources:
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "", "", "", ""
        ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "", ""
    desc = hd.seg.SegmentDescription(
        1, "blob", hd.sr.CodedConcept("85756007", "SCT", "Tissue"), hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
        "MANUAL")
    pix = np.zeros((3, 16, 16), np.uint8)
    pix[2, 3:7, 4:10] = 1
    hd.seg.Segmentation(sources, pix, "BINARY", [desc], hd.UID(), 5, hd.UID(), 1, "x", "x", "1", "1") \
        .save_as(tmp_path / "orig.seg.dcm")
    rep = import_file(project, "dicom-seg", tmp_path / "orig.seg.dcm")
    assert rep.imported == 1 and any("re-identification map" in str(n) for n in rep.notes)
    (ann,) = project.annotations(asset.id)
    assert ann.plane == Plane(z=2) and ann.geometry == Mask.from_array(pix[2].astype(bool))


def test_overlapping_classes_keep_both_segments(project, ct, tmp_path):
    asset, paths = ct
    a, b = _class(project, "organ", "#ff0000"), _class(project, "tumour", "#00ff00")
    big, small = _disk(15, 15, 8), _disk(15, 15, 3)
    _ann(project, asset.id, a, Mask.from_array(big).to_dict(), {"z": 3})
    _ann(project, asset.id, b, Mask.from_array(small).to_dict(), {"z": 3})
    export(project, "dicom-seg", tmp_path / "o.dcm")
    seg = hd.seg.segread(tmp_path / "o.dcm")
    uid = str(pydicom.dcmread(paths[3]).SOPInstanceUID)
    pixels = seg.get_pixels_by_source_instance([uid], skip_overlap_checks=True)
    assert np.array_equal(pixels[0, :, :, 0].astype(bool), big) and np.array_equal(pixels[0, :, :, 1].astype(bool), small)
    back = import_file(project, "dicom-seg", tmp_path / "o.dcm", options={"layer": "o"})
    layer = next(l.id for l in project.layers() if l.name == "o")
    got = {a_.class_id: a_.geometry for a_ in project.annotations(asset.id, layer_id=layer)}
    assert got == {a: Mask.from_array(big), b: Mask.from_array(small)} and not back.refused


def test_automatic_segments_keep_their_algorithm(project, ct, tmp_path):
    asset, paths = ct
    sources = [pydicom.dcmread(p) for p in paths]
    for ds in sources:
        ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "", "", "", ""
        ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "", ""
    algo = hd.AlgorithmIdentificationSequence(name="unet-liver", version="2.1",
                                              family=hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence"))
    desc = hd.seg.SegmentDescription(
        1, "liver", hd.sr.CodedConcept("85756007", "SCT", "Tissue"), hd.sr.CodedConcept("10200004", "SCT", "Liver"),
        "AUTOMATIC", algorithm_identification=algo)
    pix = np.zeros((N, SIZE, SIZE), np.uint8)
    pix[1, 4:9, 4:12] = 1
    hd.seg.Segmentation(sources, pix, "BINARY", [desc], hd.UID(), 5, hd.UID(), 1, "x", "x", "1", "1") \
        .save_as(tmp_path / "auto.dcm")
    rep = import_file(project, "dicom-seg", tmp_path / "auto.dcm", options={"create_classes": True})
    assert rep.imported == 1
    op = [o for o in project.ops() if o.type == "annotation.create"][-1]
    assert op.payload["annotation"]["source"] == {"model": "unet-liver", "version": "2.1", "score": None}


def test_a_series_whose_files_are_elsewhere_is_named(project, ct, tmp_path):
    asset, paths = ct
    cls = _class(project, "x", "#ff0000")
    _ann(project, asset.id, cls, Mask.from_array(_disk(10, 10, 3)).to_dict(), {"z": 1})
    export(project, "dicom-seg", tmp_path / "x.dcm")
    for p in paths:
        p.rename(p.with_suffix(".moved"))
    with pytest.raises(InputError, match=f"none of the .* files of 1 DICOM asset.* not on this machine .{asset.name}"):
        import_file(project, "dicom-seg", tmp_path / "x.dcm")
    rep = export(project, "dicom-seg", tmp_path / "y.dcm")
    assert rep.exported == 0 and any("not on this machine" in str(r) for r in rep.refused)
