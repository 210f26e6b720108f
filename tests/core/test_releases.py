"""Releases: immutable named snapshots with a manifest, verify and diff."""
from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core import releases as R
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OpDraft


def _class(project, name):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name, "color": "#00ff00"}}))
    return cid


def _box(project, asset, layer, cls, xyxy, **extra):
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset, "layer_id": layer, "class_id": cls, "plane": {},
        "geometry": {"kind": "box", "xyxy": list(xyxy)}, **extra}}))
    return aid


@pytest.fixture
def labelled(project, add_asset):
    cat, dog = _class(project, "cat"), _class(project, "dog")
    final = ids.new_id()
    project.apply(OpDraft("layer.create", final, {"layer": {"name": "adjudicated", "kind": "final"}}))
    a1, a2 = add_asset(project, 100, 100), add_asset(project, 100, 100)
    anns = {"c1": _box(project, a1, final, cat, (0, 0, 10, 10)),
            "c2": _box(project, a1, final, cat, (20, 20, 40, 40), score=0.8, source={"model": "m", "version": "3"}),
            "d1": _box(project, a2, final, dog, (5, 5, 50, 50))}
    _box(project, a2, project.my_layer_id, dog, (0, 0, 5, 5))       # not final: not released
    return project, {"cat": cat, "dog": dog, "final": final, "a1": a1, "a2": a2, **anns}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_create_writes_labels_manifest_and_hashes(labelled):
    project, k = labelled
    rel = R.create(project, "v1")
    files = sorted(p.name for p in rel.path.iterdir())
    assert "labels.json" in files and "manifest.json" in files
    assert not [p for p in R.releases_dir(project).iterdir() if p.name.startswith(".")]     # no temp folder left
    manifest = json.loads((rel.path / "manifest.json").read_text())
    assert manifest["name"] == "v1" and manifest["ontology_version"] == project.ontology_version
    assert manifest["counts"]["by_class"] == {"cat": 2, "dog": 1}
    assert manifest["counts"]["by_kind"] == {"box": 3}
    assert manifest["counts"]["from_model"] == 1 and manifest["counts"]["assets_with_labels"] == 2
    assert manifest["previous"] is None and manifest["diff_from_previous"] is None
    ops = {op.op_id: op for op in project.ops()}
    assert ops[manifest["op_id"]].type == "release.create" and ops[manifest["op_id"]].entity == manifest["release_id"]
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == _sha(rel.path / name) and entry["bytes"] == (rel.path / name).stat().st_size
        assert not os.stat(rel.path / name).st_mode & stat.S_IWUSR          # read-only
    labels = json.loads((rel.path / "labels.json").read_text())
    by_id = {a["id"]: a for a in labels["annotations"]}
    assert set(by_id) == {k["c1"], k["c2"], k["d1"]}
    assert by_id[k["c2"]]["provenance"] == {"model": "m", "version": "3", "score": 0.8}
    assert by_id[k["d1"]]["geometry"] == {"kind": "box", "xyxy": [5.0, 5.0, 50.0, 50.0]}
    lines = (rel.path / "labels.json").read_text().splitlines()
    assert sum(1 for line in lines if line.startswith('{"asset_id":')) == 3         # one annotation per line
    assert R.verify(project, "v1").ok


def test_same_state_gives_the_same_labels_bytes(labelled):
    project, _ = labelled
    v1, v2 = R.create(project, "v1", coco=False), R.create(project, "v2", coco=False)
    assert v1.files["labels.json"] == v2.files["labels.json"]
    assert v2.previous == "v1"
    assert json.loads((v2.path / "manifest.json").read_text())["diff_from_previous"] == \
        {"previous": "v1", "added": 0, "removed": 0, "changed": 0}


def test_no_final_layer_says_so_and_layer_option_works(project, add_asset):
    asset = add_asset(project)
    _box(project, asset, project.my_layer_id, None, (0, 0, 10, 10))
    with pytest.raises(LabeldeskError, match="no final layer.*--layer"):
        R.create(project, "v1")
    assert not (R.releases_dir(project) / "v1").exists()
    rel = R.create(project, "v1", layer="alice")           # the annotator's user name
    assert rel.counts["annotations"] == 1 and rel.counts["by_class"] == {"(no class)": 1}


