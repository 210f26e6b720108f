"""Shape similarity between two annotators' annotations and greedy one-to-one matching.

Similarity by geometry family (docs/sync.md §12):

* area shapes (box, rotated box, ellipse, polygon with holes, mask): IoU. Vector shapes compare
  with shapely; a mask against a mask pixel-exactly; a mask against a vector shape by
  rasterising the vector shape (OpenCV) on the mask's pixel grid.
* polylines: IoU of the two lines thickened to a band of ``line_width`` pixels (CVAT-like hull).
* points / keypoints: an OKS-like similarity, mean over point pairs of exp(-d² / 2σ²) with σ in
  pixels; points pair by label when both carry labels, else by order when counts agree, else
  nearest first; unpaired points score 0.
* shapes of different families (a box and a polyline) are not comparable: similarity ``None``.

Matching is COCO-eval style: on each plane, same-class pairs are taken highest similarity first,
one-to-one, at or above the threshold; leftovers then match across classes (class mismatches);
leftover overlapping pairs below the threshold are reported as low-IoU pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from labeldesk.core.geometry import Box, Mask, Points, Polyline

AREA_KINDS = ("box", "rotated_box", "ellipse", "polygon", "mask")
DEFAULT_LINE_WIDTH = 4.0    # pixels: polylines within ~2 px of each other overlap
DEFAULT_POINT_SIGMA = 4.0   # pixels: a point 4 px off scores exp(-1/2) ≈ 0.61


def family(kind: str) -> str:
    if kind in AREA_KINDS:
        return "area"
    if kind == "polyline":
        return "line"
    if kind == "points":
        return "points"
    return kind


def _vector_mask(geom: Any, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Rasterise a vector area shape on the pixel grid of the window (x0, y0, w, h): a pixel is
    inside when its centre is (exact point-in-polygon tests, holes included)."""
    import shapely
    shp = geom.to_shapely()
    out = np.zeros((h, w), dtype=bool)
    bx0, by0, bx1, by1 = shp.bounds
    c0, r0 = max(0, int(math.floor(bx0)) - x0), max(0, int(math.floor(by0)) - y0)
    c1, r1 = min(w, int(math.ceil(bx1)) - x0), min(h, int(math.ceil(by1)) - y0)
    if c1 <= c0 or r1 <= r0:
        return out
    shapely.prepare(shp)
    xs = x0 + 0.5 + np.arange(c0, c1, dtype=float)
    ys = y0 + 0.5 + np.arange(r0, r1, dtype=float)
    gx, gy = np.meshgrid(xs, ys)
    out[r0:r1, c0:c1] = shapely.contains_xy(shp, gx, gy)
    return out


