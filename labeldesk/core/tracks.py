"""Tracks: one object followed across video frames (or volume slices). Keyframes are drawn by a
person; the annotations between them are interpolated and rebuilt whenever a keyframe changes.
Editing an interpolated annotation turns it into a keyframe.

A track is one object to the person labelling it: its attributes are the *track's* (those of its
first keyframe, the head), set once and carried by every frame (:func:`set_track_attributes`);
a frame may override them (:func:`override_frame`, which makes it a keyframe) and the override is
shown as such (:class:`TrackSummary`). Required attributes are judged once per track, on the head
(:func:`track_flags`), never frame by frame."""
from __future__ import annotations

from dataclasses import dataclass, field
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
    return link_many(project, [first, second])


def link_many(project: Any, chosen: list[Any]) -> list[OpDraft]:
    """Make the chosen annotations (two or more, on different frames or slices of one asset)
    keyframes of one track and interpolate between consecutive ones; tracks they belong to are
    joined into one."""
    chosen = list({a.id: a for a in chosen}.values())
    if len(chosen) < 2:
        raise LabeldeskError("a track needs two or more annotations on different frames or slices")
    if len({a.asset_id for a in chosen}) != 1:
        raise LabeldeskError("a track links annotations of one asset")
    planes = [(a.plane.t, a.plane.z) for a in chosen]
    if len(set(planes)) != len(planes):
        raise LabeldeskError("a track has one annotation per frame or slice: two of the chosen share one")
    picked = {a.id for a in chosen}
    track_id = next((a.track_id for a in sorted(chosen, key=lambda a: (a.plane.t, a.plane.z)) if a.track_id),
                    None) or ids.new_id()
    members = {a.id: a for tid in {a.track_id for a in chosen} if tid for a in project.track(tid)}
    members.update({a.id: a for a in chosen})
    drafts: list[OpDraft] = []
    for ann in members.values():
        if ann.track_id != track_id or (ann.id in picked and not ann.keyframe):
            drafts.append(OpDraft("annotation.update", ann.id, {"set": {"track_id": track_id, "keyframe": True}}
                                  if ann.id in picked else {"set": {"track_id": track_id}}))
    keys = {a.id: a for a in members.values() if a.keyframe or a.id in picked}
    return drafts + rebuild(project, track_id, list(members.values()), keys)


def rebuild(project: Any, track_id: str, members: list[Any], keyframes: dict[str, Any]) -> list[OpDraft]:
    """Drafts replacing every interpolated member of the track by fresh interpolation between
    consecutive keyframes (``keyframes`` may carry edited, not yet saved geometry)."""
    drafts = [OpDraft("annotation.delete", a.id, {}) for a in members if a.id not in keyframes and not a.keyframe]
    ordered = sorted(keyframes.values(), key=lambda a: (a.plane.t, a.plane.z))
    head = ordered[0] if ordered else None
    for a, b in zip(ordered, ordered[1:]):
        made = fill_between(a, b, a.layer_id, track_id)
        for d in made:           # in-betweens carry the track's attributes, not an override of a
            d.payload["annotation"]["attributes"] = dict(head.attributes)
        drafts += made
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



# ---- the track as one object ----------------------------------------------------------------
@dataclass
class TrackSummary:
    track_id: str
    class_id: Any
    head: Any                                   # the first keyframe: its attributes are the track's
    keyframes: list[Any]                        # sorted along the track
    members: list[Any]                          # every annotation of the track, sorted
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)   # keyframe id -> differing values

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.head.attributes)

    @property
    def span(self) -> tuple[int, int]:
        """First and last frame (or slice) index."""
        along = _along(self.members)
        return (getattr(self.members[0].plane, along), getattr(self.members[-1].plane, along))

    @property
    def interpolated(self) -> int:
        return len(self.members) - len(self.keyframes)

    def index_of(self, ann: Any) -> int:
        return getattr(ann.plane, _along(self.members))


def _along(members: list[Any]) -> str:
    return "t" if len({a.plane.t for a in members}) > 1 or len({a.plane.z for a in members}) <= 1 else "z"


def _order(a: Any) -> tuple[int, int]:
    return (a.plane.t, a.plane.z)


def summaries(annotations: list[Any]) -> list[TrackSummary]:
    """The tracks among ``annotations`` (those of one asset), in order of their first frame."""
    groups: dict[str, list[Any]] = {}
    for a in annotations:
        if a.track_id and not getattr(a, "deleted", False):
            groups.setdefault(a.track_id, []).append(a)
    out = []
    for tid, members in groups.items():
        members.sort(key=_order)
        keys = [a for a in members if a.keyframe] or members[:1]
        head = keys[0]
        overrides = {}
        for k in keys[1:]:
            diff = {key: v for key, v in k.attributes.items() if head.attributes.get(key) != v}
            diff.update({key: None for key in head.attributes if key not in k.attributes})
            if diff:
                overrides[k.id] = diff
        out.append(TrackSummary(tid, head.class_id, head, keys, members, overrides))
    out.sort(key=lambda t: _order(t.members[0]))
    return out


def set_track_attributes(project: Any, track_id: str, values: dict[str, Any]) -> list[OpDraft]:
    """Set the track's attributes once: every frame that does not override a value gets the new
    one (frames that override it keep theirs). One batch for one undo step."""
    [summary] = summaries(project.track(track_id)) or [None]
    if summary is None:
        raise LabeldeskError("no such track")
    old = summary.attributes
    drafts = []
    for a in summary.members:
        own = dict(a.attributes)
        new = dict(own)
        for key in set(old) | set(values):
            if a.id == summary.head.id or own.get(key) == old.get(key):
                if key in values and values[key] is not None:
                    new[key] = values[key]
                else:
                    new.pop(key, None)
        if new != own:
            drafts.append(OpDraft("annotation.update", a.id, {"set": {"attributes": new}}))
    return drafts


def override_frame(project: Any, annotation: Any, values: dict[str, Any]) -> list[OpDraft]:
    """Give one frame of a track its own attribute values; the frame becomes a keyframe (so that
    re-interpolation keeps it)."""
    change: dict[str, Any] = {"attributes": dict(values)}
    if annotation.track_id and not annotation.keyframe:
        change["keyframe"] = True
    return [OpDraft("annotation.update", annotation.id, {"set": change})]


def track_flags(annotations: list[Any], required: dict[Any, list[dict[str, Any]]]) -> dict[str, str]:
    """Missing required attributes judged per track: {head annotation id: reason}. ``required``:
    class id -> the class's attribute definitions."""
    from labeldesk.core.ontology import missing_required
    out = {}
    for t in summaries(annotations):
        missing = missing_required(list(required.get(t.class_id, [])), t.attributes)
        if missing:
            first, last = t.span
            out[t.head.id] = (f"track (frames {first + 1}–{last + 1}) missing required: " + ", ".join(missing))
    return out
