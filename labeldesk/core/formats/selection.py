"""What goes out in an export: which layer(s), which classes, which assets, which time range.

* ``layer``: ``None`` = the final (adjudicated) layer(s) if the project has any, else your own
  layer; ``"final"`` (alias ``"approved"`` until review states exist) = the final layer(s);
  ``"mine"`` = your own annotator layer; anything else = a layer id, a layer name or the user name
  of an annotator (that annotator's own layer).
* ``classes``: class names (or ids); empty = all. A class merged into another is exported as the
  class it was merged into.
* ``since`` / ``until``: the wall time of the op that produced an annotation's current state
  (made or last changed in ``[since, until)``). Times without a zone are local times.
* ``assets``: asset names or ids; empty = all.

:class:`ExportContext` applies a selection for an exporter and keeps the report.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.formats.report import InterchangeReport
from labeldesk.core.formats.probabilities import PROBABILITY_KEY
from labeldesk.core.groups import GROUP_KEY, GroupNumbers, group_of, without_group
from labeldesk.core.model import Annotation, Asset, Layer, Plane
from labeldesk.core.tasks import NO_PROGRESS, Progress


@dataclass(frozen=True)
class Selection:
    layer: str | None = None
    classes: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    assets: tuple[str, ...] = ()


def parse_time(text: str) -> dt.datetime:
    """``2026-03-01`` or ``2026-03-01T14:30`` (local time) or with a zone (``...Z``, ``+02:00``)."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise LabeldeskError(f"{text!r} is not a date or time (use e.g. 2026-03-01 or 2026-03-01T14:30)") from None
    return value.astimezone() if value.tzinfo is None else value


@dataclass(frozen=True)
class ClassEntry:
    id: str
    name: str            # unique in the export: "parent/name" where two classes share a name
    index: int           # 0-based position in the export's class list
    color: str
    parent: str | None
    attributes: tuple[dict[str, Any], ...] = ()
    value: int = 0       # the stable label value: NIfTI voxel value, COCO category id, YOLO index + 1
    code: str | None = None
    concept: Any = None  # coded concepts (dict) of the class, if any
    keypoints: Any = None  # {"names": [...], "skeleton": [...]} of a keypoint class, if any

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassEntry) and other.id == self.id


