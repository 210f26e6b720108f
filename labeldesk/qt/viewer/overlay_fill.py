"""The overlay's rings filled and outlined with OpenCV, one fill per shape in drawing order, then the
outlines class by class — split over threads when there are many (OpenCV drops the GIL while it
fills).

What one thread does (``draw_rings(..., threads=1)``): ``cv2.fillPoly`` of each ring in drawing
order (a later shape covers an earlier one), then ``cv2.polylines`` of each class's rings, in
ascending class code. One ``fillPoly`` call with many rings is *not* the same picture (OpenCV fills
overlapping rings of one call even-odd: an overlap of two shapes is left empty) and, for shapes
spread over the whole plane, is 4x slower (its active edge list holds every ring on a scanline):
each ring keeps its own call (about 2.5 µs of raster and 1.2 µs of call for a 32-vertex star).

Split (``draw_rings`` of a whole plane into a cleared buffer, from ``PARALLEL_MIN`` rings): the
rings in drawing order are cut into consecutive parts, one per thread, sized so that each thread
has about the same work; the first part is filled into the target by the calling thread, each
other part into a cleared buffer of its own, and the outlines into one more; then each part
is laid over the target in order, then the outlines: a pixel of a part's buffer is taken where its
alpha is not 0. That is exactly the one-thread picture: every fill's alpha is ``255 × opacity``
(the same for every class; when it rounds to 0 the whole fill colour is 0, as is every fill
beneath it), every outline's alpha is 255, and the target starts cleared. Buffers of more than
``PARALLEL_MAX_BYTES`` are drawn by one thread (the extra buffers would cost more memory than the
time is worth).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

PARALLEL_MIN = 20_000              # rings from which a whole-plane drawing is split over threads
PARALLEL_MAX_BYTES = 32 << 20      # a target larger than this is drawn by one thread
OUTLINE_COST = 0.35                # the outlines' time over the fills' (100k 32-vertex stars: 0.19 / 0.52 s)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def threads_for(n_rings: int, target: np.ndarray) -> int:
    """How many threads draw ``n_rings`` into ``target`` (1: no split)."""
    cores = os.cpu_count() or 1
    if cores < 2 or n_rings < PARALLEL_MIN or target.nbytes > PARALLEL_MAX_BYTES:
        return 1
    return min(cores, 4)


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:          # noqa: SLF001 - grown when asked for more
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="overlay-fill")
        return _pool


def draw_rings(target: np.ndarray, polys: list[np.ndarray], codes: list[int], fills: dict[int, tuple],
               lines: dict[int, tuple], shift: int, threads: int = 1) -> None:
    """Fill ``polys`` (int32 rings in fixed point with ``shift`` fraction bits, in drawing order;
    ``codes[i]``: the class code of ring i) with ``fills[code]`` one by one, then outline them
    with ``lines[code]`` class by class in ascending code. ``threads`` > 1 only for a target
    that starts cleared (all zeros) and a whole drawing: see the module's docstring."""
    if threads <= 1 or len(polys) < 2 or not target.flags.c_contiguous:
        _fill(target, polys, codes, fills, shift)
        _outline(target, polys, codes, lines, shift)
        return
    n = len(polys)
    # equal work per thread: the outlines cost about OUTLINE_COST of all the fills; the thread
    # that draws them fills the last part (what is left of its share), the others share the rest
    # and this thread fills the first part into the target itself
    share = (1 + OUTLINE_COST) / threads
    last = max(0.0, share - OUTLINE_COST)
    fractions = [(1 - last) / (threads - 1)] * (threads - 1) + [last]
    cuts = [0] + [min(n, round(n * f)) for f in np.cumsum(fractions)[:-1].tolist()] + [n]
    pool = _executor(threads - 1)
    outline_buf = np.zeros_like(target)
    bufs = [np.zeros_like(target) for _ in range(threads - 1)]
    jobs = [pool.submit(_fill, bufs[i - 1], polys[cuts[i]:cuts[i + 1]], codes[cuts[i]:cuts[i + 1]], fills, shift)
            for i in range(1, threads - 1)]
    a = cuts[threads - 1]
    jobs.append(pool.submit(_outline_then_fill, outline_buf, bufs[-1], polys, codes, lines, fills, shift, a))
    _fill(target, polys[:cuts[1]], codes[:cuts[1]], fills, shift)       # this thread: the first part
    for job in jobs:
        job.result()
    for buf in bufs:
        _over(target, buf)
    _over(target, outline_buf)


def _outline_then_fill(outline_buf: np.ndarray, buf: np.ndarray, polys: list[np.ndarray], codes: list[int],
                       lines: dict[int, tuple], fills: dict[int, tuple], shift: int, start: int) -> None:
    _outline(outline_buf, polys, codes, lines, shift)
    _fill(buf, polys[start:], codes[start:], fills, shift)


def _fill(target: np.ndarray, polys: list[np.ndarray], codes: list[int], fills: dict[int, tuple], shift: int) -> None:
    from labeldesk.core.io.opencv import cv2
    fill_poly, line8 = cv2.fillPoly, cv2.LINE_8
    for poly, code in zip(polys, codes):
        fill_poly(target, [poly], fills[code], line8, shift)


def _outline(target: np.ndarray, polys: list[np.ndarray], codes: list[int], lines: dict[int, tuple],
             shift: int) -> None:
    from labeldesk.core.io.opencv import cv2
    codes_arr = np.asarray(codes)
    for code in sorted(lines):
        chosen = np.flatnonzero(codes_arr == code).tolist()
        if chosen:
            cv2.polylines(target, [polys[i] for i in chosen], True, lines[code], 1, cv2.LINE_8, shift)


def _over(target: np.ndarray, part: np.ndarray) -> None:
    """``part`` laid over ``target`` (H x W x 4 uint8, alpha last): its pixels whose alpha is not 0."""
    h, w = target.shape[:2]
    dst, src = target.view(np.uint32).reshape(h, w), part.view(np.uint32).reshape(h, w)
    alpha = part[..., 3]
    np.copyto(dst, src, where=alpha != 0)
