"""Asset pixels are not synced: a member who joins sees the asset records and adds the same files
on their machine; the files are recognised (content hash, or for DICOM the keyed hash of the UIDs
with the project's shared key) and linked to the shared assets, so they can be viewed and labeled."""
from __future__ import annotations

import cv2
import numpy as np

from labeldesk.cli import main
from labeldesk.core.importer import add_paths
from labeldesk.core.project import Project
from labeldesk.core.samples.ct import write_ct_series
from labeldesk.core.sync import engine


def test_a_joiner_links_the_same_files_to_the_shared_assets(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    cv2.imwrite(str(data / "photo.png"), np.full((30, 40, 3), 90, np.uint8))
    write_ct_series(data / "ct", n_slices=6, size=32)
    founder = Project.create(tmp_path / "a", user_name="alice")
    add_paths(founder, [data])
    assert len(founder.assets()) == 2
    engine.init_share(founder, tmp_path / "share")
    bob, _ = engine.join_share(tmp_path / "share", tmp_path / "b")
    assert {a.content_hash for a in bob.assets()} == {a.content_hash for a in founder.assets()}
    assert all(bob.locator(a.id) is None for a in bob.assets())         # records only, no files yet
    bob.close()
    copy = tmp_path / "bobs-disk"                                       # bob's own copy of the data
    import shutil
    shutil.copytree(data, copy)
    assert main(["add", str(tmp_path / "b"), str(copy), "-q"]) == 0
    out = capsys.readouterr().out
    assert [l.split()[0] for l in out.splitlines()[:2]] == ["found", "found"] and "added 0 asset(s)" in out
    with Project.open(tmp_path / "b") as bob:
        assert len(bob.assets()) == 2
        for a in bob.assets():
            src = bob.open_source(a.id)
            assert src.info.width == a.width
            src.close()
        assert bob.counts()["outbox"] == 0                               # linking is local: no op
    founder.close()
