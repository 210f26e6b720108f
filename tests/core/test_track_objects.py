"""A track is one object: attributes set once for every frame, overrides marked, required
attributes judged per track, Ctrl+I on many keyframes, keyframe jumps, track_id in COCO."""
from __future__ import annotations

import json

from labeldesk.core import ids, interchange
from labeldesk.core.ontology_io import flagged_annotations
from labeldesk.core.ops import OpDraft
from labeldesk.core.tracks import (link_many, neighbour_keyframe, override_frame, set_track_attributes,
                                   summaries)


def _car_class(project) -> str:
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": "Car", "attributes": [
        {"key": "type", "type": "enum", "options": ["sedan", "van"], "required": True},
        {"key": "colour", "type": "text"}]}}))
    return cid


def _box(project, asset, cid, t, x):
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset, "layer_id": project.my_layer_id, "class_id": cid, "plane": {"t": t},
        "geometry": {"kind": "box", "xyxy": [x, 0, x + 10, 10]}}}))
    return project.annotation(aid)


def _track(project, add_asset):
    video = add_asset(project, width=300, height=100, frames=40, kind="video")
    cid = _car_class(project)
    keys = [_box(project, video, cid, t, x) for t, x in ((0, 0), (10, 100), (20, 200))]
    project.apply_all(link_many(project, keys))          # three keyframes at once (Ctrl+I on a multi-selection)
    return video, cid, project.annotation(keys[0].id).track_id


def test_a_multi_selection_becomes_one_track_judged_once(project, add_asset):
    video, _cid, tid = _track(project, add_asset)
    [t] = summaries(project.annotations(video))
    assert t.track_id == tid and len(t.members) == 21 and len(t.keyframes) == 3 and t.interpolated == 18
    assert t.span == (0, 20)
    flags = flagged_annotations(project, video)
    assert len(flags) == 1                                      # not 21 rows "missing required: type"
    assert flags[0][0].id == t.head.id and "track (frames 1–21) missing required: type" in flags[0][1]


def test_track_attributes_are_set_once_and_inherited_with_overrides_marked(project, add_asset):
    video, _cid, tid = _track(project, add_asset)
    project.apply_all(set_track_attributes(project, tid, {"type": "van"}))
    assert all(a.attributes == {"type": "van"} for a in project.track(tid))
    assert flagged_annotations(project, video) == []
    # frame 15 (interpolated) overrides the colour: it becomes a keyframe, marked as an override
    mid = next(a for a in project.track(tid) if a.plane.t == 15)
    project.apply_all(override_frame(project, mid, {"type": "van", "colour": "red"}))
    [t] = summaries(project.track(tid))
    assert t.overrides == {mid.id: {"colour": "red"}} and project.annotation(mid.id).keyframe
    # changing the track's type later reaches every frame; the override of the colour stays
    project.apply_all(set_track_attributes(project, tid, {"type": "sedan"}))
    by_t = {a.plane.t: a.attributes for a in project.track(tid)}
    assert by_t[3] == {"type": "sedan"} and by_t[15] == {"type": "sedan", "colour": "red"}
    # re-interpolation (a keyframe moved) gives the in-betweens the track's values
    from labeldesk.core.geometry import Box
    from labeldesk.core.tracks import after_edit
    key = next(a for a in project.track(tid) if a.plane.t == 10)
    moved = Box(100, 50, 110, 60)
    project.apply_all([OpDraft("annotation.update", key.id, {"set": {"geometry": moved.to_dict()}})]
                      + after_edit(project, key, moved))
    assert all(a.attributes.get("type") == "sedan" for a in project.track(tid))


def test_jump_between_keyframes(project, add_asset):
    _video, _cid, tid = _track(project, add_asset)
    members = {a.plane.t: a for a in project.track(tid)}
    assert neighbour_keyframe(project, members[4], +1).plane.t == 10
    assert neighbour_keyframe(project, members[4], -1).plane.t == 0
    assert neighbour_keyframe(project, members[20], +1) is None


def test_coco_export_carries_track_ids(project, add_asset, tmp_path):
    _video, _cid, tid = _track(project, add_asset)
    out = tmp_path / "coco.json"
    rep = interchange.export(project, "coco", out)
    assert rep.exported == 21
    doc = json.loads(out.read_text())
    assert {a.get("track_id") for a in doc["annotations"]} == {1}
