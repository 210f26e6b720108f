"""Queue order by uncertainty and by disagreement between two models; values computed by hand."""
from __future__ import annotations

import math

import pytest

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core import predictions as P
from labeldesk.core.assist import prioritisation as Q
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Annotation, Plane
from labeldesk.core.geometry import Box
from labeldesk.core.ops import OpDraft


def _class(project, name):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name, "color": "#00ff00"}}))
    return cid


def _layer(project, name):
    lid = ids.new_id()
    project.apply(OpDraft("layer.create", lid, {"layer": {"name": name, "kind": "predictions"}}))
    return lid


def _pred(project, asset, layer, cls, xyxy, score, plane=None, **source):
    pid = ids.new_id()
    project.apply(OpDraft("annotation.create", pid, {"annotation": {
        "asset_id": asset, "layer_id": layer, "class_id": cls, "plane": plane or {},
        "geometry": {"kind": "box", "xyxy": list(xyxy)}, "score": score, "source": dict(source, model="m")}}))
    return pid


def test_per_prediction_measures():
    assert Q.least_confident(0.8) == pytest.approx(0.2)
    assert Q.least_confident(0.3, {"a": 0.3, "b": 0.6}) == pytest.approx(0.4)
    assert Q.margin(0.9) == pytest.approx(0.8)                 # {p, 1 - p}: |2p - 1|
    assert Q.margin(0.5, {"a": 0.5, "b": 0.3}) == pytest.approx(0.2)
    assert Q.entropy(0.5) == pytest.approx(1.0)
    assert Q.entropy(1.0) == 0.0
    assert Q.entropy(0.9) == pytest.approx(-(0.9 * math.log2(0.9) + 0.1 * math.log2(0.1)))
    # the rest of the mass is one more outcome: 0.5, 0.3, 0.2
    assert Q.entropy(0.5, {"a": 0.5, "b": 0.3}) == pytest.approx(0.5 + 0.52109 + 0.46439, abs=1e-4)
    # scores summing above 1 are normalised: 0.5, 0.5
    assert Q.entropy(None, {"a": 0.8, "b": 0.8}) == pytest.approx(1.0)


def _ann(xyxy, cls="c", plane=Plane()):
    return Annotation(ids.new_id(), "a", "l", cls, plane, Box(*xyxy))


def test_disagreement_by_hand():
    a = [_ann((0, 0, 10, 10), "cat"), _ann((20, 0, 30, 10), "dog")]
    b = [_ann((0, 0, 10, 5), "cat"), _ann((20, 0, 30, 10), "cat"), _ann((50, 50, 60, 60), "cat")]
    # matched: (dog, cat) IoU 1 (class differs: agrees 0) and (cat, cat) IoU 0.5; 2 + 3 - 2 = 3 items
    assert Q.disagreement(a, b) == pytest.approx(1 - 0.5 / 3)
    # at 0.6 only the class-mismatched pair matches: 2 + 3 - 1 = 4 items, none agree
    assert Q.disagreement(a, b, threshold=0.6) == pytest.approx(1.0)
    assert Q.disagreement(a, a) == pytest.approx(0.0)
    assert Q.disagreement([], []) is None
    # pairs never cross planes: the same box on another slice is two unmatched items
    assert Q.disagreement([_ann((0, 0, 10, 10))], [_ann((0, 0, 10, 10), plane=Plane(z=1))]) == 1.0
    # one-to-one: a second identical box on one side stays unmatched (1 - 1/2)
    assert Q.disagreement([_ann((0, 0, 10, 10)), _ann((0, 0, 10, 10))], [_ann((0, 0, 10, 10))]) == pytest.approx(0.5)


@pytest.fixture
def queue(project, add_asset):
    cat, dog = _class(project, "cat"), _class(project, "dog")
    m1 = _layer(project, "m1")
    A, B, C, D = (add_asset(project, 100, 100) for _ in range(4))
    _pred(project, A, m1, cat, (0, 0, 10, 10), 0.6)
    _pred(project, A, m1, dog, (0, 0, 10, 10), 0.5)        # overlaps the cat exactly: margin 0.1
    _pred(project, A, m1, cat, (50, 50, 60, 60), 0.95)
    b = _pred(project, B, m1, cat, (0, 0, 10, 10), 0.7)
    _pred(project, D, m1, cat, (0, 0, 10, 10), 0.5, scores={"cat": 0.5, "dog": 0.3})
    return project, {"A": A, "B": B, "C": C, "D": D}, b


def _order(items, names):
    back = {v: k for k, v in names.items()}
    return [(back[it.asset_id], None if it.value is None else round(it.value, 4)) for it in items]


