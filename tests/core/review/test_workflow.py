from __future__ import annotations

import pytest
from review_team import add_team, box

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.ops import Op, OpDraft, get_op_type
from labeldesk.core.review import adjudication, assignment, workflow
from labeldesk.core.review.roles import authorisation_problem
from labeldesk.core.store import oplog


def _state(project, asset_id, layer_id):
    return workflow.item_state(project.conn, asset_id, layer_id)


def _merge_foreign(project, op: Op) -> None:
    """What a sync merge does with another device's op: check roles, log it, materialise it."""
    assert authorisation_problem(project.conn, op) is None
    with project.transaction() as conn:
        oplog.append(conn, op, outbox=False)
        get_op_type(op.type).apply(conn, op, None)


def _foreign_decision(project, user, asset_id, layer_id, decision, rev, reason=None, supersedes=()):
    return Op(op_id="dev2:000000000001", dev="dev2", seq=1, hlc=(1, 0), wall="2026-12-01T08:00:00.000Z",
              user=user, type="review.decide", entity=ids.new_id(),
              payload={"asset_id": asset_id, "layer_id": layer_id, "decision": decision, "target_rev": rev,
                       "supersedes": list(supersedes)}, reason=reason)


@pytest.fixture
def team(project):
    return add_team(project)


def test_layer_revision_changes_with_every_edit(project, image_asset, team):
    layer = project.my_layer_id
    assert workflow.layer_revision(project.conn, image_asset, layer) == workflow.EMPTY_REV
    ann = box(project, image_asset, layer, team["alice"])
    r1 = workflow.layer_revision(project.conn, image_asset, layer)
    project.apply(OpDraft("annotation.update", ann, {"set": {"attributes": {}}}))
    r2 = workflow.layer_revision(project.conn, image_asset, layer)
    project.apply(OpDraft("annotation.delete", ann, {}))
    r3 = workflow.layer_revision(project.conn, image_asset, layer)
    assert len({workflow.EMPTY_REV, r1, r2, r3}) == 4


def test_todo_in_progress_submitted_approved(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    assert _state(project, image_asset, task.layer_id).state == "todo"
    box(project, image_asset, task.layer_id, team["bob"])
    assert _state(project, image_asset, task.layer_id).state == "in_progress"
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "submitted"
    assert [q.layer_id for q in workflow.review_queue(project.conn)] == [task.layer_id]
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "approved" and "rita" in item.note
    assert workflow.review_queue(project.conn) == []


def test_return_needs_a_reason_and_goes_back_to_the_annotator(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    with pytest.raises(LabeldeskError, match="reason"):
        workflow.decide(project, image_asset, task.layer_id, "return", user=team["rita"])
    rev = workflow.layer_revision(project.conn, image_asset, task.layer_id)
    with pytest.raises(OpRejected, match="needs a reason"):      # the op type refuses it too
        project.apply(OpDraft("review.decide", ids.new_id(), {"asset_id": image_asset, "layer_id": task.layer_id,
                                                              "decision": "return", "target_rev": rev}), user=team["rita"])
    workflow.decide(project, image_asset, task.layer_id, "return", user=team["rita"], reason="box too loose")
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "returned" and "box too loose" in item.note
    box(project, image_asset, task.layer_id, team["bob"], (3, 3, 9, 9))
    assert _state(project, image_asset, task.layer_id).state == "in_progress"
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    assert _state(project, image_asset, task.layer_id).state == "submitted"
    # a second decision by the same reviewer supersedes the first: no dispute
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])
    assert _state(project, image_asset, task.layer_id).state == "approved"


def test_approval_goes_stale_when_the_layer_changes(project, image_asset, team):
    """docs/sync.md failure mode #17."""
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    ann = box(project, image_asset, task.layer_id, team["bob"])
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])
    project.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [2, 2, 8, 8]}}}),
                  user=team["bob"])
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "submitted" and item.stale and "stale" in item.note
    assert [q.state for q in workflow.review_queue(project.conn)] == ["submitted"]
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "approved" and not item.stale


