"""The CLI: `labeldesk share init|join|status|conflicts|resolve` and `labeldesk sync`."""
from __future__ import annotations

import json

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project


def test_share_init_join_sync_status_conflicts_resolve(tmp_path, capsys):
    a_dir, b_dir, share = tmp_path / "a", tmp_path / "b", tmp_path / "share"
    assert main(["init", str(a_dir), "--user", "ann"]) == 0
    with Project.open(a_dir) as a:
        asset, bob, ann = ids.new_id(), ids.new_id(), ids.new_id()
        a.apply_all([OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "x", "content_hash": "h",
                                                           "width": 100, "height": 100}}),
                     OpDraft("user.add", bob, {"name": "bob"}), OpDraft("role.grant", bob, {"role": "admin"})])
        a.apply(OpDraft("annotation.create", ann, {"annotation": {"asset_id": asset, "layer_id": a.my_layer_id,
                                                                  "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    assert main(["share", "init", str(a_dir), str(share)]) == 0
    assert (share / "labeldesk-project.json").is_file()
    assert not list(share.rglob("project.labeldesk*"))          # the store never goes to the share
    assert main(["share", "join", str(share), str(b_dir), "--user", "bob"]) == 0
    fingerprint = capsys.readouterr().out.rsplit("key       ", 1)[1][:19]
    # bob's key (made on his machine at join) is enrolled by the admin before his ops are merged
    assert main(["share", "enrol", str(a_dir), "bob", "--fingerprint", fingerprint]) == 0
    capsys.readouterr()
    for root, x in ((a_dir, 20), (b_dir, 40)):
        with Project.open(root) as p:
            p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [x, x, x + 5, x + 5]}}}))
    for root in (a_dir, b_dir, a_dir):
        assert main(["sync", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.split("\n}\n")[-2] + "\n}")
    assert report["state"] == "ok"
    assert main(["share", "status", str(b_dir)]) == 0
    out = capsys.readouterr().out
    assert "device" in out and "user ann" in out and "open conflicts 1" in out
    assert main(["share", "conflicts", str(a_dir), "--json"]) == 0
    [conflict] = json.loads(capsys.readouterr().out)
    choice = conflict["candidates"][0]["op_id"]
    assert main(["share", "resolve", str(a_dir), conflict["id"][:10], choice, "--reason", "checked"]) == 0
    assert main(["sync", str(a_dir)]) == 0 and main(["sync", str(b_dir)]) == 0
    capsys.readouterr()
    assert main(["share", "conflicts", str(b_dir)]) == 0
    assert "no open conflicts" in capsys.readouterr().out


def test_sync_refuses_unshared_project_and_wrong_folder(tmp_path, capsys):
    assert main(["init", str(tmp_path / "p")]) == 0
    assert main(["sync", str(tmp_path / "p")]) == 1
    assert "not shared" in capsys.readouterr().err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    assert main(["share", "init", str(tmp_path / "p"), str(tmp_path / "other")]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["share", "join", str(tmp_path / "other"), str(tmp_path / "q")]) == 1
    assert "no project marker" in capsys.readouterr().err


def test_join_without_user_then_choose_one(tmp_path, capsys):
    a_dir, b_dir, share = tmp_path / "a", tmp_path / "b", tmp_path / "share"
    assert main(["init", str(a_dir), "--user", "ann"]) == 0
    assert main(["share", "init", str(a_dir), str(share)]) == 0
    assert main(["share", "join", str(share), str(b_dir)]) == 0
    assert "labeldesk share user" in capsys.readouterr().out
    with Project.open(a_dir) as a:
        bob = ids.new_id()
        a.apply_all([OpDraft("user.add", bob, {"name": "bob"}), OpDraft("role.grant", bob, {"role": "annotator"})])
    assert main(["share", "user", str(b_dir), "bob"]) == 1          # not known here yet
    assert "no user 'bob'" in capsys.readouterr().err
    assert main(["sync", str(a_dir)]) == 0 and main(["sync", str(b_dir)]) == 0
    assert main(["share", "user", str(b_dir), "bob"]) == 0
    with Project.open(b_dir) as b:
        assert b.user_id == bob
        b.my_layer_id                                               # bob may now make his own layer
