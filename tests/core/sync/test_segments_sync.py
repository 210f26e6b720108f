"""Segments sync like any op: a large paint travels as a blob and every replica holds the same
label map; an undo on one device reaches the other."""
from __future__ import annotations

import numpy as np

from labeldesk.core import ids
from labeldesk.core import segments as seg
from labeldesk.core.ops import OpDraft


def test_a_painted_segment_reaches_the_other_device_through_a_blob(team):
    a, b = team.devices
    vol = ids.new_id()
    a.apply(OpDraft("asset.add", vol, {"asset": {"kind": "volume", "name": "ct", "content_hash": "hv",
                                                 "width": 200, "height": 200, "depth": 24}}))
    create = seg.create_draft(vol, a.my_layer_id, team.cls, "lesion", "#ff0000")
    a.apply(create)
    rng = np.random.default_rng(0)
    painted = rng.random((24, 200, 200)) < 0.3                 # noise: compresses badly, > 64 KB
    applied = a.apply(seg.paint_draft(str(create.entity), np.zeros_like(painted), painted))
    assert len(applied.op.payload["on"]) > 64 * 1024
    team.sync_all()
    assert list((team.share / "blobs").rglob("*.bin"))         # it went as a blob
    [s] = seg.segments(b.conn, vol)
    assert s.voxels == painted.sum() and np.array_equal(seg.label_map(b.conn, s.id), painted)
    a.apply(applied.inverse)                                  # undo on device a
    team.sync_all()
    assert seg.segments(b.conn, vol)[0].voxels == 0
