"""A project's annotations as columns of numpy arrays, read with one bulk query (never per row).

The checks work on these columns: bounding boxes, class/layer/asset/track indices and planes.
Geometry itself is not parsed (the stored bounding box is enough for every check here)."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labeldesk.core.geometry import KINDS

AXES = ("axial", "coronal", "sagittal")
EXTENTLESS = (KINDS.index("points"), KINDS.index("polyline"))   # no area: not sized


@dataclass
class AnnotationArrays:
    ids: Any                   # annotation id by row (a list, or read on demand from the store)
    asset: np.ndarray          # int32 index into asset_ids
    layer: np.ndarray          # int32 index into layer_ids
    cls: np.ndarray            # int32 index into class_ids, -1 = no class
    axis: np.ndarray           # int8 index into AXES
    z: np.ndarray
    t: np.ndarray
    kind: np.ndarray           # int8 index into KINDS
    box: np.ndarray            # float64 (n, 4): x0, y0, x1, y1 in image_xy
    track: np.ndarray          # int32 index into track_ids, -1 = none
    score: np.ndarray          # float64 model score (predictions), NaN = none
    asset_ids: list[str] = field(default_factory=list)
    asset_names: list[str] = field(default_factory=list)
    asset_size: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))  # w, h, depth, frames
    asset_kind: list[str] = field(default_factory=list)
    layer_ids: list[str] = field(default_factory=list)
    layer_kind: list[str] = field(default_factory=list)
    layer_names: list[str] = field(default_factory=list)
    class_ids: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    track_ids: list[str] = field(default_factory=list)
    rowid: np.ndarray | None = None    # store rowid per row (ascending) when read from a store

    def __len__(self) -> int:
        return len(self.asset)

    @property
    def width(self) -> np.ndarray:
        return self.box[:, 2] - self.box[:, 0]

    @property
    def height(self) -> np.ndarray:
        return self.box[:, 3] - self.box[:, 1]

    def human(self) -> np.ndarray:
        """Rows in annotator and final layers (not model predictions)."""
        kinds = np.array([k != "predictions" for k in self.layer_kind] or [True], bool)
        return kinds[self.layer] if len(self) else np.zeros(0, bool)

    def plane_key(self) -> np.ndarray:
        """One int64 per row identifying (asset, axis, z, t)."""
        return (((self.asset.astype(np.int64) * 3 + self.axis) << 40) | (self.z.astype(np.int64) << 20)
                | self.t.astype(np.int64))

    def class_name(self, index: int) -> str:
        return self.class_names[index] if index >= 0 else "(no class)"


class _Ids:
    """Annotation ids by row, read from the store only for the rows asked for (findings), so a
    check over 100k rows does not build 100k id strings."""

    def __init__(self, conn: sqlite3.Connection, rowid: np.ndarray) -> None:
        self.conn, self.rowid, self.cache = conn, rowid, {}

    def __len__(self) -> int:
        return len(self.rowid)

    def __getitem__(self, i: int) -> str:
        i = int(i)
        got = self.cache.get(i)
        if got is None:
            row = self.conn.execute("SELECT id FROM annotations WHERE rowid = ?", (int(self.rowid[i]),)).fetchone()
            got = self.cache[i] = row[0]
        return got


def _lut(rowids: list[int]) -> np.ndarray:
    """Row index of a small table's rowid (index 0 stands for NULL: -1)."""
    lut = np.full(max(rowids, default=0) + 2, -1, np.int32)
    lut[np.asarray(rowids, np.int64)] = np.arange(len(rowids), dtype=np.int32)
    return lut


def _case(column: str, values: tuple[str, ...]) -> str:
    return "CASE " + column + "".join(f" WHEN '{v}' THEN {i}" for i, v in enumerate(values)) + " ELSE -1 END"


