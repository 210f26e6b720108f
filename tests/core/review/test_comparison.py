"""Dual-label comparison over a project built through ops: two annotator layers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.review.comparison import compare_layers, compare_project, queue_by_agreement


def _class(project, name):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name}}))
    return cid


def _layer(project, name):
    uid, lid = ids.new_id(), ids.new_id()
    project.apply_all([OpDraft("user.add", uid, {"name": name}),
                       OpDraft("layer.create", lid, {"layer": {"name": name, "kind": "annotator", "owner": uid}})])
    return lid


def _ann(project, asset, layer, cls, geometry, plane=None):
    aid = ids.new_id()
    body = {"asset_id": asset, "layer_id": layer, "class_id": cls, "geometry": geometry}
    if plane:
        body["plane"] = plane
    project.apply(OpDraft("annotation.create", aid, {"annotation": body}))
    return aid


def _box(x0, y0, x1, y1):
    return {"kind": "box", "xyxy": [x0, y0, x1, y1]}


def _square_mask(x, y, size):
    a = np.zeros((y + size, x + size), bool)
    a[y:y + size, x:x + size] = True
    return Mask.from_array(a).to_dict()


def _classify(project, asset, layer, cls):
    project.apply(OpDraft("classification.add", ids.new_id(),
                          {"asset_id": asset, "layer_id": layer, "scope": "asset", "class_id": cls}))


@pytest.fixture
def dual(project, add_asset):
    lesion, cyst = _class(project, "lesion"), _class(project, "cyst")
    alice, bob = project.my_layer_id, _layer(project, "bob")
    a1, a2, a3, a4 = (add_asset(project) for _ in range(4))
    ids_ = {}
    ids_["a_l1"] = _ann(project, a1, alice, lesion, _box(10, 10, 30, 30))
    ids_["a_c1"] = _ann(project, a1, alice, cyst, _box(50, 10, 70, 30))
    ids_["a_l2"] = _ann(project, a1, alice, lesion, {"kind": "polygon", "shell": [[10, 50], [40, 50], [25, 75]]})
    ids_["b_l1"] = _ann(project, a1, bob, lesion, _box(12, 10, 32, 30))
    ids_["b_l3"] = _ann(project, a1, bob, lesion, _box(50, 10, 70, 30))
    ids_["b_far"] = _ann(project, a1, bob, lesion, _box(80, 60, 90, 70))
    ids_["b_low"] = _ann(project, a1, bob, lesion, _box(30, 60, 45, 79))      # overlaps a_l2 a little
    _classify(project, a1, alice, lesion)
    _classify(project, a1, bob, lesion)
    # a2: the same box, but the whole-asset classification differs
    _ann(project, a2, alice, lesion, _box(5, 5, 25, 25))
    _ann(project, a2, bob, lesion, _box(5, 5, 25, 25))
    _classify(project, a2, alice, cyst)
    _classify(project, a2, bob, lesion)
    # a3: only alice has worked on it
    _ann(project, a3, alice, lesion, _box(5, 5, 25, 25))
    # a4: masks 20x20, bob's shifted 2 px -> Dice 0.9
    _ann(project, a4, alice, cyst, _square_mask(10, 10, 20))
    _ann(project, a4, bob, cyst, _square_mask(12, 10, 20))
    # a volume with spacing (sx, sy, sz) = (0.5, 0.5, 2.0): masks on slices 1 and 2
    vol = ids.new_id()
    project.apply(OpDraft("asset.add", vol, {"asset": {
        "kind": "volume", "name": "ct", "content_hash": "sha256:" + vol, "width": 40, "height": 40,
        "depth": 4, "spacing": [0.5, 0.5, 2.0]}}))
    for z in (1, 2):
        _ann(project, vol, alice, lesion, _square_mask(10, 10, 10), {"z": z})
        _ann(project, vol, bob, lesion, _square_mask(11, 10, 10), {"z": z})
    return dict(project=project, lesion=lesion, cyst=cyst, alice=alice, bob=bob,
                assets=(a1, a2, a3, a4, vol), ids=ids_)


def test_pair_report_counts_matches_and_coverage(dual):
    rep = compare_project(dual["project"], iou=0.5)
    [pair] = rep.pair_rows()
    assert (pair["layer_a"], pair["layer_b"]) == ("alice", "bob")
    assert pair["assets_compared"] == 4 and pair["assets_only_a"] == 1 and pair["assets_only_b"] == 0
    # a1: 1 match + 1 class mismatch; a2: 1; a4: 1; volume: 2 slices -> 5 matches
    assert pair["matched"] == 5 and pair["class_mismatch"] == 1
    assert pair["n_a"] == 3 + 1 + 1 + 2 and pair["n_b"] == 4 + 1 + 1 + 2
    assert pair["precision"] == pytest.approx(5 / 8) and pair["recall"] == pytest.approx(5 / 7)
    assert pair["mask_dice"] == pytest.approx(np.mean([0.9, 0.9, 0.9]))
    assert pair["class_percent"] == pytest.approx(0.5) and pair["class_units"] == 2


def test_item_rows_per_plane(dual):
    rep = compare_project(dual["project"])
    a1 = [r for r in rep.item_rows() if r["asset_id"] == dual["assets"][0]]
    assert len(a1) == 1
    r = a1[0]
    assert r["plane"] == "axial 1" and r["plane_key"] == "axial:0:0" and r["matched"] == 1 and r["class_mismatch"] == 1
    assert r["low_iou"] == 1 and r["unmatched_a"] == 1 and r["unmatched_b"] == 2
    assert r["mean_iou"] == pytest.approx(360 / 440)
    assert r["f1"] == pytest.approx(2 / 7) and r["score"] == pytest.approx(2 / 7)
    masks = [x for x in rep.item_rows() if x["asset_id"] == dual["assets"][3]][0]
    assert masks["mask_dice"] == pytest.approx(0.9) and masks["mask_hd95_mm"] > 0
    assert masks["masks"]["cyst"]["hausdorff"] == pytest.approx(2.0)
    vol = [x for x in rep.item_rows() if x["asset_id"] == dual["assets"][4]]
    assert [x["plane"] for x in vol] == ["axial 2", "axial 3"]
    # in-plane spacing 0.5 mm: a 1-pixel shift is 0.5 mm
    assert vol[0]["masks"]["lesion"]["hausdorff"] == pytest.approx(0.5)


def test_volume_masks_in_3d_with_spacing(dual):
    rep = compare_project(dual["project"])
    [v] = rep.volume_rows()
    assert v["class"] == "lesion" and v["frame"] == 1          # time points count from 1 for people
    assert v["dice"] == pytest.approx(0.9)
    assert v["hausdorff"] == pytest.approx(0.5)
    assert v["volume_a"] == pytest.approx(2 * 100 * 0.5 * 0.5 * 2.0)


def test_class_rows(dual):
    rows = {(r["class"]): r for r in compare_project(dual["project"]).class_rows()}
    les, cy = rows["lesion"], rows["cyst"]
    assert les["n_a"] == 2 + 1 + 2 and les["n_b"] == 4 + 1 + 2       # a3 is not compared
    assert les["matched"] == 4 and les["class_mismatch"] == 1
    assert les["f1"] == pytest.approx(8 / 12)
    assert cy["n_a"] == 2 and cy["n_b"] == 1 and cy["matched"] == 1 and cy["class_mismatch"] == 1
    assert cy["mask_dice"] == pytest.approx(0.9)


def test_classification_statistics(dual):
    stats = compare_project(dual["project"]).classification_stats()
    assert stats["units"] == 2
    assert stats["percent"].value == pytest.approx(0.5)
    [pc] = stats["pairs"]
    assert pc.confusion.sum() == 2 and pc.percent.value == pytest.approx(0.5)
    assert math.isnan(pc.kappa.value) or -1 <= pc.kappa.value <= 1
    assert stats["alpha"].n == 2


def test_queue_lowest_agreement_first(dual):
    q = queue_by_agreement(dual["project"])
    a1, a2, a3, a4, vol = dual["assets"]
    order = [(e.asset_id, e.plane.key() if e.plane else None) for e in q]
    assert order[0] == (a2, None) and q[0].score == 0.0 and "classification differs" in q[0].reason
    assert "cyst vs lesion" in q[0].reason
    assert order[1] == (a1, "axial:0:0") and q[1].score == pytest.approx(2 / 7)
    assert "1 class mismatch" in q[1].reason
    rest = {o for o in order[2:]}
    assert rest == {(a4, "axial:0:0"), (vol, "axial:1:0"), (vol, "axial:2:0")}
    assert all(e.score == pytest.approx(0.9) for e in q[2:])
    assert a3 not in {e.asset_id for e in q}         # only one layer worked on it
    assert [e.score for e in q] == sorted(e.score for e in q)


def test_compare_layers_for_the_overlay(dual):
    p, ids_ = dual["project"], dual["ids"]
    cmp = compare_layers(p, dual["assets"][0], dual["alice"], dual["bob"], iou=0.5)
    st = cmp.status
    assert st[ids_["a_l1"]] == st[ids_["b_l1"]] == "matched"
    assert st[ids_["a_c1"]] == st[ids_["b_l3"]] == "class_mismatch"
    assert st[ids_["a_l2"]] == st[ids_["b_low"]] == "low_iou"
    assert st[ids_["b_far"]] == "unmatched"
    assert cmp.ids("unmatched") == {ids_["b_far"]}
    assert len(cmp.pairs) == 3
    # a stricter threshold turns the near match into a low-IoU pair
    strict = compare_layers(p, dual["assets"][0], dual["alice"], dual["bob"], iou=0.9)
    assert strict.status[ids_["a_l1"]] == "low_iou"
    # one plane only
    other = compare_layers(p, dual["assets"][0], dual["alice"], dual["bob"], plane=Plane(z=0, t=0))
    assert other.status == st
    with pytest.raises(LabeldeskError, match="no layer"):
        compare_layers(p, dual["assets"][0], dual["alice"], "nope")
    with pytest.raises(LabeldeskError, match="IoU"):
        compare_layers(p, dual["assets"][0], dual["alice"], dual["bob"], iou=1.5)


def test_layer_selection_and_errors(dual, tmp_path):
    p = dual["project"]
    rep = compare_project(p, layers=["bob", dual["alice"]])
    assert [l.name for l in rep.layers] == ["bob", "alice"]
    assert rep.pair_rows()[0]["n_a"] == 8
    with pytest.raises(LabeldeskError, match="no layer named"):
        compare_project(p, layers=["alice", "zed"])
    with pytest.raises(LabeldeskError, match="twice"):
        compare_project(p, layers=["alice", "alice"])
    with pytest.raises(LabeldeskError, match="two layers"):
        compare_project(p, layers=["alice"])


def test_three_layers_varying_raters(dual):
    p = dual["project"]
    carol = _layer(p, "carol")
    _classify(p, dual["assets"][1], carol, dual["cyst"])
    rep = compare_project(p)
    assert len(rep.pairs()) == 3
    stats = rep.classification_stats()
    # a1: alice, bob (carol missing); a2: all three -> Fleiss on a2 only, alpha on both
    assert stats["fleiss"].n == 1 and stats["alpha"].n == 2
    d = rep.to_dict()
    assert len(d["pairs"]) == 3 and d["classification"]["units"] == 2


# ---- the `labeldesk metrics` command ------------------------------------------------------------
def _cli(dual, capsys, *args):
    from labeldesk.cli import main
    p = dual["project"]
    root = str(p.root)
    p.close()
    code = main(["metrics", root, "-q", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_table(dual, capsys):
    code, out, _ = _cli(dual, capsys)
    assert code == 0
    assert "Layer pairs" in out and "Classes" in out and "Items (asset + plane)" in out
    assert "Volumes (3-D masks)" in out and "Review queue (lowest agreement first)" in out
    assert "alice" in out and "bob" in out
    queue = out.split("Review queue")[1]
    assert "classification differs: cyst vs lesion" in queue
    assert "Cohen's kappa" in out and "Krippendorff's alpha (nominal)" in out


def test_cli_json_file(dual, capsys, tmp_path):
    import json
    out_json = tmp_path / "m.json"
    code, _, err = _cli(dual, capsys, "--format", "json", "-o", str(out_json), "--iou", "0.9")
    assert code == 0 and "wrote json" in err
    data = json.loads(out_json.read_text())
    assert data["iou_threshold"] == 0.9
    # at 0.9 only the identical boxes match: the 0.82 boxes and the 0.82-IoU masks do not
    assert data["pairs"][0]["matched"] == 1 and data["pairs"][0]["low_iou"] == 5
    assert {"plane": "asset", "score": 0.0} in [{k: q[k] for k in ("plane", "score")} for q in data["queue"]]
    assert [q["score"] for q in data["queue"]] == sorted(q["score"] for q in data["queue"])
    assert {"pairs", "classes", "items", "volumes", "classification", "queue"} <= set(data)


def test_cli_csv_and_queue_and_errors(dual, capsys, tmp_path):
    import csv
    from labeldesk.cli import main
    root = str(dual["project"].root)
    code, out, _ = _cli(dual, capsys, "--format", "csv", "--layers", "alice", "bob")
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    tables = {r["table"] for r in rows}
    assert tables == {"pair", "class", "item", "volume", "queue"}     # no attributes in this project
    pair = [r for r in rows if r["table"] == "pair"][0]
    assert pair["layer_a"] == "alice" and float(pair["f1"]) == pytest.approx(10 / 15)
    assert main(["metrics", root, "-q", "--queue", "--format", "csv"]) == 0
    q = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {r["table"] for r in q} == {"queue"} and len(q) == 5
    assert main(["metrics", root, "-q", "--layers", "alice", "nobody"]) == 1
    assert "no layer named or with id 'nobody'" in capsys.readouterr().err
    assert main(["metrics", root, "-q", "--layers", "alice"]) == 1
    assert "at least two layers" in capsys.readouterr().err
    assert main(["metrics", root, "-q", "-o", str(tmp_path / "no" / "such" / "dir" / "x.csv")]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_attribute_agreement_on_matched_pairs(project, add_asset, capsys):
    from labeldesk.core.review.agreement import cohen_kappa, krippendorff_alpha
    grades = ["1", "2", "3", "4", "5"]
    nod = ids.new_id()
    project.apply(OpDraft("ontology.class.create", nod, {"class": {"name": "nodule", "attributes": [
        {"key": "grade", "type": "enum", "options": grades},
        {"key": "size", "type": "number"},
        {"key": "note", "type": "text"},
        {"key": "signs", "type": "multi", "options": ["spic", "calc"]}]}}))
    alice, bob = project.my_layer_id, _layer(project, "bob")
    asset = add_asset(project, width=400, height=100)
    data = [("1", "1", 10, 11, ["spic"], ["spic"]), ("2", "3", 12, 12, [], ["calc"]),
            ("3", "3", 20, 19, ["calc", "spic"], ["spic", "calc"]), ("4", "5", 30, None, [], [])]
    for k, (ga, gb, sa, sb, ma, mb) in enumerate(data):
        box = _box(10 + 90 * k, 10, 60 + 90 * k, 60)
        attrs_a = {"grade": ga, "size": sa, "note": "x", "signs": ma}
        attrs_b = {"grade": gb, "note": "y", "signs": mb, **({"size": sb} if sb is not None else {})}
        for layer, attrs in ((alice, attrs_a), (bob, attrs_b)):
            project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                "asset_id": asset, "layer_id": layer, "class_id": nod, "geometry": box, "attributes": attrs}}))
    # one more pair that matches in shape but not in class: only counted by matched_class_kappa
    other = _class(project, "other")
    _ann(project, asset, alice, other, _box(370, 70, 395, 95))
    _ann(project, asset, bob, nod, _box(370, 70, 395, 95))
    rep = compare_project(project)
    rows = {r["attribute"]: r for r in rep.attribute_rows()}
    assert set(rows) == {"grade", "size", "signs"}             # text is not compared
    g = rows["grade"]
    assert g["n"] == 4 and g["percent"] == pytest.approx(0.5) and "quadratic" in g["statistic"]
    assert g["value"] == pytest.approx(cohen_kappa(["1", "2", "3", "4"], ["1", "3", "3", "5"],
                                                   "quadratic", labels=grades).value)
    s = rows["size"]
    assert s["n"] == 3 and "interval" in s["statistic"]
    assert s["value"] == pytest.approx(krippendorff_alpha([[10, 11], [12, 12], [20, 19], [30, None]], "interval").value)
    m = rows["signs"]
    assert m["n"] == 4 and m["percent"] == pytest.approx(3 / 4)    # order inside a multi does not matter
    [pair] = rep.pair_rows()
    assert pair["matched"] == 4 and pair["class_mismatch"] == 1
    # classes of the 5 shape pairs: A nodule x4 + other, B nodule x5 -> po = pe = 0.8, kappa 0
    assert pair["matched_class_kappa"] == pytest.approx(0.0)
    assert rep.to_dict()["attributes"][0]["class"] == "nodule"
    from labeldesk.cli import main
    root = str(project.root)
    project.close()
    assert main(["metrics", root, "-q"]) == 0
    out = capsys.readouterr().out
    table = out.split("Attributes on matched shapes")[1]
    assert "grade" in table and "Cohen's kappa (quadratic)" in table and "interval" in table


def test_cli_asset_lists_each_annotation_status(dual, capsys):
    import json
    from labeldesk.cli import main
    ids_ = dual["ids"]
    code, out, _ = _cli(dual, capsys, "--asset", dual["assets"][0], "--format", "json")
    assert code == 0
    data = json.loads(out)
    by_id = {r["annotation_id"]: r for r in data["annotations"]}
    assert by_id[ids_["a_l1"]]["status"] == "matched" and by_id[ids_["a_l1"]]["partner"] == ids_["b_l1"]
    assert by_id[ids_["a_l1"]]["iou"] == pytest.approx(360 / 440, abs=1e-6)
    assert by_id[ids_["b_l3"]]["status"] == "class_mismatch"
    assert by_id[ids_["a_l2"]]["status"] == "low_iou" and by_id[ids_["b_far"]]["status"] == "unmatched"
    assert by_id[ids_["b_far"]]["partner"] is None
    root = str(dual["project"].root)
    assert main(["metrics", root, "--asset", dual["assets"][0]]) == 0
    text = capsys.readouterr().out
    assert "alice vs bob at IoU 0.5 - annotations 2 matched, 2 class_mismatch, 2 low_iou, 1 unmatched" in text
    assert main(["metrics", root, "--asset", "missing.png"]) == 1
    assert "no asset named or with id 'missing.png'" in capsys.readouterr().err


def test_several_classes_on_one_unit_are_rated_as_their_combination(dual):
    p, a2 = dual["project"], dual["assets"][1]
    _classify(p, a2, dual["alice"], dual["lesion"])          # alice: cyst + lesion, bob: lesion
    rep = compare_project(p)
    q = queue_by_agreement(p, report=rep)
    assert q[0].asset_id == a2 and q[0].plane is None
    assert q[0].reason in ("classification differs: cyst+lesion vs lesion",
                           "classification differs: lesion+cyst vs lesion")
    cats = rep.to_dict()["classification"]["pairs"][0]["categories"]
    assert any("+" in c and "cyst" in c for c in cats)


def test_surface_dice_tolerance_reaches_the_report_and_cli(dual, capsys):
    import json
    p = dual["project"]
    # the volume's masks are 1 px = 0.5 mm apart in-plane
    assert compare_project(p, tolerance=0.0).volume_rows()[0]["surface_dice"] < 1.0
    assert compare_project(p, tolerance=0.5).volume_rows()[0]["surface_dice"] == 1.0
    with pytest.raises(LabeldeskError, match="tolerance"):
        compare_project(p, tolerance=-1)
    code, out, _ = _cli(dual, capsys, "--format", "json", "--tolerance", "0.5")
    data = json.loads(out)
    assert code == 0 and data["surface_dice_tolerance_mm"] == 0.5
    assert data["volumes"][0]["surface_dice"] == 1.0 and data["volumes"][0]["tolerance_mm"] == 0.5


def test_video_tracks_identity_switches(project, add_asset, capsys):
    lesion = _class(project, "car")
    alice, bob = project.my_layer_id, _layer(project, "bob")
    video = add_asset(project, width=200, height=100, frames=6, kind="video")
    t_a, t_b1, t_b2 = ids.new_id(), ids.new_id(), ids.new_id()
    for f in range(4):
        box = _box(10 + 10 * f, 10, 40 + 10 * f, 40)
        for layer, track in ((alice, t_a), (bob, t_b1 if f < 2 else t_b2)):
            project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                "asset_id": video, "layer_id": layer, "class_id": lesion, "geometry": box,
                "plane": {"t": f}, "track_id": track}}))
    # frame 4: only alice
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": video, "layer_id": alice, "class_id": lesion, "geometry": _box(60, 10, 90, 40),
        "plane": {"t": 4}, "track_id": t_a}}))
    rep = compare_project(project)
    [t] = rep.track_rows()
    assert t["frames_compared"] == 5 and t["tracks_a"] == 1 and t["tracks_b"] == 2
    assert t["id_switches"] == 1
    assert t["mean_f1"] == pytest.approx(4 / 5) and t["mean_iou"] == pytest.approx(1.0)
    from labeldesk.cli import main
    root = str(project.root)
    project.close()
    assert main(["metrics", root, "-q"]) == 0
    out = capsys.readouterr().out
    assert "Video tracks" in out and "ID switches" in out
