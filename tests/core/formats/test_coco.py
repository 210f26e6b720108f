"""COCO and COCO results: exact round trips, foreign files, and bad input reported item by item."""
from __future__ import annotations

import json

import numpy as np
import pytest
from format_fixtures import add_asset, add_class, annotate, layer_named, shapes

from labeldesk.core import interchange
from labeldesk.core.errors import InputError
from labeldesk.core.geometry import Mask
from labeldesk.core.ops import OpDraft

AWKWARD = [0.1, 0.7, 3.3, 17.9]          # x0 + (x1 - x0) != x1 for naive floats


def _mask() -> dict:
    a = np.zeros((20, 30), bool)
    a[2:9, 3:14] = True
    a[5, 20:28] = True
    return Mask.from_array(a, 5, 6).to_dict()


@pytest.fixture
def filled(proj):
    img = add_asset(proj, "img1.png", 64, 48)
    add_asset(proj, "empty.png", 32, 32)
    video = add_asset(proj, "clip.mp4", 40, 30, kind="video", frames=20)
    vol = add_asset(proj, "ct.nii.gz", 30, 20, kind="volume", depth=12)
    car = add_class(proj, "car", [{"key": "occluded", "type": "bool"},
                                  {"key": "colour", "type": "enum", "options": ["red", "blue"]}])
    person = add_class(proj, "person")
    annotate(proj, img, car, {"kind": "box", "xyxy": [0.1, 0.7, 3.3 + 17.9, 17.9 + 0.1]},
             attributes={"occluded": True, "colour": "blue"})
    annotate(proj, img, car, {"kind": "polygon", "shell": [[1.5, 1.25], [40.125, 2], [30, 40.3], [2, 30]],
                              "holes": [[[10, 10], [20, 10], [20, 20], [10, 20]]]})
    annotate(proj, img, person, _mask())
    annotate(proj, img, person, {"kind": "points", "points": [[3, 4], [10.5, 11.25], [20, 7]],
                                 "labels": ["nose", "left_eye", "right_eye"]})
    annotate(proj, img, person, {"kind": "points", "points": [[30, 31]]})
    annotate(proj, video, person, {"kind": "box", "xyxy": [1, 2, 9.9, 20.2]}, plane={"z": 0, "t": 12, "axis": "axial"})
    annotate(proj, vol, car, {"kind": "polygon", "shell": [[1, 1], [9, 1], [9, 9]]}, plane={"z": 7, "t": 0, "axis": "axial"})
    return proj


def test_export_then_import_gives_the_same_geometry_exactly(filled, tmp_path):
    out = tmp_path / "coco.json"
    rep = interchange.export(filled, "coco", out)
    assert rep.exported == 7 and not rep.refused
    doc = json.loads(out.read_text())
    assert {im["file_name"] for im in doc["images"]} == {"img1.png", "empty.png", "clip.mp4/frame_000012",
                                                         "ct.nii.gz/axial_0007"}
    assert all(a["segmentation"] for a in doc["annotations"])        # COCOeval segm reads every record
    box = next(a for a in doc["annotations"] if a.get("labeldesk_geometry", {}).get("kind") == "box")
    assert box["bbox"][0] + box["bbox"][2] == 3.3 + 17.9          # exact, not 21.199999999999996
    assert isinstance(next(a for a in doc["annotations"] if isinstance(a["segmentation"], dict))["segmentation"]["counts"], str)
    mine = filled.my_layer_id
    back = interchange.import_file(filled, None, out, options={"layer": "back"})
    assert not back.refused and back.imported == 7
    assert shapes(filled, layer_named(filled, "back")) == shapes(filled, mine)


def test_keypoint_names_and_attributes_survive(filled, tmp_path):
    out = tmp_path / "coco.json"
    interchange.export(filled, "coco", out)
    doc = json.loads(out.read_text())
    person = next(c for c in doc["categories"] if c["name"] == "person")
    assert person["keypoints"] == ["nose", "left_eye", "right_eye"]
    car = next(c for c in doc["categories"] if c["name"] == "car")
    assert [d["key"] for d in car["labeldesk_attributes"]] == ["occluded", "colour"]
    assert any(a.get("attributes") == {"occluded": True, "colour": "blue"} for a in doc["annotations"])


def test_rotated_box_is_written_as_polygon_and_polyline_is_reported(proj, tmp_path):
    img = add_asset(proj, "a.png", 100, 100)
    c = add_class(proj, "thing")
    annotate(proj, img, c, {"kind": "rotated_box", "cxcywha": [50, 50, 20, 10, 30]})
    annotate(proj, img, c, {"kind": "polyline", "points": [[1, 1], [50, 60]]})
    rep = interchange.export(proj, "coco", tmp_path / "c.json")
    assert rep.exported == 1
    assert any("COCO cannot hold a polyline" in i.reason for i in rep.refused)
    assert any("rotated_box written as a polygon" in i.reason for i in rep.notes)


