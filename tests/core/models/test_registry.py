from __future__ import annotations

import json

import pytest

from labeldesk.core.errors import InputError, LabeldeskError
from labeldesk.core.models import registry, tiny

from conftest import add_class  # type: ignore[import-not-found]


def _detector(tmp_path, classes=("cell",), mapped=None, **fields):
    path = tiny.detector(tmp_path / "det.onnx", [(32, 32, 10, 10, 0, 0.9)], len(classes), size=64)
    mapping = mapped if mapped is not None else {c: c.capitalize() for c in classes}
    return tiny.write_manifest(tmp_path / "det.json", "detector", {"model": path}, input_size=[64, 64],
                               classes=mapping, **fields)


def test_add_copies_the_file_and_records_the_manifest_in_an_op(project, tmp_path):
    add_class(project, "Cell")
    rec = registry.add(project, _detector(tmp_path))
    assert rec.task == "detector" and rec.manifest.classes == {"cell": "Cell"}
    stored = registry.file_path(project, rec)
    assert stored.parent.name == "models" and stored.read_bytes() == (tmp_path / "det.onnx").read_bytes()
    assert [r.id for r in registry.list_models(project)] == [rec.id]
    op = [o for o in project.ops() if o.type == "model.register"][0]
    assert op.payload["model"]["licence"] == "CC0-1.0" and op.entity == rec.id
    assert registry.find(project, "tiny-detector").id == rec.id
    assert registry.find(project, "tiny-detector@1").id == rec.id
    with pytest.raises(LabeldeskError, match="no model 'nope'"):
        registry.find(project, "nope")


def test_a_file_that_does_not_match_its_hash_is_refused_with_the_reason(project, tmp_path):
    add_class(project, "Cell")
    manifest = _detector(tmp_path)
    (tmp_path / "det.onnx").write_bytes((tmp_path / "det.onnx").read_bytes() + b"x")
    with pytest.raises(InputError, match="does not match the manifest"):
        registry.add(project, manifest)
    assert registry.list_models(project) == [] and not (project.root / "models").exists()


def test_class_count_input_size_and_ontology_mismatches_are_refused(project, tmp_path):
    add_class(project, "Cell")
    with pytest.raises(InputError, match="4 \\+ 2 values per box"):
        path = tiny.detector(tmp_path / "d2.onnx", [(32, 32, 10, 10, 0, 0.9)], 1, size=64)
        registry.add(project, tiny.write_manifest(tmp_path / "d2.json", "detector", {"model": path},
                                                  input_size=[64, 64], classes={"cell": "Cell", "dog": "Cell"}))
    with pytest.raises(InputError, match="manifest says input_size 640x640"):
        registry.add(project, tiny.write_manifest(tmp_path / "d3.json", "detector", {"model": path},
                                                  input_size=[640, 640], classes={"cell": "Cell"}))
    with pytest.raises(InputError, match="ontology lacks: 'Nucleus'"):
        registry.add(project, _detector(tmp_path, mapped={"cell": "Nucleus"}))


def test_manifest_problems_name_the_field(project, tmp_path):
    m = _detector(tmp_path)
    d = json.loads(m.read_text())
    del d["licence"]
    m.write_text(json.dumps(d))
    with pytest.raises(InputError, match="no 'licence'"):
        registry.add(project, m)
    d["licence"], d["task"] = "MIT", "magic"
    m.write_text(json.dumps(d))
    with pytest.raises(InputError, match="unknown task 'magic'"):
        registry.add(project, m)


def test_sam_pair_is_checked_as_a_pair(project, tmp_path, sam_manifest):
    rec = registry.add(project, sam_manifest)
    assert rec.task == "sam" and set(rec.manifest.files) == {"encoder", "decoder"}
    # a detector's file passed as the decoder: refused, naming the missing SAM inputs
    det = tiny.detector(tmp_path / "x.onnx", [(1, 1, 1, 1, 0, 0.5)], 1, size=256)
    d = json.loads(sam_manifest.read_text())
    from labeldesk.core.models.manifest import sha256_file
    d["files"]["decoder"] = {"path": str(det), "sha256": sha256_file(det)}
    d["version"] = "2"
    bad = sam_manifest.parent / "bad.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(InputError, match="lacks the SAM inputs image_embeddings"):
        registry.add(project, bad)


def test_retire_hides_and_undo_brings_back(project, tmp_path):
    add_class(project, "Cell")
    rec = registry.add(project, _detector(tmp_path))
    from labeldesk.core.ops import OpDraft
    applied = project.apply(OpDraft("model.retire", rec.id, {"retired": True}))
    assert registry.list_models(project) == []
    project.apply(applied.inverse)
    assert [r.id for r in registry.list_models(project)] == [rec.id]
