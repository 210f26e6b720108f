"""Shared benchmark harness: repeat, interleave with the baseline, print p50/p95 and ratios."""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def interleaved(ours: Callable[[], object], base: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    a, b = [], []
    for _ in range(repeats):
        a += timed(ours, 1)
        b += timed(base, 1)
    return a, b


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def row(bench_id: str, label: str, ours: list[float], base: list[float], target: str) -> str:
    r = statistics.median(ours) / statistics.median(base)
    return (f"{bench_id:<7} {label:<44} ours p50 {statistics.median(ours):9.3f} ms  p95 {pct(ours, .95):9.3f} | "
            f"base p50 {statistics.median(base):9.3f} ms | ratio {r:6.2f}x  (target {target})")


def machine() -> str:
    import os
    return f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores"