def test_polygon_holes_as_rle_match_pycocotools_rasterisation(proj, tmp_path):
    img = add_asset(proj, "a.png", 40, 40)
    c = add_class(proj, "ring")
    annotate(proj, img, c, {"kind": "polygon", "shell": [[0, 0], [20, 0], [20, 20], [0, 20]],
                            "holes": [[[5, 5], [15, 5], [15, 15], [5, 15]]]})
    rep = interchange.export(proj, "coco", tmp_path / "c.json", options={"polygon_holes": "rle"})
    ann = json.loads((tmp_path / "c.json").read_text())["annotations"][0]
    assert isinstance(ann["segmentation"], dict)
    assert ann["area"] == 400 - 100                 # pixel-edge convention: 20x20 minus 10x10
    assert any("RLE" in n.reason for n in rep.notes)


def _foreign(tmp_path, anns, images=None, cats=None):
    doc = {"images": images or [{"id": 1, "file_name": "train/a.jpg", "width": 50, "height": 40}],
           "annotations": anns, "categories": cats or [{"id": 3, "name": "dog"}]}
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(doc))
    return path


def test_foreign_file_multipart_polygons_and_uncompressed_rle(proj, tmp_path):
    add_asset(proj, "a.jpg", 50, 40, source="/data/train/a.jpg")
    add_class(proj, "dog")
    full = np.zeros((40, 50), np.uint8)
    full[10:20, 5:9] = 1
    flat = full.ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    path = _foreign(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 0, "bbox": [0, 0, 1, 1],
         "segmentation": [[1, 1, 10, 1, 10, 10, 1, 10], [20, 20, 30, 20, 30, 30]]},
        {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 1, "bbox": [5, 10, 4, 10],
         "segmentation": {"size": [40, 50], "counts": counts}},
    ])
    rep = interchange.import_file(proj, "coco", path)
    assert rep.by_kind == {"polygon": 2, "mask": 1} and not rep.refused   # one object of two parts: a group
    from labeldesk.core.groups import group_of
    anns = proj.annotations(proj.assets()[0].id, layer_id=proj.my_layer_id)
    polys = [a for a in anns if a.geometry.kind == "polygon"]
    assert len({group_of(a) for a in polys}) == 1 and group_of(polys[0])
    masks = [s for s in shapes(proj, proj.my_layer_id) if s[3]["kind"] == "mask"]
    assert masks[0][3]["bbox"] == [5, 10, 4, 10] and sum(masks[0][3]["counts"][1::2]) == 40


def test_malformed_json_names_line_and_column(proj, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"images": [\n  {"id": 1,, }\n]}')
    with pytest.raises(InputError) as err:
        interchange.import_file(proj, "coco", path)
    assert "bad.json" in str(err.value) and "line 2, column 12" in str(err.value)


def test_bad_items_are_refused_and_the_rest_imported(proj, tmp_path):
    add_asset(proj, "a.jpg", 50, 40)
    add_class(proj, "dog")
    before = proj.counts()["ops"]
    path = _foreign(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 5, 5]},                 # fine
        {"id": 2, "image_id": 1, "category_id": 4, "bbox": [10, 10, 5, 5]},                 # unknown category id
        {"id": 3, "image_id": 1, "category_id": 5, "bbox": [10, 10, 5, 5]},                 # unknown class
        {"id": 4, "image_id": 1, "category_id": 3, "bbox": [40, 30, 20, 20]},               # clipped
        {"id": 5, "image_id": 1, "category_id": 3, "bbox": [60, 50, 5, 5]},                 # wholly outside
        {"id": 6, "image_id": 2, "category_id": 3, "bbox": [1, 1, 5, 5]},                   # image not in project
        {"id": 7, "image_id": 1, "category_id": 3, "segmentation": {"size": [10, 10], "counts": "PPP"}},
        {"id": 8, "image_id": 9, "category_id": 3, "bbox": [1, 1, 5, 5]},                   # image id not in file
    ], images=[{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40},
               {"id": 2, "file_name": "missing.jpg", "width": 50, "height": 40}],
        cats=[{"id": 3, "name": "dog"}, {"id": 5, "name": "cat"}])
    rep = interchange.import_file(proj, "coco", path)
    assert rep.imported == 2
    reasons = "\n".join(str(i) for i in rep.refused)
    assert "annotations[1] (id 2): category_id 4 is not among" in reasons
    assert "class 'cat' is not in the ontology" in reasons
    assert "lies wholly outside the 50x40 image" in reasons
    assert "images[1] (missing.jpg): no asset named 'missing.jpg'" in reasons and "1 annotation(s) were not" in reasons
    assert "mask of the wrong shape" in reasons
    assert "image_id 9 is not among" in reasons
    assert any("clipped" in n.reason for n in rep.notes)
    boxes = sorted(s[3]["xyxy"] for s in shapes(proj, proj.my_layer_id))
    assert boxes == [[10.0, 10.0, 15.0, 15.0], [40.0, 30.0, 50.0, 40.0]]
    assert proj.counts()["ops"] == before + 2          # nothing written for what was refused
    assert [c.name for c in proj.classes()] == ["dog"]