def test_a_decision_on_a_revision_edited_concurrently_is_stale(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    old_rev = workflow.layer_revision(project.conn, image_asset, task.layer_id)
    box(project, image_asset, task.layer_id, team["bob"], (5, 5, 9, 9))        # edited meanwhile
    _merge_foreign(project, _foreign_decision(project, team["rex"], image_asset, task.layer_id, "approve", old_rev))
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "submitted" and item.stale


def test_concurrent_approve_and_return_is_disputed_until_adjudicated(project, image_asset, team):
    """docs/sync.md failure mode #16: neither decision wins by timestamp."""
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    ann = box(project, image_asset, task.layer_id, team["bob"])
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    rev = workflow.layer_revision(project.conn, image_asset, task.layer_id)
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])
    # rex returned the same revision on his device without having seen rita's approval
    _merge_foreign(project, _foreign_decision(project, team["rex"], image_asset, task.layer_id, "return", rev,
                                              reason="missed a lesion"))
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "disputed" and "rita" in item.note and "rex" in item.note
    assert workflow.asset_state(project.conn, image_asset).state == "disputed"
    assert [q.state for q in workflow.review_queue(project.conn)] == ["disputed"]
    # the derived state does not depend on the order the records arrived in
    recs = workflow.records(project.conn, image_asset)
    assert workflow._derive(recs, task.layer_id, rev)[0] == workflow._derive(recs[::-1], task.layer_id, rev)[0] == "disputed"
    # a reviewer cannot close it; an adjudicator can, with a reason
    with pytest.raises(OpRejected):
        adjudication.adjudicate(project, image_asset, reason="x", user=team["rita"], from_layer=task.layer_id)
    with pytest.raises(LabeldeskError, match="reason"):
        adjudication.adjudicate(project, image_asset, reason=" ", user=team["ada"], from_layer=task.layer_id)
    adjudication.adjudicate(project, image_asset, reason="lesion is an artefact", user=team["ada"],
                            from_layer=task.layer_id)
    item = _state(project, image_asset, task.layer_id)
    assert item.state == "adjudicated" and "artefact" in item.note
    final = next(l for l in project.layers() if l.kind == "final")
    [copy] = project.annotations(image_asset, layer_id=final.id)
    assert copy.geometry.to_dict() == project.annotation(ann).geometry.to_dict()
    create = next(o for o in project.ops(copy.id) if o.type == "annotation.create")
    assert create.payload["annotation"]["source"]["annotation_id"] == ann      # provenance in the log
    assert workflow.review_queue(project.conn) == []


