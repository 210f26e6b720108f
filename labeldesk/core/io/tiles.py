"""Tile grid arithmetic and a thread-safe LRU tile cache bounded by bytes."""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Hashable, NamedTuple

import numpy as np


class TileKey(NamedTuple):
    level: int
    col: int
    row: int


def level_for_scale(scale: float, n_levels: int) -> int:
    """Pyramid level to draw at ``scale`` (screen px per level-0 px) so the drawn scale of the
    level's pixels stays in [0.5, 1] (never magnify a coarse level, never shrink a fine one > 2x)."""
    if scale >= 1.0:
        return 0
    level = int(math.floor(math.log2(1.0 / scale)))
    return max(0, min(n_levels - 1, level))


def tiles_for_rect(level_size: tuple[int, int], tile: int, x0: float, y0: float, x1: float, y1: float,
                   level: int = 0) -> list[TileKey]:
    """Keys of the tiles of one level covering the rectangle (level pixels), centre-out order."""
    w, h = level_size
    c0, r0 = max(0, int(x0 // tile)), max(0, int(y0 // tile))
    c1, r1 = min(math.ceil(w / tile) - 1, int(max(x1 - 1, 0) // tile)), min(math.ceil(h / tile) - 1, int(max(y1 - 1, 0) // tile))
    keys = [TileKey(level, c, r) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
    cx, cy = (x0 + x1) / 2 / tile, (y0 + y1) / 2 / tile
    keys.sort(key=lambda k: (k.col + 0.5 - cx) ** 2 + (k.row + 0.5 - cy) ** 2)
    return keys


class TileCache:
    """LRU of decoded tiles; evicts least recently used entries beyond ``byte_budget``."""

    def __init__(self, byte_budget: int = 256 * 1024 * 1024) -> None:
        self.byte_budget = byte_budget
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: np.ndarray) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.byte_budget and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
