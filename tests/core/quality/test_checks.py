from __future__ import annotations

import numpy as np

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.quality import arrays, checks
from tests.core.conftest import add_image_asset
from tests.core.quality.conftest import add_boxes, box_draft, make_class


def _by_check(found, name):
    return [f for f in found if f.check == name]


def test_duplicates_tiny_and_outliers(project):
    asset = add_image_asset(project, 400, 400)
    cls = make_class(project, "cell")
    normal = [(10 + 30 * k % 300, 10 + 7 * k % 300, 10 + 30 * k % 300 + 20 + k % 3, 10 + 7 * k % 300 + 20)
              for k in range(12)]
    ids_ = add_boxes(project, asset, cls, normal)
    dup = add_boxes(project, asset, cls, [(normal[0][0] + 0.2, normal[0][1], normal[0][2], normal[0][3] + 0.3)])[0]
    small = add_boxes(project, asset, cls, [(300, 300, 302, 340)])[0]
    big = add_boxes(project, asset, cls, [(0, 0, 390, 390)])[0]
    found = checks.run(project)
    d = _by_check(found, "duplicate")
    assert [f.annotation_id for f in d] in ([dup], [ids_[0]])
    assert "near-duplicate" in d[0].reason and "cell" in d[0].reason
    assert [f.annotation_id for f in _by_check(found, "tiny")] == [small]
    out = {f.annotation_id for f in _by_check(found, "outlier")}
    assert big in out and not out & set(ids_[1:])
    # thresholds matter: a lower tiny limit drops the tiny finding
    th = checks.Thresholds(tiny_px=1.0, tiny_area=1.0)
    assert not _by_check(checks.run(project, thresholds=th, only=["tiny"]), "tiny")


def test_waiver_is_an_op_and_hides_the_finding_until_undone(project):
    asset = add_image_asset(project, 100, 100)
    cls = make_class(project, "dot")
    add_boxes(project, asset, cls, [(5, 5, 6, 30)])
    [f] = checks.run(project, only=["tiny"])
    applied = project.apply(OpDraft("quality.waive", f.key, {"check": f.check, "subject": f.subject,
                                                              "note": "really that thin"}))
    assert checks.run(project, only=["tiny"]) == []
    assert len(checks.run(project, only=["tiny"], include_waived=True)) == 1
    project.apply(applied.inverse)                       # undo the waiver
    assert len(checks.run(project, only=["tiny"])) == 1
    assert [o.type for o in project.ops() if o.type.startswith("quality.")] == ["quality.waive"] * 2


def test_exclusive_overlap_imbalance_and_required_attributes(project):
    asset = add_image_asset(project, 200, 200)
    organ = make_class(project, "liver")
    bg = make_class(project, "air", attributes=[{"key": "side", "type": "enum", "options": ["l", "r"],
                                                 "required": True}])
    livers = add_boxes(project, asset, organ, [(10 + k, 10, 60 + k, 60) for k in range(0, 40, 4)] + [(120, 120, 150, 150)])
    [air] = add_boxes(project, asset, bg, [(130, 130, 160, 160)])
    th = checks.Thresholds(exclusive=[["liver", "air"]], imbalance_ratio=5, duplicate_iou=0.99)
    found = checks.run(project, thresholds=th)
    [ov] = _by_check(found, "overlap")
    assert ov.annotation_id == livers[-1] and air in ov.subject and "must not overlap" in ov.reason
    [imb] = _by_check(found, "imbalance")
    assert imb.subject == bg and "11× rarer than liver" in imb.reason
    [att] = _by_check(found, "attributes")
    assert att.annotation_id == air and "side" in att.reason
    project.apply(OpDraft("annotation.update", air, {"set": {"attributes": {"side": "l"}}}))
    assert not _by_check(checks.run(project, thresholds=th), "attributes")


def test_tracks_gaps_and_identity_switches(project):
    video = add_image_asset(project, 200, 200, frames=20, kind="video")
    car, bike = make_class(project, "car"), make_class(project, "bike")
    layer = project.my_layer_id
    tid = ids.new_id()
    drafts = [box_draft(video, layer, car, (10 + t, 10, 40 + t, 40), t=t, track=tid) for t in (0, 1, 2, 6, 7)]
    drafts.append(box_draft(video, layer, bike, (18, 10, 48, 40), t=8, track=tid))
    drafts.append(box_draft(video, layer, car, (150, 150, 180, 180), t=9, track=tid))
    project.apply_all(drafts)
    found = _by_check(checks.run(project, only=["track"]), "track")
    reasons = " | ".join(f.reason for f in found)
    assert "skips 3 frame(s)" in reasons
    assert "changes class from car to bike" in reasons
    assert "jumps" in reasons
    assert len(found) == 4          # gap, car->bike, bike->car, jump


