"""Bad input that used to crash (issue 10, item 7): a full disk while building a tile pyramid, a
.nii.gz that would inflate beyond the machine's memory, `add` after the project folder was
deleted. Each gives one message naming the file (or folder) and the problem; nothing half-added."""
from __future__ import annotations

import errno
import shutil

import pytest

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.importer import add_paths
from labeldesk.core.io import nifti, pyramid
from labeldesk.core.project import Project
from labeldesk.core.samples import images, volume


@pytest.fixture
def proj(tmp_path):
    p = Project.create(tmp_path / "p", "bad input")
    yield p
    if p.conn is not None:
        p.close()


def test_a_full_disk_while_building_a_pyramid_refuses_that_image(proj, tmp_path, monkeypatch):
    images.write_large_tiff(tmp_path / "big.tif", 8400, 600, tile=256)
    images.write_image(tmp_path / "small.png", images.scene_rgb(40, 30))

    def full(self, band, final=False):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pyramid._Level, "push", full)
    report = add_paths(proj, [tmp_path / "big.tif", tmp_path / "small.png"])
    assert [a.name for a in report.added] == ["small.png"]
    [(path, why)] = report.refused
    assert path.endswith("big.tif") and "tile pyramid" in why and "disk is full" in why
    assert not list((proj.cache_dir / "pyramids").glob("*")) if (proj.cache_dir / "pyramids").exists() else True


def test_a_volume_that_cannot_fit_in_memory_is_refused_from_its_header(proj, tmp_path, monkeypatch):
    volume.write_nifti(tmp_path / "head.nii.gz", shape=(16, 16, 8))
    monkeypatch.setattr(nifti, "available_memory", lambda: 1000)
    report = add_paths(proj, [tmp_path / "head.nii.gz"])
    assert not report.added
    [(path, why)] = report.refused
    assert path.endswith("head.nii.gz") and "needs" in why and "more than this machine has free" in why
    monkeypatch.setattr(nifti, "available_memory", lambda: None)
    assert len(add_paths(proj, [tmp_path / "head.nii.gz"]).added) == 1


def test_add_after_the_project_folder_was_deleted_is_an_error_not_success(proj, tmp_path):
    images.write_image(tmp_path / "small.png", images.scene_rgb(40, 30))
    shutil.rmtree(proj.root)
    with pytest.raises(LabeldeskError, match="deleted or moved"):
        add_paths(proj, [tmp_path / "small.png"])
