"""YOLO detection, segmentation and oriented boxes: round trips, confidences and bad lines."""
from __future__ import annotations

import pytest
from format_fixtures import add_asset, add_class, annotate, close, layer_named, shapes

from labeldesk.core import interchange
from labeldesk.core.formats.yolo import center_size, names_from_yaml


@pytest.fixture
def boxes(proj):
    img = add_asset(proj, "img1.png", 640, 480)
    add_asset(proj, "empty.png", 32, 32)
    video = add_asset(proj, "clip.mp4", 320, 240, kind="video", frames=30)
    car, person = add_class(proj, "car"), add_class(proj, "person")
    annotate(proj, img, car, {"kind": "box", "xyxy": [10, 20, 110, 220]})
    annotate(proj, img, person, {"kind": "box", "xyxy": [0.1, 0.7, 21.2, 17.9]})
    annotate(proj, img, person, {"kind": "box", "xyxy": [300.5, 200.25, 639, 479.5]})
    annotate(proj, video, car, {"kind": "box", "xyxy": [1, 2, 33, 44]}, plane={"z": 0, "t": 17, "axis": "axial"})
    return proj


def test_detection_round_trip(boxes, tmp_path):
    rep = interchange.export(boxes, "yolo", tmp_path / "ds")
    assert rep.exported == 4 and not rep.refused
    assert (tmp_path / "ds/labels/train/empty.txt").read_text() == ""
    assert (tmp_path / "ds/labels/train/clip.mp4__frame_000017.txt").exists()
    assert names_from_yaml((tmp_path / "ds/data.yaml").read_text()) == ["car", "person"]
    back = interchange.import_file(boxes, None, tmp_path / "ds", options={"layer": "back"})
    assert back.fmt == "yolo" and back.imported == 4 and not back.refused
    got = [s[:3] + (s[3],) for s in shapes(boxes, layer_named(boxes, "back"))]
    want = [s[:3] + (s[3],) for s in shapes(boxes, boxes.my_layer_id)]
    assert close(got, want)
    exact = [s for s in got if s[3]["xyxy"] in ([10.0, 20.0, 110.0, 220.0], [1.0, 2.0, 33.0, 44.0])]
    assert len(exact) == 2                           # integer boxes come back bit for bit


def test_center_size_reads_back_to_the_edges():
    for x0, x1, w in ((10, 110, 640), (0.5, 639.5, 640), (3, 7, 333), (300.5, 639, 640)):
        c, z = center_size(x0, x1, w)
        assert c * w - z * w / 2 == x0 and c * w + z * w / 2 == x1


def test_segmentation_round_trip_and_what_it_cannot_hold(proj, tmp_path):
    img = add_asset(proj, "a.png", 100, 100)
    c = add_class(proj, "leaf", [{"key": "ripe", "type": "bool"}])
    annotate(proj, img, c, {"kind": "polygon", "shell": [[1.5, 1.25], [40.125, 2], [30, 40.3], [2, 30]]},
             attributes={"ripe": True})
    annotate(proj, img, c, {"kind": "polygon", "shell": [[50, 50], [90, 50], [90, 90], [50, 90]],
                            "holes": [[[60, 60], [70, 60], [70, 70]]]})
    annotate(proj, img, c, {"kind": "polyline", "points": [[1, 1], [9, 9]]})
    rep = interchange.export(proj, "yolo-seg", tmp_path / "seg.zip")
    assert rep.exported == 2
    assert any("cannot hold a polyline" in i.reason for i in rep.refused)
    assert any("1 hole(s) left out" in n.reason for n in rep.notes)
    assert any("hold no attributes" in n.reason for n in rep.notes)
    back = interchange.import_file(proj, "yolo-seg", tmp_path / "seg.zip", options={"layer": "back"})
    assert back.by_kind == {"polygon": 2}
    got = [s[3] for s in shapes(proj, layer_named(proj, "back"))]
    want = [s[3] for s in shapes(proj, proj.my_layer_id) if s[3]["kind"] == "polygon"]
    want = [{k: v for k, v in g.items() if k != "holes"} for g in want]
    assert close(got, want)