def test_create_classes_takes_attribute_definitions_and_undo_takes_it_back(proj, tmp_path):
    add_asset(proj, "a.jpg", 50, 40)
    path = _foreign(tmp_path, [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 5, 5],
                                "attributes": {"size": "big", "unknown": 1}}],
                    cats=[{"id": 3, "name": "dog", "color": "#00ff00",
                           "labeldesk_attributes": [{"key": "size", "type": "enum", "options": ["big", "small"]}]}])
    rep = interchange.import_file(proj, "coco", path, options={"create_classes": True})
    assert rep.created_classes == ["dog"] and rep.imported == 1
    dog = next(c for c in proj.classes() if c.name == "dog")
    assert dog.color == "#00ff00" and dog.attributes[0]["key"] == "size"
    ann = proj.annotations(proj.assets()[0].id)[0]
    assert ann.attributes == {"size": "big"}
    assert any("'unknown' is not an attribute" in n.reason for n in rep.notes)
    interchange.undo_import(proj, rep)
    assert proj.annotations(proj.assets()[0].id) == []
    assert next(c for c in proj.classes() if c.name == "dog").deprecated


def test_results_keep_scores_and_model_provenance(proj, tmp_path):
    add_asset(proj, "a.jpg", 50, 40)
    add_class(proj, "dog")
    gt = _foreign(tmp_path, [])
    res = tmp_path / "dets.json"
    res.write_text(json.dumps([
        {"image_id": 1, "category_id": 3, "bbox": [1, 2, 10, 10], "score": 0.91},
        {"image_id": 1, "category_id": 3, "bbox": [5, 5, 10, 10], "score": 0.05},
        {"image_id": 7, "category_id": 3, "bbox": [5, 5, 10, 10], "score": 0.5},
    ]))
    rep = interchange.import_file(proj, None, res, options={"gt": str(gt), "min_score": 0.1,
                                                           "model": "yolo11n", "model_version": "2026.1"})
    assert rep.fmt == "coco-results" and rep.imported == 1
    assert rep.created_layers == ["predictions: dets.json"]
    assert "image_id 7 is unknown" in str(rep.refused[0])
    layer = next(l for l in proj.layers() if l.name == "predictions: dets.json")
    assert layer.kind == "predictions"
    ann = proj.annotations(proj.assets()[0].id, layer_id=layer.id)[0]
    op = next(o for o in proj.ops(ann.id))
    assert op.payload["annotation"]["score"] == 0.91
    assert op.payload["annotation"]["source"] == {"model": "yolo11n", "version": "2026.1", "score": 0.91}


def test_results_without_gt_use_names_and_class_order(filled, tmp_path):
    res = tmp_path / "dets.json"
    res.write_text(json.dumps([{"image_id": "img1.png", "category_id": 2, "bbox": [1, 2, 10, 10], "score": 0.5}]))
    rep = interchange.import_file(filled, "coco-results", res)
    assert rep.imported == 1
    layer = layer_named(filled, "predictions: dets.json")
    assert shapes(filled, layer)[0][2] == "person"


