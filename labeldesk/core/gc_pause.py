"""Pausing Python's cyclic garbage collector while bulk work builds many small objects."""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block: a load, import, export or sync round that
    builds millions of small objects would otherwise make the collector rescan the growing heap
    again and again (a quarter to a third of such a run). Reference counting still frees
    everything that is not in a cycle, and none of these objects are."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
