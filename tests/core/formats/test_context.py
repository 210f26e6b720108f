"""ImportContext: class resolution, attribute conversion, asset matching, repair and retry, layers."""
from __future__ import annotations

import json

from format_fixtures import add_asset, add_class, layer_named, shapes

from labeldesk.core import ids, interchange
from labeldesk.core.formats.context import coerce
from labeldesk.core.formats.matching import AssetIndex
from labeldesk.core.ops import OpDraft


def _coco(tmp_path, cat_names, anns, file_name="a.png"):
    path = tmp_path / f"in{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": file_name, "width": 64, "height": 48}],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(cat_names)],
        "annotations": [{"id": i, "image_id": 1, **a} for i, a in enumerate(anns)]}))
    return path


def test_merged_deprecated_ambiguous_and_restricted_classes(proj, tmp_path):
    add_asset(proj, "a.png")
    old, new = add_class(proj, "old"), add_class(proj, "new")
    proj.apply(OpDraft("ontology.class.merge", old, {"into": new}))
    gone = add_class(proj, "gone")
    proj.apply(OpDraft("ontology.class.update", gone, {"set": {"deprecated": True}}))
    p1, p2 = add_class(proj, "animal"), add_class(proj, "vehicle")
    for parent in (p1, p2):
        cid = add_class(proj, "small")
        proj.apply(OpDraft("ontology.class.update", cid, {"set": {"parent_id": parent}}))
    add_class(proj, "boxes only", kinds=["box"])
    box = {"bbox": [1, 1, 5, 5]}
    poly = {"segmentation": [[1, 1, 9, 1, 9, 9]]}
    rep = interchange.import_file(proj, "coco", _coco(tmp_path, ["old", "gone", "small", "vehicle/small", "boxes only"], [
        {"category_id": 1, **box}, {"category_id": 2, **box}, {"category_id": 3, **box}, {"category_id": 4, **box},
        {"category_id": 5, **poly}, {"category_id": 5, **box}]))
    assert rep.imported == 3
    assert any("class 'old' was merged into 'new'" in n.reason for n in rep.notes)
    text = "\n".join(map(str, rep.refused))
    assert "class 'gone' is deprecated" in text
    assert "class name 'small' is ambiguous (2 classes have it)" in text
    assert "class 'boxes only' allows ['box'], not polygon" in text
    assert sorted(s[2] for s in shapes(proj, proj.my_layer_id)) == ["boxes only", "new", "small"]


def test_attribute_values_are_converted_to_the_class_types():
    defs = ({"key": "ok", "type": "bool"}, {"key": "n", "type": "number"}, {"key": "tags", "type": "multi",
            "options": ["a", "b"]}, {"key": "col", "type": "enum", "options": ["red"]}, {"key": "is_big", "type": "bool"})
    values, problems = coerce(defs, {"ok": "yes", "n": "3", "tags": "a, b", "col": "blue", "is big": "0", "x": 1})
    assert values == {"ok": True, "n": 3, "tags": ["a", "b"], "is_big": False}
    assert len(problems) == 2 and "'col'='blue' dropped" in problems[0] and "'x' is not an attribute" in problems[1]


def test_asset_names_match_by_the_longest_path_tail(proj):
    a = add_asset(proj, "0001.jpg", source="/data/train/0001.jpg")
    b = add_asset(proj, "0001.jpg", source="/data/val/0001.jpg")
    add_asset(proj, "ct.nii.gz", kind="volume", depth=5)
    index = AssetIndex(proj)
    assert index.find("images/train/0001.jpg")[0].id == a
    assert index.find("val/0001.JPG")[0].id == b
    try:
        index.find("0001.jpg")
        raise AssertionError("an ambiguous name must not be guessed")
    except LookupError as exc:
        assert "matches 2 assets" in str(exc)
    asset, plane = index.find("ct.nii.gz/axial_0003")
    assert asset.name == "ct.nii.gz" and plane.z == 3
    try:
        index.find("ct.nii.gz/axial_0009")
        raise AssertionError("slice outside")
    except LookupError as exc:
        assert "slice 9 is outside" in str(exc)


def test_a_self_intersecting_polygon_is_repaired_on_the_retry(proj, tmp_path):
    add_asset(proj, "a.png")
    add_class(proj, "car")
    bowtie = {"segmentation": [[0, 0, 10, 10, 10, 0, 0, 10]], "category_id": 1}
    fine = {"bbox": [1, 1, 5, 5], "category_id": 1}
    rep = interchange.import_file(proj, "coco", _coco(tmp_path, ["car"], [fine, bowtie]))
    assert rep.imported == 3 and not rep.refused
    assert rep.by_kind == {"box": 1, "polygon": 2}        # the bow-tie's two triangles, one group
    assert any("self-intersecting" in n.reason and "instance group" in n.reason for n in rep.notes)


def test_layers_existing_new_and_undo(proj, tmp_path):
    add_asset(proj, "a.png")
    add_class(proj, "car")
    lid = ids.new_id()
    proj.apply(OpDraft("layer.create", lid, {"layer": {"name": "Review", "kind": "annotator"}}))
    src = _coco(tmp_path, ["car", "bus"], [{"bbox": [1, 1, 5, 5], "category_id": 1}, {"bbox": [1, 1, 5, 5], "category_id": 2}])
    rep = interchange.import_file(proj, "coco", src, options={"layer": "review"})
    assert rep.created_layers == [] and len(shapes(proj, lid)) == 1
    rep = interchange.import_file(proj, "coco", src, options={"layer": "fresh", "create_classes": True})
    assert rep.created_layers == ["fresh"] and rep.created_classes == ["bus"]
    fresh = layer_named(proj, "fresh")
    assert len(shapes(proj, fresh)) == 2
    interchange.undo_import(proj, rep)
    assert all(l.name != "fresh" for l in proj.layers())
    assert next(c for c in proj.classes() if c.name == "bus").deprecated
    assert len(shapes(proj, lid)) == 1                   # the earlier import stays