def test_selection_classes_and_layer(filled, tmp_path):
    other = filled.apply(OpDraft("layer.create", "L2", {"layer": {"name": "bob", "kind": "annotator"}}))
    assert other
    rep = interchange.export(filled, "coco", tmp_path / "c.json", interchange.Selection(classes=("person",)))
    assert rep.exported == 4
    doc = json.loads((tmp_path / "c.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["person"]
    rep = interchange.export(filled, "coco", tmp_path / "d.json", interchange.Selection(layer="bob"))
    assert rep.exported == 0


def test_iscrowd_is_kept_where_the_class_has_the_attribute(proj, tmp_path):
    img = add_asset(proj, "a.png", 40, 40)
    crowd = add_class(proj, "people", [{"key": "iscrowd", "type": "bool"}])
    annotate(proj, img, crowd, _mask(), attributes={"iscrowd": True})
    interchange.export(proj, "coco", tmp_path / "c.json")
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["annotations"][0]["iscrowd"] == 1
    doc["annotations"][0].pop("attributes", None)            # as another tool would write it
    (tmp_path / "c.json").write_text(json.dumps(doc))
    interchange.import_file(proj, "coco", tmp_path / "c.json", options={"layer": "back"})
    assert shapes(proj, layer_named(proj, "back"))[0][4] == {"iscrowd": True}


def test_odd_ids_and_keypoints_with_a_segmentation(proj, tmp_path):
    add_asset(proj, "a.jpg", 50, 40)
    add_class(proj, "dog")
    path = _foreign(tmp_path, [
        {"id": 1, "image_id": [1], "category_id": 3, "bbox": [1, 1, 5, 5]},
        {"id": 2, "image_id": 1, "category_id": {"x": 1}, "bbox": [1, 1, 5, 5]},
        {"id": 3, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 10, 1, 10, 10]],
         "keypoints": [2, 2, 2, 0, 0, 0, 9, 3, 1], "num_keypoints": 2},
    ], cats=[{"id": 3, "name": "dog", "keypoints": ["nose", "tail", "ear"]}, {"id": [4], "name": "odd"}])
    rep = interchange.import_file(proj, "coco", path)
    assert rep.by_kind == {"polygon": 1, "points": 1}
    text = "\n".join(map(str, rep.refused))
    assert "image_id [1] is not among" in text and "category_id {'x': 1} is not among" in text
    pts = next(s[3] for s in shapes(proj, proj.my_layer_id) if s[3]["kind"] == "points")
    assert pts == {"kind": "points", "points": [[2.0, 2.0], [9.0, 3.0]], "labels": ["nose", "ear"],
                   "visibility": [2, 1]}                       # v=1 (labelled, not visible) kept


def test_results_without_gt_read_category_ids_as_label_values(filled, tmp_path):
    person = next(c for c in filled.classes() if c.name == "person")
    filled.apply(OpDraft("ontology.class.update", person.id, {"set": {"value": 9}}))
    res = tmp_path / "dets.json"
    res.write_text(json.dumps([{"image_id": "img1.png", "category_id": 9, "bbox": [1, 2, 10, 10], "score": 0.5}]))
    rep = interchange.import_file(filled, "coco-results", res)
    assert rep.imported == 1 and shapes(filled, layer_named(filled, "predictions: dets.json"))[0][2] == "person"


def test_plain_boxes_and_polygons_read_as_the_general_reader_reads_them(proj, tmp_path):
    """The reader's short way for plain records (only a bbox or one ring) gives the same shapes,
    refusals and notes, with the same locations, as the general steps (forced here by an empty
    ``attributes`` on every record)."""
    add_asset(proj, "a.jpg", 50, 40, source="/data/train/a.jpg")
    add_class(proj, "dog")
    anns = [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 5, 5], "area": 25, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0.1, 0.7, 3.2, 17.2]},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [40, 30, 20, 20]},                 # clipped
        {"id": 4, "image_id": 1, "category_id": 3, "bbox": [60, 50, 5, 5]},                   # outside
        {"id": 5, "image_id": 1, "category_id": 3, "bbox": [5, 5, 0, 4]},                     # no area
        {"id": 6, "image_id": 1, "category_id": 3, "bbox": [5, 5, "x", 4]},                   # not a number
        {"id": 7, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 30.5, 2, 20, 30.25]], "bbox": [1, 1, 29.5, 29.25]},
        {"id": 8, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 2, 2, 1, 1]]},     # 2 distinct points
        {"id": 9, "image_id": 1, "category_id": 3, "segmentation": [[-5, 1, 30, 2, 20, 30]]},  # clipped
        {"id": 10, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 2, 2, 1]]},      # odd count
        {"id": 11, "image_id": 1, "category_id": 3, "segmentation": [], "bbox": [2, 3, 4, 5]},
        {"id": 12, "image_id": 7, "category_id": 3, "bbox": [2, 3, 4, 5]},                   # no such image
        {"id": 13, "image_id": 1, "category_id": 3, "iscrowd": 1, "bbox": [2, 3, 4, 5]},     # crowd: noted
    ]
    plain = interchange.import_file(proj, "coco", _foreign(tmp_path, anns), options={"layer": "plain"})
    general_file = _foreign(tmp_path / "g" if (tmp_path / "g").mkdir() is None else tmp_path,
                            [{**a, "attributes": {}} for a in anns])
    general = interchange.import_file(proj, "coco", general_file, options={"layer": "general"})
    assert plain.imported == general.imported == 7
    assert [(str(i.location), i.reason) for i in plain.refused] == \
        [(str(i.location).replace(str(tmp_path / "g"), str(tmp_path)), i.reason) for i in general.refused]
    assert [(str(i.location), i.reason) for i in plain.notes] == \
        [(str(i.location).replace(str(tmp_path / "g"), str(tmp_path)), i.reason) for i in general.notes]
    assert any("annotations[3] (id 4)" in str(i.location) for i in plain.refused)
    assert shapes(proj, layer_named(proj, "plain")) == shapes(proj, layer_named(proj, "general"))
