"""labelme JSON: every shape type round trips exactly; foreign files, bad shapes and bad files."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
from format_fixtures import add_asset, add_class, annotate, close, layer_named, shapes
from PIL import Image

from labeldesk.core import interchange
from labeldesk.core.geometry import Mask


def _mask_dict():
    a = np.zeros((9, 12), bool)
    a[1:7, 2:5] = True
    a[8, 11] = True
    return Mask.from_array(a, 30, 20).to_dict()


def test_every_shape_type_round_trips_exactly(proj, tmp_path):
    img = add_asset(proj, "img1.png", 100, 80)
    video = add_asset(proj, "clip.mp4", 50, 40, kind="video", frames=10)
    c = add_class(proj, "thing", [{"key": "occluded", "type": "bool"}, {"key": "note", "type": "text"}])
    geoms = [
        {"kind": "box", "xyxy": [0.1, 0.7, 21.2, 17.9]},
        {"kind": "polygon", "shell": [[1.5, 1.25], [40.125, 2], [30, 40.3]]},
        {"kind": "ellipse", "cxcyrxrya": [50.3, 40.1, 7.7, 7.7, 0.0]},
        {"kind": "polyline", "points": [[1, 1], [20.5, 30.25]]},
        {"kind": "polyline", "points": [[1, 1], [20.5, 30.25], [60, 2]]},
        {"kind": "points", "points": [[3, 4]]},
        {"kind": "points", "points": [[3, 4], [10.5, 11.25], [20, 7]], "labels": ["a", "b", "c"]},
        _mask_dict(),
    ]
    for g in geoms:
        annotate(proj, img, c, g, attributes={"occluded": True, "note": "x"} if g["kind"] == "box" else None)
    annotate(proj, video, c, {"kind": "box", "xyxy": [1, 2, 3, 4]}, plane={"z": 0, "t": 7, "axis": "axial"})
    rep = interchange.export(proj, "labelme", tmp_path / "lm")
    assert rep.exported == 9 and not rep.refused and not rep.notes[1:]
    doc = json.loads((tmp_path / "lm/img1.json").read_text())
    assert doc["imagePath"] == "img1.png" and doc["imageWidth"] == 100
    assert {s["shape_type"] for s in doc["shapes"]} == {"rectangle", "polygon", "circle", "line", "linestrip",
                                                       "point", "mask"}
    assert next(s for s in doc["shapes"] if s["shape_type"] == "rectangle")["flags"] == {"occluded": True}
    assert (tmp_path / "lm/clip.mp4/frame_000007.json").exists()
    back = interchange.import_file(proj, None, tmp_path / "lm", options={"layer": "back"})
    assert back.fmt == "labelme" and back.imported == 9 and not back.refused, back.lines()
    got, want = shapes(proj, layer_named(proj, "back")), shapes(proj, proj.my_layer_id)
    assert [g for g in got if g[3]["kind"] != "ellipse"] == [g for g in want if g[3]["kind"] != "ellipse"]
    # a circle's radius is stored as a point on it: exact where cx + r keeps every bit of r
    assert close([g for g in got if g[3]["kind"] == "ellipse"], [g for g in want if g[3]["kind"] == "ellipse"], 1e-13)


def test_converted_shapes_are_noted(proj, tmp_path):
    img = add_asset(proj, "a.png", 100, 80)
    c = add_class(proj, "thing")
    annotate(proj, img, c, {"kind": "rotated_box", "cxcywha": [50, 40, 20, 10, 30]})
    annotate(proj, img, c, {"kind": "polygon", "shell": [[0, 0], [50, 0], [50, 50], [0, 50]],
                            "holes": [[[10, 10], [20, 10], [20, 20]]]})
    rep = interchange.export(proj, "labelme", tmp_path / "a.json")
    assert rep.exported == 2 and (tmp_path / "a.json").is_file()
    reasons = [n.reason for n in rep.notes]
    assert any("rotated_box written as a polygon" in r for r in reasons)
    assert any("1 hole(s) left out" in r for r in reasons)


def _png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8) * 255).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_foreign_files_and_bad_shapes(proj, tmp_path):
    add_asset(proj, "IMG_1.jpeg", 100, 80, source="/data/img/IMG_1.jpeg")
    add_class(proj, "cat")
    (tmp_path / "in/ann").mkdir(parents=True)
    shapes_in = [
        {"label": "cat", "points": [[30, 40], [10, 20]], "shape_type": "rectangle", "group_id": None, "flags": {}},
        {"label": "cat", "points": [[1, 1], [5, 5]], "shape_type": "polygon"},              # 2 points
        {"label": "dog", "points": [[1, 1], [5, 5]], "shape_type": "rectangle"},            # unknown class
        {"label": "cat", "points": [[1, 1], [5, 5]], "shape_type": "spline"},               # unknown type
        {"label": "cat", "points": [[10, 10], [13, 11]], "shape_type": "mask",
         "mask": _png(np.ones((5, 5), bool))},                                              # wrong shape
        {"label": "cat", "points": [[10, 10], [14, 14]], "shape_type": "mask", "mask": _png(np.ones((5, 5), bool))},
        {"label": "cat", "points": [[500, 500]], "shape_type": "point"},                    # outside
        {"label": "cat", "points": [[10, 12], [20, 22], [30, 12], [20, 2]], "shape_type": "rotation"},
    ]
    (tmp_path / "in/ann/IMG_1.json").write_text(json.dumps({
        "version": "5.5.0", "shapes": shapes_in, "imagePath": "../img/IMG_1.jpeg", "imageData": None,
        "imageWidth": 100, "imageHeight": 80}))
    (tmp_path / "in/ann/broken.json").write_text('{"shapes": [\n  {"label": "cat",\n  }]}')
    (tmp_path / "in/ann/other.json").write_text(json.dumps({"shapes": [shapes_in[0]], "imagePath": "nope.png"}))
    rep = interchange.import_file(proj, "labelme", tmp_path / "in")
    assert rep.imported == 3, rep.lines()
    text = "\n".join(map(str, rep.refused))
    assert "shapes[1] (cat): bad polygon: at least 3 point(s) needed, got 2" in text
    assert "shapes[2] (dog): class 'dog' is not in the ontology" in text
    assert "shapes[3] (cat): bad spline: unknown shape_type 'spline'" in text
    assert "shapes[4] (cat): bad mask: mask of the wrong shape: the PNG is 5x5, its box is 4x2" in text
    assert "shapes[6] (cat): the points lies wholly outside" in text
    assert "broken.json: malformed JSON at line 3, column 3" in text and "the file was skipped" in text
    assert "other.json: no asset named 'ann/nope.png'" in text
    kinds = sorted(s[3]["kind"] for s in shapes(proj, proj.my_layer_id))
    assert kinds == ["box", "mask", "rotated_box"]
    box = next(s[3] for s in shapes(proj, proj.my_layer_id) if s[3]["kind"] == "box")
    assert box["xyxy"] == [10, 20, 30, 40]


def test_points_in_every_form_json_gives(proj, tmp_path):
    """Points are read into arrays as they are decoded (formats/json_items.py); what is not n pairs of
    numbers keeps the per-point reading: the same shapes and the same refusals either way."""
    add_asset(proj, "a.png", 100, 80)
    add_class(proj, "cat")
    tri = [[10, 10], [50.5, 12], [30, 40.25]]
    shapes_in = [
        {"label": "cat", "points": tri, "shape_type": "polygon"},                             # ints and floats
        {"label": "cat", "points": [[str(x), str(y)] for x, y in tri], "shape_type": "polygon"},   # strings
        {"label": "cat", "points": [[x, y, 0] for x, y in tri], "shape_type": "polygon"},     # a third value
        {"label": "cat", "points": [[10, None], [50, 12], [30, 40]], "shape_type": "polygon"},
        {"label": "cat", "points": [[10, 10], [50, 12], [30, 40], [1]], "shape_type": "polygon"},
        {"label": "cat", "points": [[10, float("nan")], [50, 12], [30, 40]], "shape_type": "polygon"},
        {"label": "cat", "points": [[-10, 10], [50, 12], [30, 40]], "shape_type": "polygon"},   # clipped
        {"label": "cat", "points": [[1, 2], [20, 30.5]], "shape_type": "line"},
        {"label": "cat", "points": [[1, 2], [20, 30.5]], "shape_type": "rectangle"},
        {"label": "cat", "points": [[1, 2]], "shape_type": "point", "group_id": 4},
        {"label": "cat", "points": [[3, 4]], "shape_type": "point", "group_id": 4},
        {"label": "cat", "points": {"x": 1}, "shape_type": "polygon"},
    ]
    (tmp_path / "a.json").write_text(json.dumps({"shapes": shapes_in, "imagePath": "a.png"}))
    rep = interchange.import_file(proj, "labelme", tmp_path / "a.json")
    text = "\n".join(map(str, rep.refused))
    assert rep.imported == 7 and len(rep.refused) == 4, rep.lines()
    assert "shapes[3] (cat): bad polygon: float() argument must be a string or a real number, not 'NoneType'" in text
    assert "shapes[4] (cat): bad polygon: list index out of range" in text
    assert "shapes[5] (cat): polygon: coordinate is not finite" in text
    assert "shapes[11] (cat): bad polygon: " in text
    got = sorted((s[3]["kind"], json.dumps(s[3])) for s in shapes(proj, proj.my_layer_id))
    polys = [json.loads(g) for k, g in got if k == "polygon"]
    assert polys.count({"kind": "polygon", "shell": [[10.0, 10.0], [50.5, 12.0], [30.0, 40.25]]}) == 3
    assert any(min(x for x, _ in p["shell"]) == 0 for p in polys)               # the clipped one
    assert {k for k, _ in got} == {"polygon", "polyline", "box", "points"}
    assert json.loads(next(g for k, g in got if k == "points"))["points"] == [[1.0, 2.0], [3.0, 4.0]]
