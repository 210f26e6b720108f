"""Patching the cached overlay of an older snapshot where the rows changed since, instead of
drawing all of it again.

A document caught up from an older snapshot (``document_snapshot.CaughtUp``) knows the rows the
ops since then added, changed or removed, and where each was before. Every pixel of the overlay
that none of them reaches, before or after, is the same in the old overlay as in a full drawing
of today's rows: only shapes that did not change reach it, in the same order (drawing order is
z_order, then row; the outlines class by class in class-table order, which only grows). So the
overlay is cut in ``TILE``-pixel tiles; the tiles any touched row reaches (its old and its new
bounds, ``MARGIN`` pixels wider for the outline and rounding) are drawn again from scratch —
every shown shape that reaches one, in drawing order, into an empty buffer of the overlay's
size (so each shape is drawn with exactly the coordinates and clipping of a full drawing) — and
copied over the old overlay. The result is pixel-identical to a full drawing. When the shapes to
draw again are more than ``MAX_SHARE`` of the shown ones (a bulk change), it is drawn in full.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

TILE = 32             # px side of the tiles drawn again
MARGIN = 4            # px a shape's pixels may reach beyond its bounds (outline, rounding, points)
MAX_SHARE = 0.25      # more of the shown shapes to draw again than this: the overlay is drawn in full


def touched_bounds(doc: Any, rows: np.ndarray, source: tuple[Any, Any]) -> np.ndarray | None:
    """Image bounds (K x 4) of what the rows touched by the catch-up covered on this overlay
    before (if they were shown: same plane, a shown layer) and cover now (if shown); None when
    there are too many to patch."""
    memo = doc.caught_up_from
    if len(memo.old) > MAX_SHARE * max(len(rows), 1):
        return None
    plane, layers = source
    code = doc.planes.code.get((plane.axis, plane.z, plane.t))
    shown_layers = None if layers is None else set(layers)
    touched = np.fromiter(memo.old, np.int64, len(memo.old))
    now = touched[np.isin(touched, rows)]
    out = [doc.bounds[now]]
    before = [b for b, p, lay in filter(None, memo.old.values())
              if p == code and (shown_layers is None or doc.layers.values[lay] in shown_layers)]
    if before:
        out.append(np.asarray(before, float).reshape(-1, 4))
    return np.concatenate(out)


def _tiles(bounds: np.ndarray, scale: float, gw: int, gh: int, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Tile ranges (inclusive, clipped) of the pixels each of ``bounds`` may reach, and whether
    it reaches the overlay at all."""
    px0 = np.floor(bounds[:, 0] * scale) - MARGIN
    py0 = np.floor(bounds[:, 1] * scale) - MARGIN
    px1 = np.ceil(bounds[:, 2] * scale) + MARGIN
    py1 = np.ceil(bounds[:, 3] * scale) + MARGIN
    inside = (px1 >= 0) & (py1 >= 0) & (px0 < width) & (py0 < height)
    tx0 = np.clip(px0 // TILE, 0, gw - 1).astype(np.int64)
    ty0 = np.clip(py0 // TILE, 0, gh - 1).astype(np.int64)
    tx1 = np.clip(px1 // TILE, 0, gw - 1).astype(np.int64)
    ty1 = np.clip(py1 // TILE, 0, gh - 1).astype(np.int64)
    return tx0, ty0, tx1, ty1, inside


def patch(painter: Any, buf: np.ndarray, scale: float, source: Any) -> bool:
    """Bring ``buf`` (the overlay ``painter`` showed at the older snapshot's stamp) up to date in
    place; False (``buf`` untouched) when the change is too large for a patch."""
    doc, rows = painter.doc, painter.rows
    if source is None or getattr(doc, "caught_up_from", None) is None:
        return False
    dirty = touched_bounds(doc, rows, source)
    if dirty is None:
        return False
    height, width = buf.shape[:2]
    gh, gw = math.ceil(height / TILE), math.ceil(width / TILE)
    grid = np.zeros((gh, gw), bool)
    tx0, ty0, tx1, ty1, inside = _tiles(dirty, scale, gw, gh, width, height)
    for a, b, c, d in zip(*(v[inside].tolist() for v in (tx0, ty0, tx1, ty1))):
        grid[b:d + 1, a:c + 1] = True
    if not grid.any():
        return True                                   # nothing shown changed
    # the shown shapes that reach a dirty tile (a summed-area table of the grid: one test per row)
    table = np.zeros((gh + 1, gw + 1), np.int64)
    table[1:, 1:] = grid.cumsum(0).cumsum(1)
    tx0, ty0, tx1, ty1, inside = _tiles(painter.bounds, scale, gw, gh, width, height)
    hits = table[ty1 + 1, tx1 + 1] - table[ty0, tx1 + 1] - table[ty1 + 1, tx0] + table[ty0, tx0]
    redraw = rows[inside & (hits > 0)]
    if len(redraw) > MAX_SHARE * max(len(rows), 1):
        return False
    scratch = np.zeros_like(buf)
    painter._draw_raster(scratch, scale, None, redraw)
    for ty in np.flatnonzero(grid.any(1)).tolist():
        line = np.r_[False, grid[ty], False]
        edges = np.flatnonzero(line[1:] != line[:-1]).tolist()
        y0, y1 = ty * TILE, min(height, (ty + 1) * TILE)
        for a, b in zip(edges[::2], edges[1::2]):
            x0, x1 = a * TILE, min(width, b * TILE)
            buf[y0:y1, x0:x1] = scratch[y0:y1, x0:x1]
    return True
