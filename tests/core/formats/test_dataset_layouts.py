"""Own exports re-import without refusals; VOC and YOLO layouts as the loaders expect them."""
from __future__ import annotations

import json

import numpy as np
import pytest
from format_fixtures import add_asset, add_class, annotate, layer_named

from labeldesk.core import interchange
from labeldesk.core.formats.yolo import names_from_yaml
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft


@pytest.fixture
def drawn(proj):
    """Classes that do not allow boxes, drawn with masks, polygons and rotated boxes."""
    a = add_asset(proj, "a.png", 100, 80)
    add_asset(proj, "b.png", 100, 80)
    organ = add_class(proj, "organ", kinds=["mask"])
    road = add_class(proj, "road", kinds=["polygon"])
    ship = add_class(proj, "ship", kinds=["rotated_box"])
    m = np.zeros((20, 30), bool)
    m[2:18, 3:25] = True
    annotate(proj, a, organ, Mask.from_array(m, 10, 10).to_dict())
    annotate(proj, a, road, {"kind": "polygon", "shell": [[50, 5], [90, 10], [70, 40]]})
    annotate(proj, a, ship, {"kind": "rotated_box", "cxcywha": [40, 60, 20, 8, 15]})
    return proj


@pytest.mark.parametrize("fmt", ["voc", "yolo", "yolo-seg", "yolo-obb"])
def test_own_exports_reimport_without_refusals(drawn, tmp_path, fmt):
    out = tmp_path / fmt
    rep = interchange.export(drawn, fmt, out)
    written = rep.exported
    back = interchange.import_file(drawn, fmt, out, options={"layer": "back"})
    assert not back.refused, back.lines()
    assert back.imported == written
    kinds = {c.id: c.kinds for c in drawn.classes()}
    for a in drawn.assets():
        for ann in drawn.annotations(a.id, layer_id=layer_named(drawn, "back")):
            assert ann.geometry.kind in kinds[ann.class_id]


def test_yolo_layout_is_ultralytics_and_indices_are_label_values(drawn, tmp_path):
    car = add_class(drawn, "car")
    drawn.apply(OpDraft("ontology.class.update", car, {"set": {"value": 7}}))
    a = drawn.assets()[0].id
    annotate(drawn, a, car, {"kind": "box", "xyxy": [1, 1, 11, 11]})
    out = tmp_path / "y"
    rep = interchange.export(drawn, "yolo", out, options={"split": "train=0.5,val=0.5", "seed": 1})
    text = (out / "data.yaml").read_text()
    used = {f.parent.name for f in (out / "labels").rglob("*.txt")}
    assert used <= {"train", "val"} and "nc: 7" in text                  # asset ids are random: either subset
    assert f"train: images/{'train' if 'train' in used else 'val'}" in text and "val: images/" in text
    names = names_from_yaml(text)
    assert names[:3] == ["organ", "road", "ship"] and names[6] == "car" and names[3] == "unused_3"
    lines = [l for f in (out / "labels").rglob("*.txt") for l in f.read_text().splitlines()]
    assert any(l.startswith("6 ") for l in lines)
    assert any("unused class index" in n.reason for n in rep.notes)
    back = interchange.import_file(drawn, "yolo", out, options={"layer": "y"})
    assert not back.refused
    assert {drawn.annotation(x.id).class_id for x in drawn.annotations(a, layer_id=layer_named(drawn, "y"))} >= {car}


def test_voc_layout_and_what_voc_says_about_objects_is_kept(proj, tmp_path):
    add_asset(proj, "a.jpg", 200, 100)
    out = tmp_path / "voc"
    (out / "Annotations").mkdir(parents=True)
    (out / "Annotations" / "a.xml").write_text("""<annotation><filename>a.jpg</filename>
      <size><width>200</width><height>100</height><depth>3</depth></size>
      <object><name>person</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
        <actions><jumping>1</jumping><phoning>0</phoning></actions>
        <bndbox><xmin>11</xmin><ymin>11</ymin><xmax>60</xmax><ymax>90</ymax></bndbox>
        <part><name>head</name><bndbox><xmin>21</xmin><ymin>12</ymin><xmax>40</xmax><ymax>30</ymax></bndbox></part>
      </object></annotation>""")
    rep = interchange.import_file(proj, "voc", out, options={"create_classes": True})
    assert not rep.refused, rep.lines()
    by_class = {c.id: c.name for c in proj.classes()}
    anns = {by_class[a.class_id]: a for a in proj.annotations(proj.assets()[0].id)}
    from labeldesk.core.groups import group_of, without_group
    assert without_group(anns["person"].attributes) == {"truncated": True, "pose": "Left", "action_jumping": True,
                                                        "action_phoning": False}
    assert anns["head"].geometry.bounds() == (20.0, 11.0, 40.0, 30.0)
    assert group_of(anns["head"]) and group_of(anns["head"]) == group_of(anns["person"])     # the part is kept
    exp = tmp_path / "exp"
    interchange.export(proj, "voc", exp, options={"split": "train=1"})
    assert (exp / "ImageSets/Main/train.txt").read_text().split() == ["a"]
    labelmap = (exp / "labelmap.txt").read_text().splitlines()
    assert labelmap[1].startswith("background:") and any(l.startswith("person:") for l in labelmap)
    # an existing class without those attributes: listed in the report, not dropped silently
    from labeldesk.core.project import Project
    other = Project.create(tmp_path / "o", "o", user_name="b")
    try:
        add_asset(other, "a.jpg", 200, 100)
        add_class(other, "person")
        add_class(other, "head")
        rep2 = interchange.import_file(other, "voc", out)
        assert any("truncated=True" in n.reason and "action_jumping=True" in n.reason for n in rep2.notes)
    finally:
        other.close()


