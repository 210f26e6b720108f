"""Model pre-labels: provenance, accept / edit / reject, derived status, CLI."""
from __future__ import annotations

import itertools
import json

import pytest

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core import predictions as P
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project


def _class(project, name):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name, "color": "#00ff00"}}))
    return cid


def _layer(project, name, kind="predictions"):
    lid = ids.new_id()
    project.apply(OpDraft("layer.create", lid, {"layer": {"name": name, "kind": kind}}))
    return lid


def _predict(project, asset, layer, cls, xyxy, score, model="detr", version="1.2", entity=None, **extra):
    pid = entity or ids.new_id()
    ann = {"asset_id": asset, "layer_id": layer, "class_id": cls, "plane": {},
           "geometry": {"kind": "box", "xyxy": list(xyxy)}, "score": score,
           "source": {"model": model, "version": version, "score": score, **extra}}
    project.apply(OpDraft("annotation.create", pid, {"annotation": ann}))
    return pid


@pytest.fixture
def setup(project, add_asset):
    asset = add_asset(project, 200, 100)
    cat, dog = _class(project, "cat"), _class(project, "dog")
    layer = _layer(project, "detr")
    return project, asset, cat, dog, layer


def _state(project, pid):
    return P.state_of(project, pid)


def test_provenance_is_written_only_for_model_output(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.7, scores={"cat": 0.7, "dog": 0.2})
    prov = P.provenance(project.conn, pid)
    assert (prov.model, prov.version, prov.score, prov.origin) == ("detr", "1.2", 0.7, "model")
    assert prov.class_scores == {"cat": 0.7, "dog": 0.2}
    # a plain annotation drawn by a person has none
    plain = ids.new_id()
    project.apply(OpDraft("annotation.create", plain, {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "class_id": cat, "plane": {},
        "geometry": {"kind": "box", "xyxy": [0, 0, 5, 5]}}}))
    assert P.provenance(project.conn, plain) is None
    # a score alone (COCO results without a model name) is provenance too
    bare = ids.new_id()
    project.apply(OpDraft("annotation.create", bare, {"annotation": {
        "asset_id": asset, "layer_id": layer, "class_id": cat, "plane": {},
        "geometry": {"kind": "box", "xyxy": [0, 0, 5, 5]}, "score": 0.25}}))
    assert P.provenance(project.conn, bare).score == 0.25 and P.provenance(project.conn, bare).model is None


@pytest.mark.parametrize("bad", ["high", float("nan"), True])
def test_bad_scores_are_refused_and_nothing_is_written(setup, bad):
    project, asset, cat, dog, layer = setup
    before = project.counts()["annotations"]
    with pytest.raises((OpRejected, ValueError)):
        _predict(project, asset, layer, cat, (10, 10, 50, 50), bad)
    assert project.counts()["annotations"] == before
    assert project.conn.execute("SELECT COUNT(*) FROM annotation_provenance").fetchone()[0] == 0


def test_accept_copies_into_my_layer_and_edits_are_measured(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.8)
    assert _state(project, pid).status == "pending"
    P.decide(project, [_state(project, pid)], "accept")
    st = _state(project, pid)
    assert st.status == "accepted"
    (copy, ch), = st.copies
    assert copy.layer_id == project.my_layer_id and copy.id != pid
    assert copy.geometry.to_dict() == {"kind": "box", "xyxy": [10.0, 10.0, 50.0, 50.0]}
    prov = P.provenance(project.conn, copy.id)
    assert (prov.origin, prov.prediction_id, prov.model, prov.score) == ("accepted", pid, "detr", 0.8)
    assert (ch.iou, ch.edited) == (1.0, False)
    # a person halves the box: IoU 800 / 1600 = 0.5
    project.apply(OpDraft("annotation.update", copy.id, {"set": {"geometry": {"kind": "box", "xyxy": [10, 10, 50, 30]}}}))
    st = _state(project, pid)
    (_, ch), = st.copies
    assert st.status == "edited"
    assert ch.iou == pytest.approx(0.5) and ch.geometry_changed and not ch.class_changed
    project.apply(OpDraft("annotation.update", copy.id, {"set": {"class_id": dog}}))
    (_, ch), = _state(project, pid).copies
    assert ch.class_changed and not ch.attributes_changed
    # the prediction itself is untouched
    assert project.annotation(pid).geometry.to_dict()["xyxy"] == [10.0, 10.0, 50.0, 50.0]


