from __future__ import annotations

import pytest

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.project import Project
from labeldesk.core.quality import backup
from tests.core.conftest import add_image_asset
from tests.core.quality.conftest import add_boxes, make_class


def test_backup_verify_and_restore_into_a_new_folder(project, tmp_path):
    asset = add_image_asset(project)
    add_boxes(project, asset, make_class(project, "x"), [(1, 1, 20, 20), (30, 30, 50, 50)])
    report = backup.backup(project, tmp_path / "backups")
    assert report.path.name.endswith(backup.SUFFIX) and report.annotations == 2
    assert report.ops == project.counts()["ops"]
    with pytest.raises(LabeldeskError, match="never overwrites"):
        backup.backup(project, report.path)
    store = backup.restore(report.path, tmp_path / "restored")
    with Project.open(store.parent) as again:
        assert again.id == project.id and again.counts()["annotations"] == 2
        assert again.verify_chain().ok
        assert again.device_id != project.device_id        # a restored copy never reuses the device


def test_restore_refuses_a_damaged_backup_and_keeps_the_old_store(project, tmp_path):
    report = backup.backup(project, tmp_path / "b.labeldesk-backup")
    bad = tmp_path / "bad.labeldesk-backup"
    data = bytearray(report.path.read_bytes())
    data[:16] = b"not a sqlite db!"
    bad.write_bytes(bytes(data))
    with pytest.raises(LabeldeskError, match="bad.labeldesk-backup"):
        backup.restore(bad, tmp_path / "r")
    root = project.root
    project.close()
    with pytest.raises(LabeldeskError, match="--replace"):
        backup.restore(report.path, root)
    backup.restore(report.path, root, replace=True)
    assert list(root.glob("project.labeldesk.before-restore-*"))
    Project.open(root).close()
