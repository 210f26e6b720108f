"""Tracks: one object followed across video frames (or volume slices). Keyframes are drawn by a
person; the annotations between them are interpolated and rebuilt whenever a keyframe changes.
Editing an interpolated annotation turns it into a keyframe."""
from __future__ import annotations

from typing import Any

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.interpolation import fill_between
from labeldesk.core.ops import OpDraft


def _axis_value(ann: Any) -> tuple[str, int]:
    return ("t", ann.plane.t) if ann.plane.t or ann.plane.z == 0 else ("z", ann.plane.z)


def link(project: Any, first: Any, second: Any) -> list[OpDraft]:
    """Make two annotations keyframes of one track and interpolate between them (one transaction
    for the caller). Existing tracks of either are joined."""
    if first.asset_id != second.asset_id or first.id == second.id:
        raise LabeldeskError("a track links two different annotations of one asset")
    track_id = first.track_id or second.track_id or ids.new_id()
    drafts: list[OpDraft] = []
    members = {a.id: a for tid in {first.track_id, second.track_id} if tid for a in project.track(tid)}
    members.update({first.id: first, second.id: second})
    for ann in members.values():
        if ann.track_id != track_id or (ann.id in (first.id, second.id) and not ann.keyframe):
            drafts.append(OpDraft("annotation.update", ann.id, {"set": {"track_id": track_id, "keyframe": True}}
                                  if ann.id in (first.id, second.id) else {"set": {"track_id": track_id}}))
    keys = {a.id: a for a in members.values() if a.keyframe or a.id in (first.id, second.id)}
    return drafts + rebuild(project, track_id, list(members.values()), keys)


def rebuild(project: Any, track_id: str, members: list[Any], keyframes: dict[str, Any]) -> list[OpDraft]:
    """Drafts replacing every interpolated member of the track by fresh interpolation between
    consecutive keyframes (``keyframes`` may carry edited, not yet saved geometry)."""
    drafts = [OpDraft("annotation.delete", a.id, {}) for a in members if a.id not in keyframes and not a.keyframe]
    ordered = sorted(keyframes.values(), key=lambda a: (a.plane.t, a.plane.z))
    for a, b in zip(ordered, ordered[1:]):
        drafts += fill_between(a, b, a.layer_id, track_id)
    return drafts


def after_edit(project: Any, annotation: Any, new_geometry: Any) -> list[OpDraft]:
    """Drafts to apply with an edit of a track member: it becomes a keyframe and the track's
    in-betweens are re-interpolated with its new geometry."""
    if annotation.track_id is None:
        return []
    members = project.track(annotation.track_id)
    edited = annotation.with_(geometry=new_geometry, keyframe=True)
    keys = {a.id: a for a in members if a.keyframe}
    keys[annotation.id] = edited
    drafts = [] if annotation.keyframe else [
        OpDraft("annotation.update", annotation.id, {"set": {"keyframe": True}})]
    return drafts + rebuild(project, annotation.track_id, [a for a in members if a.id != annotation.id], keys)


def neighbour_keyframe(project: Any, annotation: Any, step: int) -> Any:
    """The next (``step`` > 0) or previous keyframe of ``annotation``'s track, along its frames
    (or slices); None when there is none or the annotation is not in a track."""
    if annotation is None or annotation.track_id is None:
        return None
    keys = sorted((a for a in project.track(annotation.track_id) if a.keyframe and not a.deleted),
                  key=lambda a: (a.plane.t, a.plane.z))
    here = (annotation.plane.t, annotation.plane.z)
    if step > 0:
        return next((a for a in keys if (a.plane.t, a.plane.z) > here), None)
    return next((a for a in reversed(keys) if (a.plane.t, a.plane.z) < here), None)
