"""Instance groups (several parts, one object): the op, and labelme/CVAT/COCO carrying them."""
from __future__ import annotations

import json

import pytest
from format_fixtures import add_asset, add_class, annotate, layer_named

from labeldesk.core import interchange
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.groups import GROUP_KEY, group_drafts, group_of, ungroup_drafts
from labeldesk.core.ops import OpDraft

SQ1 = {"kind": "polygon", "shell": [[10, 10], [30, 10], [30, 30], [10, 30]]}
SQ2 = {"kind": "polygon", "shell": [[50, 10], [70, 10], [70, 30], [50, 30]]}


def _groups(proj, layer_id):
    """The layer's groups as sets of (class, geometry kind, bounds)."""
    out: dict[str, set] = {}
    for a in proj.annotations_in_layer(layer_id) if hasattr(proj, "annotations_in_layer") else \
            [a for asset in proj.assets() for a in proj.annotations(asset.id, layer_id=layer_id)]:
        gid = group_of(a)
        key = gid or f"alone:{a.id}"
        out.setdefault(key, set()).add((a.geometry.kind, tuple(round(v, 6) for v in a.geometry.bounds())))
    return sorted(tuple(sorted(v)) for v in out.values())


@pytest.fixture
def grouped(proj):
    img = add_asset(proj, "img1.png", 100, 80)
    c = add_class(proj, "person", [{"key": "note", "type": "text"}])
    a1 = annotate(proj, img, c, SQ1, attributes={"note": "left"})
    a2 = annotate(proj, img, c, SQ2)
    annotate(proj, img, c, {"kind": "box", "xyxy": [5, 50, 20, 70]})
    proj.apply_all(group_drafts([proj.annotation(a1), proj.annotation(a2)]))
    return proj, img, a1, a2


def test_grouping_is_an_undoable_op_and_keeps_attributes(grouped):
    proj, img, a1, a2 = grouped
    g1, g2 = group_of(proj.annotation(a1)), group_of(proj.annotation(a2))
    assert g1 and g1 == g2
    assert proj.annotation(a1).attributes["note"] == "left"
    applied = proj.apply_all(ungroup_drafts([proj.annotation(a1), proj.annotation(a2)]))
    assert group_of(proj.annotation(a1)) is None and proj.annotation(a1).attributes == {"note": "left"}
    proj.apply_all([a.inverse for a in reversed(applied)])
    assert group_of(proj.annotation(a1)) == g1


def test_group_value_is_checked_and_groups_need_one_plane(grouped):
    proj, img, a1, a2 = grouped
    with pytest.raises(OpRejected, match="group id"):
        proj.apply(OpDraft("annotation.update", a1, {"set": {"attributes": {GROUP_KEY: 7}}}))
    other = add_asset(proj, "img2.png", 100, 80)
    c = proj.annotation(a1).class_id
    b = annotate(proj, other, c, SQ1)
    with pytest.raises(LabeldeskError, match="one image"):
        group_drafts([proj.annotation(a1), proj.annotation(b)])
    # an annotation without a class may be in a group too (like a measurement)
    nc = annotate(proj, img, None, SQ1, attributes={GROUP_KEY: group_of(proj.annotation(a1))})
    assert group_of(proj.annotation(nc)) == group_of(proj.annotation(a1))


@pytest.mark.parametrize("fmt", ["labelme", "cvat", "coco"])
def test_groups_round_trip(grouped, tmp_path, fmt):
    proj, img, a1, a2 = grouped
    rep = interchange.export(proj, fmt, tmp_path / fmt)
    assert not rep.refused, rep.lines()
    assert all(GROUP_KEY not in str(n) for n in rep.notes)
    back = interchange.import_file(proj, fmt, tmp_path / fmt, options={"layer": "back"})
    assert not back.refused, back.lines()
    assert _groups(proj, layer_named(proj, "back")) == _groups(proj, proj.my_layer_id)
    got = [a for a in proj.annotations(img, layer_id=layer_named(proj, "back")) if a.attributes.get("note")]
    assert [a.attributes["note"] for a in got] == ["left"]


def test_labelme_group_id_is_written_per_group(grouped, tmp_path):
    proj, *_ = grouped
    interchange.export(proj, "labelme", tmp_path / "lm")
    doc = json.loads((tmp_path / "lm/img1.json").read_text())
    ids_ = [s["group_id"] for s in doc["shapes"]]
    assert sorted(ids_, key=str) == [1, 1, None] or sorted(map(str, ids_)) == ["1", "1", "None"]
    assert all("_group" not in json.dumps(s) for s in doc["shapes"])