def test_names_are_unique_safe_and_releases_immutable(labelled):
    project, _ = labelled
    rel = R.create(project, "v1")
    before = _sha(rel.path / "labels.json")
    with pytest.raises(LabeldeskError, match="exists already"):
        R.create(project, "v1")
    assert _sha(rel.path / "labels.json") == before
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(LabeldeskError, match="not allowed"):
            R.create(project, bad)
    applied = [a for a in project.ops() if a.type == "release.create"]
    assert len(applied) == 1
    with pytest.raises(LabeldeskError, match="append-only"):
        with project.transaction() as conn:
            conn.execute("DELETE FROM releases")


def test_verify_finds_tampering(labelled):
    project, _ = labelled
    rel = R.create(project, "v1", coco=False)
    labels = rel.path / "labels.json"
    labels.chmod(0o644)
    labels.write_text(labels.read_text().replace('"dog"', '"cat"'))
    v = R.verify(project, "v1")
    assert not v.ok and any("labels.json: SHA-256" in p for p in v.problems)
    (rel.path / "extra.txt").write_text("x")
    manifest = rel.path / "manifest.json"
    manifest.chmod(0o644)
    data = json.loads(manifest.read_text())
    data["files"]["labels.json"]["sha256"] = _sha(labels)        # hide the change in the manifest too
    manifest.write_text(json.dumps(data))
    problems = R.verify(project, "v1").problems
    assert any("differ from the ones the project recorded" in p for p in problems)
    assert any("extra.txt: not part of the release" in p for p in problems)


def test_diff_between_releases(labelled):
    project, k = labelled
    R.create(project, "v1", coco=False)
    added = _box(project, k["a2"], k["final"], k["cat"], (60, 60, 70, 70))
    project.apply(OpDraft("annotation.delete", k["c1"], {}))
    project.apply(OpDraft("annotation.update", k["d1"], {"set": {"class_id": k["cat"]}}))
    R.create(project, "v2", coco=False)
    d = R.diff(project, "v1", "v2")
    assert d.added == [added] and d.removed == [k["c1"]]
    assert d.changed == [(k["d1"], ["class_id"])]
    # cat: c1, c2 -> c2, d1, added; dog: d1 -> none
    assert d.by_class == {"cat": (2, 3), "dog": (1, 0)}
    assert R.diff(project, "v2").old == "v1"              # one name: against the release before it
    manifest = json.loads((R.get(project, "v2").path / "manifest.json").read_text())
    assert manifest["diff_from_previous"] == {"previous": "v1", "added": 1, "removed": 1, "changed": 1}
    with pytest.raises(LabeldeskError, match="first release"):
        R.diff(project, "v1")
    with pytest.raises(LabeldeskError, match="no release named 'v9'"):
        R.diff(project, "v1", "v9")


def test_a_crash_between_the_op_and_the_rename_is_finished_later(labelled, monkeypatch):
    project, _ = labelled
    real = R.finish_pending
    monkeypatch.setattr(R, "finish_pending", lambda project: [])      # the process dies after the op
    R.create(project, "v1", coco=False)
    assert not (R.releases_dir(project) / "v1").exists()
    assert [p.name for p in R.releases_dir(project).iterdir()][0].startswith(".tmp-v1-")
    monkeypatch.setattr(R, "finish_pending", real)
    assert [r.name for r in R.releases(project)] == ["v1"]
    assert (R.releases_dir(project) / "v1" / "manifest.json").is_file()
    assert R.verify(project, "v1").ok


