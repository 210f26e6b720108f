from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.models.evaluation import evaluate
from labeldesk.core.ops import OpDraft

from conftest import add_class  # type: ignore[import-not-found]


def _box(project, asset, layer, cls, xyxy, score=None, model=None):
    ann = {"asset_id": asset, "layer_id": layer, "class_id": cls, "geometry": {"kind": "box", "xyxy": list(xyxy)}}
    if model:
        ann.update(score=score, source={"model": model, "version": "1", "score": score})
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": ann}))


@pytest.fixture
def scene(project, image_asset):
    cell, dog = add_class(project, "Cell"), add_class(project, "Dog")
    final = ids.new_id()
    preds = ids.new_id()
    project.apply_all([OpDraft("layer.create", final, {"layer": {"name": "final", "kind": "final"}}),
                       OpDraft("layer.create", preds, {"layer": {"name": "yolo 1", "kind": "predictions"}})])
    _box(project, image_asset, final, cell, (0, 0, 10, 10))
    _box(project, image_asset, final, cell, (50, 50, 60, 60))
    _box(project, image_asset, final, dog, (20, 20, 40, 40))
    _box(project, image_asset, preds, cell, (0, 0, 10, 11), 0.9, "yolo")      # TP
    _box(project, image_asset, preds, cell, (70, 10, 80, 20), 0.8, "yolo")    # FP
    _box(project, image_asset, preds, cell, (50, 50, 61, 60), 0.7, "yolo")    # TP
    _box(project, image_asset, preds, cell, (20, 20, 40, 41), 0.6, "yolo")    # right place, wrong class
    # a person's layer is not truth until it is approved
    _box(project, image_asset, project.my_layer_id, cell, (70, 10, 80, 20))
    return cell, dog


def test_per_class_precision_recall_ap_and_the_confusion_matrix(project, scene):
    ev = evaluate(project, "yolo")
    by = {c.name: c for c in ev.classes}
    cell, dog = by["Cell"], by["Dog"]
    assert (cell.truth, cell.predictions, cell.tp) == (2, 4, 2)
    assert cell.precision == 0.5 and cell.recall == 1.0 and cell.f1 == pytest.approx(2 / 3)
    assert cell.ap == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))
    assert [round(r, 3) for r, _p, _s in cell.curve] == [0.5, 0.5, 1.0, 1.0]
    assert (dog.truth, dog.predictions, dog.recall, dog.ap) == (1, 0, 0.0, 0.0)
    assert ev.map == pytest.approx((cell.ap + 0.0) / 2)
    assert ev.confusion == {"Cell": {"Cell": 2}, "Dog": {"Cell": 1}, "background": {"Cell": 1}}
    csv_text = ev.to_csv()
    assert csv_text.splitlines()[0] == "model,version,class,truth,predictions,tp,precision,recall,f1,ap"
    assert "yolo,1,Cell,2,4,2,0.5,1.0,0.666667,0.833333" in csv_text
    d = ev.to_dict()
    assert d["mAP"] == pytest.approx(0.416667) and d["classes"][0]["pr_curve"][0] == [0.5, 1.0, 0.9]


def test_a_score_threshold_and_a_named_truth_layer(project, scene):
    ev = evaluate(project, "yolo", "1", min_score=0.75)
    cell = next(c for c in ev.classes if c.name == "Cell")
    assert (cell.predictions, cell.tp) == (2, 1)
    mine = next(l.name for l in project.layers() if l.id == project.my_layer_id)
    ev = evaluate(project, "yolo", truth_layer=mine)
    cell = next(c for c in ev.classes if c.name == "Cell")
    assert (cell.truth, cell.tp) == (1, 1)


def test_no_predictions_or_no_truth_say_what_to_do(project, image_asset):
    with pytest.raises(LabeldeskError, match="run `labeldesk predict` first"):
        evaluate(project, "nothing")
    cell = add_class(project, "Cell")
    preds = ids.new_id()
    project.apply(OpDraft("layer.create", preds, {"layer": {"name": "p", "kind": "predictions"}}))
    _box(project, image_asset, preds, cell, (0, 0, 5, 5), 0.5, "m")
    with pytest.raises(LabeldeskError, match="no reviewed truth"):
        evaluate(project, "m")
