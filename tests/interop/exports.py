"""A small project with images and a video, exported in every dataset layout the interop test
reads with the real loaders (run in the main environment)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core import ids, interchange
from labeldesk.core.geometry import Mask
from labeldesk.core.groups import group_drafts
from labeldesk.core.importer import add_paths
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.samples.video import write_stamped_clip

W, H = 96, 64


def _images(folder: Path, n: int) -> list[Path]:
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    rng = np.random.default_rng(7)
    for i in range(n):
        p = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(p)
        out.append(p)
    return out


def _ann(p: Project, asset: str, cls: str, g: dict[str, Any], plane: dict[str, Any] | None = None,
         track: str | None = None) -> str:
    aid = ids.new_id()
    d: dict[str, Any] = {"asset_id": asset, "layer_id": p.my_layer_id, "class_id": cls, "geometry": g,
                         "plane": plane or {"z": 0, "t": 0, "axis": "axial"}}
    if track:
        d["track_id"], d["keyframe"] = track, True
    p.apply(OpDraft("annotation.create", aid, {"annotation": d}))
    return aid


def build(root: Path) -> dict[str, Path]:
    """The project under ``root/project`` and its exports: format -> path."""
    p = Project.create(root / "project", "interop", user_name="alice")
    try:
        report = add_paths(p, _images(root / "src", 4) + [write_stamped_clip(root / "src/clip.mp4", 5, (W, H))])
        assets = {a.name: a.id for a in p.assets()}
        cls = {}
        for name in ("car", "person", "road"):
            cls[name] = ids.new_id()
            p.apply(OpDraft("ontology.class.create", cls[name], {"class": {"name": name}}))
        m = np.zeros((H, W), bool)
        m[30:50, 10:40] = True
        for i, name in enumerate(sorted(n for n in assets if n.endswith(".png"))):
            a = assets[name]
            _ann(p, a, cls["car"], {"kind": "box", "xyxy": [5 + i, 6, 40.5, 30.25]})
            _ann(p, a, cls["road"], {"kind": "polygon", "shell": [[50, 5], [90, 10], [70, 40]],
                                     "holes": [[[65, 12], [75, 15], [70, 22]]] if i == 0 else []} if i == 0 else
                 {"kind": "polygon", "shell": [[50, 5], [90, 10], [70, 40]]})
            _ann(p, a, cls["person"], Mask.from_array(m).to_dict())
            if i == 1:          # one object in two parts (an instance group)
                left = _ann(p, a, cls["person"], {"kind": "polygon", "shell": [[2, 40], [8, 40], [8, 60], [2, 60]]})
                right = _ann(p, a, cls["person"], {"kind": "polygon", "shell": [[12, 40], [18, 40], [18, 60],
                                                                                [12, 60]]})
                p.apply_all(group_drafts([p.annotation(left), p.annotation(right)]))
        video = assets["clip.mp4"]
        track = ids.new_id()
        for t in (0, 1, 3):
            _ann(p, video, cls["car"], {"kind": "box", "xyxy": [10 + t, 10, 30 + t, 30]}, {"z": 0, "t": t, "axis": "axial"},
                 track)
        out = root / "exports"
        paths = {}
        for fmt, dest, opts in (
                ("coco", "coco", {"images": "copy", "split": "train=0.5,val=0.5", "seed": 3}),
                ("yolo", "yolo", {"images": "copy", "split": "train=0.5,val=0.5", "seed": 3}),
                ("yolo-seg", "yolo-seg", {"images": "copy"}),
                ("voc", "voc", {"images": "copy"}),
                ("cvat", "cvat", {"images": "copy"}),
                ("labelme", "labelme", {}),
                ("mot", "mot", {"images": "png"}),
                ("label-studio", "ls.json", {})):
            rep = interchange.export(p, fmt, out / dest, options=opts)
            assert not rep.refused, (fmt, rep.lines())
            paths[fmt] = out / dest
        return paths
    finally:
        p.close()
