"""Order the to-do queue by model uncertainty or by disagreement between two models.

Scores are read from the predictions' provenance (``score``; ``class_scores`` where a model gave a
distribution over classes). Per prediction:

* ``least-confident``: ``1 - max p`` (p = the class scores if given, else the score);
* ``margin``: ``p1 - p2``, the top two class scores. Without class scores, overlapping predictions
  on a plane (IoU >= ``overlap``) form a group and p1, p2 are the best scores of its two best
  classes; a prediction alone stands for ``{its class: p, anything else: 1 - p}``: ``|2p - 1|``.
  A small margin is uncertain;
* ``entropy``: ``-sum p log2 p`` over the class scores (the rest of the mass, ``1 - sum``, as one
  more outcome), or the binary entropy of the score: 1 bit at p = 0.5, 0 at p = 0 or 1.

An item of the queue (an asset, or one plane of an asset with ``planes=True``) gets the most
uncertain of its predictions (``aggregate="max"``: the largest least-confidence or entropy, the
smallest margin) or their mean (``aggregate="mean"``).

``disagreement`` compares two predictions layers on each plane with the greedy one-to-one matching
of :mod:`labeldesk.core.review.matching` (pairs at or above ``threshold``, same class first, then
across classes) and ``1 - sum(IoU of same-class pairs) / (|A| + |B| - pairs)``: 0 when both models
agree exactly, 1 when nothing matches. Overlap groups for ``margin`` use area shapes only.

Predictions without a score (a label map from a segmentation model, say) give no value; items
without scored predictions come last, in asset order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.geometry import GeometryError, iou
from labeldesk.core.model import Annotation, Plane

METHODS = ("least-confident", "margin", "entropy", "disagreement")
AGGREGATES = ("max", "mean")
AREA_KINDS = ("box", "rotated_box", "ellipse", "polygon", "mask")


# ---- per prediction --------------------------------------------------------------------------------
def _distribution(score: float | None, class_scores: dict[str, float] | None) -> list[float]:
    if class_scores:
        ps = sorted((min(max(float(v), 0.0), 1.0) for v in class_scores.values()), reverse=True)
        total = sum(ps)
        if total > 1.0:
            return [p / total for p in ps]
        return ps + ([1.0 - total] if total < 1.0 else [])
    p = min(max(float(score if score is not None else 0.0), 0.0), 1.0)
    return [p, 1.0 - p]


def least_confident(score: float | None, class_scores: dict[str, float] | None = None) -> float:
    if class_scores:
        return 1.0 - max(min(max(float(v), 0.0), 1.0) for v in class_scores.values())
    return 1.0 - min(max(float(score if score is not None else 0.0), 0.0), 1.0)


def margin(score: float | None, class_scores: dict[str, float] | None = None) -> float:
    if class_scores and len(class_scores) >= 2:
        top = sorted((float(v) for v in class_scores.values()), reverse=True)
        return top[0] - top[1]
    if class_scores:
        score = next(iter(class_scores.values()))
    p = min(max(float(score if score is not None else 0.0), 0.0), 1.0)
    return abs(2 * p - 1)


def entropy(score: float | None, class_scores: dict[str, float] | None = None) -> float:
    return float(-sum(p * math.log2(p) for p in _distribution(score, class_scores) if p > 0))


# ---- matching ----------------------------------------------------------------------------------------
def _iou(a: Annotation, b: Annotation) -> float | None:
    if a.geometry.kind not in AREA_KINDS or b.geometry.kind not in AREA_KINDS:
        return None
    ax0, ay0, ax1, ay1 = a.geometry.bounds()
    bx0, by0, bx1, by1 = b.geometry.bounds()
    if ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0:
        return 0.0
    try:
        return iou(a.geometry, b.geometry)
    except (GeometryError, ValueError):
        return None


def disagreement(a: Sequence[Annotation], b: Sequence[Annotation], threshold: float = 0.5) -> float | None:
    """0 (the two sets agree) .. 1 (nothing matches); None when both are empty. Matching is the
    review module's (same class first, then across classes; IoU for areas and lines, an OKS-like
    similarity for points), one-to-one within each plane."""
    from labeldesk.core.review.matching import match_annotations
    if not a and not b:
        return None
    res = match_annotations(a, b, threshold)
    agree = sum(m.iou for m in res.matches)
    paired = len(res.matches) + len(res.class_mismatches)
    return 1.0 - agree / (len(a) + len(b) - paired)


def _groups(anns: Sequence[Annotation], overlap: float) -> list[list[Annotation]]:
    """Connected groups of predictions overlapping at IoU >= ``overlap`` (single-link)."""
    parent = list(range(len(anns)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i in range(len(anns)):
        for j in range(i + 1, len(anns)):
            if anns[i].plane == anns[j].plane:
                v = _iou(anns[i], anns[j])
                if v is not None and v >= overlap and v > 0:
                    parent[root(i)] = root(j)
    out: dict[int, list[Annotation]] = {}
    for i, a in enumerate(anns):
        out.setdefault(root(i), []).append(a)
    return list(out.values())


SCORE_ONLY = ("least-confident", "entropy")
DONE_STATES = ("submitted", "approved", "adjudicated")


def _done_assets(project: Any) -> set[str]:
    """Assets that are no longer to do for you: your layer's item submitted, approved or adjudicated."""
    from labeldesk.core.review.workflow import item_states
    mine = {l.id for l in project.layers() if l.owner == project.user_id and l.kind == "annotator"}
    return {i.asset_id for i in item_states(project.conn) if i.layer_id in mine and i.state in DONE_STATES}


