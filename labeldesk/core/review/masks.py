"""Overlap and surface-distance metrics for binary masks (2-D) and label maps (3-D), in mm.

* Dice = 2|A∩B| / (|A|+|B|); 1.0 when both masks are empty (they agree there is nothing).
* Surface distances: the surface of a mask is its foreground pixels/voxels with a background
  neighbour (4-connectivity in 2-D, 6 in 3-D; outside the array counts as background). For every
  surface point of A the distance to the nearest surface point of B, and vice versa, with the
  voxel ``spacing`` (mm per pixel along each array axis).
* HD95: the 95th percentile of both directed distance sets pooled (the medpy convention);
  Hausdorff = the maximum; ASSD = their mean; surface Dice at a tolerance τ (mm): the share of
  both surfaces lying within τ of the other (Nikolov et al. 2018). NaN (with a reason in :class:`SurfaceReport`) when
  exactly one mask is empty; 0 when both are.

Distances come from exact Euclidean distance transforms: OpenCV's (Felzenszwalb) per 2-D slice
when the in-plane spacing is isotropic, and an exact separable lower-envelope pass in numpy for
any further axis or anisotropic spacing. Arrays are cropped to the union of both masks first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


def _spacing(spacing: Sequence[float] | float | None, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, (int, float)):
        return (float(spacing),) * ndim
    sp = tuple(float(s) for s in spacing)
    if len(sp) != ndim:
        raise ValueError(f"spacing {sp} has {len(sp)} values for a {ndim}-D mask")
    if not all(math.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be positive and finite, got {sp}")
    return sp


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"masks must be 2-D or 3-D, got {a.ndim}-D")
    return a, b


def dice(a: Any, b: Any) -> float:
    a, b = _pair(a, b)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def jaccard(a: Any, b: Any) -> float:
    a, b = _pair(a, b)
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def surface(mask: np.ndarray) -> np.ndarray:
    """Foreground elements with at least one face-neighbour in the background."""
    m = np.asarray(mask, dtype=bool)
    p = np.pad(m, 1, constant_values=False)
    interior = p.copy()
    for axis in range(m.ndim):
        interior &= np.roll(p, 1, axis) & np.roll(p, -1, axis)
    inner = tuple(slice(1, -1) for _ in range(m.ndim))
    return m & ~interior[inner]


def _envelope_pass(d2: np.ndarray, axis: int, step: float) -> np.ndarray:
    """Exact 1-D pass of a separable squared EDT: out[i] = min_j d2[j] + (step·(i-j))²."""
    d = np.moveaxis(d2, axis, -1)
    n = d.shape[-1]
    out = np.full_like(d, np.inf)
    offsets = (step * np.arange(n, dtype=np.float64)) ** 2
    for i in range(n):
        w = offsets[np.abs(np.arange(n) - i)]
        np.minimum(out[..., i], (d + w).min(axis=-1), out=out[..., i])
    return np.moveaxis(out, -1, axis)


def _first_pass(features: np.ndarray, axis: int, step: float) -> np.ndarray:
    """Squared distance along one axis to the nearest feature on the same line (inf if none)."""
    f = np.moveaxis(features, axis, -1)
    n = f.shape[-1]
    idx = np.arange(n)
    big = np.iinfo(np.int64).max // 4
    last = np.where(f, idx, -big)
    last = np.maximum.accumulate(last, axis=-1)
    nxt = np.where(f, idx, big)
    nxt = np.minimum.accumulate(nxt[..., ::-1], axis=-1)[..., ::-1]
    dist = np.minimum(idx - last, nxt - idx).astype(np.float64)
    d2 = np.where(dist >= big // 2, np.inf, (dist * step) ** 2)
    return np.moveaxis(d2, -1, axis)


def distance_to(features: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Euclidean distance (mm) from every element to the nearest ``True`` element of ``features``
    (inf everywhere if there is none)."""
    f = np.asarray(features, dtype=bool)
    if not f.any():
        return np.full(f.shape, np.inf)
    sp = _spacing(spacing, f.ndim)
    rows, cols = sp[-2], sp[-1]
    if math.isclose(rows, cols) and f.shape[-2] > 1 and f.shape[-1] > 1:
        from labeldesk.core.io.opencv import cv2
        planes = f.reshape((-1,) + f.shape[-2:])
        d2 = np.empty(planes.shape, dtype=np.float64)
        for k, plane in enumerate(planes):
            if plane.any():
                src = np.where(plane, 0, 255).astype(np.uint8)
                d = cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)
                d2[k] = (d * rows) ** 2
            else:
                d2[k] = np.inf
        d2 = d2.reshape(f.shape)
        rest = range(f.ndim - 2)
    else:
        d2 = _first_pass(f, f.ndim - 1, sp[-1])
        rest = range(f.ndim - 1)
    for axis in rest:
        d2 = _envelope_pass(d2, axis, sp[axis])
    return np.sqrt(d2)


