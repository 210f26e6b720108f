"""COCO exports read by pycocotools exactly: COCOeval of the file against itself, holes, keypoints,
stable ids and the dataset layout."""
from __future__ import annotations

import contextlib
import io
import json
import warnings

import numpy as np
import pytest
from format_fixtures import add_asset, add_class, annotate, layer_named, shapes

from labeldesk.core import interchange
from labeldesk.core.ops import OpDraft
from labeldesk.core.geometry import Mask

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402
from pycocotools import mask as cmask  # noqa: E402


def _load(path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _self_eval(path, iou_type: str) -> float:
    gt = _load(path)
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                **({"bbox": a["bbox"]} if iou_type == "bbox" else {"segmentation": gt.annToRLE(a)})}
               for a in gt.dataset["annotations"] if not a.get("iscrowd")]
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


@pytest.fixture
def mixed(proj):
    img = add_asset(proj, "a.png", 120, 100)
    img2 = add_asset(proj, "b.png", 120, 100)
    car = add_class(proj, "car")
    ring = add_class(proj, "ring")
    person = add_class(proj, "person")
    proj.apply(OpDraft("ontology.class.update", person, {"set": {"keypoints": {
        "names": ["nose", "left_eye", "right_eye", "tail"], "skeleton": [[1, 2], [1, 3]]}}}))
    annotate(proj, img, car, {"kind": "box", "xyxy": [10, 10, 40, 30]})
    annotate(proj, img, car, {"kind": "rotated_box", "cxcywha": [80, 60, 30, 12, 20]})
    annotate(proj, img, ring, {"kind": "polygon", "shell": [[50, 5], [110, 5], [110, 45], [50, 45]],
                               "holes": [[[60, 15], [100, 15], [100, 35], [60, 35]]]})
    m = np.zeros((30, 40), bool)
    m[5:25, 5:35] = True
    annotate(proj, img2, ring, Mask.from_array(m, 10, 50).to_dict())
    annotate(proj, img2, person, {"kind": "points", "points": [[20, 20], [40, 25], [30, 40]],
                                  "labels": ["nose", "right_eye", "tail"], "visibility": [2, 1, 2]})
    annotate(proj, img2, car, {"kind": "polygon", "shell": [[60, 10], [100, 10], [80, 40]]})
    return proj


def test_cocoeval_of_the_file_against_itself_is_perfect_for_bbox_and_segm(mixed, tmp_path):
    out = tmp_path / "c.json"
    rep = interchange.export(mixed, "coco", out)
    assert not rep.refused, rep.lines()
    doc = json.loads(out.read_text())
    assert all(a["segmentation"] not in ([], None) for a in doc["annotations"])
    assert _self_eval(out, "bbox") == pytest.approx(1.0)
    assert _self_eval(out, "segm") == pytest.approx(1.0)


def test_a_holed_polygon_reads_with_its_hole_and_its_area_is_the_mask(mixed, tmp_path):
    out = tmp_path / "c.json"
    interchange.export(mixed, "coco", out)
    coco = _load(out)
    ring = coco.getCatIds(catNms=["ring"])[0]
    img = next(i for i in coco.dataset["images"] if i["file_name"] == "a.png")
    ann = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]], catIds=[ring]))[0]
    mask = coco.annToMask(ann)
    assert mask[25, 80] == 0 and mask[10, 55] == 1                  # the hole is a hole
    assert ann["area"] == int(mask.sum()) == 60 * 40 - 40 * 20
    # and labeldesk reads the exact polygon back (not a mask)
    back = interchange.import_file(mixed, "coco", out, options={"layer": "back"})
    assert not back.refused
    assert shapes(mixed, layer_named(mixed, "back")) == shapes(mixed, mixed.my_layer_id)


def test_keypoints_keep_names_skeleton_visibility_and_unlabelled_slots(mixed, tmp_path):
    out = tmp_path / "c.json"
    interchange.export(mixed, "coco", out)
    coco = _load(out)
    cat = coco.loadCats(coco.getCatIds(catNms=["person"]))[0]
    assert cat["keypoints"] == ["nose", "left_eye", "right_eye", "tail"]
    assert cat["skeleton"] == [[1, 2], [1, 3]]
    ann = coco.loadAnns(coco.getAnnIds(catIds=[cat["id"]]))[0]
    assert ann["keypoints"] == [20, 20, 2, 0, 0, 0, 40, 25, 1, 30, 40, 2]
    assert ann["num_keypoints"] == 3 and ann["area"] == 20 * 20
    # into a project without the class: created with the names and skeleton; same record again
    from labeldesk.core.project import Project
    other = Project.create(tmp_path / "o", "o", user_name="bob")
    try:
        add_asset(other, "a.png", 120, 100)
        add_asset(other, "b.png", 120, 100)
        rep = interchange.import_file(other, "coco", out, options={"create_classes": True})
        assert not rep.refused, rep.lines()
        person = next(c for c in other.classes() if c.name == "person")
        assert person.keypoints == {"names": ["nose", "left_eye", "right_eye", "tail"], "skeleton": [[1, 2], [1, 3]]}
        again = tmp_path / "again.json"
        interchange.export(other, "coco", again)
        ann2 = next(a for a in json.loads(again.read_text())["annotations"] if "keypoints" in a)
        assert ann2["keypoints"] == ann["keypoints"]
    finally:
        other.close()


