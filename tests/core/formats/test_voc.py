"""Pascal VOC: 1-based inclusive boxes round trip exactly; attributes; bad XML and objects."""
from __future__ import annotations

import pytest
from format_fixtures import add_asset, add_class, annotate, layer_named, shapes

from labeldesk.core import interchange
from labeldesk.core.errors import InputError

VOC = """<annotation>
  <filename>{name}</filename>
  <size><width>100</width><height>50</height><depth>3</depth></size>
  {objects}
</annotation>"""


def _obj(name, box, extra=""):
    x0, y0, x1, y1 = box
    return (f"<object><name>{name}</name>{extra}<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")


def test_round_trip_is_exact_and_one_based(proj, tmp_path):
    img = add_asset(proj, "img1.png", 640, 480)
    vol = add_asset(proj, "ct.nii.gz", 64, 64, kind="volume", depth=10)
    car = add_class(proj, "car", [{"key": "difficult", "type": "bool"}, {"key": "pose", "type": "text"},
                                  {"key": "colour", "type": "enum", "options": ["red", "blue"]},
                                  {"key": "tags", "type": "multi", "options": ["a", "b", "c"]},
                                  {"key": "seats", "type": "number"}])
    annotate(proj, img, car, {"kind": "box", "xyxy": [0, 0, 10, 20]},
             attributes={"difficult": True, "pose": "Left", "colour": "red", "tags": ["a", "c"], "seats": 4})
    annotate(proj, img, car, {"kind": "box", "xyxy": [1.1, 2.7, 21.2, 17.9]})
    annotate(proj, vol, car, {"kind": "box", "xyxy": [3, 4, 5, 6]}, plane={"z": 9, "t": 0, "axis": "axial"})
    annotate(proj, img, car, {"kind": "points", "points": [[1, 1]]})
    rep = interchange.export(proj, "voc", tmp_path / "voc")
    assert rep.exported == 3 and any("cannot hold a points" in i.reason for i in rep.refused)
    xml = (tmp_path / "voc/Annotations/img1.xml").read_text()
    assert "<xmin>1</xmin>" in xml and "<xmax>10</xmax>" in xml and "<difficult>1</difficult>" in xml
    assert (tmp_path / "voc/Annotations/ct.nii.gz/axial_0009.xml").exists()
    back = interchange.import_file(proj, None, tmp_path / "voc", options={"layer": "back"})
    assert back.fmt == "voc" and back.imported == 3 and not back.refused, back.lines()
    want = [s for s in shapes(proj, proj.my_layer_id) if s[3]["kind"] == "box"]
    assert shapes(proj, layer_named(proj, "back")) == want


def test_bad_objects_are_refused_and_the_rest_imported(proj, tmp_path):
    add_asset(proj, "a.jpg", 100, 50)
    add_class(proj, "dog")
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc/a.xml").write_text(VOC.format(name="a.jpg", objects="".join([
        _obj("dog", (1, 1, 10, 10)),
        _obj("cat", (1, 1, 10, 10)),
        _obj("dog", (1, "x", 10, 10)),
        "<object><name>dog</name></object>",
        _obj("dog", (200, 100, 300, 200)),
        _obj("dog", (90, 40, 120, 60)),
    ])))
    (tmp_path / "voc/b.xml").write_text(VOC.format(name="b.jpg", objects=_obj("dog", (1, 1, 5, 5))))
    rep = interchange.import_file(proj, "voc", tmp_path / "voc")
    assert rep.imported == 2
    text = "\n".join(map(str, rep.refused))
    assert "a.xml: object[1] (cat): class 'cat' is not in the ontology" in text
    assert "object[2] (dog): bad box: could not convert" in text
    assert "object[3] (dog): bad box: no <bndbox>" in text
    assert "object[4] (dog): the box lies wholly outside the 100x50 image" in text
    assert "b.xml: no asset named 'b.jpg'" in text and "1 object(s) were not imported" in text
    assert any("clipped" in n.reason for n in rep.notes)
    assert sorted(s[3]["xyxy"] for s in shapes(proj, proj.my_layer_id)) == [[0, 0, 10, 10], [89, 39, 100, 50]]


def test_malformed_xml_names_line_and_column(proj, tmp_path):
    path = tmp_path / "a.xml"
    path.write_text("<annotation>\n  <filename>a.jpg</filename>\n  <object><name>dog</object>\n</annotation>")
    with pytest.raises(InputError) as err:
        interchange.import_file(proj, "voc", path)
    assert "a.xml: malformed XML at line 3, column" in str(err.value)


def test_xml_entities_are_refused(proj, tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n'
                    "<annotation><filename>&lol2;</filename></annotation>")
    with pytest.raises(InputError) as err:
        interchange.import_file(proj, "voc", path)
    assert "bomb.xml: refused XML" in str(err.value)


def test_below_one_pixel_the_error_is_one_ulp_of_one(proj, tmp_path):
    img = add_asset(proj, "a.png", 64, 64)
    car = add_class(proj, "car")
    annotate(proj, img, car, {"kind": "box", "xyxy": [0.1, 0.7, 21.2, 17.9]})
    interchange.export(proj, "voc", tmp_path / "voc")
    interchange.import_file(proj, "voc", tmp_path / "voc", options={"layer": "back"})
    got = shapes(proj, layer_named(proj, "back"))[0][3]["xyxy"]
    assert got[2:] == [21.2, 17.9] and all(abs(a - b) <= 2.3e-16 for a, b in zip(got, [0.1, 0.7]))
