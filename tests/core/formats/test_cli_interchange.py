"""`labeldesk import` / `export` / `formats` through labeldesk.cli.main."""
from __future__ import annotations

import json
import os
import signal

import pytest

from format_fixtures import add_asset, add_class, annotate

from labeldesk import cli
from labeldesk.core.project import Project


def _project(tmp_path, boxes: int = 3):
    root = tmp_path / "p"
    assert cli.main(["init", str(root), "--user", "alice"]) == 0
    with Project.open(root) as p:
        img = add_asset(p, "a.png", 100, 80)
        c = add_class(p, "car")
        for i in range(boxes):
            annotate(p, img, c, {"kind": "box", "xyxy": [i % 50, 1, i % 50 + 10.5, 20.25]})
    return root


def _coco(tmp_path, n: int, cls: str = "car"):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": cls}],
        "annotations": [{"id": i, "image_id": 1, "category_id": 1, "bbox": [i % 90, 2, 5, 5]} for i in range(n)]}))
    return path


def _count(root):
    with Project.open(root) as p:
        return p.counts()["annotations"], p.counts()["ops"]


def test_formats_lists_every_format(capsys):
    assert cli.main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in ("coco", "coco-results", "yolo", "yolo-seg", "yolo-obb", "voc", "labelme", "csv"):
        assert f"\n{name} " in out


def test_export_then_import_prints_the_report(tmp_path, capsys):
    root = _project(tmp_path)
    dest = tmp_path / "out.json"
    assert cli.main(["export", str(root), "coco", str(dest), "-q"]) == 0
    assert "exported 3 item(s) (3 box)" in capsys.readouterr().out
    assert cli.main(["export", str(root), "coco", str(dest), "-q"]) == 1          # exists, no --overwrite
    assert "exists already" in capsys.readouterr().err
    assert cli.main(["import", str(root), str(dest), "--layer", "copy", "-q"]) == 0
    out = capsys.readouterr().out
    assert "imported 3 item(s) (3 box)" in out and "created layers: copy" in out
    assert _count(root)[0] == 6


def test_import_reports_refusals_and_create_classes(tmp_path, capsys):
    root = _project(tmp_path, 0)
    src = _coco(tmp_path, 2, "truck")
    assert cli.main(["import", str(root), str(src), "-q"]) == 1                    # all refused
    out = capsys.readouterr().out
    assert "refused  in.json: annotations[0] (id 0): class 'truck' is not in the ontology" in out
    assert "--create-classes" in out
    assert cli.main(["import", str(root), str(src), "-q", "--create-classes", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["imported"] == 2 and rep["created_classes"] == ["truck"]


def test_export_selection_options(tmp_path, capsys):
    root = _project(tmp_path)
    dest = tmp_path / "yolo"
    assert cli.main(["export", str(root), "coco", str(tmp_path / "none.json"), "--classes", "car",
                     "--since", "2999-01-01", "-q"]) == 0
    assert "exported 0 item(s)" in capsys.readouterr().out
    assert cli.main(["export", str(root), "coco", str(tmp_path / "x.json"), "--classes", "bus", "-q"]) == 1
    assert "no class named 'bus'" in capsys.readouterr().err
    assert cli.main(["export", str(root), "coco", str(tmp_path / "m.json"), "--layer", "mine",
                     "--assets", "a.png", "--until", "2999-01-01T00:00Z", "-q"]) == 0
    assert "exported 3 item(s)" in capsys.readouterr().out
    assert not dest.exists()


@pytest.fixture
def default_sigint():
    """Python's own Ctrl+C handler, whatever the test run inherited (a job started with `&` from a
    script starts with SIGINT ignored, and then a SIGINT would never reach the import)."""
    inherited = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


def test_ctrl_c_cancels_the_import_and_leaves_the_project_unchanged(tmp_path, capsys, monkeypatch,
                                                                     default_sigint):
    root = _project(tmp_path, 0)
    src = _coco(tmp_path, 4500)
    before = _count(root)
    seen = []

    class InterruptingBar:
        def __call__(self, done, total, text):
            seen.append((done, text))
            if text == "writing annotations" and done >= 2000:
                os.kill(os.getpid(), signal.SIGINT)          # what Ctrl+C sends

    monkeypatch.setattr(cli, "ProgressBar", InterruptingBar)
    assert cli.main(["import", str(root), str(src)]) == 130
    assert "cancelled: nothing was changed" in capsys.readouterr().out
    assert (2000, "writing annotations") in seen
    assert _count(root) == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_model_options_and_option_pairs(tmp_path, capsys):
    root = _project(tmp_path, 0)
    res = tmp_path / "dets.json"
    res.write_text(json.dumps([{"image_id": "a.png", "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.7}]))
    assert cli.main(["import", str(root), str(res), "--model", "det", "--model-version", "3", "-q"]) == 0
    with Project.open(root) as p:
        op = [o for o in p.ops() if o.type == "annotation.create"][0]
        assert op.payload["annotation"]["source"] == {"model": "det", "version": "3", "score": 0.7}
    assert cli.main(["import", str(root), str(res), "--option", "nonsense", "-q"]) == 1
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert cli.main(["import", str(root), str(res), "--model-version", "3", "-q"]) == 1


def test_label_studio_predictions_and_seg_options_from_the_cli(tmp_path, capsys):
    root = _project(tmp_path, boxes=0)
    task = [{"id": 1, "data": {"image": "a.png"}, "annotations": [],
             "predictions": [{"model_version": "det-2", "score": 0.7, "result": [
                 {"id": "p", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": 100, "original_height": 80,
                  "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["car"]}}]}]}]
    (tmp_path / "t.json").write_text(json.dumps(task))
    assert cli.main(["import", str(root), str(tmp_path / "t.json"), "-q"]) == 0
    assert cli.main(["export", str(root), "label-studio", str(tmp_path / "out.json"), "--with-predictions", "-q"]) == 0
    [pred] = json.loads((tmp_path / "out.json").read_text())[0]["predictions"]
    assert pred["model_version"] == "det-2" and pred["score"] == 0.7
    assert cli.main(["export", str(root), "label-studio", str(tmp_path / "plain.json"), "-q"]) == 0
    assert json.loads((tmp_path / "plain.json").read_text())[0]["predictions"] == []
    with pytest.raises(SystemExit):
        cli.main(["export", "--help"])
    helptext = capsys.readouterr().out
    assert "--segmentation-type" in helptext and "--with-predictions" in helptext
    with pytest.raises(SystemExit):
        cli.main(["import", "--help"])
    assert "--threshold" in capsys.readouterr().out
