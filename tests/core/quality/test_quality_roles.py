"""Who may write quality records: no waiver of a finding about one's own annotations, and an audit
never goes to the annotator of the audited layer."""
from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import OpDraft
from labeldesk.core.quality import records
from tests.core.conftest import add_image_asset
from tests.core.quality.test_team_quality import add_team


def own_layer(project, uid):
    layer = ids.new_id()
    project.apply(OpDraft("layer.create", layer, {"layer": {"name": f"layer of {uid[:6]}", "kind": "annotator",
                                                            "owner": uid}}))
    return layer


def _box(project, asset, layer, user):
    ann = ids.new_id()
    project.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": asset, "layer_id": layer, "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}), user=user)
    return ann


def test_a_reviewer_who_also_annotates_may_not_waive_findings_about_their_own_work(project):
    team = add_team(project)
    from labeldesk.core.review.roles import change_role
    change_role(project, "rita", "annotator", True, reason="labels too")
    asset = add_image_asset(project)
    mine = _box(project, asset, own_layer(project, team["rita"]), team["rita"])
    bobs = _box(project, asset, own_layer(project, team["bob"]), team["bob"])
    with pytest.raises(OpRejected, match="'rita' may not waive a quality finding: may not waive a finding about "
                                         "their own annotations"):
        project.apply(OpDraft("quality.waive", f"overlap:{mine}+{bobs}",
                              {"check": "overlap", "subject": f"{mine}+{bobs}", "note": "fine"}), user=team["rita"])
    project.apply(OpDraft("quality.waive", f"tiny:{bobs}", {"check": "tiny", "subject": bobs, "note": "ok"}),
                  user=team["rita"])
    project.apply(OpDraft("quality.waive", f"tiny:{mine}", {"check": "tiny", "subject": mine, "note": "ok"}))  # admin
    assert records.load(project.conn).waived("tiny", bobs) and records.load(project.conn).waived("tiny", mine)


def test_an_audit_is_never_assigned_to_the_layers_annotator(project):
    team = add_team(project)
    from labeldesk.core.review.roles import change_role
    change_role(project, "rex", "annotator", True, reason="labels too")
    asset = add_image_asset(project)
    layer = own_layer(project, team["rex"])
    with pytest.raises(OpRejected, match="a reviewer other than the layer's annotator"):
        project.apply(OpDraft("quality.audit.assign", ids.new_id(), {
            "asset": asset, "layer": layer, "reviewer": team["rex"], "revision": "r1"}))
    project.apply(OpDraft("quality.audit.assign", ids.new_id(), {
        "asset": asset, "layer": layer, "reviewer": team["rita"], "revision": "r1"}))
