"""The predictions panel: model -> view (rows, statuses) and view -> model (accept, reject, sort)."""
from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core import predictions as P
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "proj", "t", user_name="alice")
    yield p
    p.close()


def _asset(project, name):
    aid = ids.new_id()
    project.apply(OpDraft("asset.add", aid, {"asset": {"kind": "image", "name": name, "content_hash": "sha256:" + aid,
                                                       "width": 100, "height": 100}},
                          local={"locator": {"reader": "raster", "path": "/nowhere.png"}}))
    return aid


def _pred(project, asset, layer, cls, x, score):
    pid = ids.new_id()
    project.apply(OpDraft("annotation.create", pid, {"annotation": {
        "asset_id": asset, "layer_id": layer, "class_id": cls, "plane": {},
        "geometry": {"kind": "box", "xyxy": [x, 0, x + 10, 10]}, "score": score,
        "source": {"model": "yolo", "version": "8", "score": score}}}))
    return pid


@pytest.fixture
def panel(qtbot, project):
    from labeldesk.qt.panels.prediction_panel import PredictionPanel
    cat = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cat, {"class": {"name": "cat", "color": "#ff0000"}}))
    layer = ids.new_id()
    project.apply(OpDraft("layer.create", layer, {"layer": {"name": "yolo", "kind": "predictions"}}))
    a, b = _asset(project, "a.png"), _asset(project, "b.png")
    preds = [_pred(project, a, layer, cat, 0, 0.9), _pred(project, a, layer, cat, 30, 0.4),
             _pred(project, b, layer, cat, 0, 0.5)]
    w = PredictionPanel()
    qtbot.addWidget(w)
    w.set_project(project)
    w.set_asset(a)
    return w, project, a, b, preds


def test_rows_show_score_model_and_status(panel):
    w, project, a, b, preds = panel
    texts = [w.list.item(i).text() for i in range(w.list.count())]
    assert texts == ["cat · box · 0.90 · yolo 8 · pending", "cat · box · 0.40 · yolo 8 · pending"]
    assert w.count.text() == "2 predictions: 2 pending"


def test_accept_and_reject_buttons_write_ops(panel, qtbot):
    from PySide6 import QtCore
    w, project, a, b, preds = panel
    w.list.item(0).setSelected(True)
    with qtbot.waitSignal(w.sig_changed):
        qtbot.mouseClick(w.accept_button, QtCore.Qt.MouseButton.LeftButton)
    assert P.state_of(project, preds[0]).status == "accepted"
    assert w.list.item(0).text().endswith("· accepted")
    w.list.item(1).setSelected(True)
    w.reason.setText("a shadow")
    qtbot.mouseClick(w.reject_button, QtCore.Qt.MouseButton.LeftButton)
    st = P.state_of(project, preds[1])
    assert st.status == "rejected" and st.reasons == ["a shadow"]
    assert w.count.text() == "2 predictions: 1 accepted, 1 rejected"


def test_accept_above_threshold_and_sort_queue(panel, qtbot):
    w, project, a, b, preds = panel
    w.min_score.setValue(0.8)
    w.accept_above.click()
    assert [P.state_of(project, p).status for p in preds] == ["accepted", "pending", "pending"]
    with qtbot.waitSignal(w.sig_queue_ordered) as blocker:
        w.sort.setCurrentIndex(w.sort.findData("least-confident"))
    # a: max(1 - 0.9, 1 - 0.4) = 0.6; b: 0.5
    assert blocker.args[0] == [a, b]
    assert "first: a.png (0.600)" in w.queue_info.text()


def test_decisions_go_through_the_given_apply(qtbot, project):
    from labeldesk.qt.panels.prediction_panel import PredictionPanel
    layer = ids.new_id()
    project.apply(OpDraft("layer.create", layer, {"layer": {"name": "m", "kind": "predictions"}}))
    a = _asset(project, "a.png")
    pid = _pred(project, a, layer, None, 0, 0.7)
    seen = []
    w = PredictionPanel(apply_drafts=lambda drafts, text: (seen.append(text), project.apply_all(drafts)))
    qtbot.addWidget(w)
    w.set_project(project)
    w.set_asset(a)
    w.list.item(0).setSelected(True)
    w.decide_selected("accept")
    assert seen == ["Accept 1 prediction(s)"] and P.state_of(project, pid).status == "accepted"