def _crop(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = a | b
    sl = []
    for axis in range(a.ndim):
        other = tuple(i for i in range(a.ndim) if i != axis)
        idx = np.flatnonzero(both.any(axis=other))
        sl.append(slice(int(idx[0]), int(idx[-1]) + 1))
    return a[tuple(sl)], b[tuple(sl)]


@dataclass(frozen=True)
class SurfaceReport:
    dice: float
    hd95: float            # mm
    hausdorff: float       # mm
    assd: float            # mm: average symmetric surface distance
    volume_a: float        # mm² (2-D) or mm³ (3-D)
    volume_b: float
    reason: str = ""
    surface_dice: float = math.nan    # at ``tolerance`` mm
    tolerance: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else round(float(v), 6)
        return {"dice": num(self.dice), "hd95": num(self.hd95), "hausdorff": num(self.hausdorff),
                "assd": num(self.assd), "surface_dice": num(self.surface_dice), "tolerance_mm": self.tolerance,
                "volume_a": num(self.volume_a), "volume_b": num(self.volume_b), "reason": self.reason}


def surface_distances(a: Any, b: Any, spacing: Sequence[float] | float | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(distances from A's surface to B's, from B's surface to A's), in mm; both non-empty."""
    a, b = _pair(a, b)
    if not a.any() or not b.any():
        raise ValueError("surface distances need two non-empty masks")
    sp = _spacing(spacing, a.ndim)
    a, b = _crop(a, b)
    sa, sb = surface(a), surface(b)
    return distance_to(sb, sp)[sa], distance_to(sa, sp)[sb]


def compare_masks(a: Any, b: Any, spacing: Sequence[float] | float | None = None,
                  percentile: float = 95.0, tolerance: float = 1.0) -> SurfaceReport:
    """Dice, HD95 (or another percentile), Hausdorff, ASSD and surface Dice at ``tolerance``
    mm of two binary masks."""
    a, b = _pair(a, b)
    sp = _spacing(spacing, a.ndim)
    unit = float(np.prod(sp))
    va, vb = np.count_nonzero(a) * unit, np.count_nonzero(b) * unit
    d = dice(a, b)
    if not a.any() and not b.any():
        return SurfaceReport(d, 0.0, 0.0, 0.0, 0.0, 0.0, "both masks are empty", 1.0, tolerance)
    if not a.any() or not b.any():
        side = "A" if not a.any() else "B"
        return SurfaceReport(d, math.nan, math.nan, math.nan, va, vb,
                             f"mask {side} is empty: surface distances are undefined", 0.0, tolerance)
    da, db = surface_distances(a, b, sp)
    pooled = np.concatenate([da, db])
    within = float(np.count_nonzero(pooled <= tolerance + 1e-9)) / len(pooled)
    return SurfaceReport(d, float(np.percentile(pooled, percentile)), float(pooled.max()),
                         float(pooled.mean()), va, vb, "", within, tolerance)


def hd95(a: Any, b: Any, spacing: Sequence[float] | float | None = None) -> float:
    return compare_masks(a, b, spacing).hd95


def compare_label_maps(a: Any, b: Any, spacing: Sequence[float] | float | None = None,
                       labels: Sequence[int] | None = None, background: int = 0
                       ) -> dict[int, SurfaceReport]:
    """Per-label :func:`compare_masks` of two integer label maps (2-D or 3-D) of one shape."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"label maps differ in shape: {a.shape} and {b.shape}")
    if labels is None:
        labels = sorted(int(v) for v in np.union1d(np.unique(a), np.unique(b)) if v != background)
    return {int(lab): compare_masks(a == lab, b == lab, spacing) for lab in labels}
