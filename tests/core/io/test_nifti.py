from __future__ import annotations

import glob
import os

import nibabel
import numpy as np
import pytest

from labeldesk.core.errors import InputError
from labeldesk.core.io import nifti
from labeldesk.core.model import Plane
from labeldesk.core.samples.volume import phantom, write_nifti


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_values_dtype_scaling_and_orientation(tmp_path, name):
    ras = np.array([[0.8, 0, 0, -10], [0, 0.9, 0, 20], [0, 0, 1.5, 5], [0, 0, 0, 1]])
    p = write_nifti(tmp_path / name, shape=(40, 30, 20), affine=ras, slope=2.0, inter=-5)
    found = nifti.probe(str(p))
    info = found.info
    assert (info.width, info.height, info.depth, info.frames, info.dtype) == (40, 30, 20, 1, "int16")
    assert info.rescale == (2.0, -5.0)
    assert info.spacing == pytest.approx((0.8, 0.9, 1.5))
    assert np.allclose(np.array(info.affine), np.diag([-1, -1, 1, 1]) @ ras)   # RAS+ -> LPS
    src = nifti.open_locator(found.locator)
    ref = phantom((40, 30, 20))
    assert src.voxels.dtype == np.int16 and src.voxels.shape == (1, 20, 30, 40)
    assert src.read_region(0, 12, 7, 1, 1, Plane(z=9))[0, 0] == ref[12, 7, 9]
    assert np.array_equal(src.read_plane(Plane(z=5, axis="coronal")), ref[:, 5, :].T)
    assert np.array_equal(src.read_plane(Plane(z=3, axis="sagittal")), ref[3, :, :].T)
    assert src.nbytes <= 1.1 * ref.nbytes


def test_sform_preferred_over_qform(tmp_path):
    import nibabel as nib
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    img.set_qform(np.diag([2, 2, 2, 1]), code=1)
    img.set_sform(np.diag([3, 3, 3, 1]), code=2)
    nib.save(img, tmp_path / "s.nii")
    assert nifti.probe(str(tmp_path / "s.nii")).info.affine[2][2] == 3.0


def test_4d(tmp_path):
    p = write_nifti(tmp_path / "f.nii.gz", shape=(16, 16, 8), four_d=3)
    src = nifti.open_locator(nifti.probe(str(p)).locator)
    ref = phantom((16, 16, 8))
    assert src.info.frames == 3
    assert src.read_region(0, 8, 8, 1, 1, Plane(z=4, t=2))[0, 0] == ref[8, 8, 4] + 2


def test_broken_files_are_refused(tmp_path):
    good = write_nifti(tmp_path / "g.nii.gz", shape=(16, 16, 8)).read_bytes()
    (tmp_path / "trunc.nii.gz").write_bytes(good[: len(good) - 40])
    (tmp_path / "zero.nii").write_bytes(b"")
    for name in ("trunc.nii.gz", "zero.nii"):
        with pytest.raises(InputError) as err:
            nifti.probe(str(tmp_path / name))
        assert err.value.path.endswith(name)
    data = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data")
    headers = [h for h in glob.glob(os.path.join(data, "nifti*.hdr")) if not os.path.exists(h[:-4] + ".img")]
    assert headers, "nibabel's header-only test files are missing"
    for hdr in headers:
        with pytest.raises(InputError, match="data file .* is missing"):
            nifti.probe(hdr)


def test_progressive_nifti_fills_slices_in_order(tmp_path):
    from labeldesk.core.io.nifti import open_progressive, slice_ready
    p = write_nifti(tmp_path / "v.nii.gz", shape=(64, 64, 300))
    source, fill = open_progressive({"reader": "nifti", "path": str(p)})
    assert not source.complete and not slice_ready(source, 0)
    seen = []
    from labeldesk.core.tasks import Progress
    fill(Progress(lambda d, t, s: seen.append((slice_ready(source, 0), slice_ready(source, 299)))))
    assert source.complete and slice_ready(source, 299)
    assert np.array_equal(source.voxels[0], phantom((64, 64, 300)).transpose(2, 1, 0))
    assert seen[-1] == (True, True)