@dataclass(frozen=True)
class _ScoreRow:
    id: str
    layer_id: str
    plane: Plane


def _score_rows(project: Any, layer_ids: list[str]) -> dict[str, list[_ScoreRow]]:
    """The predictions of ``layer_ids`` by asset, without their geometry (in drawing order)."""
    out: dict[str, list[_ScoreRow]] = {}
    marks = ",".join("?" * len(layer_ids))
    for r in project.conn.execute(
            f"SELECT id, asset_id, layer_id, plane_axis, plane_z, plane_t FROM annotations WHERE deleted = 0"
            f" AND layer_id IN ({marks}) ORDER BY z_order, rowid", layer_ids):
        out.setdefault(r[1], []).append(_ScoreRow(r[0], r[2], Plane(r[4], r[5], r[3])))
    return out


# ---- the queue ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueItem:
    asset_id: str
    asset_name: str
    plane: Plane | None          # None: the whole asset
    value: float | None          # the method's value (None: no predictions)
    predictions: int
    detail: str = ""


def _scores(prov: Any) -> tuple[float | None, dict[str, float] | None]:
    if prov is None:
        return None, None
    return prov.score, prov.class_scores


def _scored(prov: Any) -> bool:
    return prov is not None and (prov.score is not None or bool(prov.class_scores))


def _item_values(method: str, anns: list[Any], provs: dict[str, Any], overlap: float) -> list[float]:
    """One value per prediction (per overlapping group for margin); predictions without any score
    (e.g. a label map from a segmentation model) give none."""
    scored = [a for a in anns if _scored(provs.get(a.id))]
    if method == "least-confident":
        return [least_confident(*_scores(provs.get(a.id))) for a in scored]
    if method == "entropy":
        return [entropy(*_scores(provs.get(a.id))) for a in scored]
    values = []
    for group in _groups(scored, overlap):
        best: dict[Any, float] = {}
        for a in group:
            s, cs = _scores(provs.get(a.id))
            if cs and len(cs) >= 2:          # the model gave a distribution: its own margin
                values.append(margin(s, cs))
            else:
                p = float(s if s is not None else max(cs.values()))
                best[a.class_id] = max(best.get(a.class_id, 0.0), p)
        if best:
            top = sorted(best.values(), reverse=True)
            values.append(top[0] - top[1] if len(top) >= 2 else margin(top[0]))
    return values