@pytest.mark.parametrize("fmt", ["coco", "yolo", "yolo-seg", "yolo-obb", "voc", "cvat", "labelme", "label-studio"])
def test_every_image_format_round_trips_without_refusals(proj, tmp_path, fmt):
    a = add_asset(proj, "a.png", 120, 90)
    add_asset(proj, "empty.png", 30, 30)
    any_kind = add_class(proj, "thing", [{"key": "occluded", "type": "bool"}])
    m = np.zeros((20, 30), bool)
    m[2:18, 3:25] = True
    m[8:12, 8:12] = False
    for g in ({"kind": "box", "xyxy": [1, 2, 30, 40]}, {"kind": "rotated_box", "cxcywha": [60, 45, 20, 10, 30]},
              {"kind": "ellipse", "cxcyrxrya": [90, 20, 10, 6, 0]},
              {"kind": "polygon", "shell": [[5, 50], [40, 55], [20, 85]], "holes": [[[15, 60], [25, 62], [20, 70]]]},
              Mask.from_array(m, 60, 60).to_dict(), {"kind": "points", "points": [[3, 3], [9, 9]]},
              {"kind": "polyline", "points": [[100, 80], [110, 70]]}):
        annotate(proj, a, any_kind, g, attributes={"occluded": True})
    out = tmp_path / fmt
    rep = interchange.export(proj, fmt, out)
    assert rep.exported > 0
    back = interchange.import_file(proj, fmt, out, options={"layer": "back"})
    assert not back.refused, back.lines()
    assert back.imported == rep.exported - sum(1 for n in rep.notes if "one region per point" in n.reason)


def test_ct_slices_are_written_windowed_or_raw_16_bit(proj, tmp_path):
    from PIL import Image
    from labeldesk.core.importer import add_paths
    from labeldesk.core.samples.ct import write_ct_series
    write_ct_series(tmp_path / "ct", n_slices=3, size=32)
    ct = add_paths(proj, [tmp_path / "ct"]).added[0]
    c = add_class(proj, "liver")
    annotate(proj, ct.id, c, {"kind": "box", "xyxy": [2, 2, 20, 20]}, plane={"z": 1, "t": 0, "axis": "axial"})
    rep = interchange.export(proj, "coco", tmp_path / "w", options={"images": "png", "window": "abdomen"})
    assert not rep.refused, rep.lines()
    doc = json.loads((tmp_path / "w/annotations/instances_default.json").read_text())
    name = doc["images"][0]["file_name"]
    assert name.endswith("/axial_0001.png")
    png = Image.open(tmp_path / "w/images/default" / name)
    assert png.size == (32, 32) and png.mode == "L"
    rep = interchange.export(proj, "coco", tmp_path / "r", options={"images": "raw16"})
    raw = np.asarray(Image.open(tmp_path / "r/images/default" / name))
    stored = proj.open_source(ct.id).read_plane(Plane(z=1))
    shift = 32768 if stored.dtype.kind == "i" else 0
    assert raw.dtype == np.uint16 or raw.dtype == np.int32
    assert np.array_equal(raw.astype(np.int64), stored.astype(np.int64) + shift)
    back = interchange.import_file(proj, "coco", tmp_path / "w", options={"layer": "back"})
    assert not back.refused and back.imported == 1                    # the PNG names read back to the slice


def test_classifications_a_format_cannot_hold_are_listed(proj, tmp_path):
    from labeldesk.core import ids
    a = add_asset(proj, "a.png", 20, 20)
    day = add_class(proj, "daytime")
    car = add_class(proj, "car")
    annotate(proj, a, car, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    proj.apply(OpDraft("classification.add", ids.new_id(), {"scope": "asset", "asset_id": a,
                                                             "layer_id": proj.my_layer_id, "class_id": day}))
    rep = interchange.export(proj, "coco", tmp_path / "c.json")
    assert any("1 classification(s)" in n.reason and "not written" in n.reason for n in rep.notes)
    rep = interchange.export(proj, "cvat", tmp_path / "cvat")
    assert not any("classification(s)" in n.reason for n in rep.notes)