def test_release_cli(labelled, capsys):
    project, k = labelled
    root = str(project.root)
    project.close()
    assert main(["release", "create", root, "v1", "--no-coco"]) == 0
    out = capsys.readouterr().out
    assert "release 'v1' created" in out and "3 annotations on 2 of 2 assets" in out
    assert main(["release", "create", root, "v1"]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["release", "create", root, "v2", "--layer", "alice", "--no-coco"]) == 0
    capsys.readouterr()
    assert main(["release", "list", root]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("v1") and "3 annotations" in lines[0] and lines[1].startswith("v2")
    assert main(["release", "diff", root, "v1", "v2", "--ids"]) == 0
    out = capsys.readouterr().out
    assert "v1 -> v2: 1 added, 3 removed, 0 changed" in out
    assert f"removed  {k['c1']}" in out
    assert main(["release", "verify", root, "v1"]) == 0
    assert "release 'v1': 1 file(s) verified" in capsys.readouterr().out
    labels = R.releases_dir(type("P", (), {"root": root})()) / "v1" / "labels.json"
    labels.chmod(0o644)
    labels.write_text("{}")
    assert main(["release", "verify", root, "v1"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_released_copies_of_predictions_say_how_much_a_person_changed_them(labelled):
    from labeldesk.core import predictions as P
    project, k = labelled
    preds = ids.new_id()
    project.apply(OpDraft("layer.create", preds, {"layer": {"name": "detr", "kind": "predictions"}}))
    pid = _box(project, k["a1"], preds, k["dog"], (60, 60, 100, 100), score=0.6, source={"model": "detr"})
    P.decide(project, [P.state_of(project, pid)], "accept", layer_id=k["final"])
    copy = P.state_of(project, pid).copies[0][0]
    project.apply(OpDraft("annotation.update", copy.id, {"set": {"geometry": {"kind": "box", "xyxy": [60, 60, 100, 80]}}}))
    rel = R.create(project, "v1", coco=False)
    labels = {a["id"]: a for a in json.loads((rel.path / "labels.json").read_text())["annotations"]}
    assert pid not in labels                       # the prediction itself is not a final label
    prov = labels[copy.id]["provenance"]
    assert prov["prediction_id"] == pid and prov["model"] == "detr" and prov["score"] == 0.6
    assert prov["change"] == {"iou": 0.5, "geometry": True, "class": False, "attributes": False}
    assert rel.counts["from_model"] == 2 and rel.counts["edited_after_model"] == 1


def test_release_op_checks_its_payload_and_has_no_inverse(project):
    good = {"name": "r1", "layers": [{"id": "x", "name": "x", "kind": "final"}], "counts": {},
            "files": {"labels.json": {"sha256": "0" * 64, "bytes": 2}}}
    for bad, message in ((dict(good, files={}), "no files"),
                         (dict(good, files={"labels.json": {"sha256": "zz", "bytes": 2}}), "bad hash"),
                         (dict(good, name="../r1"), "not allowed"), (dict(good, layers=[]), "no layers")):
        with pytest.raises(LabeldeskError, match=message):
            project.apply(OpDraft("release.create", ids.new_id(), {"release": bad}))
    applied = project.apply(OpDraft("release.create", ids.new_id(), {"release": good}))
    assert applied.inverse is None and applied.changes.releases == {applied.op.entity}
    with pytest.raises(LabeldeskError, match="exists already"):
        project.apply(OpDraft("release.create", ids.new_id(), {"release": good}))


def test_a_failing_coco_export_leaves_nothing_behind(labelled, monkeypatch):
    project, _ = labelled

    def broken(*a, **k):
        raise LabeldeskError("disk says no")
    monkeypatch.setattr(R, "_write_coco", broken)
    with pytest.raises(LabeldeskError, match="COCO export failed.*--no-coco"):
        R.create(project, "v1")
    assert R.releases(project) == [] and list(R.releases_dir(project).iterdir()) == []
    assert R.create(project, "v1", coco=False).name == "v1"


def test_concurrent_releases_of_one_name_on_two_devices_are_both_kept(labelled):
    from labeldesk.core.ops import Op
    from labeldesk.core.op_types.releases import CreateRelease
    project, _ = labelled
    mine = R.create(project, "v1", coco=False)
    # the same name from another device, as sync would apply it (earlier HLC: it owns the plain name)
    theirs = Op(op_id="feed:000000000001", dev="feed" * 8, seq=1, hlc=(1, 0), wall="2026-01-01T00:00:00.000Z",
                user=None, type="release.create", entity=ids.new_id(),
                payload={"release": {"name": "v1", "layers": mine.layers, "files": mine.files, "counts": {}}})
    with project.transaction() as conn:
        CreateRelease().apply(conn, theirs, None)
    listed = R.releases(project)
    assert [(r.name, r.here, r.shadowed) for r in listed] == [("v1", False, False), ("v1", True, True)]
    assert R.get(project, "v1").id == mine.id and R.verify(project, "v1").ok      # the one whose files are here
    # one device never reuses a name, on any replica
    with pytest.raises(LabeldeskError, match="exists already"):
        with project.transaction() as conn:
            CreateRelease().apply(conn, Op(**{**theirs.__dict__, "op_id": "feed:000000000002", "seq": 2,
                                              "entity": ids.new_id()}), None)
    with pytest.raises(LabeldeskError, match="exists already"):
        R.create(project, "v1")