def test_coco_writes_a_group_as_one_instance(grouped, tmp_path):
    proj, *_ = grouped
    interchange.export(proj, "coco", tmp_path / "c.json")
    doc = json.loads((tmp_path / "c.json").read_text())
    anns = doc["annotations"]
    assert len(anns) == 2
    multi = next(a for a in anns if isinstance(a["segmentation"], list) and len(a["segmentation"]) == 2)
    assert multi["bbox"] == [10, 10, 60, 20] and multi["area"] == pytest.approx(800)
    from pycocotools import mask as mask_utils
    rles = mask_utils.frPyObjects(multi["segmentation"], 80, 100)
    assert mask_utils.area(mask_utils.merge(rles)) == 800


def test_cocoeval_of_a_grouped_export_is_perfect(grouped, tmp_path):
    import contextlib
    import io
    import warnings

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    proj, *_ = grouped
    interchange.export(proj, "coco", tmp_path / "c.json")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = COCO(str(tmp_path / "c.json"))
        for kind in ("bbox", "segm"):
            ev = COCOeval(gt, gt.loadRes([dict(a, score=1.0) for a in gt.dataset["annotations"]]), kind)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            assert float(ev.stats[0]) == pytest.approx(1.0), kind


def test_foreign_labelme_and_cvat_group_ids_become_groups(proj, tmp_path):
    add_asset(proj, "street.jpg", 200, 100)
    add_class(proj, "person")
    add_class(proj, "car")
    shape = {"flags": {}, "description": "", "mask": None}
    lm = {"version": "5.5.0", "flags": {}, "imagePath": "street.jpg", "imageData": None, "imageHeight": 100,
          "imageWidth": 200, "shapes": [
              {**shape, "label": "person", "points": [[10, 10], [30, 10], [30, 40]], "group_id": 4,
               "shape_type": "polygon"},
              {**shape, "label": "person", "points": [[40, 10], [60, 40]], "group_id": 4, "shape_type": "rectangle"},
              {**shape, "label": "car", "points": [[100, 10], [150, 60]], "group_id": 7, "shape_type": "rectangle"},
              {**shape, "label": "car", "points": [[160, 10], [190, 40]], "group_id": None,
               "shape_type": "rectangle"}]}
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm/street.json").write_text(json.dumps(lm))
    rep = interchange.import_file(proj, "labelme", tmp_path / "lm", options={"layer": "lm"})
    assert not rep.refused and rep.imported == 4, rep.lines()
    anns = proj.annotations(proj.assets()[0].id, layer_id=layer_named(proj, "lm"))
    groups = [group_of(a) for a in anns]
    assert sum(1 for g in groups if g) == 2 and len({g for g in groups if g}) == 1   # group 7 has one part
    cvat = """<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
 <image id="0" name="street.jpg" width="200" height="100">
  <box label="person" source="manual" occluded="0" xtl="10" ytl="10" xbr="20" ybr="40" z_order="0" group_id="2"/>
  <polygon label="person" source="manual" occluded="0" points="30,10;40,10;40,40" z_order="0" group_id="2"/>
  <box label="car" source="manual" occluded="0" xtl="100" ytl="10" xbr="150" ybr="60" z_order="0" group_id="0"/>
 </image>
</annotations>"""
    (tmp_path / "cvat.xml").write_text(cvat)
    rep = interchange.import_file(proj, "cvat", tmp_path / "cvat.xml", options={"layer": "cvat"})
    assert not rep.refused and rep.imported == 3, rep.lines()
    anns = proj.annotations(proj.assets()[0].id, layer_id=layer_named(proj, "cvat"))
    people = [group_of(a) for a in anns if a.geometry.kind != "box" or a.geometry.bounds()[0] < 50]
    assert len(people) == 2 and people[0] and people[0] == people[1]
    assert [group_of(a) for a in anns if a.geometry.bounds()[0] >= 100] == [None]


@pytest.mark.parametrize("fmt", ["voc", "yolo-seg", "label-studio"])
def test_formats_without_groups_list_them(grouped, tmp_path, fmt):
    proj, *_ = grouped          # (two parts of one class: not a VOC object with parts either)
    rep = interchange.export(proj, fmt, tmp_path / fmt)
    assert any("1 instance group(s) not kept" in n.reason for n in rep.notes), rep.lines()


