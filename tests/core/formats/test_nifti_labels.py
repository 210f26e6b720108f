from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats.nifti_labels import parse_table, plane_mask
from labeldesk.core.geometry import Mask, geometry_from_dict
from labeldesk.core.importer import add_paths
from labeldesk.core.interchange import export, import_file
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.samples.ct import write_ct_series


def _class(project, name, colour="#ff8000"):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": name, "color": colour, "kinds": [], "attributes": []}}))
    return cid


def _ann(project, asset, cls, geometry, plane):
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "class_id": cls, "plane": plane,
        "geometry": geometry}}))
    return project.annotation(aid)


def _oblique_affine():
    a = np.radians(15)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([0.8, 0.9, 2.5])
    aff[:3, 3] = [-12.5, 30.25, -40.0]
    return aff


@pytest.fixture
def volume(project, tmp_path):
    data = np.arange(20 * 16 * 6, dtype=np.int16).reshape(20, 16, 6)
    path = tmp_path / "brain.nii.gz"
    nib.save(nib.Nifti1Image(data, _oblique_affine()), str(path))
    report = add_paths(project, [path])
    assert report.added, report.refused
    return report.added[0].id


def _blob(rng, w, h):
    m = np.zeros((h, w), bool)
    x, y = rng.integers(0, w - 6), rng.integers(0, h - 6)
    m[y:y + rng.integers(2, 6), x:x + rng.integers(2, 6)] = True
    m[rng.integers(0, h), rng.integers(0, w)] = True
    return m


def test_masks_round_trip_exactly_on_the_source_grid(project, volume, tmp_path):
    tumour, oedema = _class(project, "tumour", "#ff0000"), _class(project, "oedema", "#00ff80")
    rng = np.random.default_rng(3)
    made = {}
    for z in range(6):
        for cls in (tumour, oedema):
            if (z + (cls == oedema)) % 2:
                continue
            m = _blob(rng, 20, 16)
            made[(z, cls)] = Mask.from_array(m)
            _ann(project, volume, cls, made[(z, cls)].to_dict(), {"z": z})
    out = tmp_path / "labels"
    rep = export(project, "nifti", out)
    assert not rep.refused and rep.exported == len(made)
    asset = project.asset(volume)
    img = nib.load(str(out / "brain.labels.nii.gz"))
    src = nib.load(str(tmp_path / "brain.nii.gz"))
    assert img.shape == src.shape and img.get_data_dtype() == np.uint8
    assert np.allclose(img.affine, src.affine, atol=1e-5)
    assert img.header.get_intent()[0] == "label"
    data = np.asanyarray(img.dataobj)
    for (z, cls), m in made.items():
        value = 1 if cls == tumour else 2
        assert np.array_equal(data[:, :, z].T == value, m.paste(asset.width, asset.height))
    table = parse_table((out / "brain.labels.txt").read_text(), "t")
    assert table == {1: ("tumour", "#ff0000"), 2: ("oedema", "#00ff80")}

    back = import_file(project, "nifti", out, options={"layer": "from nifti"})
    assert not back.refused, back.lines()
    layer = next(l.id for l in project.layers() if l.name == "from nifti")
    got = {(a.plane.z, a.class_id): a.geometry for a in project.annotations(volume, layer_id=layer)}
    assert got == made


def test_polygons_on_any_axis_are_rasterised_into_the_grid(project, volume, tmp_path):
    cls = _class(project, "organ")
    poly = {"kind": "polygon", "shell": [[2.2, 1.5], [14.8, 2.1], [9.5, 5.5]]}
    _ann(project, volume, cls, poly, {"z": 7, "axis": "coronal"})      # rows k (6), columns i (20)
    _ann(project, volume, cls, {"kind": "points", "points": [[1, 1]]}, {"z": 0})
    rep = export(project, "nifti", tmp_path / "out")
    assert rep.exported == 1 and any("points" in str(r) for r in rep.refused)
    data = np.asanyarray(nib.load(str(tmp_path / "out" / "brain.labels.nii.gz")).dataobj)
    expected = plane_mask(geometry_from_dict(poly), 20, 6)              # (k, i)
    assert np.array_equal(data[:, 7, :].T == 1, expected) and expected.any()
    assert np.count_nonzero(data) == np.count_nonzero(expected)