def _mask_window(m: Mask, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    return m.translate(-x0, -y0).paste(w, h)


def area_iou(a: Any, b: Any) -> float:
    """IoU of two area shapes; masks pixel-exactly, mixed mask/vector on the mask's pixel grid."""
    if not _boxes_overlap(a.bounds(), b.bounds()):
        return 0.0
    if isinstance(a, Mask) or isinstance(b, Mask):
        bx = [a.bounds(), b.bounds()]
        x0 = int(math.floor(min(p[0] for p in bx)))
        y0 = int(math.floor(min(p[1] for p in bx)))
        x1 = int(math.ceil(max(p[2] for p in bx)))
        y1 = int(math.ceil(max(p[3] for p in bx)))
        w, h = max(1, x1 - x0), max(1, y1 - y0)
        ma = _mask_window(a, x0, y0, w, h) if isinstance(a, Mask) else _vector_mask(a, x0, y0, w, h)
        mb = _mask_window(b, x0, y0, w, h) if isinstance(b, Mask) else _vector_mask(b, x0, y0, w, h)
        union = np.count_nonzero(ma | mb)
        return float(np.count_nonzero(ma & mb) / union) if union else 0.0
    sa, sb = a.to_shapely(), b.to_shapely()
    inter = sa.intersection(sb).area
    union = sa.area + sb.area - inter
    return float(inter / union) if union > 0 else 0.0


def line_iou(a: Polyline, b: Polyline, width: float = DEFAULT_LINE_WIDTH) -> float:
    """IoU of two polylines thickened to bands ``width`` pixels wide (flat caps)."""
    sa = a.to_shapely().buffer(width / 2, cap_style="flat")
    sb = b.to_shapely().buffer(width / 2, cap_style="flat")
    inter = sa.intersection(sb).area
    union = sa.area + sb.area - inter
    return float(inter / union) if union > 0 else 0.0


def point_similarity(a: Points, b: Points, sigma: float = DEFAULT_POINT_SIGMA) -> float:
    """OKS-like similarity in [0, 1] of two point sets (see module docstring)."""
    pa, pb = np.asarray(a.points, float), np.asarray(b.points, float)
    denom = max(len(pa), len(pb))
    if a.labels and b.labels:
        ia = {lab: i for i, lab in enumerate(a.labels)}
        ib = {lab: i for i, lab in enumerate(b.labels)}
        pairs = [(ia[k], ib[k]) for k in ia if k in ib]
        denom = len(set(ia) | set(ib))
    elif len(pa) == len(pb):
        pairs = [(i, i) for i in range(len(pa))]
    else:
        d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
        pairs, used_a, used_b = [], set(), set()
        for flat in np.argsort(d, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(pb))
            if i not in used_a and j not in used_b:
                pairs.append((i, j))
                used_a.add(i)
                used_b.add(j)
    if not pairs:
        return 0.0
    d2 = np.array([float(((pa[i] - pb[j]) ** 2).sum()) for i, j in pairs])
    return float(np.exp(-d2 / (2 * sigma * sigma)).sum() / denom)


def similarity(a: Any, b: Any, line_width: float = DEFAULT_LINE_WIDTH,
               point_sigma: float = DEFAULT_POINT_SIGMA) -> float | None:
    """IoU (areas, lines) or OKS-like similarity (points); ``None`` when the kinds are not comparable."""
    fa, fb = family(a.kind), family(b.kind)
    if fa != fb:
        return None
    if fa == "area":
        return area_iou(a, b)
    if fa == "line":
        return line_iou(a, b, line_width)
    if fa == "points":
        return point_similarity(a, b, point_sigma)
    return None


def _boxes_overlap(p: Sequence[float], q: Sequence[float], margin: float = 0.0) -> bool:
    return not (p[2] + margin < q[0] or q[2] + margin < p[0] or p[3] + margin < q[1] or q[3] + margin < p[1])


@dataclass(frozen=True)
class Match:
    a: str                 # annotation id on side A
    b: str                 # annotation id on side B
    iou: float             # IoU, or OKS-like similarity for points
    class_a: str | None
    class_b: str | None
    plane: str             # Plane.key()


@dataclass
class MatchResult:
    """One-to-one matching of side A (reference) against side B."""

    threshold: float
    matches: list[Match] = field(default_factory=list)          # same class, iou >= threshold
    class_mismatches: list[Match] = field(default_factory=list)  # other class, iou >= threshold
    low_iou: list[Match] = field(default_factory=list)           # 0 < iou < threshold, leftovers
    unmatched_a: list[str] = field(default_factory=list)         # not in matches/class_mismatches
    unmatched_b: list[str] = field(default_factory=list)
    n_a: int = 0
    n_b: int = 0

    def extend(self, other: "MatchResult") -> None:
        self.matches += other.matches
        self.class_mismatches += other.class_mismatches
        self.low_iou += other.low_iou
        self.unmatched_a += other.unmatched_a
        self.unmatched_b += other.unmatched_b
        self.n_a += other.n_a
        self.n_b += other.n_b

    @property
    def precision(self) -> float:
        """Same-class matches over B's annotations (NaN when B has none)."""
        return len(self.matches) / self.n_b if self.n_b else math.nan

    @property
    def recall(self) -> float:
        return len(self.matches) / self.n_a if self.n_a else math.nan

    @property
    def f1(self) -> float:
        """2·matches / (|A| + |B|); 1.0 when both sides are empty (nothing to disagree on)."""
        total = self.n_a + self.n_b
        return 2 * len(self.matches) / total if total else 1.0

    @property
    def mean_iou(self) -> float:
        return float(np.mean([m.iou for m in self.matches])) if self.matches else math.nan

    @property
    def mean_dice(self) -> float:
        """Mean Dice = 2·IoU/(1+IoU) of the same-class matches."""
        return float(np.mean([2 * m.iou / (1 + m.iou) for m in self.matches])) if self.matches else math.nan

    def summary(self) -> dict[str, Any]:
        return {"n_a": self.n_a, "n_b": self.n_b, "matched": len(self.matches),
                "class_mismatch": len(self.class_mismatches), "low_iou": len(self.low_iou),
                "unmatched_a": len(self.unmatched_a), "unmatched_b": len(self.unmatched_b),
                "precision": _num(self.precision), "recall": _num(self.recall), "f1": _num(self.f1),
                "mean_iou": _num(self.mean_iou), "mean_dice": _num(self.mean_dice)}


def _num(v: float) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 6)


