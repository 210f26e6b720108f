"""Numbers written so that a reader gets our coordinates back exactly.

Formats that store a *derived* number (COCO's box width ``x1 - x0``, YOLO's ``x / width``) lose
the last bit when read back naively (``x0 + (x1 - x0) != x1`` for some floats). Where a float
exists that reads back exactly (``x0 + w == x1``, ``v * width == x``), it is found by stepping a
few ulps from the naive value; otherwise the naive value is used (an error of one ulp).
"""
from __future__ import annotations

import math
from typing import Callable

_STEPS = 4


def number(v: float) -> str:
    """Shortest text that parses back to ``v`` exactly (integers without a trailing ``.0``)."""
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _search(naive: float, ok: Callable[[float], bool]) -> float:
    if ok(naive):
        return naive
    lo = hi = naive
    for _ in range(_STEPS):
        lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
        if ok(lo):
            return lo
        if ok(hi):
            return hi
    return naive


def width_for(x0: float, x1: float) -> float:
    """``w`` with ``x0 + w == x1`` (exactly, where such a float exists)."""
    return _search(x1 - x0, lambda w: x0 + w == x1)


def fraction_for(x: float, scale: float) -> float:
    """``v`` with ``v * scale == x`` (exactly, where such a float exists)."""
    return _search(x / scale, lambda v: v * scale == x)


def offset_for(x: float, base: float) -> float:
    """``v`` with ``v - base == x`` (e.g. VOC's 1-based ``xmin = x0 + 1``), where it exists."""
    return _search(x + base, lambda v: v - base == x)