class ClassTable:
    """The classes of an export in ontology order (merged-away classes resolve to their target)."""

    def __init__(self, classes: list[Any], wanted: tuple[str, ...] = ()) -> None:
        by_id = {c.id: c for c in classes}
        kept = [c for c in classes if not c.merged_into]
        counts: dict[str, int] = {}
        for c in kept:
            counts[c.name] = counts.get(c.name, 0) + 1
        names = {c.id: (f"{by_id[c.parent_id].name}/{c.name}" if counts[c.name] > 1 and c.parent_id in by_id
                        else c.name) for c in kept}
        if wanted:
            known = {n for n in names.values()} | {c.name for c in kept} | set(names)
            unknown = [w for w in wanted if w not in known]
            if unknown:
                raise LabeldeskError(f"no class named {', '.join(map(repr, unknown))}; classes are: "
                                     + ", ".join(sorted(names.values())))
            kept = [c for c in kept if c.id in wanted or c.name in wanted or names[c.id] in wanted]
        # Stable label values. A value two exported classes share (made at once on two machines) is
        # a collision: formats that write values refuse the export (interchange.export), the others
        # do not use them. A class without one (an older store) gets the next free number, noted.
        from labeldesk.core.ontology_codes import value_collisions
        self.collisions = value_collisions(kept)
        self.problems: list[str] = []
        taken: dict[int, str] = {}
        values: dict[str, int] = {}
        for c in sorted(kept, key=lambda c: (getattr(c, "value", None) is None, c.id)):
            v = getattr(c, "value", None)
            if v is not None and v not in taken:
                values[c.id] = v
                taken[v] = c.name
        for c in kept:
            if c.id not in values:
                v = max(taken, default=0) + 1
                if getattr(c, "value", None) is None:
                    self.problems.append(f"class {c.name!r} has no label value: written as {v} in this export")
                values[c.id] = v
                taken[v] = c.name
        self.entries = [ClassEntry(c.id, names[c.id], i, c.color,
                                   by_id[c.parent_id].name if c.parent_id in by_id else None, tuple(c.attributes),
                                   values[c.id], getattr(c, "code", None), getattr(c, "concept", None) or None,
                                   getattr(c, "keypoints", None) or None)
                        for i, c in enumerate(kept)]
        self._by_id = {e.id: e for e in self.entries}
        self._merged = {c.id: c.merged_into for c in classes if c.merged_into}

    def resolve(self, class_id: str | None) -> ClassEntry | None:
        seen = set()
        while class_id in self._merged and class_id not in seen:
            seen.add(class_id)
            class_id = self._merged[class_id]
        return self._by_id.get(class_id) if class_id else None

    def __iter__(self) -> Iterator[ClassEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def resolve_layers(project: Any, wanted: str | None, report: InterchangeReport | None = None) -> list[Layer]:
    layers = project.layers()
    finals = [l for l in layers if l.kind == "final"]
    mine = [l for l in layers if l.owner == project.user_id and l.kind == "annotator"]
    if wanted is None:
        chosen = finals or mine
        if report is not None and chosen:
            report.note("", "exported layer " + ", ".join(repr(l.name) for l in chosen)
                        + (" (final)" if finals else " (your own; the project has no final layer)"))
    elif wanted in ("final", "approved"):
        chosen = finals
        if not chosen:
            raise LabeldeskError("the project has no final layer; choose an annotator's layer with --layer")
    elif wanted == "mine":
        chosen = mine
    else:
        users = {u.id: u.name for u in project.users()}
        chosen = [l for l in layers if l.id == wanted] or [l for l in layers if l.name == wanted] or \
                 [l for l in layers if l.kind == "annotator" and users.get(l.owner or "") == wanted]
    if not chosen:
        raise LabeldeskError(f"no layer {wanted!r}; layers are: " + ", ".join(f"{l.name} ({l.kind})" for l in layers))
    return chosen


class ExportContext:
    def __init__(self, project: Any, selection: Selection | None, report: InterchangeReport,
                 options: dict[str, Any] | None = None, progress: Progress = NO_PROGRESS) -> None:
        self.project = project
        self.selection = selection or Selection()
        self.report = report
        self.options = dict(options or {})
        self.progress = progress
        self.layers = resolve_layers(project, self.selection.layer, report)
        self.classes = ClassTable(project.classes(), tuple(self.selection.classes))
        for problem in self.classes.problems:
            report.note("", problem)
        self._class_filter = bool(self.selection.classes)
        self.assets = self._assets()
        self._walls: dict[str, dt.datetime] | None = None
        self._claims: dict[str, str] = {}          # output file (casefolded) -> asset name
        self._groups: dict[str, str] = {}          # annotation id -> its instance group id
        self._group_numbers = GroupNumbers()
        self._probabilities: dict[str, Any] = {}  # annotation id -> its _probability value

    def _assets(self) -> list[Asset]:
        assets = self.project.assets()
        wanted = self.selection.assets
        if not wanted:
            return assets
        chosen = [a for a in assets if a.id in wanted or a.name in wanted]
        missing = [w for w in wanted if not any(w in (a.id, a.name) for a in chosen)]
        if missing:
            raise LabeldeskError("no asset named " + ", ".join(map(repr, missing)))
        return chosen

    def _in_time(self, revision: str | None) -> bool:
        s = self.selection
        if s.since is None and s.until is None:
            return True
        if self._walls is None:
            self._walls = {op.op_id: dt.datetime.fromisoformat(op.wall) for op in self.project.ops()}
        wall = self._walls.get(revision or "")
        if wall is None:
            return False
        return (s.since is None or wall >= s.since) and (s.until is None or wall < s.until)

    def annotations(self, asset: Asset) -> list[Annotation]:
        """The selected annotations of ``asset`` ordered by plane, then drawing order."""
        out: list[Annotation] = []
        for layer in self.layers:
            for ann in self.project.annotations(asset.id, layer_id=layer.id):
                if self._class_filter and self.classes.resolve(ann.class_id) is None:
                    continue
                if self._in_time(ann.revision):
                    gid = group_of(ann)
                    if gid is not None:        # a group is the format's own notion, not an attribute
                        self._groups[ann.id] = gid
                        ann = ann.with_(attributes=without_group(ann.attributes))
                    if PROBABILITY_KEY in (ann.attributes or {}):      # per-pixel data, not an attribute
                        self._probabilities[ann.id] = ann.attributes[PROBABILITY_KEY]
                        ann = ann.with_(attributes={k: v for k, v in ann.attributes.items() if k != PROBABILITY_KEY})
                    out.append(ann)
        out.sort(key=lambda a: (a.plane.axis, a.plane.t, a.plane.z, a.z_order))
        return out

    def planes(self, asset: Asset) -> list[tuple[Plane, list[Annotation]]]:
        groups: dict[Plane, list[Annotation]] = {}
        for ann in self.annotations(asset):
            groups.setdefault(ann.plane, []).append(ann)
        return list(groups.items())

    def export_planes(self, asset: Asset) -> list[tuple[Plane, list[Annotation]]]:
        """The planes an exporter writes: those with annotations; an image without any is still
        one (empty) item, so image datasets list every image."""
        groups = self.planes(asset)
        if not groups and asset.kind in ("image", "pyramid"):
            groups = [(Plane(), [])]
        return groups

    def classifications(self, asset: Asset) -> list[dict[str, Any]]:
        from labeldesk.core.op_types.classifications import classifications
        layer_ids = {l.id for l in self.layers}
        out = []
        for c in classifications(self.project.conn, asset.id):
            if c["layer_id"] in layer_ids and self.classes.resolve(c["class_id"]) is not None \
                    and self._in_time(c.get("revision")):
                out.append(c)
        return out

    def group_id(self, ann: Annotation) -> str | None:
        """The instance group (labeldesk.core.groups) of an annotation :meth:`annotations` gave."""
        return self._groups.get(ann.id)

    def probability(self, ann: Annotation) -> Any:
        """The per-pixel probabilities (labeldesk.core.formats.probabilities) of a mask annotation
        :meth:`annotations` gave, or None."""
        return self._probabilities.get(ann.id)

    def group_count(self) -> int:
        """How many instance groups the annotations given so far belong to."""
        return len(set(self._groups.values()))

    def probability_count(self) -> int:
        """How many of the annotations given so far carry per-pixel probabilities."""
        return len(self._probabilities)

    def group_number(self, ann: Annotation) -> int | None:
        """The group as a small number, 1, 2, ... across the export (labelme, CVAT ``group_id``)."""
        gid = self._groups.get(ann.id)
        return None if gid is None else self._group_numbers.number({GROUP_KEY: gid})

    def spare_group_number(self, ann: Annotation) -> int:
        """A group number of the export for ``ann`` alone (labelme: the point shapes of one points
        annotation), distinct from every instance group's number."""
        return self._group_numbers.number({GROUP_KEY: self._groups.get(ann.id) or f"annotation:{ann.id}"})

    def entry(self, asset: Asset, ann: Annotation) -> ClassEntry | None:
        """The annotation's export class; refuses (reports) annotations without one."""
        entry = self.classes.resolve(ann.class_id)
        if entry is None:
            self.skip(asset, ann, "has no class" if ann.class_id is None else "its class is not exported")
        return entry

    def where(self, asset: Asset, ann: Annotation) -> str:
        from labeldesk.core.numbering import plane_label
        plane = "" if asset.kind in ("image", "pyramid") else f" {plane_label(ann.plane, asset.kind)}"
        return f"{asset.name}{plane} annotation {ann.id}"

    def skip(self, asset: Asset, ann: Annotation, reason: str) -> None:
        self.report.refuse(self.where(asset, ann), reason + "; not exported")

    def converted(self, asset: Asset, ann: Annotation, what: str) -> None:
        self.report.note(self.where(asset, ann), what)

    def claim(self, asset: Asset, member: str) -> bool:
        """Reserve output file ``member`` for ``asset``; False (and a refusal) if another asset has
        it already (formats that name files by the image stem: ``a.png`` and ``a.jpg``). Names
        are compared case-insensitively, as Windows and macOS file systems do."""
        other = self._claims.setdefault(member.casefold(), asset.name)
        if other != asset.name:
            self.report.refuse(asset.name, f"its output file {member} is taken by {other} (file names come from "
                                           "the image name without its suffix); rename one of them; not exported")
            return False
        return True

    def each_asset(self) -> Iterator[Asset]:
        for i, asset in enumerate(self.assets):
            self.progress.report(i, len(self.assets), f"exporting {asset.name}")
            yield asset
        self.progress.report(len(self.assets), len(self.assets), "writing")
