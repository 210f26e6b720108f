from __future__ import annotations

import pytest
from review_team import add_team, box

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import Op, OpDraft
from labeldesk.core.project import Project
from labeldesk.core.review import assignment
from labeldesk.core.review.roles import REQUIRED_ROLES, acting_user, authorisation_problem


def _foreign(op_type: str, user: str | None, entity: str | None, payload: dict, reason: str | None = None) -> Op:
    return Op(op_id="otherdevice:000000000001", dev="otherdevice", seq=1, hlc=(1, 0),
              wall="2026-12-01T08:00:00.000Z", user=user, type=op_type, entity=entity, payload=payload, reason=reason)


def test_creator_is_admin_and_holds_every_role_and_bootstrap_passes(project):
    me = next(u for u in project.users() if u.id == project.user_id)
    assert me.roles == {"admin", "annotator", "reviewer", "adjudicator"}
    assert project.counts()["users"] == 1


def test_every_op_type_has_a_rule_for_review_ops():
    for name in ("review.decide", "review.adjudicate", "task.assign", "issue.open", "role.grant"):
        assert name in REQUIRED_ROLES


def test_local_apply_refuses_unauthorised_ops_naming_user_op_and_role(project, image_asset):
    team = add_team(project)
    n_ops = project.counts()["ops"]
    with pytest.raises(OpRejected) as err:
        project.apply(OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": "x"}}), user=team["bob"])
    text = str(err.value)
    assert "'bob'" in text and "add a class" in text and "admin" in text
    assert ":0000" not in text and "ontology.class" not in text        # words, never op ids
    with pytest.raises(OpRejected, match="role admin"):
        project.apply(OpDraft("role.grant", team["bob"], {"role": "reviewer"}), user=team["rita"])
    assert project.counts()["ops"] == n_ops          # nothing written


def test_annotators_edit_only_their_own_layer(project, image_asset):
    team = add_team(project)
    [bob_task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    [carol_task] = assignment.assign(project, [image_asset], to=[team["carol"]])
    ann = box(project, image_asset, bob_task.layer_id, team["bob"])
    with pytest.raises(OpRejected, match="belongs to bob"):
        box(project, image_asset, bob_task.layer_id, team["carol"])
    with pytest.raises(OpRejected, match="belongs to bob"):
        project.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [0, 0, 5, 5]}}}),
                      user=team["carol"])
    with pytest.raises(OpRejected, match="belongs to bob"):
        project.apply(OpDraft("annotation.delete", ann, {}), user=team["carol"])
    # moving one's own annotation into someone else's layer is refused too
    with pytest.raises(OpRejected, match="belongs to carol"):
        project.apply(OpDraft("annotation.update", ann, {"set": {"layer_id": carol_task.layer_id}}), user=team["bob"])
    project.apply(OpDraft("annotation.delete", ann, {}), user=team["bob"])
    # a reviewer may not annotate in an annotator's layer; admin may (audited correction)
    with pytest.raises(OpRejected):
        box(project, image_asset, carol_task.layer_id, team["rita"])
    box(project, image_asset, carol_task.layer_id, team["alice"])


def test_only_reviewers_decide_and_only_adjudicators_adjudicate(project, image_asset):
    team = add_team(project)
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    decide = OpDraft("review.decide", ids.new_id(), {"asset_id": image_asset, "layer_id": task.layer_id,
                                                     "decision": "approve", "target_rev": "r1"})
    with pytest.raises(OpRejected, match="reviewer or adjudicator"):
        project.apply(decide, user=team["carol"])
    project.apply(decide, user=team["rita"])
    adj = OpDraft("review.adjudicate", ids.new_id(), {"asset_id": image_asset, "final_layer_id": "x"}, reason="r")
    with pytest.raises(OpRejected, match="role adjudicator"):
        project.apply(adj, user=team["rita"])


def test_a_reviewer_may_not_review_their_own_layer(project, image_asset):
    team = add_team(project)
    project.apply(OpDraft("role.grant", team["bob"], {"role": "reviewer"}, reason="senior"))
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    with pytest.raises(OpRejected, match="their own layer"):
        project.apply(OpDraft("review.decide", ids.new_id(), {"asset_id": image_asset, "layer_id": task.layer_id,
                                                              "decision": "approve", "target_rev": "r"}), user=team["bob"])


