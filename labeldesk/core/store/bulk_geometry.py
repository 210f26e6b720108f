"""The geometry checks of the bulk path (store/bulk.py), over a whole run of drafts at once.

Each answers "this shape is exactly what the op's ``prepare`` would store, unclipped" or None
(then the single path decides, with its own message): boxes in plain arithmetic, polygon shells
as one numpy array of all their vertices and one vectorised shapely validity and area test.
"""
from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np

SHELL_TYPES = (list, tuple, np.ndarray)     # a shell as the import context queues it, or as a list


def box(xyxy: Any, w: int, h: int) -> list[float] | None:
    """The box as ``Box.clip(...).to_dict()`` writes it, when it is valid and inside the plane."""
    if type(xyxy) not in (list, tuple) or len(xyxy) != 4:
        return None
    x0, y0, x1, y1 = xyxy
    if not (type(x0) is float and type(y0) is float and type(x1) is float and type(y1) is float):
        try:
            x0, y0, x1, y1 = float(x0), float(y0), float(x1), float(y1)
        except (TypeError, ValueError, OverflowError):
            return None
    if not (0.0 <= x0 < x1 <= w and 0.0 <= y0 < y1 <= h):   # (NaN fails every comparison)
        return None
    if math.isinf(x1) or math.isinf(y1):
        return None
    return [x0 + 0.0, y0 + 0.0, x1, y1]                       # (max(0.0, -0.0) is 0.0)


def valid_shells(shells: list[Any], widths: list[int], heights: list[int]) -> list[Any]:
    """For each polygon shell: (its vertices as an (n, 2) float64 array, its bounds) when
    ``Polygon(shell).clip(w, h)`` would return it unchanged (finite, no repeated consecutive or
    closing vertex, at least 3 vertices, valid with a positive area, inside the plane); else None."""
    out: list[Any] = [None] * len(shells)
    lens = np.fromiter(map(len, shells), dtype=np.int64, count=len(shells))
    try:
        if all(type(s) is np.ndarray and s.ndim == 2 and s.shape[1] == 2 for s in shells):
            coords = np.concatenate(shells).astype(np.float64, copy=False)    # (formats/context.py: compact)
        else:
            coords = np.array(list(chain.from_iterable(shells)), dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return out
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != int(lens.sum()):
        return out
    starts = np.zeros(len(lens), dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    ends = starts + lens - 1
    ok = np.logical_and.reduceat(np.isfinite(coords).all(axis=1), starts)
    ok &= ~np.logical_or.reduceat((np.signbit(coords) & (coords == 0)).any(axis=1), starts)    # -0.0
    same = np.zeros(len(coords), dtype=bool)
    same[1:] = (coords[1:] == coords[:-1]).all(axis=1)
    same[starts] = False
    ok &= ~np.logical_or.reduceat(same, starts)
    ok &= ~(coords[starts] == coords[ends]).all(axis=1)
    x0 = np.minimum.reduceat(coords[:, 0], starts)
    y0 = np.minimum.reduceat(coords[:, 1], starts)
    x1 = np.maximum.reduceat(coords[:, 0], starts)
    y1 = np.maximum.reduceat(coords[:, 1], starts)
    ok &= (x0 >= 0) & (y0 >= 0) & (x1 <= np.asarray(widths, float)) & (y1 <= np.asarray(heights, float))
    which = np.flatnonzero(ok)
    if not len(which):
        return out
    import shapely
    keep = np.repeat(ok, lens)
    rings = shapely.linearrings(coords[keep], indices=np.repeat(np.arange(len(which)), lens[which]))
    polys = shapely.polygons(rings)
    good = shapely.is_valid(polys) & (shapely.area(polys) > 0)
    for j, k in enumerate(which):
        if good[j]:
            s, e = int(starts[k]), int(ends[k]) + 1
            out[k] = (coords[s:e], (float(x0[k]), float(y0[k]), float(x1[k]), float(y1[k])))
    return out
