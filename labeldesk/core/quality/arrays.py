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


def _index(values: tuple[Any, ...], table: dict[Any, int]) -> np.ndarray:
    try:
        return np.fromiter(map(table.__getitem__, values), np.int32, len(values))
    except KeyError:       # a value outside the table (never for live rows): -1
        get = table.get
        return np.fromiter((get(v, -1) for v in values), np.int32, len(values))


def load(conn: sqlite3.Connection, *, layers: list[str] | None = None) -> AnnotationArrays:
    """Every live annotation (of ``layers`` if given) as columns."""
    assets = conn.execute("SELECT id, name, kind, width, height, depth, frames FROM assets ORDER BY rowid").fetchall()
    lays = conn.execute("SELECT id, kind, name FROM layers ORDER BY rowid").fetchall()
    classes = conn.execute("SELECT id, name FROM classes ORDER BY sort_order, rowid").fetchall()
    sql = ("SELECT rowid, asset_id, layer_id, class_id, plane_axis, plane_z, plane_t, kind, x0, y0, x1, y1, "
           "track_id FROM annotations WHERE deleted = 0")
    args: list[Any] = []
    if layers:
        sql += f" AND layer_id IN ({','.join('?' * len(layers))})"
        args += layers
    cur = conn.cursor()
    cur.row_factory = None                     # plain tuples: no Row objects for 100k rows
    rows = cur.execute(sql + " ORDER BY rowid", args).fetchall()
    n = len(rows)
    cols = list(zip(*rows)) if rows else [() for _ in range(13)]
    del rows
    asset_ix = {r[0]: i for i, r in enumerate(assets)}
    layer_ix = {r[0]: i for i, r in enumerate(lays)}
    class_ix: dict[Any, int] = {r[0]: i for i, r in enumerate(classes)}
    class_ix[None] = -1
    track_ids = sorted({t for t in cols[12] if t})
    track_ix: dict[Any, int] = {t: i for i, t in enumerate(track_ids)}
    track_ix[None] = -1
    rowid = np.array(cols[0], np.int64)
    score = np.full(n, np.nan)
    if n and any(r[1] == "predictions" for r in lays):
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'annotation_provenance'").fetchone()
        if has:
            got = np.array(cur.execute("SELECT n.rowid, p.score FROM annotation_provenance p JOIN annotations n "
                                       "ON n.id = p.annotation_id WHERE p.score IS NOT NULL").fetchall(), float)
            if len(got):
                pos = np.searchsorted(rowid, got[:, 0].astype(np.int64))
                ok = (pos < n) & (rowid[np.minimum(pos, n - 1)] == got[:, 0])
                score[pos[ok]] = got[ok, 1]
    box = np.empty((n, 4), np.float64)
    for k in range(4):
        box[:, k] = np.fromiter(cols[8 + k], np.float64, n)
    return AnnotationArrays(
        ids=_Ids(conn, rowid), asset=_index(cols[1], asset_ix), layer=_index(cols[2], layer_ix),
        cls=_index(cols[3], class_ix), axis=_index(cols[4], {a: i for i, a in enumerate(AXES)}).astype(np.int8),
        z=np.fromiter(cols[5], np.int32, n), t=np.fromiter(cols[6], np.int32, n),
        kind=_index(cols[7], {k: i for i, k in enumerate(KINDS)}).astype(np.int8),
        box=box, track=_index(cols[12], track_ix), score=score, rowid=rowid,
        asset_ids=[r[0] for r in assets], asset_names=[r[1] for r in assets], asset_kind=[r[2] for r in assets],
        asset_size=np.array([[r[3], r[4], r[5], r[6]] for r in assets], np.int64).reshape(len(assets), 4),
        layer_ids=[r[0] for r in lays], layer_kind=[r[1] for r in lays], layer_names=[r[2] for r in lays],
        class_ids=[r[0] for r in classes], class_names=[r[1] for r in classes], track_ids=track_ids)


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