def test_queue_by_least_confident_margin_entropy(queue):
    project, names, _ = queue
    # A: max(0.4, 0.5, 0.05) = 0.5; B: 0.3; D: 1 - 0.5 = 0.5 (tie with A: asset order); C: none
    assert _order(Q.order_queue(project, "least-confident"), names) == [("A", 0.5), ("D", 0.5), ("B", 0.3), ("C", None)]
    # A: min(0.1 group cat/dog, |2*0.95-1| = 0.9) = 0.1; D: 0.5 - 0.3 = 0.2; B: |2*0.7-1| = 0.4
    assert _order(Q.order_queue(project, "margin"), names) == [("A", 0.1), ("D", 0.2), ("B", 0.4), ("C", None)]
    # D: H(0.5, 0.3, 0.2) = 1.4855; A: H(0.5) = 1; B: H(0.7) = 0.8813
    assert _order(Q.order_queue(project, "entropy"), names) == [("D", 1.4855), ("A", 1.0), ("B", 0.8813), ("C", None)]
    # mean: A (0.4 + 0.5 + 0.05) / 3 = 0.3167
    assert _order(Q.order_queue(project, "least-confident", aggregate="mean"), names)[:3] == \
        [("D", 0.5), ("A", 0.3167), ("B", 0.3)]


def test_pending_only_drops_decided_predictions(queue):
    project, names, b = queue
    P.decide(project, [P.state_of(project, b)], "accept")
    items = Q.order_queue(project, "least-confident", pending_only=True)
    assert ("B", None) in _order(items, names)


def test_queue_by_planes(project, add_asset):
    cat = _class(project, "cat")
    m1 = _layer(project, "m1")
    vol = add_asset(project, 50, 50, depth=3, kind="volume")
    _pred(project, vol, m1, cat, (0, 0, 10, 10), 0.9, plane={"z": 0})
    _pred(project, vol, m1, cat, (0, 0, 10, 10), 0.6, plane={"z": 2})
    items = Q.order_queue(project, "least-confident", planes=True)
    assert [(it.plane.z, round(it.value, 4)) for it in items] == [(2, 0.4), (0, 0.1)]


def test_queue_by_disagreement(project, add_asset, capsys):
    cat, dog = _class(project, "cat"), _class(project, "dog")
    m1, m2 = _layer(project, "m1"), _layer(project, "m2")
    X, Y, Z, W = (add_asset(project, 100, 100) for _ in range(4))
    _pred(project, X, m1, cat, (0, 0, 10, 10), 0.9)
    _pred(project, X, m1, dog, (20, 0, 30, 10), 0.9)
    _pred(project, X, m2, cat, (0, 0, 10, 5), 0.9)
    _pred(project, X, m2, cat, (20, 0, 30, 10), 0.9)
    _pred(project, X, m2, cat, (50, 50, 60, 60), 0.9)
    _pred(project, Y, m1, cat, (0, 0, 10, 10), 0.9)
    _pred(project, Y, m2, cat, (0, 0, 10, 10), 0.4)
    _pred(project, Z, m1, cat, (0, 0, 10, 10), 0.9)
    names = {"X": X, "Y": Y, "Z": Z, "W": W}
    got = _order(Q.order_queue(project, "disagreement", ["m1", "m2"]), names)
    assert got == [("Z", 1.0), ("X", 0.8333), ("Y", 0.0), ("W", None)]
    with pytest.raises(LabeldeskError, match="exactly two"):
        Q.order_queue(project, "disagreement", ["m1"])
    with pytest.raises(LabeldeskError, match="IoU must be in"):
        Q.order_queue(project, "disagreement", ["m1", "m2"], threshold=1.5)
    root = str(project.root)
    project.close()
    assert main(["queue-order", root, "--by", "disagreement", "--layers", "m1", "m2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "disagreement 1.0000" in lines[0] and "disagreement 0.8333" in lines[1] and "no predictions" in lines[3]
    assert main(["queue-order", root, "--by", "entropy", "--layers", "nope"]) == 1
    assert "no predictions layer 'nope'" in capsys.readouterr().err


def test_no_predictions_layer_is_a_clear_error(project):
    with pytest.raises(LabeldeskError, match="no predictions layer"):
        Q.order_queue(project, "entropy")


def test_predictions_without_scores_give_no_value(queue, capsys):
    project, names, _ = queue
    m2 = _layer(project, "masks")
    cat = project.classes()[0].id
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": names["C"], "layer_id": m2, "class_id": cat, "plane": {},
        "geometry": {"kind": "mask", "bbox": [0, 0, 2, 2], "counts": [0, 4]}, "source": {"model": "unet"}}}))
    items = Q.order_queue(project, "least-confident")
    assert _order(items, names)[-1] == ("C", None) and items[-1].predictions == 1
    assert items[-1].detail == "no scores"
    root = str(project.root)
    project.close()
    assert main(["queue-order", root, "--by", "margin"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "no scores" in last and "1 prediction(s)" in last


def test_todo_only_leaves_out_what_was_submitted(queue):
    from labeldesk.core.review.workflow import submit
    project, names, b = queue
    P.decide(project, [P.state_of(project, b)], "accept")          # a copy in my layer on B
    submit(project, names["B"], project.my_layer_id)
    everything = [k for k, _ in _order(Q.order_queue(project, "entropy"), names)]
    todo = [k for k, _ in _order(Q.order_queue(project, "entropy", todo_only=True), names)]
    assert everything == ["D", "A", "B", "C"] and todo == ["D", "A", "C"]