def test_accept_with_edit_records_the_original(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (0, 0, 40, 40), 0.55)
    pred = project.annotation(pid)
    project.apply_all(P.accept_drafts(project, pred, class_id=dog, geometry={"kind": "box", "xyxy": [0, 0, 40, 20]}))
    st = _state(project, pid)
    (copy, ch), = st.copies
    assert st.status == "edited" and copy.class_id == dog
    assert ch.class_changed and ch.iou == pytest.approx(0.5)
    assert P.provenance(project.conn, copy.id).original["class_id"] == cat


def test_reject_with_reason_and_undo_redo(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.3)
    report = P.decide(project, [_state(project, pid)], "reject", reason="background, not a cat")
    st = _state(project, pid)
    assert st.status == "rejected" and st.reasons == ["background, not a cat"]
    redo = [a.inverse for a in reversed(project.apply_all(report.undo))]
    assert _state(project, pid).status == "pending"
    project.apply_all(redo)
    assert _state(project, pid).status == "rejected"
    # decision records are never rewritten
    n = project.conn.execute("SELECT COUNT(*) FROM prediction_decisions").fetchone()[0]
    assert n == 3
    with pytest.raises(LabeldeskError, match="append-only"):
        with project.transaction() as conn:
            conn.execute("UPDATE prediction_decisions SET decision = 'accept'")


def test_undo_of_accept_returns_to_pending_and_redo_accepts_again(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.9)
    report = P.decide(project, [_state(project, pid)], "accept")
    copy_id = _state(project, pid).copies[0][0].id
    redo = [a.inverse for a in reversed(project.apply_all(report.undo))]
    assert _state(project, pid).status == "pending"
    assert project.annotation(copy_id).deleted
    project.apply_all(redo)
    st = _state(project, pid)
    assert st.status == "accepted" and st.copies[0][0].id == copy_id


def test_deleting_an_accepted_copy_counts_as_rejection(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.9)
    P.decide(project, [_state(project, pid)], "accept")
    project.apply(OpDraft("annotation.delete", _state(project, pid).copies[0][0].id, {}))
    assert _state(project, pid).status == "rejected"


def test_accept_needs_a_linked_copy_and_an_annotator_layer(setup):
    project, asset, cat, dog, layer = setup
    pid = _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.9)
    unrelated = ids.new_id()
    project.apply(OpDraft("annotation.create", unrelated, {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "class_id": cat, "plane": {},
        "geometry": {"kind": "box", "xyxy": [0, 0, 5, 5]}}}))
    with pytest.raises(OpRejected, match="not a copy"):
        project.apply(OpDraft("prediction.accept", ids.new_id(), {"prediction_id": pid, "copy_id": unrelated}))
    with pytest.raises(LabeldeskError, match="holds predictions"):
        P.accept_drafts(project, project.annotation(pid), layer)


def test_bulk_accept_above_a_threshold_skips_what_is_decided(setup):
    project, asset, cat, dog, layer = setup
    hi = _predict(project, asset, layer, cat, (0, 0, 10, 10), 0.9)
    mid = _predict(project, asset, layer, cat, (20, 0, 30, 10), 0.6)
    lo = _predict(project, asset, layer, dog, (40, 0, 50, 10), 0.3)
    chosen = P.select(P.predictions(project), min_score=0.5)
    assert {s.prediction.id for s in chosen} == {hi, mid}
    report = P.decide(project, chosen, "accept")
    assert sorted(report.decided) == sorted([hi, mid])
    again = P.decide(project, P.select(P.predictions(project), min_score=0.5), "accept")
    assert again.decided == [] and len(again.skipped) == 2
    status = {s.prediction.id: s.status for s in P.predictions(project)}
    assert status == {hi: "accepted", mid: "accepted", lo: "pending"}
    assert len(project.annotations(asset, layer_id=project.my_layer_id)) == 2


def _replica(tmp_path, name, fixed):
    project = Project.create(tmp_path / name, name, user_name="alice")
    asset, cat, layer = fixed["asset"], fixed["cat"], fixed["layer"]
    project.apply(OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "a.png", "content_hash": "sha256:1",
                                                         "width": 100, "height": 100}},
                          local={"locator": {"reader": "raster", "path": "/nowhere.png"}}))
    project.apply(OpDraft("ontology.class.create", cat, {"class": {"name": "cat", "color": "#ff0000"}}))
    project.apply(OpDraft("layer.create", layer, {"layer": {"name": "m", "kind": "predictions"}}))
    project.apply(OpDraft("layer.create", fixed["mine"], {"layer": {"name": "bob", "kind": "annotator"}}))
    _predict(project, asset, layer, cat, (10, 10, 50, 50), 0.5, entity=fixed["pred"])
    return project


