"""One numbering for people: slices and frames are 1-based in every text a person reads; the data
keeps 0-based indexes."""
from __future__ import annotations

import pytest

from labeldesk.cli import main
from labeldesk.core.model import Plane
from labeldesk.core.numbering import index_from_number, key_label, plane_label
from labeldesk.core.project import Project
from labeldesk.core.review import issues
from labeldesk.core.review.audit import audit
from tests.core.conftest import add_image_asset


def test_labels_count_from_one():
    assert plane_label(Plane(35, 0, "axial")) == "axial 36"
    assert plane_label(Plane(0, 4, "coronal")) == "coronal 1, frame 5"
    assert plane_label(Plane(0, 11), "video") == "frame 12"
    assert plane_label(Plane(), "image") == ""
    assert key_label("axial:35:0") == "axial 36" and key_label("asset") == "asset"
    assert index_from_number(36) == 35
    with pytest.raises(ValueError, match="start at 1"):
        index_from_number(0, "--slice")


def test_issue_cli_takes_and_prints_the_numbers_people_read(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LABELDESK_USER", raising=False)
    root = tmp_path / "p"
    with Project.create(root, user_name="alice") as p:
        vol = add_image_asset(p, 64, 64, depth=60, kind="volume")
    assert main(["issue", "open", str(root), vol, "look here", "--at", "5,6", "--slice", "36"]) == 0
    capsys.readouterr()
    with Project.open(root) as p:
        [issue] = issues.issues(p.conn, vol)
        assert issue.plane == Plane(35, 0, "axial")                 # stored 0-based
    assert main(["issue", "list", str(root)]) == 0
    out = capsys.readouterr().out
    assert "axial 36 at (5, 6)" in out and "z=" not in out
    with Project.open(root) as p:
        texts = [r.summary for r in audit(p).rows if "issue at" in str(r.summary)]
    assert texts and "axial 36" in texts[0]
    assert main(["issue", "open", str(root), vol, "x", "--at", "1,1", "--slice", "0"]) == 1
    assert "--slice numbers start at 1" in capsys.readouterr().err
