"""labeldesk's dataset exports read by the loaders users train with: torchvision CocoDetection,
pycocotools COCOeval, datumaro (COCO, VOC, YOLO, CVAT, MOT), Ultralytics' dataset check and YOLO
dataset, label-studio-converter's brush decoder. Opt-in: LABELDESK_INTEROP_PYTHON names the venv."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from exports import build  # noqa: E402

pytestmark = pytest.mark.interop
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def read(interop_python, tmp_path_factory):
    root = tmp_path_factory.mktemp("interop")
    paths = build(root)
    out = root / "results.json"
    run = subprocess.run([interop_python, str(HERE / "read_with_real_loaders.py"), str(root / "exports"), str(out)],
                         capture_output=True, text=True, timeout=1200, cwd=root)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(out.read_text())

    def get(name):
        r = results[name]
        if "skipped" in r:
            pytest.skip(f"{name}: not installed in the interop venv ({r['skipped']})")
        assert r["ok"], f"{name}: {r['error']}\n{r.get('trace', '')}"
        return r
    get.paths = paths
    return get


def _coco_counts(root: Path) -> tuple[int, int]:
    docs = [json.loads(p.read_text()) for p in (root / "annotations").glob("instances_*.json")]
    return sum(len(d["images"]) for d in docs), sum(len(d["annotations"]) for d in docs)


def test_torchvision_coco_detection_loads_every_image_and_annotation(read):
    r = read("torchvision_coco")
    images, anns = _coco_counts(read.paths["coco"])
    assert r["train"]["images"] + r["val"]["images"] == images == 7
    assert r["train"]["annotations"] + r["val"]["annotations"] == anns
    assert all(s["sizes"] == [[96, 64]] for s in (r["train"], r["val"]) if s["images"])


def test_cocoeval_of_the_export_against_itself_is_perfect(read):
    r = read("pycocotools_eval")
    for subset in ("train", "val"):
        assert r[subset]["bbox"] == pytest.approx(1.0) and r[subset]["segm"] == pytest.approx(1.0)


@pytest.mark.parametrize("fmt,items", [("coco", 7), ("voc", 7), ("yolo", 7), ("cvat", 4)])
def test_datumaro_imports_the_layout_with_its_images(read, fmt, items):
    r = read(f"datumaro_{fmt}")
    assert r["items"] == items and r["media"] == items
    assert [l for l in r["labels"] if l != "background"] == ["car", "person", "road"]
    assert sum(r["kinds"].values()) > 0


def test_datumaro_reads_the_instance_group_of_cvat(read):
    assert read("datumaro_cvat")["grouped_objects"] == 1


def test_datumaro_mot_reads_frames_from_one_and_class_names(read):
    r = read("datumaro_mot_seq")
    assert r["items"] == 5 and r["media"] == 5 and r["kinds"] == {"bbox": 3}
    assert r["labels"][:3] == ["car", "person", "road"]


def test_ultralytics_accepts_the_yolo_dataset(read):
    r = read("ultralytics")
    assert r["names"] == {"0": "car", "1": "person", "2": "road"} and r["nc"] == 3
    labels = list((read.paths["yolo"] / "labels/train").glob("*.txt"))
    assert r["train_images"] == len(labels) > 0
    assert r["train_boxes"] == sum(len(p.read_text().splitlines()) for p in labels)


def test_label_studio_converter_decodes_our_brush_rle(read):
    assert read("label_studio_converter")["brush_areas"] == [600] * 4


def test_a_brush_label_studio_converter_encoded_imports_exactly(read, tmp_path):
    from labeldesk.core import interchange
    from labeldesk.core.project import Project
    r = read("label_studio_converter")
    root = read.paths["label-studio"].parent.parent
    with Project.open(root / "project") as p:
        rep = interchange.import_file(p, "label-studio", root / "exports/ls_foreign.json", options={"layer": "ls"})
        assert not rep.refused and rep.by_kind == {"mask": 1}, rep.lines()
        layer = next(l.id for l in p.layers() if l.name == "ls")
        [ann] = [a for asset in p.assets() for a in p.annotations(asset.id, layer_id=layer)]
        assert ann.geometry.area() == r["foreign_area"] == 10 * 40 + 4 * 4