def test_status_does_not_depend_on_the_order_records_arrive(tmp_path):
    fixed = {k: ids.new_id() for k in ("asset", "cat", "layer", "mine", "pred", "copy", "acc", "rej", "ret")}
    copy = OpDraft("annotation.create", fixed["copy"], {"annotation": {
        "asset_id": fixed["asset"], "layer_id": fixed["mine"], "class_id": fixed["cat"], "plane": {},
        "geometry": {"kind": "box", "xyxy": [10, 10, 50, 50]}, "source": {"prediction_id": fixed["pred"]}}})
    groups = {
        "accept": [copy, OpDraft("prediction.accept", fixed["acc"], {"prediction_id": fixed["pred"], "copy_id": fixed["copy"]})],
        "reject": [OpDraft("prediction.reject", fixed["rej"], {"prediction_id": fixed["pred"], "reason": "no"})],
        "retract": [OpDraft("prediction.retract", fixed["ret"], {"target": fixed["acc"], "prediction_id": fixed["pred"]})],
    }
    seen = set()
    for i, order in enumerate(itertools.permutations(groups)):
        project = _replica(tmp_path, f"r{i}", fixed)
        try:
            for name in order:
                project.apply_all(groups[name])
            st = P.state_of(project, fixed["pred"])
            seen.add((st.status, tuple(st.reasons), len(st.copies)))
        finally:
            project.close()
    # the accept is retracted, whichever came first: the rejection stands everywhere
    assert seen == {("rejected", ("no",), 0)}


def test_cli_lists_accepts_and_rejects(setup, capsys):
    project, asset, cat, dog, layer = setup
    hi = _predict(project, asset, layer, cat, (0, 0, 10, 10), 0.9)
    lo = _predict(project, asset, layer, dog, (40, 0, 50, 10), 0.2)
    root = str(project.root)
    project.close()
    assert main(["predictions", root]) == 0
    out = capsys.readouterr().out
    assert f"{hi}" in out and "score 0.900" in out and "detr 1.2" in out and "2 pending" in out
    assert main(["predictions", "accept", root, "--min-score", "0.5"]) == 0
    assert "accepted 1 prediction" in capsys.readouterr().out
    assert main(["predictions", "reject", root, lo, "--reason", "a shadow"]) == 0
    capsys.readouterr()
    assert main(["predictions", root, "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[hi]["status"] == "accepted" and rows[hi]["copies"][0]["iou"] == 1.0
    assert rows[lo]["status"] == "rejected" and rows[lo]["reasons"] == ["a shadow"]
    assert main(["predictions", "accept", root]) == 1          # nothing chosen: refuses to guess
    assert "--min-score" in capsys.readouterr().err
    assert main(["predictions", root, "--status", "rejected"]) == 0
    assert lo in capsys.readouterr().out
    Project.open(root).close()


def test_coco_results_import_feeds_the_predictions_list(setup, tmp_path):
    """The COCO results importer writes score and source; they come back as provenance."""
    interchange = pytest.importorskip("labeldesk.core.interchange")
    project, asset, cat, dog, layer = setup
    name = project.asset(asset).name
    path = tmp_path / "results.json"
    path.write_text(json.dumps([
        {"image_id": name, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.91},
        {"image_id": name, "category_id": 2, "bbox": [100, 10, 20, 20], "score": 0.35}]))
    report = interchange.import_file(project, "coco-results", path, options={"model": "detr", "model_version": "2"})
    assert not report.refused
    states = [s for s in P.predictions(project) if s.prediction.layer_id != layer]
    assert sorted((s.score, s.provenance.model, s.provenance.version, s.status) for s in states) == \
        [(0.35, "detr", "2", "pending"), (0.91, "detr", "2", "pending")]
    P.decide(project, P.select(states, min_score=0.9), "accept")
    accepted = [s for s in P.predictions(project) if s.status == "accepted"]
    assert len(accepted) == 1 and accepted[0].copies[0][0].class_id == cat
