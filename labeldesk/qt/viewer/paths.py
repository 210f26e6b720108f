"""Many rings into one QPainterPath without building a QPointF per vertex in Python.

The path is written in QPainterPath's QDataStream format straight from numpy (element count, then
per element a type — 0 move-to, 1 line-to — and two doubles, then the fill rule), then read back by
Qt in C++: about 100x faster than appending points one by one for 100,000 polygons.
"""
from __future__ import annotations

import struct
from typing import Iterable

import numpy as np
from PySide6 import QtCore, QtGui

_ELEMENT = np.dtype([("kind", ">i4"), ("x", ">f8"), ("y", ">f8")])


def path_from_rings(rings: Iterable[np.ndarray], closed: bool = True) -> QtGui.QPainterPath:
    """One path holding every ring (N x 2 arrays in the path's coordinates)."""
    parts = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in rings]
    parts = [r for r in parts if len(r) >= 2]
    if not parts:
        return QtGui.QPainterPath()
    lens = np.fromiter((len(r) for r in parts), dtype=np.int64, count=len(parts))
    return path_from_flat(np.concatenate(parts), lens, closed)


def path_from_flat(pts: np.ndarray, lens: np.ndarray, closed: bool = True) -> QtGui.QPainterPath:
    """One path from rings given as one (M x 2) array and the length of each ring (>= 2)."""
    if not len(lens):
        return QtGui.QPainterPath()
    if closed:      # repeat each ring's first point at its end, without a copy per ring
        out_lens = lens + 1
        ends = np.cumsum(out_lens) - 1
        keep = np.ones(int(out_lens.sum()), dtype=bool)
        keep[ends] = False
        full = np.empty((len(keep), 2))
        full[keep] = pts
        full[ends] = pts[np.cumsum(lens) - lens]
        pts, lens = full, out_lens
    n = len(pts)
    elements = np.empty(n, dtype=_ELEMENT)
    elements["x"], elements["y"] = pts[:, 0], pts[:, 1]
    elements["kind"] = 1
    elements["kind"][np.cumsum(lens) - lens] = 0
    buf = struct.pack(">i", n) + elements.tobytes() + struct.pack(">i", 0)      # 0 = odd-even fill
    path = QtGui.QPainterPath()
    data = QtCore.QByteArray(buf)           # must outlive the stream that reads it
    stream = QtCore.QDataStream(data)
    stream >> path
    return path