def test_inconsistent_classes_across_slices(project):
    vol = add_image_asset(project, 64, 64, depth=5, kind="volume")
    a, b = make_class(project, "kidney"), make_class(project, "spleen")
    add_boxes(project, vol, a, [(10, 10, 30, 30)], z=1)
    add_boxes(project, vol, a, [(11, 10, 31, 30)], z=2)
    [odd] = add_boxes(project, vol, b, [(11, 11, 31, 31)], z=3)
    add_boxes(project, vol, b, [(40, 40, 50, 50)], z=4)           # elsewhere: fine
    [f] = checks.run(project, only=["slices"])
    assert f.annotation_id == odd and "continues kidney" in f.reason and f.plane["z"] == 3


def test_model_disagreement(project):
    asset = add_image_asset(project, 200, 200)
    cat, dog = make_class(project, "cat"), make_class(project, "dog")
    pred_layer = ids.new_id()
    project.apply(OpDraft("layer.create", pred_layer, {"layer": {"name": "model", "kind": "predictions"}}))
    [mine] = add_boxes(project, asset, cat, [(10, 10, 50, 50)])
    add_boxes(project, asset, dog, [(11, 10, 50, 51)], layer_id=pred_layer, score=0.97)
    add_boxes(project, asset, dog, [(100, 100, 140, 140)], layer_id=pred_layer, score=0.95)
    add_boxes(project, asset, cat, [(150, 150, 190, 190)], layer_id=pred_layer, score=0.3)   # not confident
    found = checks.run(project, only=["model"])
    assert len(found) == 2
    wrong = next(f for f in found if f.annotation_id == mine)
    assert "the model says dog with 0.97" in wrong.reason
    assert any("possibly missed" in f.reason for f in found)


def test_outside_on_arrays():
    a = arrays.AnnotationArrays(
        ids=["in", "out", "slice"], asset=np.zeros(3, np.int32), layer=np.zeros(3, np.int32),
        cls=np.zeros(3, np.int32), axis=np.zeros(3, np.int8), z=np.array([0, 0, 7], np.int32),
        t=np.zeros(3, np.int32), kind=np.zeros(3, np.int8),
        box=np.array([[0, 0, 10, 10], [90, 90, 120, 100], [1, 1, 5, 5]], float),
        track=np.full(3, -1, np.int32), score=np.full(3, np.nan), asset_ids=["A"], asset_names=["a"],
        asset_size=np.array([[100, 100, 5, 1]]), asset_kind=["volume"], layer_ids=["L"],
        layer_kind=["annotator"], layer_names=["me"], class_ids=["c"], class_names=["c"])
    found = checks.outside(a, checks.Thresholds())
    assert [f.annotation_id for f in found] == ["out", "slice"]
    assert "20.0 px beyond" in found[0].reason and "has 5 slice(s)" in found[1].reason


def test_pairs_by_key_matches_a_plain_join():
    rng = np.random.default_rng(1)
    ka, kb = rng.integers(0, 20, 300), rng.integers(0, 20, 250)
    i, j = arrays.pairs_by_key(ka, kb)
    got = sorted(zip(i.tolist(), j.tolist()))
    want = sorted((x, y) for x in range(300) for y in range(250) if ka[x] == kb[y])
    assert got == want


def test_records_fold_incrementally_and_refold_when_out_of_order(project):
    from labeldesk.core.quality import records
    a = add_image_asset(project)
    project.apply(OpDraft("quality.tag", a, {"set": {"site": "A"}}))
    first = records.load(project.conn)
    assert records.load(project.conn) is first and first.tags[a] == {"site": "A"}
    project.apply(OpDraft("quality.tag", a, {"set": {"site": "B"}}))
    assert records.load(project.conn).tags[a] == {"site": "B"}
    records._CACHE[id(project.conn)].last_key = (10 ** 15,)    # as if a later op had been folded
    project.apply(OpDraft("quality.tag", a, {"set": {"source": "x"}}))
    assert records.load(project.conn).tags[a] == {"site": "B", "source": "x"}


def test_near_pairs_matches_brute_force():
    rng = np.random.default_rng(4)
    n_a, n_b = 400, 300
    ka, kb = rng.integers(0, 3, n_a), rng.integers(0, 3, n_b)

    def boxes(n):
        xy = rng.uniform(0, 500, (n, 2))
        wh = rng.uniform(2, 40, (n, 2))
        wh[:5] = 400                                    # a few big ones take the plane-wide path
        return np.hstack([xy, xy + wh])
    ba, bb = boxes(n_a), boxes(n_b)
    i, j = arrays.near_pairs(ka, ba, kb, bb)
    got = sorted(zip(i.tolist(), j.tolist()))
    want = sorted((x, y) for x in range(n_a) for y in range(n_b) if ka[x] == kb[y]
                  and min(ba[x, 2], bb[y, 2]) >= max(ba[x, 0], bb[y, 0])
                  and min(ba[x, 3], bb[y, 3]) >= max(ba[x, 1], bb[y, 1]))
    assert got == want and len(want) > 100