def test_voc_person_layout_is_an_object_with_parts_both_ways(proj, tmp_path):
    img = add_asset(proj, "p.png", 100, 80)
    person, head, hand = add_class(proj, "person"), add_class(proj, "head"), add_class(proj, "hand")
    body = annotate(proj, img, person, {"kind": "box", "xyxy": [10, 5, 60, 75]})
    parts = [annotate(proj, img, head, {"kind": "box", "xyxy": [25, 5, 40, 20]}),
             annotate(proj, img, hand, {"kind": "box", "xyxy": [10, 30, 18, 38]}),
             annotate(proj, img, hand, {"kind": "box", "xyxy": [52, 30, 60, 38]})]
    proj.apply_all(group_drafts([proj.annotation(a) for a in [body, *parts]]))
    rep = interchange.export(proj, "voc", tmp_path / "voc")
    assert rep.exported == 4 and not any("not kept" in n.reason for n in rep.notes), rep.lines()
    import xml.etree.ElementTree as ET
    root = ET.parse(tmp_path / "voc/Annotations/p.xml").getroot()
    [obj] = root.findall("object")
    assert obj.findtext("name") == "person"
    assert sorted(p.findtext("name") for p in obj.findall("part")) == ["hand", "hand", "head"]
    assert [obj.find("part/bndbox").findtext(t) for t in ("xmin", "ymin", "xmax", "ymax")] == ["26", "6", "40", "20"]
    back = interchange.import_file(proj, "voc", tmp_path / "voc", options={"layer": "back"})
    assert back.imported == 4 and not back.refused and not back.notes, back.lines()
    assert _groups(proj, layer_named(proj, "back")) == _groups(proj, proj.my_layer_id)


def test_agreement_compares_answers_not_group_ids(proj):
    """Two annotators who both grouped the same parts agree; their (random) group ids are no
    attribute answers."""
    from labeldesk.core.review.comparison import compare_project
    img = add_asset(proj, "img.png", 100, 80)
    c = add_class(proj, "person", [{"key": "grade", "type": "enum", "options": ["1", "2"]}])
    bob = ids_layer(proj, "bob")
    for layer in (proj.my_layer_id, bob):
        parts = [annotate(proj, img, c, g, attributes={"grade": "1"}, layer_id=layer) for g in (SQ1, SQ2)]
        proj.apply_all(group_drafts([proj.annotation(a) for a in parts]))
    rows = {r["attribute"]: r for r in compare_project(proj).attribute_rows()}
    assert set(rows) == {"grade"} and rows["grade"]["percent"] == pytest.approx(1.0)


def ids_layer(proj, name):
    from labeldesk.core import ids
    lid = ids.new_id()
    proj.apply(OpDraft("layer.create", lid, {"layer": {"name": name, "kind": "annotator"}}))
    return lid


def test_a_person_outline_and_its_keypoints_are_one_coco_instance(proj, tmp_path):
    img = add_asset(proj, "img.png", 100, 80)
    c = add_class(proj, "person")
    outline = annotate(proj, img, c, SQ1)
    kp = annotate(proj, img, c, {"kind": "points", "points": [[15, 15], [25, 25]], "labels": ["head", "foot"]})
    line = annotate(proj, img, c, {"kind": "polyline", "points": [[12, 12], [28, 28]]})
    proj.apply_all(group_drafts([proj.annotation(a) for a in (outline, kp, line)]))
    rep = interchange.export(proj, "coco", tmp_path / "c.json")
    [rec] = json.loads((tmp_path / "c.json").read_text())["annotations"]
    assert rec["segmentation"] == [[10, 10, 30, 10, 30, 30, 10, 30]] and rec["num_keypoints"] == 2
    assert rep.exported == 2 and any("polyline" in i.reason for i in rep.refused)     # listed, not silent
    back = interchange.import_file(proj, "coco", tmp_path / "c.json", options={"layer": "back"})
    got = proj.annotations(img, layer_id=layer_named(proj, "back"))
    assert sorted(a.geometry.kind for a in got) == ["points", "polygon"] and not back.refused
    assert group_of(got[0]) and group_of(got[0]) == group_of(got[1])


def test_cvat_for_video_lists_the_groups_it_cannot_keep(proj, tmp_path):
    clip = add_asset(proj, "clip.mp4", 100, 80, kind="video", frames=5)
    c = add_class(proj, "person")
    plane = {"z": 0, "t": 2, "axis": "axial"}
    a1, a2 = annotate(proj, clip, c, SQ1, plane=plane), annotate(proj, clip, c, SQ2, plane=plane)
    proj.apply_all(group_drafts([proj.annotation(a1), proj.annotation(a2)]))
    rep = interchange.export(proj, "cvat", tmp_path / "cvat")
    assert any("1 instance group(s) not kept: CVAT for video" in n.reason for n in rep.notes), rep.lines()