def load(conn: sqlite3.Connection, *, layers: list[str] | None = None) -> AnnotationArrays:
    """Every live annotation (of ``layers`` if given) as columns. The query returns numbers only
    (rowids of the asset, layer and class rows; axis and kind as codes), straight into one array."""
    assets = conn.execute("SELECT rowid, id, name, kind, width, height, depth, frames FROM assets ORDER BY rowid").fetchall()
    lays = conn.execute("SELECT rowid, id, kind, name FROM layers ORDER BY rowid").fetchall()
    classes = conn.execute("SELECT rowid, id, name FROM classes ORDER BY sort_order, rowid").fetchall()
    where = "n.deleted = 0"
    args: list[Any] = []
    if layers:
        where += f" AND n.layer_id IN ({','.join('?' * len(layers))})"
        args += layers
    cur = conn.cursor()
    cur.row_factory = None                     # plain tuples
    sql = (f"SELECT n.rowid, s.rowid, l.rowid, COALESCE(c.rowid, 0), {_case('n.plane_axis', AXES)}, n.plane_z, "
           f"n.plane_t, {_case('n.kind', KINDS)}, n.x0, n.y0, n.x1, n.y1 FROM annotations n "
           f"JOIN assets s ON s.id = n.asset_id JOIN layers l ON l.id = n.layer_id "
           f"LEFT JOIN classes c ON c.id = n.class_id WHERE {where} ORDER BY n.rowid")
    m = np.array(cur.execute(sql, args).fetchall(), np.float64).reshape(-1, 12)
    n = len(m)
    rowid = m[:, 0].astype(np.int64)
    track_ids: list[str] = []
    track = np.full(n, -1, np.int32)
    tracked = cur.execute(f"SELECT n.rowid, n.track_id FROM annotations n WHERE n.track_id IS NOT NULL AND {where}",
                          args).fetchall()
    if tracked:
        track_ids = sorted({t for _, t in tracked})
        tix = {t: i for i, t in enumerate(track_ids)}
        pos = np.searchsorted(rowid, np.array([r for r, _ in tracked], np.int64))
        track[pos] = np.array([tix[t] for _, t in tracked], np.int32)
    score = np.full(n, np.nan)
    if n and any(r[2] == "predictions" for r in lays):
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'annotation_provenance'").fetchone()
        if has:
            got = np.array(cur.execute("SELECT n.rowid, p.score FROM annotation_provenance p JOIN annotations n "
                                       "ON n.id = p.annotation_id WHERE p.score IS NOT NULL").fetchall(), float)
            if len(got):
                pos = np.searchsorted(rowid, got[:, 0].astype(np.int64))
                ok = (pos < n) & (rowid[np.minimum(pos, n - 1)] == got[:, 0])
                score[pos[ok]] = got[ok, 1]
    col = lambda k: m[:, k].astype(np.int64)  # noqa: E731
    return AnnotationArrays(
        ids=_Ids(conn, rowid), asset=_lut([r[0] for r in assets])[col(1)], layer=_lut([r[0] for r in lays])[col(2)],
        cls=_lut([r[0] for r in classes])[col(3)], axis=m[:, 4].astype(np.int8),
        z=m[:, 5].astype(np.int32), t=m[:, 6].astype(np.int32), kind=m[:, 7].astype(np.int8),
        box=np.ascontiguousarray(m[:, 8:12]), track=track, score=score, rowid=rowid,
        asset_ids=[r[1] for r in assets], asset_names=[r[2] for r in assets], asset_kind=[r[3] for r in assets],
        asset_size=np.array([[r[4], r[5], r[6], r[7]] for r in assets], np.int64).reshape(len(assets), 4),
        layer_ids=[r[1] for r in lays], layer_kind=[r[2] for r in lays], layer_names=[r[3] for r in lays],
        class_ids=[r[1] for r in classes], class_names=[r[2] for r in classes], track_ids=track_ids)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (n, 4) box arrays."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def pairs_by_key(key_a: np.ndarray, key_b: np.ndarray, limit: int = 20_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``key_a[i] == key_b[j]`` (a vectorised join; at most ``limit`` pairs)."""
    if not len(key_a) or not len(key_b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order_b = np.argsort(key_b, kind="stable")
    sorted_b = key_b[order_b]
    lo = np.searchsorted(sorted_b, key_a, "left")
    hi = np.searchsorted(sorted_b, key_a, "right")
    counts = hi - lo
    total = int(counts.sum())
    if total > limit:
        raise MemoryError(f"{total} candidate pairs: narrow the check (fewer layers or classes)")
    i = np.repeat(np.arange(len(key_a)), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    j = order_b[starts + np.arange(total)]
    return i, j


def robust_z(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Modified z-score 0.6745·(x − median)/MAD within each group (0 where MAD is 0)."""
    out = np.zeros(len(values))
    for g in np.unique(groups):
        m = groups == g
        v = values[m]
        med = np.median(v)
        mad = np.median(np.abs(v - med))
        if mad > 0:
            out[m] = 0.6745 * (v - med) / mad
    return out


def _cells(g: np.ndarray, box: np.ndarray, cell: float, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, cell key) for every grid cell each box touches."""
    c = np.floor(box / cell).astype(np.int64)
    wx, wy = c[:, 2] - c[:, 0] + 1, c[:, 3] - c[:, 1] + 1
    span = wx * wy
    rows = np.repeat(np.arange(len(box)), span)
    k = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
    cx = c[rows, 0] + k % wx[rows]
    cy = c[rows, 1] + k // wx[rows]
    return rows, (g[rows] * ny + cx) * ny + cy


def near_pairs(key_a: np.ndarray, box_a: np.ndarray, key_b: np.ndarray, box_b: np.ndarray,
               big_cells: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``key_a[i] == key_b[j]`` whose boxes intersect: a grid join (boxes are
    put into the cells they touch, cells about twice the median box), so crowded planes cost
    pairs of neighbours, not all pairs. Boxes spanning more than ``big_cells`` cells are joined
    with the whole plane instead."""
    if not len(key_a) or not len(key_b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, g = np.unique(np.concatenate([key_a, key_b]), return_inverse=True)
    ga, gb = g[:len(key_a)], g[len(key_a):]
    sides = np.concatenate([np.maximum(box_a[:, 2] - box_a[:, 0], box_a[:, 3] - box_a[:, 1]),
                            np.maximum(box_b[:, 2] - box_b[:, 0], box_b[:, 3] - box_b[:, 1])])
    cell = max(16.0, 2.0 * float(np.median(sides)))
    lo = min(box_a[:, :2].min(), box_b[:, :2].min())
    ba, bb = box_a - lo, box_b - lo                   # non-negative cell indices
    ny = int(max(ba[:, 3].max(), bb[:, 3].max(), ba[:, 2].max(), bb[:, 2].max()) // cell) + 2

    def span(b: np.ndarray) -> np.ndarray:
        c = np.floor(b / cell)
        return (c[:, 2] - c[:, 0] + 1) * (c[:, 3] - c[:, 1] + 1)

    big_a, big_b = span(ba) > big_cells, span(bb) > big_cells
    sa, sb = np.flatnonzero(~big_a), np.flatnonzero(~big_b)
    ra, ca = _cells(ga[sa], ba[sa], cell, ny)
    rb, cb = _cells(gb[sb], bb[sb], cell, ny)
    pi, pj = pairs_by_key(ca, cb)
    parts_i, parts_j = [sa[ra[pi]]], [sb[rb[pj]]]
    la, lb = np.flatnonzero(big_a), np.flatnonzero(big_b)
    if len(la):
        i, j = pairs_by_key(ga[la], gb)
        parts_i.append(la[i]), parts_j.append(j)
    if len(lb):
        i, j = pairs_by_key(ga[sa], gb[lb])                  # big b against small a (big-big done above)
        parts_i.append(sa[i]), parts_j.append(lb[j])
    i, j = np.concatenate(parts_i), np.concatenate(parts_j)
    hit = ((np.minimum(box_a[i, 2], box_b[j, 2]) >= np.maximum(box_a[i, 0], box_b[j, 0]))
           & (np.minimum(box_a[i, 3], box_b[j, 3]) >= np.maximum(box_a[i, 1], box_b[j, 1])))
    i, j = i[hit], j[hit]
    pair = np.unique(i * len(key_b) + j)
    return pair // len(key_b), pair % len(key_b)
