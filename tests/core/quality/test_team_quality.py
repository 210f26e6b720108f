"""Tags, batches, saved filters, assignment by filter, gold scoring and qualification, audits."""
from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.ops import OpDraft
from labeldesk.core.quality import audits, gold, organisation, records, selection
from labeldesk.core.review import assignment, workflow
from tests.core.conftest import add_image_asset
from tests.core.quality.conftest import add_boxes, make_class

TEAM = {"bob": ("annotator",), "carol": ("annotator",), "rita": ("reviewer",), "rex": ("reviewer",)}


def add_team(project):
    out = {"alice": project.user_id}
    drafts = []
    for name, roles in TEAM.items():
        uid = ids.new_id()
        out[name] = uid
        drafts.append(OpDraft("user.add", uid, {"name": name}))
        drafts += [OpDraft("role.grant", uid, {"role": r}, reason="team") for r in roles]
    project.apply_all(drafts)
    return out


def own_layer(project, uid):
    return next(l.id for l in project.layers() if l.owner == uid and l.kind == "annotator")


def test_tags_batches_filters_and_undo(project):
    a, b, c = (add_image_asset(project) for _ in range(3))
    organisation.set_tags(project, [a, b], {"site": "A", "complexity": "high"})
    applied = organisation.set_tags(project, [c], {"site": "B"})
    recs = records.load(project.conn)
    assert recs.tags[a] == {"site": "A", "complexity": "high"} and recs.tags[c] == {"site": "B"}
    assert selection.select(project, selection.parse_terms(["tag:site=A"])) == [a, b]
    assert selection.select(project, selection.parse_terms(["tag:complexity"])) == [a, b]
    project.apply(applied[0].inverse)                          # undo: c loses its tag
    assert c not in records.load(project.conn).tags or not records.load(project.conn).tags[c]
    organisation.save_batch(project, "pilot", [a, c])
    assert selection.select(project, {"batch": "pilot"}) == [a, c]
    organisation.save_batch(project, "pilot", [b])             # same name: the batch is replaced
    assert selection.select(project, {"batch": "pilot"}) == [b]
    organisation.save_view(project, "hard ones", selection.parse_terms(["tag:complexity=high", "order:name"]), "queue")
    flt = organisation.view_filter(project, "hard ones")
    assert flt == {"tag": {"complexity": "high"}, "order": "name"}
    with pytest.raises(LabeldeskError, match="bad filter term"):
        selection.parse_terms(["colour:red"])
    with pytest.raises(OpRejected, match="kind must be"):
        project.apply(OpDraft("quality.view", ids.new_id(), {"name": "x", "kind": "pile", "filter": {}}))
    with pytest.raises(OpRejected, match="no asset"):
        project.apply(OpDraft("quality.tag", "nope", {"set": {"k": "v"}}))
    assert organisation.tag_counts(project) == {"site": {"A": 2}, "complexity": {"high": 2}}


def test_annotator_may_tag_but_not_waive_or_define_batches(project):
    team = add_team(project)
    a = add_image_asset(project)
    organisation.set_tags(project, [a], {"source": "scanner 2"}, user=team["bob"])
    with pytest.raises(OpRejected, match="needs role"):
        organisation.save_batch(project, "mine", [a], user=team["bob"])
    with pytest.raises(OpRejected, match="needs role"):
        project.apply(OpDraft("quality.waive", "tiny:x", {"check": "tiny", "subject": "x"}), user=team["bob"])


def test_assignment_by_filter_and_qualification_gate(project):
    team = add_team(project)
    cls = make_class(project, "cell")
    assets = [add_image_asset(project, 200, 200) for _ in range(4)]
    organisation.set_tags(project, assets[:3], {"site": "A"})
    organisation.save_batch(project, "pilot", assets[:3])
    ref_layer = project.my_layer_id
    truth = [(10, 10, 50, 50), (100, 100, 150, 140)]
    for a in assets[:3]:
        add_boxes(project, a, cls, truth, layer_id=ref_layer)
        gold.mark(project, a, ref_layer)
    made = gold.seed(project, users=[team["bob"], team["carol"]])
    assert sorted((m.user_name, m.asset_id) for m in made) == sorted(
        (n, a) for n in ("bob", "carol") for a in assets[:3])
    # bob labels well, carol poorly; the gold layer is not visible to them
    assert ref_layer not in assignment.visible_layers(project, team["bob"], assets[0])
    for a in assets[:3]:
        lb = own_layer(project, team["bob"])
        project.apply_all([OpDraft("annotation.create", ids.new_id(), {"annotation": {
                "asset_id": a, "layer_id": lb, "class_id": cls, "geometry": {"kind": "box", "xyxy": list(x)}}})
                for x in [(11, 10, 50, 51), (100, 101, 150, 140)]], user=team["bob"])
        workflow.submit(project, a, lb, user=team["bob"])
        lc = own_layer(project, team["carol"])
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": a, "layer_id": lc, "class_id": cls, "geometry": {"kind": "box", "xyxy": [30, 30, 90, 90]}}}),
            user=team["carol"])
    scored = gold.scores(project)
    bob = [s for s in scored if s.user_name == "bob"]
    carol = [s for s in scored if s.user_name == "carol"]
    assert len(bob) == 3 and len(carol) == 3
    assert all(s.score > 0.9 and s.f1 == 1.0 and s.class_accuracy == 1.0 for s in bob)
    assert all(s.score == 0.0 for s in carol)
    gold.set_gate(project, 0.8, 3, "pilot")
    q = {x.user_name: x for x in gold.qualification(project)}
    assert q["bob"].qualified and not q["carol"].qualified and "< 0.80" in q["carol"].reason
    # production: only the qualified annotator gets the site-A-but-not-gold work
    organisation.set_tags(project, [assets[3]], {"site": "A"})
    made = organisation.assign_by_filter(project, {"tag": {"site": "A"}, "gold": False}, only_qualified=True)
    assert [(m.user_name, m.asset_id) for m in made] == [("bob", assets[3])]


def test_audit_sample_is_blind_and_reported_per_annotator(project):
    team = add_team(project)
    assets = [add_image_asset(project) for _ in range(4)]
    assignment.assign(project, assets, to=[team["bob"]])
    lb = own_layer(project, team["bob"])
    for a in assets:
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": a, "layer_id": lb, "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}), user=team["bob"])
        workflow.submit(project, a, lb, user=team["bob"])
        workflow.decide(project, a, lb, "approve", user=team["rita"])
    made = audits.sample(project, 0.5, seed=3)
    assert len(made) == 2
    listed = audits.audits(project)
    assert all(x.reviewer_name == "rex" for x in listed)        # never the approving reviewer
    assert len(audits.sample(project, 1.0, seed=3)) == 2 and len(audits.audits(project)) == 4
    with pytest.raises(OpRejected, match="only the audit's reviewer"):
        audits.record(project, listed[0].id, "pass", user=team["rita"])
    audits.record(project, listed[0].id, "pass", user=team["rex"])
    audits.record(project, listed[1].id, "fail", "missed a lesion", user=team["rex"])
    rows = audits.report(project)
    total = next(r for r in rows if r["week"] == "all")
    assert total == {"annotator": "bob", "week": "all", "audited": 2, "passed": 1, "failed": 1, "fail_rate": 0.5}
    assert audits.sample(project, 0.5) == []                    # every approved item audited already
