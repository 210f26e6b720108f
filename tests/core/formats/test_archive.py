"""Hostile archives and folders, format sniffing, and exports that appear only when complete."""
from __future__ import annotations

import json
import os
import stat
import zipfile

import pytest
from format_fixtures import add_asset, add_class, annotate

from labeldesk.core import interchange
from labeldesk.core.errors import InputError, LabeldeskError
from labeldesk.core.formats import registry
from labeldesk.core.formats.archive import InputTree, OutputTree, member_problem
from labeldesk.core.tasks import Progress


def _coco(name="a.png"):
    return json.dumps({"images": [{"id": 1, "file_name": name, "width": 64, "height": 48}],
                       "categories": [{"id": 1, "name": "car"}],
                       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]})


@pytest.mark.parametrize("name,problem", [
    ("../evil.json", "path leaves the archive (..)"), ("a/../../evil.json", "path leaves the archive (..)"),
    ("/etc/passwd", "absolute path"), ("C:/x.json", "absolute path"), ("..\\evil.json", "path leaves the archive (..)"),
    ("ok/a.json", None)])
def test_member_names(name, problem):
    assert member_problem(name) == problem


def test_hostile_members_are_refused_and_the_rest_imported(proj, tmp_path):
    add_asset(proj, "a.png")
    add_class(proj, "car")
    path = tmp_path / "in.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("coco/annotations.json", _coco())
        zf.writestr("../../outside.json", _coco())
        zf.writestr("/abs.json", _coco())
        link = zipfile.ZipInfo("coco/link.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("coco/bomb.json", " " * (5 << 20))           # 5 MB of spaces: ratio > 1000
        zf.writestr("__MACOSX/._annotations.json", "junk")
    rep = interchange.import_file(proj, "coco", path)
    assert rep.imported == 1
    text = "\n".join(map(str, rep.refused))
    assert "in.zip:../../outside.json: path leaves the archive (..); skipped" in text
    assert "in.zip:/abs.json: absolute path; skipped" in text
    assert "in.zip:coco/link.json: a symbolic link; skipped" in text
    assert "in.zip:coco/bomb.json: compression ratio is implausible" in text
    assert not (tmp_path.parent / "outside.json").exists()


def test_a_folder_link_that_leaves_the_folder_is_refused(proj, tmp_path):
    add_asset(proj, "a.png")
    add_class(proj, "car")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret/x.json").write_text(_coco())
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.json").write_text(json.dumps({"shapes": [], "imagePath": "a.png"}))
    os.symlink(tmp_path / "secret/x.json", tmp_path / "in/x.json")
    with InputTree(tmp_path / "in", interchange.InterchangeReport("import", "labelme", "in")) as tree:
        assert tree.names() == ["a.json"]
        assert "a link that points outside the folder" in tree.report.refused[0].reason


def test_not_a_zip_and_missing_files(proj, tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError):
        interchange.import_file(proj, "coco", bad)
    with pytest.raises(InputError) as err:
        interchange.import_file(proj, None, tmp_path / "nothing.json")
    assert "no such file" in str(err.value)


@pytest.mark.parametrize("files,fmt", [
    ({"a.json": _coco()}, "coco"),
    ({"a.json": "[{\"image_id\": 1}]"}, "coco-results"),
    ({"a.json": json.dumps({"shapes": [], "imagePath": "a.png"})}, "labelme"),
    ({"Annotations/a.xml": "<annotation><filename>a</filename></annotation>"}, "voc"),
    ({"data.yaml": "names: [a]", "labels/a.txt": ""}, "yolo"),
    ({"c.csv": "asset,class\n"}, "csv"),
])
def test_sniffing(tmp_path, files, fmt):
    root = tmp_path / "d"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert registry.sniff(root) == fmt
    if len(files) == 1:
        assert registry.sniff(root / next(iter(files))) == fmt
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    assert registry.sniff(tmp_path / "d.zip") == fmt


def test_unknown_format_names_the_choices(proj, tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    with pytest.raises(InputError) as err:
        interchange.import_file(proj, None, tmp_path / "x.bin")
    assert "cannot tell the annotation format" in str(err.value)
    with pytest.raises(LabeldeskError) as err:
        interchange.export(proj, "coco-results", tmp_path / "y.json")
    assert "cannot be exported" in str(err.value)


def test_a_cancelled_export_writes_nothing(proj, tmp_path):
    img = add_asset(proj, "a.png")
    c = add_class(proj, "car")
    annotate(proj, img, c, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    progress = Progress(lambda d, t, s: progress.cancel() if s == "writing" else None)
    (tmp_path / "exports").mkdir()
    rep = interchange.export(proj, "labelme", tmp_path / "exports/out", progress=progress)
    assert rep.cancelled and rep.exported == 0
    assert os.listdir(tmp_path / "exports") == []                    # no output, no temporary folder left behind


def test_output_tree_refuses_hostile_names_and_replaces_only_when_asked(tmp_path):
    with pytest.raises(LabeldeskError):
        with OutputTree(tmp_path / "o") as out:
            out.write("../x", "no")
    (tmp_path / "o.json").write_text("old")
    with pytest.raises(LabeldeskError):
        OutputTree(tmp_path / "o.json")
    with OutputTree(tmp_path / "o.json", overwrite=True) as out:
        out.write("a.json", "new")
        out.commit()
    assert (tmp_path / "o.json").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["o.json"]