def test_authorisation_problem_for_foreign_ops(project, image_asset):
    team = add_team(project)
    conn = project.conn
    grant = _foreign("role.grant", team["bob"], team["bob"], {"role": "admin"})
    problem = authorisation_problem(conn, grant)
    assert problem and "bob" in problem and "give a role" in problem and "admin" in problem
    assert "otherdevice" not in problem
    assert authorisation_problem(conn, _foreign("role.grant", team["alice"], team["bob"], {"role": "reviewer"})) is None
    stranger = _foreign("asset.rename", "nobody-id", image_asset, {"name": "x"})
    assert "not a member" in authorisation_problem(conn, stranger)
    layer = project.my_layer_id
    ann = _foreign("annotation.create", team["carol"], ids.new_id(),
                   {"annotation": {"asset_id": image_asset, "layer_id": layer}})
    assert "belongs to alice" in authorisation_problem(conn, ann)
    # evaluated against the roles now in the store: revoke, and the same op is refused
    ok = _foreign("annotation.create", team["alice"], ids.new_id(), {"annotation": {"asset_id": image_asset, "layer_id": layer}})
    assert authorisation_problem(conn, ok) is None
    project.apply(OpDraft("role.revoke", team["alice"], {"role": "annotator"}, reason="test"))
    project.apply(OpDraft("role.revoke", team["alice"], {"role": "admin"}, reason="test"), user=team["alice"])
    assert "annotator" in authorisation_problem(conn, ok)


def test_bootstrap_only_before_any_admin(tmp_path):
    p = Project.create(tmp_path / "p", user_name="first")
    try:
        # an admin exists now: a user.add by a non-member is refused
        op = _foreign("user.add", "someone", "someone", {"name": "mallory"})
        assert "not a member" in authorisation_problem(p.conn, op)
    finally:
        p.close()


def test_acting_user_by_name_or_environment(project, monkeypatch):
    team = add_team(project)
    monkeypatch.delenv("LABELDESK_USER", raising=False)
    assert acting_user(project) == project.user_id
    # acting as someone else needs their enrolled private key on this machine
    with pytest.raises(Exception, match="private key"):
        acting_user(project, "bob")
    monkeypatch.setenv("LABELDESK_USER", "rita")
    with pytest.raises(Exception, match="private key"):
        acting_user(project)
    from labeldesk.core.sync import enrolment
    for name in ("bob", "rita"):
        enrolment.make_key(project, team[name])
        enrolment.enrol(project, name)
    monkeypatch.delenv("LABELDESK_USER")
    assert acting_user(project, "bob") == team["bob"]
    monkeypatch.setenv("LABELDESK_USER", "rita")
    assert acting_user(project) == team["rita"]
    monkeypatch.setenv("LABELDESK_USER", "zed")
    with pytest.raises(Exception, match="LABELDESK_USER=zed"):
        acting_user(project)


def test_any_member_gets_an_own_layer_but_only_annotators_write_it(project, image_asset):
    team = add_team(project)
    layer = ids.new_id()
    project.apply(OpDraft("layer.create", layer, {"layer": {"name": "rita", "owner": team["rita"]}}), user=team["rita"])
    with pytest.raises(OpRejected, match="needs role annotator"):
        box(project, image_asset, layer, team["rita"])
    with pytest.raises(OpRejected, match="admin or reviewer"):
        project.apply(OpDraft("layer.create", ids.new_id(), {"layer": {"name": "x", "owner": team["carol"]}}),
                      user=team["bob"])
    with pytest.raises(OpRejected, match="final layer"):
        project.apply(OpDraft("layer.create", ids.new_id(), {"layer": {"name": "f", "kind": "final"}}), user=team["bob"])


def test_admin_holds_every_role_until_an_admin_removes_one(project, image_asset):
    from labeldesk.core.review.roles import missing_role, user_roles
    team = add_team(project)
    [task] = assignment.assign(project, [image_asset], to=[team["bob"]])
    box(project, image_asset, task.layer_id, team["bob"])
    decide = OpDraft("review.decide", ids.new_id(), {"asset_id": image_asset, "layer_id": task.layer_id,
                                                     "decision": "approve", "target_rev": "r1"})
    assert missing_role(project.conn, team["alice"], "review.decide") is None
    project.apply(OpDraft("role.revoke", team["alice"], {"role": "reviewer"}, reason="not a reviewer"))
    project.apply(OpDraft("role.revoke", team["alice"], {"role": "adjudicator"}, reason="not one either"))
    assert user_roles(project.conn, team["alice"]) == {"admin", "annotator"}
    assert "reviewer or adjudicator" in missing_role(project.conn, team["alice"], "review.decide")
    with pytest.raises(OpRejected, match="approve or return a layer: needs role reviewer or adjudicator"):
        project.apply(decide, user=team["alice"])
    # granting it back removes the waiver; undo (the inverse) of a removal does the same
    applied = project.apply(OpDraft("role.grant", team["alice"], {"role": "reviewer"}, reason="back"))
    assert "reviewer" in user_roles(project.conn, team["alice"])
    project.apply(applied.inverse)
    assert "reviewer" not in user_roles(project.conn, team["alice"])
    # a non-admin gains nothing from the rule
    assert user_roles(project.conn, team["bob"]) == {"annotator"}