def test_oriented_boxes_round_trip(proj, tmp_path):
    img = add_asset(proj, "a.png", 200, 100)
    c = add_class(proj, "ship")
    annotate(proj, img, c, {"kind": "rotated_box", "cxcywha": [100, 50, 40, 20, 30]})
    annotate(proj, img, c, {"kind": "rotated_box", "cxcywha": [50.5, 40.25, 10, 30, -75.5]})
    annotate(proj, img, c, {"kind": "box", "xyxy": [1, 2, 11, 22]})
    rep = interchange.export(proj, "yolo-obb", tmp_path / "obb")
    assert rep.exported == 3 and any("oriented box" in n.reason for n in rep.notes)
    back = interchange.import_file(proj, None, tmp_path / "obb", options={"layer": "back"})
    got = [s[3]["cxcywha"] for s in shapes(proj, layer_named(proj, "back"))]
    want = [[100, 50, 40, 20, 30], [50.5, 40.25, 10, 30, -75.5], [6, 12, 10, 20, 0]]
    assert close(sorted(got), sorted(want), 1e-9)


def test_confidences_become_scores_and_bad_lines_are_refused(proj, tmp_path):
    add_asset(proj, "a.png", 100, 50)
    add_class(proj, "car")
    (tmp_path / "ds/labels").mkdir(parents=True)
    (tmp_path / "ds/classes.txt").write_text("car\nbus\n")
    (tmp_path / "ds/labels/a.txt").write_text(
        "0 0.5 0.5 0.2 0.2 0.87\n"      # box with confidence
        "0 0.5 0.5 zero 0.2\n"          # not a number
        "7 0.5 0.5 0.2 0.2\n"           # class index out of range
        "1 0.5 0.5 0.2 0.2\n"           # class not in the ontology
        "0 1.5 1.5 0.2 0.2\n"           # wholly outside
        "0 0.95 0.5 0.2 0.2\n"          # clipped
        "0 0.5 0.5\n")                  # too few numbers
    (tmp_path / "ds/labels/missing.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    rep = interchange.import_file(proj, "yolo", tmp_path / "ds", options={"model": "yolo11s", "model_version": "8.3"})
    assert rep.imported == 2
    text = "\n".join(map(str, rep.refused))
    assert "a.txt line 2: not a YOLO detection or segmentation line (could not convert" in text
    assert "a.txt line 3: class index 7 is not among the 2 class names" in text
    assert "a.txt line 4: class 'bus' is not in the ontology" in text
    assert "a.txt line 5: the box lies wholly outside" in text
    assert "a.txt line 7: not a YOLO" in text
    assert "missing.txt: no asset named 'missing'" in text
    op = next(o for o in proj.ops() if o.type == "annotation.create")
    assert op.payload["annotation"]["score"] == 0.87
    assert op.payload["annotation"]["source"] == {"model": "yolo11s", "version": "8.3", "score": 0.87}
    last = [o for o in proj.ops() if o.type == "annotation.create"][-1]
    assert "score" not in last.payload["annotation"] and last.payload["annotation"]["source"]["score"] is None


@pytest.mark.parametrize("text,names", [
    ("names: [car, 'bus', \"a b\"]\n", ["car", "bus", "a b"]),
    ("path: .\nnames:\n  - car\n  - bus\nnc: 2\n", ["car", "bus"]),
    ("names:\n  1: bus\n  0: car\n", ["car", "bus"]),
    ("nc: 2\n", None),
])
def test_data_yaml_forms(text, names):
    assert names_from_yaml(text) == names


@pytest.mark.parametrize("fmt", ["yolo", "voc", "labelme"])
def test_two_images_with_one_stem_are_reported_not_a_failed_export(proj, tmp_path, fmt):
    a, b = add_asset(proj, "a.png", 10, 10), add_asset(proj, "A.jpg", 10, 10)
    c = add_class(proj, "car")
    for asset in (a, b):
        annotate(proj, asset, c, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    rep = interchange.export(proj, fmt, tmp_path / "out")
    assert rep.exported == 1
    assert "A.jpg: its output file" in str(rep.refused[0]) and "is taken by a.png" in str(rep.refused[0])


def test_image_lists_next_to_the_labels_folder_are_not_label_files(proj, tmp_path):
    add_asset(proj, "x.jpg", 100, 100, source="/data/images/train/x.jpg")
    add_class(proj, "car")
    (tmp_path / "ds/labels/train").mkdir(parents=True)
    (tmp_path / "ds/data.yaml").write_text("train: train.txt\nnames: [car]\n")
    (tmp_path / "ds/train.txt").write_text("images/train/x.jpg\n")
    (tmp_path / "ds/labels/train/x.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    rep = interchange.import_file(proj, None, tmp_path / "ds")
    assert rep.imported == 1 and not rep.refused
