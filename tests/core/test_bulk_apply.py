"""apply_all remembers, within one batch, that a user may create annotations in a layer: the
memory must end as soon as an op of the batch changes users, roles or layers."""
from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import OpDraft


def _box(asset, layer, x=1):
    return OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": asset, "layer_id": layer, "geometry": {"kind": "box", "xyxy": [x, x, x + 10, x + 10]}}})


def test_a_role_revoked_inside_the_batch_stops_later_creates(project, image_asset):
    bob, layer = ids.new_id(), ids.new_id()
    project.apply_all([OpDraft("user.add", bob, {"name": "bob"}),
                       OpDraft("role.grant", bob, {"role": "annotator"}),
                       OpDraft("layer.create", layer, {"layer": {"name": "bob", "kind": "annotator", "owner": bob}})])
    before = project.counts()["ops"]
    with pytest.raises(OpRejected, match="annotator"):
        _mixed(project, bob, image_asset, layer)
    assert project.counts()["ops"] == before          # all or nothing


def _mixed(project, bob, asset, layer):
    # bob's creates, then the admin revokes bob's role, then bob again: one transaction
    drafts = [(_box(asset, layer, 1), bob), (_box(asset, layer, 2), bob),
              (OpDraft("role.revoke", bob, {"role": "annotator"}), project.user_id), (_box(asset, layer, 3), bob)]
    real_stamp = project._stamp
    users = iter(u for _, u in drafts)
    project._stamp = lambda draft, seq, user: real_stamp(draft, seq, next(users))
    try:
        project.apply_all([d for d, _ in drafts])
    finally:
        project._stamp = real_stamp


def test_many_creates_in_one_batch_are_all_checked_once_and_land(project, image_asset):
    layer = project.my_layer_id
    applied = project.apply_all([_box(image_asset, layer, x) for x in range(1, 60)])
    assert len(applied) == 59 and project.verify_chain().ok