def test_dicom_series_map_is_in_ras(project, tmp_path):
    paths = write_ct_series(tmp_path / "ct", n_slices=4, size=32, spacing=(0.7, 0.8, 2.5), oblique=True)
    add_paths(project, [tmp_path / "ct"])
    asset = project.assets()[0]
    cls = _class(project, "liver")
    m = np.zeros((32, 32), bool)
    m[3, 5] = True
    _ann(project, asset.id, cls, Mask.from_array(m).to_dict(), {"z": 2})
    export(project, "nifti", tmp_path / "out")
    img = nib.load(str(next((tmp_path / "out").glob("*.nii.gz"))))
    ds = pydicom.dcmread(paths[2])
    lps = np.array(ds.ImagePositionPatient, float) + 5 * 0.7 * np.array(ds.ImageOrientationPatient[:3]) \
        + 3 * 0.8 * np.array(ds.ImageOrientationPatient[3:])
    ras = img.affine @ np.array([5, 3, 2, 1.0])
    assert np.allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-3)
    assert np.asanyarray(img.dataobj)[5, 3, 2] == 1


def test_wrong_grid_or_values_are_refused_and_change_nothing(project, volume, tmp_path):
    _class(project, "tumour")
    before = project.counts()
    wrong = tmp_path / "brain.nii.gz.labels.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((20, 16, 5), np.uint8), _oblique_affine()), str(wrong))
    with pytest.raises(InputError, match="is 20x16x5 voxels but brain.nii.gz is 20x16x6"):
        import_file(project, "nifti", wrong, options={"asset": "brain.nii.gz"})
    moved = _oblique_affine()
    moved[0, 3] += 1.0
    shifted = tmp_path / "shifted.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((20, 16, 6), np.uint8), moved), str(shifted))
    with pytest.raises(InputError, match="affine does not match"):
        import_file(project, "nifti", shifted, options={"asset": "brain.nii.gz"})
    floats = tmp_path / "brain.nii"
    nib.save(nib.Nifti1Image(np.full((20, 16, 6), 0.5, np.float32), _oblique_affine()), str(floats))
    with pytest.raises(InputError, match="not whole numbers"):
        import_file(project, "nifti", floats)
    assert project.counts() == before
    # a value without a class is refused (the rest imported); a table names the classes
    mixed = tmp_path / "brain.labels.nii.gz"
    data = np.zeros((20, 16, 6), np.uint8)
    data[2:5, 3:6, 1] = 1
    data[8:9, 8:12, 4] = 7
    nib.save(nib.Nifti1Image(data, _oblique_affine()), str(mixed))
    (tmp_path / "brain.labels.txt").write_text('    0 0 0 0 0 0 0 "Clear Label"\n    1 255 0 0 1 1 1 "tumour"\n')
    rep = import_file(project, "nifti", mixed)
    assert rep.imported == 1 and [i.reason for i in rep.refused] == [
        "class 'label 7' is not in the ontology (import with --create-classes to add it)"]
    assert "slice 4 label 7" in rep.refused[0].location
    ann = project.annotations(project.assets()[0].id, Plane(z=1))[0]
    assert ann.geometry.bounds() == (2.0, 3.0, 5.0, 6.0)       # x = i (columns), y = j (rows)


