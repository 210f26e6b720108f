from __future__ import annotations

from labeldesk.core import ids
from labeldesk.core.geometry import Box
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.tracks import after_edit, link


def _box(project, asset, t, xyxy):
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "plane": {"t": t},
        "geometry": {"kind": "box", "xyxy": xyxy}}}))
    return project.annotation(aid)


def test_link_interpolates_and_editing_a_middle_frame_makes_a_keyframe(project, add_asset):
    video = add_asset(project, width=200, height=100, frames=20, kind="video")
    a = _box(project, video, 2, [0, 0, 10, 10])
    b = _box(project, video, 6, [40, 0, 50, 10])
    project.apply_all(link(project, a, b))
    track = project.track(project.annotation(a.id).track_id)
    assert [(x.plane.t, x.keyframe) for x in track] == [(2, True), (3, False), (4, False), (5, False), (6, True)]
    assert project.annotations(video, Plane(t=4))[0].geometry == Box(20, 0, 30, 10)
    # moving frame 4 makes it a keyframe; 3 and 5 follow it
    mid = project.annotations(video, Plane(t=4))[0]
    moved = Box(20, 50, 30, 60)
    drafts = [OpDraft("annotation.update", mid.id, {"set": {"geometry": moved.to_dict()}})]
    project.apply_all(drafts + after_edit(project, mid, moved))
    track = project.track(mid.track_id)
    assert [(x.plane.t, x.keyframe) for x in track] == [(2, True), (3, False), (4, True), (5, False), (6, True)]
    assert project.annotations(video, Plane(t=3))[0].geometry == Box(10, 25, 20, 35)
    assert project.annotations(video, Plane(t=5))[0].geometry == Box(30, 25, 40, 35)
