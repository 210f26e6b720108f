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


# ---- convergence: concurrent strokes on one segment -------------------------------------------
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from labeldesk.core.sync import engine  # noqa: E402

GRID = (3, 12, 12)
_stroke = st.tuples(st.booleans(), st.integers(0, GRID[0] - 1), st.integers(0, 8), st.integers(0, 8),
                    st.integers(1, 3), st.integers(1, 6), st.integers(1, 6))     # add?, z, y, x, dz, dy, dx


def _paint(p, sid, stroke):
    """One stroke as the segment editor makes it: the change from what this replica shows now."""
    add, z, y, x, dz, dy, dx = stroke
    before = seg.label_map(p.conn, sid)
    after = before.copy()
    after[z:z + dz, y:y + dy, x:x + dx] = add
    draft = seg.paint_draft(sid, before, after)
    if draft is not None:
        p.apply(draft)


def _shared_segment(team):
    a = team.devices[0]
    vol = ids.new_id()
    a.apply(OpDraft("asset.add", vol, {"asset": {"kind": "volume", "name": "ct", "content_hash": "hv",
                                                 "width": GRID[2], "height": GRID[1], "depth": GRID[0]}}))
    create = seg.create_draft(vol, a.my_layer_id, team.cls, "lesion", "#ff0000")
    a.apply(create)
    team.sync_all()
    return str(create.entity)


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    from sync_team import Team
    t = Team(tmp_path_factory.mktemp("trio"), 3, roles=("admin",))     # all may paint the admin's layer
    yield t
    t.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strokes=st.lists(st.lists(_stroke, min_size=1, max_size=4), min_size=3, max_size=3),
       order=st.permutations([0, 1, 2]), early=st.integers(0, 2))
def test_concurrent_add_and_erase_converge_whatever_the_arrival_order(trio, strokes, order, early):
    """Three replicas paint the same segment without seeing each other's strokes; the strokes
    reach them in different orders (one replica merges another's strokes before painting its own,
    the rest publish and pull in the order drawn). Every replica ends with the same voxels: those
    of replaying all strokes in (HLC, device, seq) order."""
    sid = _shared_segment(trio)
    devs = trio.devices
    for i in order:                       # replica `early` merges what is published before it paints
        if i == early:
            engine.sync_round(devs[i])
        for stroke in strokes[i]:
            _paint(devs[i], sid, stroke)
        engine.sync_round(devs[i])
    for i in reversed(order):
        engine.sync_round(devs[i])
    trio.sync_all()
    maps = [seg.label_map(p.conn, sid) for p in devs]
    assert all(np.array_equal(maps[0], m) for m in maps[1:])
    counts = [seg.segment(p.conn, sid).voxels for p in devs]
    assert counts == [int(maps[0].sum())] * 3
    # the same as replaying the ops in the reducer's total order from an empty map
    expected = np.zeros(GRID, bool)
    ops = devs[0].conn.execute("SELECT payload FROM ops WHERE entity = ? AND type = 'segment.paint' "
                               "ORDER BY hlc_ms, hlc_ctr, dev, seq", (sid,)).fetchall()
    import json
    for (payload,) in ops:
        p = json.loads(payload)
        (z, y, x), (dz, dy, dx) = p["origin"], p["shape"]
        box = expected[z:z + dz, y:y + dy, x:x + dx]
        if p.get("on"):
            box |= seg.decode_bits(p["on"], (dz, dy, dx))
        if p.get("off"):
            box &= ~seg.decode_bits(p["off"], (dz, dy, dx))
    assert np.array_equal(maps[0], expected)
    assert trio.digests()[0] == trio.digests()[1] == trio.digests()[2]