def test_category_and_image_ids_are_stable_across_exports_and_imports_keep_them(mixed, tmp_path):
    interchange.export(mixed, "coco", tmp_path / "1.json")
    add_asset(mixed, "0-first.png", 10, 10)               # sorts first, made later
    add_class(mixed, "aardvark")
    interchange.export(mixed, "coco", tmp_path / "2.json")
    one, two = (json.loads((tmp_path / n).read_text()) for n in ("1.json", "2.json"))
    ids1 = {i["file_name"]: i["id"] for i in one["images"]}
    ids2 = {i["file_name"]: i["id"] for i in two["images"]}
    assert all(ids2[k] == v for k, v in ids1.items())
    cats1 = {c["name"]: c["id"] for c in one["categories"]}
    cats2 = {c["name"]: c["id"] for c in two["categories"]}
    assert all(cats2[k] == v for k, v in cats1.items()) and cats2["aardvark"] == 4
    # a foreign file's category ids become the label values of the classes it creates
    from labeldesk.core.project import Project
    other = Project.create(tmp_path / "o", "o", user_name="bob")
    try:
        add_asset(other, "x.png", 50, 50)
        add_class(other, "existing")                       # value 1
        doc = {"images": [{"id": 9, "file_name": "x.png", "width": 50, "height": 50}],
               "annotations": [{"id": 1, "image_id": 9, "category_id": 17, "bbox": [1, 1, 5, 5], "iscrowd": 1,
                                "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]], "attributes": {"occluded": True, "n": 3}}],
               "categories": [{"id": 17, "name": "dog"}]}
        (tmp_path / "f.json").write_text(json.dumps(doc))
        rep = interchange.import_file(other, "coco", tmp_path / "f.json", options={"create_classes": True})
        assert not rep.refused, rep.lines()
        dog = next(c for c in other.classes() if c.name == "dog")
        assert dog.value == 17 and {d["key"]: d["type"] for d in dog.attributes} == {
            "occluded": "bool", "n": "number", "iscrowd": "bool"}
        ann = other.annotations(other.assets()[0].id)[0]
        assert ann.attributes == {"occluded": True, "n": 3, "iscrowd": True}
    finally:
        other.close()


def test_dataset_layout_with_subsets_and_image_files(mixed, tmp_path):
    from PIL import Image
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((100, 120, 3), 7, np.uint8)).save(src / name)
    from labeldesk.core.project import Project
    p = Project.create(tmp_path / "p2", "p2", user_name="c")
    try:
        for name in ("a.png", "b.png"):
            add_asset(p, name, 120, 100, source=str(src / name))
        c = add_class(p, "car")
        for a in p.assets():
            annotate(p, a.id, c, {"kind": "box", "xyxy": [1, 2, 30, 40]})
        out = tmp_path / "ds"
        rep = interchange.export(p, "coco", out, options={"split": "train=0.5,val=0.5", "seed": 3, "images": "copy"})
        assert not rep.refused, rep.lines()
        subsets = sorted(f.name for f in (out / "annotations").iterdir())
        assert set(subsets) <= {"instances_train.json", "instances_val.json"}
        total = 0
        for f in (out / "annotations").iterdir():
            subset = f.name[len("instances_"):-5]
            coco = _load(f)
            for im in coco.dataset["images"]:
                assert (out / "images" / subset / im["file_name"]).read_bytes() == (src / im["file_name"]).read_bytes()
                total += 1
        assert total == 2
        rep2 = interchange.export(p, "coco", tmp_path / "ds2", options={"split": "train=0.5,val=0.5", "seed": 3})
        assert sorted(f.name for f in (tmp_path / "ds2" / "annotations").iterdir()) == subsets   # same split
    finally:
        p.close()


def test_a_self_intersecting_polygon_keeps_all_its_area(proj, tmp_path):
    add_asset(proj, "a.png", 100, 100)
    add_class(proj, "bow")
    only_polygons = add_class(proj, "tie", kinds=["polygon"])
    bowtie = [10, 10, 60, 60, 60, 10, 10, 60]                    # two triangles meeting at (35, 35)
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [bowtie]},
                           {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [bowtie]}],
           "categories": [{"id": 1, "name": "bow"}, {"id": 2, "name": "tie"}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    rep = interchange.import_file(proj, "coco", tmp_path / "c.json")
    assert not rep.refused, rep.lines()
    from labeldesk.core.groups import group_of
    anns = proj.annotations(proj.assets()[0].id)
    for cls in (next(c.id for c in proj.classes() if c.name == "bow"), only_polygons):
        parts = [a for a in anns if a.class_id == cls]
        assert [a.geometry.kind for a in parts] == ["polygon", "polygon"]                # both triangles
        assert sum(a.geometry.area() for a in parts) == pytest.approx(2 * 625)           # no area lost
        assert group_of(parts[0]) and group_of(parts[0]) == group_of(parts[1])           # one object
    assert group_of([a for a in anns if a.class_id == only_polygons][0]) != \
        group_of([a for a in anns if a.class_id != only_polygons][0])
    assert sum("all its 2 parts, one instance group" in n.reason for n in rep.notes) == 2
    # and COCO gets the object back as one instance of two parts
    out = tmp_path / "back.json"
    interchange.export(proj, "coco", out)
    back = json.loads(out.read_text())["annotations"]
    assert len(back) == 2 and all(len(a["segmentation"]) == 2 for a in back)


def test_cocoeval_keypoints_of_the_file_against_itself_is_perfect(mixed, tmp_path):
    import numpy as np
    out = tmp_path / "k.json"
    interchange.export(mixed, "coco", out)
    gt = _load(out)
    kp_cats = [c for c in gt.dataset["categories"] if c.get("keypoints")]
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                "keypoints": a["keypoints"]} for a in gt.dataset["annotations"] if "keypoints" in a]
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = COCOeval(gt, gt.loadRes(results), "keypoints")
        ev.params.catIds = [c["id"] for c in kp_cats]          # the classes with a keypoint schema
        ev.params.kpt_oks_sigmas = np.full(len(kp_cats[0]["keypoints"]), 0.05)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert float(ev.stats[0]) == pytest.approx(1.0)
