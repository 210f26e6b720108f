from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pydicom
import pydicom.data
import pytest

from labeldesk.core.errors import Cancelled, InputError
from labeldesk.core.io import dicom, dicom_scan
from labeldesk.core.model import Plane
from labeldesk.core.samples.ct import INTERCEPT, SYNTAXES, phantom_hu, write_ct_series, write_multiframe
from labeldesk.core.tasks import Progress

TEST_FILES = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")


def _one(folder):
    scan = dicom_scan.scan([str(folder)])
    assert len(scan.series) == 1, scan
    return scan.series[0]


def test_sorted_by_position_not_instance_number(tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=12, size=32, shuffle_instance_numbers=True, seed=3)
    found = _one(tmp_path / "ct")
    vol = dicom.open_locator(found.locator)
    hu = phantom_hu(32, 12, seed=3)
    assert np.array_equal(vol.voxels[0].astype(np.int32) + INTERCEPT, hu)
    assert found.info.spacing == pytest.approx((0.7, 0.7, 2.5))
    assert found.info.rescale == (1.0, float(INTERCEPT))
    assert found.info.window == (40.0, 400.0)
    stored = vol.read_region(0, 16, 16, 1, 1, Plane(z=6))[0, 0]
    assert stored * found.info.rescale[0] + found.info.rescale[1] == hu[6, 16, 16]


def test_oblique_affine(tmp_path):
    write_ct_series(tmp_path / "ob", n_slices=5, size=16, oblique=True)
    aff = np.array(_one(tmp_path / "ob").info.affine)
    a = np.radians(20)
    assert np.allclose(aff[:3, 1], np.array([0, np.cos(a), -np.sin(a)]) * 0.7)
    assert np.allclose(aff[:3, 2], np.cross([1, 0, 0], [0, np.cos(a), -np.sin(a)]) * 2.5)


@pytest.mark.parametrize("syntax", ["implicit", "rle", "jpegls", "j2k"])
def test_compressed_syntaxes_decode_losslessly(tmp_path, syntax):
    write_ct_series(tmp_path / "ref", n_slices=30, size=32, seed=1)
    write_ct_series(tmp_path / syntax, n_slices=30, size=32, transfer_syntax=syntax, seed=1)
    ref = dicom.open_locator(_one(tmp_path / "ref").locator).voxels
    found = _one(tmp_path / syntax)
    assert found.locator["ts"] == SYNTAXES[syntax]
    dicom.verify_decodable(found)
    assert np.array_equal(dicom.open_locator(found.locator).voxels, ref)   # 30 frames: parallel path


def test_monochrome1_flag_and_multiframe(tmp_path):
    write_ct_series(tmp_path / "m1", n_slices=3, size=16, monochrome1=True)
    assert _one(tmp_path / "m1").info.photometric == "MONOCHROME1"
    write_multiframe(tmp_path / "mf.dcm", n_frames=6, size=16)
    found = _one(tmp_path / "mf.dcm")
    vol = dicom.open_locator(found.locator).voxels
    assert found.info.depth == 6 and found.info.spacing[2] == pytest.approx(1.5)
    assert np.array_equal(vol[0].astype(np.int32) + INTERCEPT, phantom_hu(16, 6))


def test_two_orientations_split_into_stacks(tmp_path):
    write_ct_series(tmp_path / "s", n_slices=4, size=16, seed=1)
    write_ct_series(tmp_path / "o", n_slices=3, size=16, oblique=True, seed=2)
    series_uid = pydicom.dcmread(next((tmp_path / "s").iterdir())).SeriesInstanceUID
    for f in (tmp_path / "o").iterdir():
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID = series_uid
        ds.save_as(tmp_path / "s" / ("o-" + f.name))
    scan = dicom_scan.scan([str(tmp_path / "s")])
    assert sorted(s.info.depth for s in scan.series) == [3, 4]
    assert all("stack" in s.name for s in scan.series)


def test_non_images_listed_and_broken_files_named(tmp_path):
    for name in ("rtplan.dcm", "rtstruct.dcm", "test-SR.dcm", "MR_truncated.dcm", "no_meta.dcm",
                 "badVR.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "CT_small.dcm"):
        shutil.copy(os.path.join(TEST_FILES, name), tmp_path / name)
    (tmp_path / "zero.dcm").write_bytes(b"")
    (tmp_path / "chopped.dcm").write_bytes(open(os.path.join(TEST_FILES, "CT_small.dcm"), "rb").read()[:300])
    scan = dicom_scan.scan([str(tmp_path)])
    non = {os.path.basename(e.path): e.problem for e in scan.non_images}
    assert "RT Plan" in non["rtplan.dcm"] and "structured report" in non["test-SR.dcm"]
    errors = {os.path.basename(e.path): e.problem for e in scan.errors}
    assert "empty" in errors["zero.dcm"]
    assert "chopped.dcm" in errors
    problems = {}
    for found in scan.series:
        try:
            dicom.verify_decodable(found)
        except InputError as exc:
            problems[os.path.basename(exc.path)] = exc.problem
    assert "truncated" in problems["MR_truncated.dcm"]
    assert "JPEG2000-embedded-sequence-delimiter.dcm" in problems
    assert any(s.files[0].endswith("CT_small.dcm") for s in scan.series)


def test_cancel(tmp_path):
    write_ct_series(tmp_path / "c", n_slices=40, size=16)
    found = _one(tmp_path / "c")
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        dicom.load_series(found.locator, progress)


def test_dicomdir_on_its_own_brings_its_files(tmp_path):
    src = os.path.join(TEST_FILES, "dicomdirtests")
    shutil.copytree(src, tmp_path / "dd")
    scan = dicom_scan.scan([str(tmp_path / "dd" / "DICOMDIR")])
    seen = len(scan.series) + len(scan.errors) + len(scan.non_images)
    assert seen > 10, "the DICOMDIR's referenced files were not scanned"


def test_jpeg_cine_fast_path_matches_pydicom():
    from pydicom.pixels import pixel_array
    candidates = [os.path.join(TEST_FILES, n) for n in os.listdir(TEST_FILES)]
    cine = None
    for c in candidates:
        if not c.endswith(".dcm"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # some bundled files are deliberately odd
                ds = pydicom.dcmread(c, stop_before_pixels=True)
        except Exception:
            continue
        if (str(ds.file_meta.get("TransferSyntaxUID", "")) == dicom.JPEG_BASELINE
                and int(ds.get("NumberOfFrames", 1) or 1) > 1 and str(ds.get("PhotometricInterpretation", "")).startswith("YBR_FULL")):
            cine = c
            break
    if cine is None:
        pytest.skip("no multi-frame YBR JPEG-baseline file in this pydicom")
    found = dicom_scan.scan([cine]).series[0]
    ours = dicom.load_series(found.locator)[0]
    ref = pixel_array(cine, decoding_plugin="pillow")
    assert ours.shape == ref.shape
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 2       # both libjpeg; rounding only


def test_progressive_open_shows_the_middle_slice_first(tmp_path):
    write_ct_series(tmp_path / "ct", n_slices=20, size=32, seed=4)
    found = _one(tmp_path / "ct")
    source, fill = dicom.open_progressive(found.locator)
    hu = phantom_hu(32, 20, seed=4)
    assert not source.complete
    assert np.array_equal(source.voxels[0, 10].astype(np.int32) + INTERCEPT, hu[10])
    assert not source.voxels[0, 0].any()                   # not read yet
    fill()
    assert source.complete
    assert np.array_equal(source.voxels[0].astype(np.int32) + INTERCEPT, hu)