DENSE_LIMIT = 250_000     # pairs: above this, candidate pairs come from a grid index


def _near_pairs(ba: np.ndarray, bb: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) whose bounding boxes come within ``margin`` of each other."""
    def overlap(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return ~((ba[i, 2] + margin < bb[j, 0]) | (bb[j, 2] + margin < ba[i, 0])
                 | (ba[i, 3] + margin < bb[j, 1]) | (bb[j, 3] + margin < ba[i, 1]))

    if len(ba) * len(bb) <= DENSE_LIMIT:
        i, j = np.indices((len(ba), len(bb))).reshape(2, -1)
        keep = overlap(i, j)
        return i[keep], j[keep]
    # uniform grid over B's boxes, cells about the size of a typical shape
    sizes = np.concatenate([ba[:, 2:] - ba[:, :2], bb[:, 2:] - bb[:, :2]]).ravel()
    cell = max(1.0, float(np.median(sizes)) + 2 * margin)
    lo = np.floor((bb[:, :2] - margin) / cell).astype(np.int64)
    hi = np.floor((bb[:, 2:] + margin) / cell).astype(np.int64)
    grid: dict[tuple[int, int], list[int]] = {}
    for j in range(len(bb)):
        for gx in range(lo[j, 0], hi[j, 0] + 1):
            for gy in range(lo[j, 1], hi[j, 1] + 1):
                grid.setdefault((gx, gy), []).append(j)
    alo = np.floor(ba[:, :2] / cell).astype(np.int64)
    ahi = np.floor(ba[:, 2:] / cell).astype(np.int64)
    pi: list[np.ndarray] = []
    pj: list[np.ndarray] = []
    for i in range(len(ba)):
        found: set[int] = set()
        for gx in range(alo[i, 0], ahi[i, 0] + 1):
            for gy in range(alo[i, 1], ahi[i, 1] + 1):
                found.update(grid.get((gx, gy), ()))
        if found:
            js = np.fromiter(found, dtype=np.int64, count=len(found))
            pi.append(np.full(len(js), i, dtype=np.int64))
            pj.append(js)
    if not pi:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = np.concatenate(pi), np.concatenate(pj)
    keep = overlap(i, j)
    return i[keep], j[keep]


def _candidates(a: Sequence[Any], b: Sequence[Any], line_width: float,
                point_sigma: float) -> list[tuple[float, int, int]]:
    """(similarity, i, j) for every comparable pair whose boxes come near each other, highest
    first (ties by input order, so the result is deterministic). Box pairs are scored in bulk."""
    if not a or not b:
        return []
    ba = np.array([x.geometry.bounds() for x in a], dtype=float)
    bb = np.array([y.geometry.bounds() for y in b], dtype=float)
    i, j = _near_pairs(ba, bb, max(line_width, 3 * point_sigma))
    box_a = np.array([type(x.geometry) is Box for x in a])
    box_b = np.array([type(y.geometry) is Box for y in b])
    both = box_a[i] & box_b[j]
    s = np.zeros(len(i))
    bi, bj = i[both], j[both]
    w = np.clip(np.minimum(ba[bi, 2], bb[bj, 2]) - np.maximum(ba[bi, 0], bb[bj, 0]), 0, None)
    h = np.clip(np.minimum(ba[bi, 3], bb[bj, 3]) - np.maximum(ba[bi, 1], bb[bj, 1]), 0, None)
    inter = w * h
    area_a = (ba[bi, 2] - ba[bi, 0]) * (ba[bi, 3] - ba[bi, 1])
    area_b = (bb[bj, 2] - bb[bj, 0]) * (bb[bj, 3] - bb[bj, 1])
    s[both] = inter / (area_a + area_b - inter)
    for k in np.flatnonzero(~both):
        v = similarity(a[i[k]].geometry, b[j[k]].geometry, line_width, point_sigma)
        s[k] = 0.0 if v is None else v
    keep = s > 0
    i, j, s = i[keep], j[keep], s[keep]
    order = np.lexsort((j, i, -s))
    return [(float(s[k]), int(i[k]), int(j[k])) for k in order]


def match_plane(a: Sequence[Any], b: Sequence[Any], threshold: float = 0.5,
                line_width: float = DEFAULT_LINE_WIDTH,
                point_sigma: float = DEFAULT_POINT_SIGMA) -> MatchResult:
    """Greedy one-to-one matching of annotations ``a`` and ``b`` (all on one plane)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"the IoU threshold must be in (0, 1], got {threshold}")
    plane = a[0].plane.key() if a else (b[0].plane.key() if b else "")
    res = MatchResult(threshold, n_a=len(a), n_b=len(b))
    cands = _candidates(a, b, line_width, point_sigma)
    used_a: set[int] = set()
    used_b: set[int] = set()

    def take(pred: Any, into: list[Match]) -> None:
        for s, i, j in cands:
            if i in used_a or j in used_b or not pred(s, i, j):
                continue
            used_a.add(i)
            used_b.add(j)
            into.append(Match(a[i].id, b[j].id, s, a[i].class_id, b[j].class_id, plane))

    take(lambda s, i, j: s >= threshold and a[i].class_id == b[j].class_id, res.matches)
    take(lambda s, i, j: s >= threshold, res.class_mismatches)
    matched_a, matched_b = set(used_a), set(used_b)
    take(lambda s, i, j: True, res.low_iou)
    res.unmatched_a = [a[i].id for i in range(len(a)) if i not in matched_a]
    res.unmatched_b = [b[j].id for j in range(len(b)) if j not in matched_b]
    return res


def match_annotations(a: Iterable[Any], b: Iterable[Any], threshold: float = 0.5,
                      line_width: float = DEFAULT_LINE_WIDTH,
                      point_sigma: float = DEFAULT_POINT_SIGMA) -> MatchResult:
    """Match two annotators' annotations plane by plane (never across planes)."""
    by_plane: dict[str, tuple[list[Any], list[Any]]] = {}
    for ann in a:
        by_plane.setdefault(ann.plane.key(), ([], []))[0].append(ann)
    for ann in b:
        by_plane.setdefault(ann.plane.key(), ([], []))[1].append(ann)
    total = MatchResult(threshold)
    for key in sorted(by_plane):
        side_a, side_b = by_plane[key]
        total.extend(match_plane(side_a, side_b, threshold, line_width, point_sigma))
    return total
