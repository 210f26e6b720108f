from __future__ import annotations

import glob
import gzip
import os

import nibabel
import numpy as np
import pytest

from labeldesk.core.errors import InputError
from labeldesk.core.io import nifti
from labeldesk.core.model import Plane
from labeldesk.core.samples.volume import markers, phantom, write_nifti

DATA = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data")
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def opened(path) -> nifti.VolumeSource:
    return nifti.open_locator(nifti.probe(str(path)).locator)


def mapped(arr: np.ndarray) -> bool:
    while arr is not None:
        if isinstance(arr, np.memmap):
            return True
        arr = arr.base
    return False


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_values_dtype_scaling_and_orientation(tmp_path, name):
    ras = np.array([[0.8, 0, 0, -10], [0, 0.9, 0, 20], [0, 0, 1.5, 5], [0, 0, 0, 1]])
    p = write_nifti(tmp_path / name, shape=(40, 30, 20), affine=ras, slope=2.0, inter=-5)
    found = nifti.probe(str(p))
    info = found.info
    assert (info.kind, info.width, info.height, info.depth, info.frames, info.dtype) == ("volume", 40, 30, 20, 1, "int16")
    assert info.rescale == (2.0, -5.0)
    assert info.spacing == pytest.approx((0.8, 0.9, 1.5))
    assert np.allclose(np.array(info.affine), LPS @ ras)       # RAS+ -> LPS: first two rows negated
    assert info.affine[0][3] == 10 and info.affine[1][3] == -20 and info.meta["affine_from"] == "sform"
    src = nifti.open_locator(found.locator)
    ref = phantom((40, 30, 20))
    assert src.voxels.dtype == np.int16 and src.voxels.shape == (1, 20, 30, 40)
    for (x, y, z), value in markers((40, 30, 20)).items():
        assert src.read_region(0, x, y, 1, 1, Plane(z=z))[0, 0] == value == ref[x, y, z]
    assert np.array_equal(src.read_plane(Plane(z=7)), ref[:, :, 7].T)
    assert src.read_plane(Plane(z=5, axis="coronal")).shape == (20, 40)
    assert src.read_plane(Plane(z=3, axis="sagittal")).shape == (20, 30)
    assert np.array_equal(src.read_plane(Plane(z=5, axis="coronal")), ref[:, 5, :].T)
    assert np.array_equal(src.read_plane(Plane(z=3, axis="sagittal")), ref[3, :, :].T)
    assert src.nbytes <= 1.1 * ref.nbytes
    assert mapped(src.voxels) == name.endswith(".nii"), "an uncompressed .nii is memory-mapped, not read"


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "int32", "float32", "float64"])
def test_stored_dtype_is_kept(tmp_path, dtype):
    src = opened(write_nifti(tmp_path / "d.nii", shape=(12, 10, 6), dtype=dtype, slope=0.5))
    assert src.voxels.dtype == np.dtype(dtype) and src.info.dtype == dtype and src.info.rescale == (0.5, 0.0)
    assert src.voxels[0, 3, 2, 1] == phantom((12, 10, 6)).astype(dtype)[1, 2, 3]


def test_big_endian_and_scaled_files_from_nibabel():
    import nibabel as nib
    for name in ("anatomical.nii", "functional.nii", "example4d.nii.gz", "example_nifti2.nii.gz",
                 "reoriented_anat_moved.nii", "standard.nii.gz"):
        path = os.path.join(DATA, name)
        src = opened(path)
        ref = np.asarray(nib.load(path).dataobj.get_unscaled())
        ref = ref.reshape(ref.shape + (1,) * (4 - ref.ndim)).transpose(3, 2, 1, 0)
        assert src.voxels.dtype.isnative and src.voxels.dtype == ref.dtype.newbyteorder("=")
        assert src.voxels.dtype != np.float64 or ref.dtype.kind == "f" and ref.dtype.itemsize == 8
        assert np.array_equal(src.voxels, ref), name
    assert opened(os.path.join(DATA, "functional.nii")).info.rescale[0] != 1.0
    assert opened(os.path.join(DATA, "example_nifti2.nii.gz")).info.meta["format"] == "NIfTI-2"
    standard = opened(os.path.join(DATA, "standard.nii.gz")).info      # qform_code 0, sform only
    assert standard.meta["affine_from"] == "sform" and standard.spacing == (1.0, 3.0, 2.0)


def test_sform_preferred_then_qform_then_pixdim(tmp_path):
    import nibabel as nib
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    img.set_qform(np.diag([2, 2, 2, 1]), code=1)
    img.set_sform(np.diag([3, 3, 3, 1]), code=2)
    nib.save(img, tmp_path / "s.nii")
    assert nifti.probe(str(tmp_path / "s.nii")).info.affine[2][2] == 3.0
    img.set_sform(np.diag([3, 3, 3, 1]), code=0)
    nib.save(img, tmp_path / "q.nii")
    info = nifti.probe(str(tmp_path / "q.nii")).info
    assert info.affine[2][2] == 2.0 and info.affine[0][0] == -2.0 and info.meta["affine_from"] == "qform"
    img.set_qform(np.diag([2, 2, 2, 1]), code=0)
    nib.save(img, tmp_path / "p.nii")
    info = nifti.probe(str(tmp_path / "p.nii")).info
    assert info.meta["affine_from"] == "pixdim" and np.allclose(info.affine, np.diag([-2, -2, 2, 1]))


