"""A project built in one folder and copied or moved to another before it was ever shared takes a
new device id there (two stores must never publish as one); sharing it must still publish the work
made under the earlier id, since no other store will."""
from __future__ import annotations

import shutil

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.sync import engine
from labeldesk.core.sync.status import state_digest, status


def test_work_made_before_a_move_is_published_when_the_moved_store_is_shared(tmp_path):
    p = Project.create(tmp_path / "old", user_name="alice")
    asset, ann = ids.new_id(), ids.new_id()
    p.apply(OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "a.png", "content_hash": "h",
                                                   "width": 50, "height": 40}}))
    p.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": asset, "layer_id": p.my_layer_id, "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    old_device = p.device_id
    p.close()
    shutil.move(str(tmp_path / "old"), str(tmp_path / "new"))
    moved = Project.open(tmp_path / "new")
    assert moved.device_id != old_device                       # a copy never publishes as the original
    moved.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [2, 2, 9, 9]}}}))
    report = engine.init_share(moved, tmp_path / "share")
    assert report.published_ops >= 7
    assert status(moved, digest=False)["outbox"] == 0 and not status(moved, digest=False)["identity_alert"]
    bob, _ = engine.join_share(tmp_path / "share", tmp_path / "bob")
    engine.sync_round(moved)
    assert bob.annotation(ann).geometry.to_dict()["xyxy"] == [2, 2, 9, 9]
    assert state_digest(bob.conn) == state_digest(moved.conn)
    assert moved.verify_chain().ok
    bob.close()
    moved.close()
