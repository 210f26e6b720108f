"""Per-slice masks on volumes become segments (one 3-D label map per layer, class and time point)
without losing anything: each group's masks are painted into its segment (an existing segment of
that layer and class is added to) and then deleted, all in one transaction of ops — the masks stay
in the op log, and undo (or ``annotation.restore``) brings them back. Other shapes (polygons,
boxes, …) on slices stay annotations."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labeldesk.core import segments as seg
from labeldesk.core.ops import OpDraft


@dataclass
class MigrationReport:
    segments_made: int = 0
    segments_extended: int = 0
    masks: int = 0
    voxels: int = 0
    assets: set[str] = field(default_factory=set)

    def summary(self) -> str:
        if not self.masks:
            return "no per-slice masks on volumes: nothing to convert"
        return (f"converted {self.masks} slice mask(s) on {len(self.assets)} volume(s) into "
                f"{self.segments_made} new and {self.segments_extended} extended segment(s), {self.voxels} voxels")


def _groups(project: Any, asset: Any) -> dict[tuple[str, Any, int], list[Any]]:
    out: dict[tuple[str, Any, int], list[Any]] = {}
    for ann in project.annotations(asset.id):
        if ann.geometry.kind == "mask" and not ann.deleted:
            out.setdefault((ann.layer_id, ann.class_id, ann.plane.t), []).append(ann)
    return out


def migration_drafts(project: Any, asset_id: str, report: MigrationReport | None = None) -> list[OpDraft]:
    report = report if report is not None else MigrationReport()
    asset = project.asset(asset_id)
    if asset is None or asset.kind != "volume":
        return []
    shape = (asset.depth, asset.height, asset.width)
    classes = {c.id: c for c in project.classes()}
    existing = seg.segments(project.conn, asset_id)
    drafts: list[OpDraft] = []
    for (layer_id, class_id, t), masks in sorted(_groups(project, asset).items(), key=lambda kv: str(kv[0])):
        target = next((s for s in existing if s.layer_id == layer_id and s.class_id == class_id and s.t == t
                       and not s.locked), None)
        before = seg.label_map(project.conn, target.id, shape) if target is not None else np.zeros(shape, bool)
        after = before.copy()
        for ann in masks:
            plane = ann.plane
            region = seg.plane_mask(after, plane.axis, plane.z)
            region |= ann.geometry.paste(region.shape[1], region.shape[0])
        if target is None:
            cls = classes.get(class_id)
            used = [s.color for s in existing]
            create = seg.create_draft(asset_id, layer_id, class_id, cls.name if cls else "Segment",
                                      seg.pick_color(used, cls.color if cls else None), t)
            drafts.append(create)
            segment_id = str(create.entity)
            report.segments_made += 1
        else:
            segment_id = target.id
            report.segments_extended += 1
        paint = seg.paint_draft(segment_id, before, after)
        if paint is not None:
            drafts.append(paint)
        drafts += [OpDraft("annotation.delete", ann.id, {}, reason="converted into segment") for ann in masks]
        report.masks += len(masks)
        report.voxels += int(np.count_nonzero(after & ~before))
        report.assets.add(asset_id)
    return drafts


def migrate_masks(project: Any, asset_ids: list[str] | None = None) -> MigrationReport:
    """Convert the per-slice masks of these volumes (all volumes by default); one transaction."""
    report = MigrationReport()
    drafts: list[OpDraft] = []
    for asset in project.assets():
        if asset.kind == "volume" and (asset_ids is None or asset.id in asset_ids):
            drafts += migration_drafts(project, asset.id, report)
    if drafts:
        project.apply_all(drafts)
    return report