def test_four_d_maps_keep_their_time_points(project, tmp_path):
    path = tmp_path / "perf.nii"
    nib.save(nib.Nifti1Image(np.zeros((8, 6, 3, 2), np.int16), np.diag([1.5, 1.5, 3.0, 1.0])), str(path))
    add_paths(project, [path])
    asset = project.assets()[0]
    assert (asset.depth, asset.frames) == (3, 2)
    cls = _class(project, "vessel")
    m = np.zeros((6, 8), bool)
    m[1:3, 2:7] = True
    _ann(project, asset.id, cls, Mask.from_array(m).to_dict(), {"z": 2, "t": 1})
    export(project, "nifti", tmp_path / "out")
    img = nib.load(str(tmp_path / "out" / "perf.labels.nii.gz"))
    data = np.asanyarray(img.dataobj)
    assert data.shape == (8, 6, 3, 2) and np.array_equal(data[:, :, 2, 1].T == 1, m) and data.sum() == m.sum()
    import_file(project, "nifti", tmp_path / "out" / "perf.labels.nii.gz", options={"layer": "4d"})
    layer = next(l.id for l in project.layers() if l.name == "4d")
    assert [(a.plane, a.geometry) for a in project.annotations(asset.id, layer_id=layer)] == \
        [(Plane(z=2, t=1), Mask.from_array(m))]


def test_two_volumes_with_one_name_get_two_files(project, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        nib.save(nib.Nifti1Image(np.zeros((6, 5, 2), np.int16), np.eye(4)), str(tmp_path / sub / "scan.nii"))
    rep = add_paths(project, [tmp_path / "a" / "scan.nii", tmp_path / "b" / "scan.nii"])
    assert len(rep.added) == 1          # identical content: the same asset
    nib.save(nib.Nifti1Image(np.ones((6, 5, 2), np.int16), np.eye(4)), str(tmp_path / "b" / "scan.nii"))
    rep = add_paths(project, [tmp_path / "b" / "scan.nii"])
    assert len(project.assets()) == 2
    cls = _class(project, "x")
    m = np.zeros((5, 6), bool)
    m[1:3, 1:4] = True
    for a in project.assets():
        _ann(project, a.id, cls, Mask.from_array(m).to_dict(), {"z": 1})
    out = export(project, "nifti", tmp_path / "out")
    assert len(out.files) == 4 and len({f.rsplit("/", 1)[-1] for f in out.files}) == 4


def test_a_map_with_flipped_and_swapped_axes_is_reoriented_exactly(project, volume, tmp_path):
    cls = _class(project, "tumour")
    m = np.zeros((16, 20), bool)
    m[2:5, 3:11] = True
    m[9, 14] = True
    _ann(project, volume, cls, Mask.from_array(m).to_dict(), {"z": 4})
    export(project, "nifti", tmp_path / "out")
    img = nib.load(str(tmp_path / "out" / "brain.labels.nii.gz"))
    data = np.asanyarray(img.dataobj)
    # the same grid written another way: rows flipped (j -> ny-1-j) and i/j swapped
    flipped = np.ascontiguousarray(np.flip(data, 1).transpose(1, 0, 2))
    swap = np.zeros((4, 4))
    swap[0, 1] = 1                 # new axis 0 = old j (flipped)
    swap[1, 0] = 1                 # new axis 1 = old i
    swap[2, 2] = swap[3, 3] = 1
    flip = np.eye(4)
    flip[1, 1], flip[1, 3] = -1, data.shape[1] - 1
    aff = img.affine @ flip @ swap
    other = tmp_path / "brain.nii.gz.labels.nii.gz"
    nib.save(nib.Nifti1Image(flipped, aff), str(other))
    table = str(tmp_path / "out" / "brain.labels.txt")
    rep = import_file(project, "nifti", other, options={"layer": "re", "labels": table})
    assert not rep.refused and any("reoriented" in str(n) for n in rep.notes)
    layer = next(l.id for l in project.layers() if l.name == "re")
    assert [(a.plane.z, a.geometry) for a in project.annotations(volume, layer_id=layer)] == [(4, Mask.from_array(m))]


def test_a_broken_file_is_named(project, volume, tmp_path):
    bad = tmp_path / "brain.labels.nii.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(InputError, match="brain.labels.nii.gz: not a readable NIfTI file"):
        import_file(project, "nifti", bad)
