"""Instance groups: several annotations (parts) that are one object.

A group is the reserved attribute ``_group`` (a group id) of its member annotations, set and
cleared with ordinary ``annotation.create`` / ``annotation.update`` ops: grouping is undoable,
synced, audited and reviewed like any other edit, and needs no new table. Like ``measure``, the
key is accepted on annotations with or without a class and is never checked against the class's
attribute schema.

Formats carry groups as their own notion: labelme and CVAT ``group_id``; COCO writes a group's
parts (same image/plane, same class) as ONE instance with a multi-polygon (or RLE) segmentation
and reads a multi-part segmentation back as a group of parts.
"""
from __future__ import annotations

from typing import Any, Iterable

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OpDraft

GROUP_KEY = "_group"


def group_of(annotation: Any) -> str | None:
    """The group id of ``annotation`` (an Annotation or an attributes dict), or None."""
    attrs = annotation if isinstance(annotation, dict) else (getattr(annotation, "attributes", None) or {})
    value = attrs.get(GROUP_KEY)
    return value if isinstance(value, str) and value else None


def without_group(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The attributes without the group key (what formats write as attributes)."""
    return {k: v for k, v in (attributes or {}).items() if k != GROUP_KEY}


def check_group_value(value: Any) -> str | None:
    """The problem with a group value, or None."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return f"{GROUP_KEY} must be a group id (text of 1..64 characters), not {value!r}"
    return None


def group_drafts(annotations: Iterable[Any], group_id: str | None = None,
                 reason: str | None = None) -> list[OpDraft]:
    """``annotation.update`` drafts putting ``annotations`` (two or more, on one asset and plane)
    into one group: ``group_id``, else the group one of them is in already, else a new one."""
    anns = [a for a in annotations if not getattr(a, "deleted", False)]
    if len(anns) < 2:
        raise LabeldeskError("a group needs two or more annotations")
    if len({(a.asset_id, a.plane) for a in anns}) > 1:
        raise LabeldeskError("the parts of a group must lie on one image, slice or frame")
    gid = group_id or next((group_of(a) for a in anns if group_of(a)), None) or ids.new_id()
    return [OpDraft("annotation.update", a.id, {"set": {"attributes": {**(a.attributes or {}), GROUP_KEY: gid}}},
                    reason=reason) for a in anns if group_of(a) != gid]


def ungroup_drafts(annotations: Iterable[Any], reason: str | None = None) -> list[OpDraft]:
    """``annotation.update`` drafts taking ``annotations`` out of their groups."""
    return [OpDraft("annotation.update", a.id, {"set": {"attributes": without_group(a.attributes)}}, reason=reason)
            for a in annotations if group_of(a) and not getattr(a, "deleted", False)]


class GroupNumbers:
    """Small export-wide numbers (1, 2, ...) for group ids, in order of first use (labelme and CVAT
    ``group_id``)."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def number(self, annotation: Any) -> int | None:
        gid = group_of(annotation)
        if gid is None:
            return None
        return self._numbers.setdefault(gid, len(self._numbers) + 1)


class GroupIds:
    """Group ids for the group numbers of a file being imported (``group_id`` 3 of one image and
    ``group_id`` 3 of the next are different groups: key by (scope, number))."""

    def __init__(self) -> None:
        self._ids: dict[tuple[Any, ...], str] = {}

    def attributes(self, scope: Any, number: Any) -> dict[str, str]:
        """``{GROUP_KEY: id}`` for ``number`` in ``scope``; {} for no number."""
        if number is None or number == "" or number == 0 or number == "0":
            return {}
        gid = self._ids.setdefault((scope, str(number)), ids.new_id())
        return {GROUP_KEY: gid}


def reserved_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The attributes no class schema owns (instance group, per-pixel probabilities, measurement):
    kept when an annotation changes class."""
    from labeldesk.core.formats.probabilities import PROBABILITY_KEY
    from labeldesk.core.measure import MEASURE_KEY
    return {k: v for k, v in (attributes or {}).items() if k in (GROUP_KEY, PROBABILITY_KEY, MEASURE_KEY)}