def _units(anns: list[Annotation], planes: bool) -> list[tuple[Plane | None, list[Annotation]]]:
    if not planes:
        return [(None, anns)]
    by_plane: dict[Plane, list[Annotation]] = {}
    for a in anns:
        by_plane.setdefault(a.plane, []).append(a)
    return sorted(by_plane.items(), key=lambda kv: (kv[0].axis, kv[0].t, kv[0].z)) or [(None, [])]


def order_queue(project: Any, method: str, layers: Iterable[str] = (), *, planes: bool = False,
                aggregate: str = "max", threshold: float = 0.5, overlap: float = 0.5,
                pending_only: bool = False, todo_only: bool = False) -> list[QueueItem]:
    """The to-do queue (assets, or asset planes) most uncertain / most disputed first.
    ``todo_only``: leave out assets your own layer has submitted or that are approved/adjudicated
    (the review workflow's states)."""
    from labeldesk.core.predictions import prediction_layers, predictions, provenances
    if method not in METHODS:
        raise LabeldeskError(f"unknown ordering {method!r}; choose one of: {', '.join(METHODS)}")
    if not 0 < threshold <= 1 or not 0 < overlap <= 1:
        raise LabeldeskError(f"the IoU must be in (0, 1], got {threshold if not 0 < threshold <= 1 else overlap}")
    if aggregate not in AGGREGATES:
        raise LabeldeskError(f"unknown aggregate {aggregate!r}; choose one of: {', '.join(AGGREGATES)}")
    names = list(layers)
    chosen = [l for n in names for l in prediction_layers(project, n)] if names else prediction_layers(project)
    if not chosen:
        raise LabeldeskError("the project has no predictions layer: import model predictions first")
    if method == "disagreement":
        if len(chosen) != 2:
            raise LabeldeskError("disagreement compares exactly two predictions layers; name them with "
                                 "--layers A B (predictions layers: "
                                 + ", ".join(repr(l.name) for l in prediction_layers(project)) + ")")
    provs = provenances(project.conn)
    skip: set[str] = set()
    if pending_only:
        skip = {s.prediction.id for s in predictions(project) if s.status != "pending"}
    items: list[QueueItem] = []
    light = _score_rows(project, [l.id for l in chosen]) if method in SCORE_ONLY else None
    done = _done_assets(project) if todo_only else set()
    for asset in project.assets():
        if asset.id in done:
            continue
        if light is not None:       # scores only: no geometry to read
            rows = light.get(asset.id, [])
            per_layer = [[r for r in rows if r.layer_id == l.id and r.id not in skip] for l in chosen]
        else:
            per_layer = [[a for a in project.annotations(asset.id, layer_id=l.id) if a.id not in skip]
                         for l in chosen]
        everything = [a for group in per_layer for a in group]
        for plane, anns in _units(everything, planes):
            if not anns:
                items.append(QueueItem(asset.id, asset.name, plane, None, 0))
                continue
            if method == "disagreement":
                ids = {a.id for a in anns}
                a_side = [a for a in per_layer[0] if a.id in ids]
                b_side = [a for a in per_layer[1] if a.id in ids]
                value = disagreement(a_side, b_side, threshold)   # pairs only within a plane
                items.append(QueueItem(asset.id, asset.name, plane, value, len(anns),
                                       f"{len(a_side)} vs {len(b_side)}"))
                continue
            values = _item_values(method, anns, provs, overlap)
            if not values:
                items.append(QueueItem(asset.id, asset.name, plane, None, len(anns), "no scores"))
                continue
            if aggregate == "mean":
                value = sum(values) / len(values)
            else:
                value = min(values) if method == "margin" else max(values)
            items.append(QueueItem(asset.id, asset.name, plane, value, len(anns)))
    position = {id(it): i for i, it in enumerate(items)}
    sign = 1.0 if method == "margin" else -1.0        # margin: small first; the others: large first
    return sorted(items, key=lambda it: (it.value is None, sign * (it.value or 0.0), position[id(it)]))

