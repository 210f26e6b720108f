"""Label Studio JSON: exact round trips of every region type, and a file as Label Studio writes it."""
from __future__ import annotations

import json

import numpy as np
import pytest
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
    assert any("brush RLE ends early" in i.reason for i in rep.refused)     # a truncated brush: refused
    assert any("'pose'" in n.reason or "pose" in n.reason for n in rep.notes)     # no such attribute on Cat
    assert rep.by_kind["classification"] == 1


def _brush_task(mask, w, h, **extra):
    from labeldesk.core.formats.ls_rle import rle_from_mask
    return {"id": "b1", "type": "brushlabels", "from_name": "tag", "to_name": "image", "original_width": w,
            "original_height": h, "value": {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": ["Cat"]},
            **extra}


def test_brush_masks_round_trip_through_the_rle(proj, tmp_path):
    import numpy as np

    from labeldesk.core.formats.ls_rle import decode, encode, mask_from_rle
    from labeldesk.core.geometry import Mask
    a = add_asset(proj, "img.png", 90, 60)
    c = add_class(proj, "Cat")
    m = np.zeros((60, 90), bool)
    m[5:30, 10:70] = True
    m[40:45, 2:4] = True
    annotate(proj, a, c, Mask.from_array(m).to_dict())
    out = tmp_path / "ls.json"
    rep = interchange.export(proj, "label-studio", out)
    assert not rep.refused and not rep.notes[1:], rep.lines()
    region = json.loads(out.read_text())[0]["annotations"][0]["result"][0]
    assert region["type"] == "brushlabels" and region["value"]["format"] == "rle"
    assert np.array_equal(mask_from_rle(region["value"]["rle"], 90, 60), m)
    back = interchange.import_file(proj, None, out, options={"layer": "back"})
    assert not back.refused, back.lines()
    assert shapes(proj, layer_named(proj, "back")) == shapes(proj, proj.my_layer_id)
    # literal chunks (x = 0), as other encoders write them, decode too
    bits = f"{5:032b}{7:05b}" + "".join(f"{s - 1:04b}" for s in (3, 4, 8, 16)) + "0" + "00" + f"{4:03b}" + \
        "".join(f"{v:08b}" for v in (1, 2, 3, 4, 5))
    bits += "0" * (-len(bits) % 8)
    assert decode(list(int(bits, 2).to_bytes(len(bits) // 8, "big"))).tolist() == [1, 2, 3, 4, 5]
    assert decode(encode(np.arange(300) % 7)).tolist() == (np.arange(300) % 7).tolist()


def test_predictions_import_with_model_and_score_and_export_back(proj, tmp_path):
    from labeldesk.core.predictions import provenances
    add_asset(proj, "cat.jpg", 400, 300)
    add_class(proj, "Cat")
    box = {"x": 10, "y": 20, "width": 25, "height": 50, "rotation": 0, "rectanglelabels": ["Cat"]}
    task = [{"id": 1, "data": {"image": "cat.jpg"}, "annotations": [],
             "predictions": [{"model_version": "yolo-v9", "score": 0.8, "result": [
                 {"id": "p1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": 400, "original_height": 300, "value": box, "score": 0.91},
                 {"id": "p2", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": 400, "original_height": 300, "value": {**box, "x": 50}}]}]}]
    (tmp_path / "t.json").write_text(json.dumps(task))
    rep = interchange.import_file(proj, "label-studio", tmp_path / "t.json")
    assert not rep.refused and rep.imported == 2, rep.lines()
    layer = next(l for l in proj.layers() if l.name == "predictions: yolo-v9")
    assert layer.kind == "predictions"
    anns = proj.annotations(proj.assets()[0].id, layer_id=layer.id)
    prov = provenances(proj.conn, [a.id for a in anns])
    assert sorted(p.score for p in prov.values()) == [0.8, 0.91] and {p.model for p in prov.values()} == {"yolo-v9"}
    assert not proj.annotations(proj.assets()[0].id, layer_id=proj.my_layer_id)
    out = tmp_path / "back.json"
    rep = interchange.export(proj, "label-studio", out, options={"with_predictions": True})
    t = json.loads(out.read_text())[0]
    assert t["annotations"][0]["result"] == []
    [pred] = t["predictions"]
    assert pred["model_version"] == "yolo-v9" and pred["score"] == pytest.approx((0.8 + 0.91) / 2)
    assert sorted(r["score"] for r in pred["result"]) == [0.8, 0.91]
    # read back: the same predictions again (a new layer of the same model's name is reused)
    interchange.import_file(proj, "label-studio", out, options={"layer": "again"})
    assert len(proj.annotations(proj.assets()[0].id, layer_id=layer.id)) == 4
