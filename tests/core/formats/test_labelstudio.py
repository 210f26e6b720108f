"""Label Studio JSON: exact round trips of every region type, and a file as Label Studio writes it."""
from __future__ import annotations

import json

import numpy as np
from format_fixtures import add_asset, add_class, annotate, close, layer_named, shapes

from labeldesk.core import interchange
from labeldesk.core.geometry import Mask


def test_round_trip_of_boxes_rotated_boxes_polygons_ellipses_keypoints_and_attributes(proj, tmp_path):
    img = add_asset(proj, "a.png", 200, 100)
    car = add_class(proj, "car", [{"key": "colour", "type": "enum", "options": ["red", "blue"]},
                                  {"key": "parked", "type": "bool"}, {"key": "note", "type": "text"},
                                  {"key": "n", "type": "number"}])
    person = add_class(proj, "person")
    annotate(proj, img, car, {"kind": "box", "xyxy": [10, 20, 60, 70]},
             attributes={"colour": "blue", "parked": True, "note": "hello", "n": 3})
    annotate(proj, img, car, {"kind": "rotated_box", "cxcywha": [120, 50, 40, 20, 30]})
    annotate(proj, img, person, {"kind": "polygon", "shell": [[150, 10], [190, 20], [170, 60]]})
    annotate(proj, img, person, {"kind": "ellipse", "cxcyrxrya": [50, 50, 20, 10, -25]})
    annotate(proj, img, person, {"kind": "points", "points": [[5, 5], [15, 8]], "labels": ["nose", "eye"]})
    out = tmp_path / "ls.json"
    rep = interchange.export(proj, "label-studio", out)
    assert rep.exported == 5 and not rep.refused, rep.lines()
    tasks = json.loads(out.read_text())
    assert tasks[0]["data"]["image"] == "a.png"
    back = interchange.import_file(proj, None, out, options={"layer": "back"})
    assert back.fmt == "label-studio" and not back.refused, back.lines()
    got, want = shapes(proj, layer_named(proj, "back")), shapes(proj, proj.my_layer_id)
    assert close(got, want, 1e-9), (got, want)


def test_a_file_as_label_studio_writes_it(proj, tmp_path):
    add_asset(proj, "cat.jpg", 400, 300)
    task = [{"id": 7, "data": {"image": "/data/upload/3/1a2b3c4d-cat.jpg"},
             "annotations": [{"id": 1, "result": [
                 {"id": "r1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": 400, "original_height": 300,
                  "value": {"x": 10, "y": 20, "width": 25, "height": 50, "rotation": 0, "rectanglelabels": ["Cat"]}},
                 {"id": "r1", "type": "choices", "from_name": "pose", "to_name": "image",
                  "value": {"choices": ["sitting"]}},
                 {"id": "r2", "type": "brushlabels", "from_name": "tag", "to_name": "image",
                  "value": {"format": "rle", "rle": [1, 2, 3], "brushlabels": ["Cat"]}},
                 {"type": "choices", "from_name": "scene", "to_name": "image", "value": {"choices": ["Indoor"]}}]}],
             "predictions": [{"result": []}]}]
    (tmp_path / "export.json").write_text(json.dumps(task))
    rep = interchange.import_file(proj, "label-studio", tmp_path / "export.json", options={"create_classes": True})
    ann = proj.annotations(proj.assets()[0].id)
    assert len(ann) == 1 and ann[0].geometry.bounds() == (40.0, 60.0, 140.0, 210.0)
    assert any("brush masks are not read" in i.reason for i in rep.refused)
    assert any("prediction(s) not imported" in n.reason for n in rep.notes)
    assert any("'pose'" in n.reason or "pose" in n.reason for n in rep.notes)     # no such attribute on Cat
    assert rep.by_kind["classification"] == 1
