"""Active-learning queues: which assets, slices or frames to label next, saved and shared.

Orders (``method``):

* ``least-confident``, ``margin``, ``entropy``, ``disagreement``: from the models' predictions
  (:func:`labeldesk.core.assist.prioritisation.order_queue`), e.g. the pixel classifier's
  proposals, whose scores are its confidence;
* ``diversity``: core-set order (k-centre greedy) over a small descriptor of each plane (an 8 x 8
  thumbnail and a 16-bin histogram of its normalised intensities): the plane farthest from
  everything already labelled or already queued comes next, so the queue covers what the data
  looks like rather than one kind of image.

A queue is saved with ``queue.save`` (an op, so it syncs to the team); the newest record of a name
is that queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Plane
from labeldesk.core.models import prelabel
from labeldesk.core.op_types.models import QUEUE_PREFIX, records
from labeldesk.core.ops import OpDraft
from labeldesk.core.tasks import NO_PROGRESS, Progress

METHODS = ("least-confident", "margin", "entropy", "disagreement", "diversity")


@dataclass(frozen=True)
class Item:
    asset_id: str
    plane: Plane | None
    value: float | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "plane": self.plane.to_dict() if self.plane else None,
                "value": None if self.value is None else round(float(self.value), 6), "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Item":
        return cls(d["asset_id"], Plane.from_dict(d["plane"]) if d.get("plane") else None, d.get("value"),
                   d.get("detail", ""))


def descriptor(pixels: np.ndarray) -> np.ndarray:
    from labeldesk.core.io.opencv import cv2
    g = np.asarray(pixels, np.float32)
    if g.ndim == 3:
        g = g.mean(axis=2)
    lo, hi = np.percentile(g, [1, 99])
    g = np.clip((g - lo) / max(float(hi - lo), 1e-6), 0, 1)
    thumb = cv2.resize(g, (8, 8), interpolation=cv2.INTER_AREA).ravel()
    hist = np.histogram(g, bins=16, range=(0, 1))[0].astype(np.float32)
    return np.concatenate([thumb, hist / max(hist.sum(), 1.0)])


def diversity(project: Any, asset_ids: Sequence[str] | None = None, labelled: Sequence[tuple[str, Plane]] = (),
              progress: Progress = NO_PROGRESS) -> list[Item]:
    """Planes in k-centre greedy order, each with its distance to the nearest plane before it."""
    assets = [project.asset(a) for a in asset_ids] if asset_ids else project.assets()
    units = [(a.id, p) for a in assets for p in prelabel.planes_of(a)]
    sources: dict[str, Any] = {}
    try:
        desc = []
        for i, (a, p) in enumerate(units):
            progress.report(i, len(units), f"reading {p.key()}")
            desc.append(descriptor(prelabel.read_plane(project, a, p, sources)))
    finally:
        for s in sources.values():
            s.close()
    if not units:
        return []
    x = np.stack(desc)
    done = {(a, p) for a, p in labelled}
    chosen = [i for i, u in enumerate(units) if u in done]
    nearest = np.full(len(units), np.inf)
    for i in chosen:
        nearest = np.minimum(nearest, np.linalg.norm(x - x[i], axis=1))
    out: list[Item] = []
    left = [i for i in range(len(units)) if units[i] not in done]
    while left:
        if np.isinf(nearest[left]).all():
            pick = left[0]
            value = None
        else:
            pick = max(left, key=lambda i: (nearest[i], -i))
            value = float(nearest[pick])
        out.append(Item(units[pick][0], units[pick][1], value))
        nearest = np.minimum(nearest, np.linalg.norm(x - x[pick], axis=1))
        left.remove(pick)
    return out


def build(project: Any, method: str, *, layers: Sequence[str] = (), planes: bool = True,
          asset_ids: Sequence[str] | None = None, progress: Progress = NO_PROGRESS) -> list[Item]:
    if method not in METHODS:
        raise LabeldeskError(f"unknown queue order {method!r}; one of: {', '.join(METHODS)}")
    if method == "diversity":
        from labeldesk.core.models.pixel_classifier import labelled_planes
        wanted = list(asset_ids) if asset_ids else [a.id for a in project.assets()]
        lp, _ = labelled_planes(project, wanted)
        return diversity(project, wanted, [(p.asset_id, p.plane) for p in lp], progress)
    from labeldesk.core.assist.prioritisation import order_queue
    items = order_queue(project, method, layers, planes=planes)
    return [Item(it.asset_id, it.plane, it.value, it.detail) for it in items
            if not asset_ids or it.asset_id in asset_ids]


def save(project: Any, name: str, method: str, items: Sequence[Item], detail: str = "") -> str:
    if not name.strip():
        raise LabeldeskError("a queue needs a name")
    qid = ids.new_id()
    project.apply(OpDraft("queue.save", qid, {"queue": {"name": name.strip(), "method": method, "detail": detail,
                                                        "items": [it.to_dict() for it in items]}}))
    return qid


def saved(project: Any) -> dict[str, dict[str, Any]]:
    """The newest record of each queue name."""
    out: dict[str, dict[str, Any]] = {}
    for d in sorted(records(project.conn, QUEUE_PREFIX), key=lambda d: tuple(d.get("hlc") or (0, 0))):
        out[d["name"]] = d
    return out


def load(project: Any, name: str) -> list[Item]:
    queues = saved(project)
    if name not in queues:
        raise LabeldeskError(f"no saved queue {name!r}; queues: {', '.join(sorted(queues)) or 'none'}")
    return [Item.from_dict(d) for d in queues[name]["items"]]
