from __future__ import annotations

import os
import shutil

import pydicom.data
import pytest

from labeldesk.core.importer import add_paths
from labeldesk.core.model import Plane
from labeldesk.core.samples import ct, images, video, volume
from labeldesk.core.tasks import Progress

TEST_FILES = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")


@pytest.fixture
def mixed_folder(tmp_path):
    d = tmp_path / "incoming"
    ct.write_ct_series(d / "ct", n_slices=6, size=32)
    volume.write_nifti(d / "head.nii.gz", shape=(16, 16, 8))
    video.write_stamped_clip(d / "clip.avi", n_frames=12, size=(64, 48))
    images.write_image(d / "photo.png", images.scene_rgb(80, 60))
    images.write_large_tiff(d / "big.tif", 8400, 600, tile=256)
    images.write_truncated_png(d / "bad" / "truncated.png")
    images.write_zero_byte(d / "bad" / "zero.jpg")
    images.write_huge_claim_png(d / "bad" / "claims-60000.png")
    video.write_unsupported_codec(d / "bad" / "odd-codec.avi")
    shutil.copy(os.path.join(TEST_FILES, "rtplan.dcm"), d / "bad" / "plan.dcm")
    shutil.copy(os.path.join(TEST_FILES, "MR_truncated.dcm"), d / "bad" / "mr-trunc.dcm")
    (d / "bad" / "notes.txt").write_text("hello")
    (d / ".DS_Store").write_bytes(b"\0")
    return d


def test_folder_import_adds_good_refuses_bad_with_reasons(project, mixed_folder):
    before = project.counts()["assets"]
    report = add_paths(project, [mixed_folder])
    kinds = sorted(a.kind for a in report.added)
    assert kinds == ["image", "pyramid", "video", "volume", "volume"], report
    refused = {os.path.basename(p): r for p, r in report.refused}
    assert set(refused) == {"truncated.png", "zero.jpg", "claims-60000.png", "odd-codec.avi", "plan.dcm",
                            "mr-trunc.dcm", "notes.txt"}
    assert "empty" in refused["zero.jpg"] and "60,000" in refused["claims-60000.png"]
    assert "RT Plan" in refused["plan.dcm"] and "truncated" in refused["mr-trunc.dcm"]
    assert project.counts()["assets"] == before + 5
    assert report.skipped and report.skipped[0].endswith(".DS_Store")
    # every added asset opens again from its locator and has a thumbnail
    from labeldesk.core.store import repo
    for asset in report.added:
        src = project.open_source(asset.id)
        plane = Plane(z=asset.depth // 2)
        level = len(src.info.levels) - 1 if asset.kind == "pyramid" else 0
        assert src.read_plane(plane, level).size > 0
        src.close()
        assert repo.thumbnail(project.conn, asset.id)[:4] == b"\x89PNG"
    assert project.verify_chain().ok


def test_duplicates_are_refused_and_project_unchanged(project, mixed_folder):
    add_paths(project, [mixed_folder / "photo.png", mixed_folder / "ct"])
    ops = project.counts()["ops"]
    again = add_paths(project, [mixed_folder / "photo.png", mixed_folder / "ct"])
    assert not again.added and all("already in the project" in r for _, r in again.refused)
    assert project.counts()["ops"] == ops


def test_missing_path_and_cancel(project, tmp_path, mixed_folder):
    report = add_paths(project, [tmp_path / "nope"])
    assert report.refused == [(str(tmp_path / "nope"), "no such file or folder")]
    progress = Progress()
    progress.cancel()
    report = add_paths(project, [mixed_folder], progress)
    assert report.cancelled and not report.added


def test_dicom_identity_is_a_keyed_hash_not_raw_uids(project, tmp_path):
    ct.write_ct_series(tmp_path / "ct", n_slices=3, size=16)
    asset = add_paths(project, [tmp_path / "ct"]).added[0]
    uid = pydicom.dcmread(next((tmp_path / "ct").iterdir())).SeriesInstanceUID
    assert asset.content_hash.startswith("dicom:") and uid not in asset.content_hash
    assert asset.spacing == pytest.approx((0.7, 0.7, 2.5)) and asset.meta["rescale"] == [1.0, -1024.0]
