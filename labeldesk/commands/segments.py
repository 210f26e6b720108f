"""`labeldesk segments …`: list the segments (3-D label maps) of volumes with their volume in mL
and the slices they span (1-based), and convert per-slice masks into segments."""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable


def register(command: Callable[..., Any]) -> None:
    p = command("segments", cmd_segments,
                "segments of volumes (one 3-D label map per structure): list them with their volume "
                "in mL, or convert per-slice masks into segments")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="segments with class, layer, voxels, volume (mL) and slices",
                       description="list the segments of every volume (or one)")
    q.add_argument("project", metavar="DIR", help="project folder")
    q.add_argument("--asset", metavar="ASSET", help="one volume, by name or id")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q = sub.add_parser("migrate", help="convert per-slice masks on volumes into segments (nothing is lost: "
                                       "the masks stay in the op log, deleted)",
                       description="convert per-slice mask annotations on volumes into segments")
    q.add_argument("project", metavar="DIR", help="project folder")
    q.add_argument("--asset", metavar="ASSET", help="one volume, by name or id")
    for q in sub.choices.values():
        q.add_argument("--allow-unsafe-location", action="store_true", help=argparse.SUPPRESS)


def _asset_ids(project: Any, wanted: str | None) -> list[str] | None:
    from labeldesk.core.errors import LabeldeskError
    if wanted is None:
        return None
    found = [a.id for a in project.assets() if wanted in (a.id, a.name)]
    if not found:
        raise LabeldeskError(f"no asset named {wanted!r}")
    return found


def cmd_segments(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core import segments as seg
    from labeldesk.core.segment_migration import migrate_masks
    with _open(args) as project:
        chosen = _asset_ids(project, args.asset)
        if args.action == "migrate":
            print(migrate_masks(project, chosen).summary())
            return 0
        classes = {c.id: c.name for c in project.classes()}
        layers = {l.id: l.name for l in project.layers()}
        rows = []
        for asset in project.assets():
            if asset.kind != "volume" or (chosen is not None and asset.id not in chosen):
                continue
            for s in seg.segments(project.conn, asset.id):
                zs = [r[0] for r in project.conn.execute(
                    "SELECT z FROM segment_slices WHERE segment_id = ? ORDER BY z", (s.id,))]
                ml = s.volume_ml(asset.spacing)
                rows.append({"id": s.id, "asset": asset.name, "name": s.name, "class": classes.get(s.class_id),
                             "layer": layers.get(s.layer_id), "voxels": s.voxels,
                             "volume_ml": None if ml is None else round(ml, 4),
                             "slices": [zs[0] + 1, zs[-1] + 1] if zs else None, "locked": s.locked})
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for r in rows:
            span = f"axial {r['slices'][0]}–{r['slices'][1]}" if r["slices"] else "empty"
            vol = f"{r['volume_ml']:.2f} mL" if r["volume_ml"] is not None else f"{r['voxels']} voxels"
            print(f"{r['asset']}  {r['name']} ({r['class'] or 'no class'}, layer {r['layer']})  {vol}  {span}"
                  + ("  locked" if r["locked"] else ""))
        if not rows:
            print("no segments")
        return 0