@pytest.mark.parametrize("name", ["f.nii", "f.nii.gz"])
def test_4d_time_selects_the_volume(tmp_path, name):
    src = opened(write_nifti(tmp_path / name, shape=(16, 12, 8), four_d=3))
    ref = phantom((16, 12, 8))
    assert src.info.frames == 3 and src.voxels.shape == (3, 8, 12, 16)
    for t in range(3):
        assert src.read_region(0, 8, 5, 1, 1, Plane(z=4, t=t))[0, 0] == ref[8, 5, 4] + t
        assert np.array_equal(src.read_plane(Plane(z=2, t=t, axis="coronal")), (ref[:, 2, :] + t).T)
    with pytest.raises(IndexError):
        src.read_plane(Plane(z=0, t=3))


def test_rgb_voxels_get_a_channel_axis(tmp_path):
    import nibabel as nib
    data = np.zeros((4, 5, 6), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    data["R"][1, 2, 3], data["B"][1, 2, 3] = 200, 7
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "rgb.nii")
    src = opened(tmp_path / "rgb.nii")
    assert src.info.channels == 3 and src.voxels.shape == (1, 6, 5, 4, 3)
    assert list(src.read_region(0, 1, 2, 1, 1, Plane(z=3))[0, 0]) == [200, 0, 7]


def test_intact_gz_is_probed_without_inflating(tmp_path, monkeypatch):
    p = write_nifti(tmp_path / "v.nii.gz", shape=(32, 32, 16))
    monkeypatch.setattr(nifti.gzip, "open", lambda *a, **k: pytest.fail("probe inflated the file"))
    assert nifti.probe(str(p)).info.depth == 16


def test_broken_files_are_refused(tmp_path):
    good = write_nifti(tmp_path / "g.nii.gz", shape=(16, 16, 8)).read_bytes()
    raw = write_nifti(tmp_path / "g.nii", shape=(16, 16, 8)).read_bytes()
    (tmp_path / "trunc.nii.gz").write_bytes(good[: len(good) - 40])
    (tmp_path / "half.nii.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "head.nii.gz").write_bytes(good[:100])
    (tmp_path / "trunc.nii").write_bytes(raw[:-10])
    (tmp_path / "zero.nii").write_bytes(b"")
    (tmp_path / "text.nii").write_text("not a header")
    (tmp_path / "plain.nii.gz").write_bytes(raw)                  # not gzip at all
    (tmp_path / "volume.mgz").write_bytes(raw)
    cases = {"trunc.nii.gz": "truncated", "half.nii.gz": "truncated", "head.nii.gz": "truncated|readable",
             "trunc.nii": "truncated", "zero.nii": "empty", "text.nii": "not a readable NIfTI",
             "plain.nii.gz": "not a readable NIfTI", "volume.mgz": "not a NIfTI file name",
             "missing.nii": "no such file"}
    for name, pattern in cases.items():
        with pytest.raises(InputError, match=pattern) as err:
            nifti.probe(str(tmp_path / name))
        assert err.value.path.endswith(name)


def test_corrupt_gz_is_refused_when_opened(tmp_path):
    p = write_nifti(tmp_path / "c.nii.gz", shape=(32, 32, 16))
    data = bytearray(p.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)                            # length intact, content not
    p.write_bytes(bytes(data))
    found = nifti.probe(str(p))                                     # the gzip trailer still fits
    with pytest.raises(InputError, match="truncated or corrupt") as err:
        nifti.open_locator(found.locator)
    assert err.value.path.endswith("c.nii.gz")


def test_files_from_nibabel_that_are_not_volumes_are_refused():
    headers = [h for h in glob.glob(os.path.join(DATA, "nifti*.hdr")) if not os.path.exists(h[:-4] + ".img")]
    assert len(headers) == 2, "nibabel's header-only test files are missing"
    for hdr in headers:
        with pytest.raises(InputError, match=r"data file nifti\d.img is missing") as err:
            nifti.probe(hdr)
        assert err.value.path == hdr
    for name, pattern in [("analyze.hdr", "Analyze 7.5"), ("row_major.dconn.nii", "CIFTI-2"),
                          ("test.mgz", "not a NIfTI file name")]:
        with pytest.raises(InputError, match=pattern):
            nifti.probe(os.path.join(DATA, name))


def test_progressive_nifti_fills_slices_in_order(tmp_path):
    from labeldesk.core.io.nifti import open_progressive, slice_ready
    from labeldesk.core.tasks import Progress
    p = write_nifti(tmp_path / "v.nii.gz", shape=(64, 64, 300))
    source, fill = open_progressive({"reader": "nifti", "path": str(p)})
    assert not source.complete and not slice_ready(source, 0)
    seen = []
    fill(Progress(lambda d, t, s: seen.append((slice_ready(source, 0), slice_ready(source, 299)))))
    assert source.complete and slice_ready(source, 299)
    assert np.array_equal(source.voxels[0], phantom((64, 64, 300)).transpose(2, 1, 0))
    assert seen[0] == (True, False) and seen[-1] == (True, True)


def test_gzip_stream_with_trailing_member_is_still_read(tmp_path):
    """A valid .nii.gz whose trailer does not hold the expected length (two gzip members) takes
    the slow check and opens."""
    raw = write_nifti(tmp_path / "r.nii", shape=(16, 16, 8)).read_bytes()
    p = tmp_path / "m.nii.gz"
    p.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    assert np.array_equal(opened(p).voxels[0], phantom((16, 16, 8)).transpose(2, 1, 0))