def test_fix_and_approve_copies_into_the_final_layer_once(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    box(project, image_asset, task.layer_id, team["bob"], (10, 10, 20, 20))
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    workflow.decide(project, image_asset, task.layer_id, "fix_approve", user=team["rita"])
    final = next(l for l in project.layers() if l.kind == "final")
    assert len(project.annotations(image_asset, layer_id=final.id)) == 2
    assert _state(project, image_asset, task.layer_id).state == "approved"
    # the reviewer fixes in the final layer (a reviewer may write the final layer)
    fixed = project.annotations(image_asset, layer_id=final.id)[0]
    project.apply(OpDraft("annotation.update", fixed.id, {"set": {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}),
                  user=team["rita"])
    # an annotator may not
    with pytest.raises(OpRejected, match="final layer"):
        box(project, image_asset, final.id, team["bob"])
    # fix-and-approve again replaces the earlier copies instead of doubling them
    workflow.decide(project, image_asset, task.layer_id, "fix_approve", user=team["rex"])
    assert len(project.annotations(image_asset, layer_id=final.id)) == 2


def test_dual_labeling_needs_adjudication_per_object(project, add_asset, team):
    a1, a2 = add_asset(project), add_asset(project)
    made = assignment.assign(project, [a1, a2], per_asset=2)
    assert len(made) == 4
    for asset_id in (a1, a2):
        assert len({m.user_id for m in made if m.asset_id == asset_id}) == 2
    tasks = [m for m in made if m.asset_id == a1]
    chosen = []
    for t, xyxy in zip(tasks, ((1, 1, 10, 10), (2, 2, 12, 12))):
        chosen.append(box(project, a1, t.layer_id, t.user_id, xyxy))
        workflow.submit(project, a1, t.layer_id, user=t.user_id)
    summary = workflow.asset_state(project.conn, a1)
    assert summary.dual and summary.needs_adjudication
    assert any(q.layer_id is None and q.state == "needs_adjudication" for q in workflow.review_queue(project.conn))
    adjudication.adjudicate(project, a1, reason="took the tighter box", user=team["ada"], annotation_ids=[chosen[1]])
    summary = workflow.asset_state(project.conn, a1)
    assert summary.state == "adjudicated" and not summary.needs_adjudication
    final = next(l for l in project.layers() if l.kind == "final")
    [copy] = project.annotations(a1, layer_id=final.id)
    assert copy.geometry.to_dict()["xyxy"] == [2, 2, 12, 12]
    # a later edit of a source layer re-opens that layer
    box(project, a1, tasks[0].layer_id, tasks[0].user_id, (4, 4, 6, 6))
    assert workflow.asset_state(project.conn, a1).state != "adjudicated"


def test_round_robin_and_per_asset_limits(project, add_asset, team):
    assets = [add_asset(project) for _ in range(6)]
    made = assignment.assign(project, assets)              # annotators: alice, bob, carol
    counts = {}
    for m in made:
        counts[m.user_name] = counts.get(m.user_name, 0) + 1
    assert counts == {"alice": 2, "bob": 2, "carol": 2}
    assert assignment.assign(project, assets) == []        # already assigned: nothing new
    with pytest.raises(LabeldeskError, match="only 3"):
        assignment.assign(project, assets, per_asset=4)
    # each annotator's assignments use their own layer
    for m in made:
        layer = next(l for l in project.layers() if l.id == m.layer_id)
        assert layer.owner == m.user_id and layer.kind == "annotator"


def test_visible_layers_blind_until_review(project, image_asset, team):
    t_bob, t_carol = assignment.assign(project, [image_asset], to=[team["bob"], team["carol"]])
    box(project, image_asset, t_bob.layer_id, team["bob"])
    box(project, image_asset, t_carol.layer_id, team["carol"])
    assert assignment.visible_layers(project, team["bob"], image_asset) == [t_bob.layer_id]
    assert set(assignment.visible_layers(project, team["rita"], image_asset)) >= {t_bob.layer_id, t_carol.layer_id}
    workflow.submit(project, image_asset, t_bob.layer_id, user=team["bob"])
    workflow.decide(project, image_asset, t_bob.layer_id, "approve", user=team["rita"])
    assert t_carol.layer_id in assignment.visible_layers(project, team["bob"], image_asset)
    assert assignment.visible_layers(project, team["carol"], image_asset) == [t_carol.layer_id]


def test_unassign_is_a_tombstone(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    assert assignment.unassign(project, image_asset, team["bob"]) == 1
    assert assignment.assignments(project.conn, image_asset) == []
    with pytest.raises(LabeldeskError):
        assignment.unassign(project, image_asset, team["bob"])


def test_a_later_disagreeing_reviewer_also_disputes_and_cannot_overrule(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    workflow.submit(project, image_asset, task.layer_id, user=team["bob"])
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])
    workflow.decide(project, image_asset, task.layer_id, "return", user=team["rex"], reason="wrong class")
    assert _state(project, image_asset, task.layer_id).state == "disputed"
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rita"])      # insisting
    assert _state(project, image_asset, task.layer_id).state == "disputed"
    workflow.decide(project, image_asset, task.layer_id, "approve", user=team["rex"])       # rex changes his mind
    assert _state(project, image_asset, task.layer_id).state == "approved"


def test_review_op_inverses(project, image_asset, team):
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    draft = OpDraft("task.assign", ids.new_id(), {"asset_id": image_asset, "user_id": team["bob"],
                                                   "layer_id": task.layer_id, "mode": "manual"})
    applied = project.apply(draft)
    assert len(assignment.assignments(project.conn, image_asset)) == 2
    project.apply(applied.inverse)
    assert [a.id for a in assignment.assignments(project.conn, image_asset)] == [task.id]
    # records are never deleted by undo: their inverse is None
    box(project, image_asset, task.layer_id, team["bob"])
    assert workflow.submit(project, image_asset, task.layer_id, user=team["bob"]).inverse is None
    with pytest.raises(OpRejected, match="not an annotator layer of that user"):
        project.apply(OpDraft("task.assign", ids.new_id(), {"asset_id": image_asset, "user_id": team["carol"],
                                                             "layer_id": task.layer_id}))


def test_adjudication_per_item_replaces_the_final_layer_with_classifications(project, image_asset, team):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": "normal"}}))
    t_bob, t_carol = assignment.assign(project, [image_asset], to=[team["bob"], team["carol"]])
    box(project, image_asset, t_bob.layer_id, team["bob"])
    box(project, image_asset, t_carol.layer_id, team["carol"], (3, 3, 7, 7))
    box(project, image_asset, t_carol.layer_id, team["carol"], (30, 30, 40, 40))
    project.apply(OpDraft("classification.add", ids.new_id(), {"asset_id": image_asset, "layer_id": t_carol.layer_id,
                                                                "scope": "asset", "class_id": cid}), user=team["carol"])
    adjudication.adjudicate(project, image_asset, reason="bob", user=team["ada"], from_layer=t_bob.layer_id)
    adjudication.adjudicate(project, image_asset, reason="carol after all", user=team["ada"], from_layer=t_carol.layer_id)
    final = next(l for l in project.layers() if l.kind == "final")
    assert len(project.annotations(image_asset, layer_id=final.id)) == 2
    from labeldesk.core.op_types.classifications import classifications
    assert [c["class_id"] for c in classifications(project.conn, image_asset) if c["layer_id"] == final.id] == [cid]
    assert workflow.asset_state(project.conn, image_asset).state == "adjudicated"


def _record(i, kind, decision, rev, user, refs=(), sources=None):
    return workflow.Record(f"rec{i}", kind, "asset", "L" if kind != "adjudicate" else "F", decision, rev,
                           tuple(refs), {"sources": sources or {}}, user, user, "why", f"dev:{i:012d}", (1000 + i, 0))


def test_derived_state_does_not_depend_on_arrival_order():
    """Property: any permutation of the same records gives the same state (sync convergence)."""
    from hypothesis import given, settings, strategies as st

    @st.composite
    def record_sets(draw):
        recs = []
        last_by_user = {}
        for i in range(draw(st.integers(1, 7))):
            kind = draw(st.sampled_from(["submit", "decide", "decide", "adjudicate"]))
            rev = draw(st.sampled_from(["r1", "r2"]))
            user = draw(st.sampled_from(["rita", "rex"]))
            if kind == "submit":
                recs.append(_record(i, "submit", None, rev, "bob"))
            elif kind == "decide":
                refs = [last_by_user[user]] if user in last_by_user and draw(st.booleans()) else []
                recs.append(_record(i, "decide", draw(st.sampled_from(["approve", "fix_approve", "return"])), rev,
                                    user, refs))
                last_by_user[user] = f"rec{i}"
            else:
                closes = [r.id for r in recs if r.kind == "decide"]
                recs.append(_record(i, "adjudicate", draw(st.sampled_from(["accept", "return"])), None, "ada",
                                    closes, {"L": rev}))
        return recs, draw(st.permutations(range(len(recs)))), draw(st.sampled_from(["r1", "r2"]))

    @settings(max_examples=200, deadline=None)
    @given(record_sets())
    def check(case):
        recs, order, rev = case
        a = workflow._derive(recs, "L", rev)
        b = workflow._derive([recs[i] for i in order], "L", rev)
        assert (a[0], a[1], a[3], [d.id for d in a[2]]) == (b[0], b[1], b[3], [d.id for d in b[2]])

    check()
