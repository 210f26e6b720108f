from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import tifffile

from labeldesk.core.errors import Cancelled
from labeldesk.core.io import pyramid
from labeldesk.core.io.tiles import TileCache, level_for_scale, tiles_for_rect
from labeldesk.core.samples import images
from labeldesk.core.tasks import Progress


def test_levels_and_lossless_16bit_content(tmp_path):
    a = (np.arange(600 * 700, dtype=np.uint32).reshape(600, 700) % 65521).astype(np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", a, tile=(128, 128))
    src = pyramid.open_locator({"dir": pyramid.build_pyramid(str(tmp_path / "g.tif"), str(tmp_path / "p"))})
    assert src.info.levels == ((700, 600), (350, 300), (175, 150))
    assert np.array_equal(src.read_region(0, 0, 0, 700, 600), a)
    # across tile borders
    assert np.array_equal(src.read_region(0, 250, 250, 20, 20), a[250:270, 250:270])
    from labeldesk.core.io.opencv import cv2
    half = cv2.resize(a, (350, 300), interpolation=cv2.INTER_AREA)
    assert np.abs(src.read_plane(level=1).astype(int) - half).max() <= 1


def test_striped_rgb_tiff_streams_with_bounded_memory(tmp_path):
    w, h = 4000, 3600
    p = tmp_path / "s.tif"
    tifffile.imwrite(p, images.scene_rgb(w, h), rowsperstrip=37)
    tracemalloc.start()
    out = pyramid.build_pyramid(str(p), str(tmp_path / "p"), tile=128)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    whole = w * h * 3
    band = 128 * w * 3
    assert peak < 6 * band, f"peak {peak} bytes is not bounded by a few tile rows (band {band}, image {whole})"
    src = pyramid.open_locator({"dir": out})
    ref = images.scene_rgb(w, h)
    assert np.abs(src.read_region(0, 1000, 500, 300, 300).astype(int) - ref[500:800, 1000:1300]).mean() < 6


def test_cancel_leaves_no_pyramid_and_no_temp(tmp_path):
    p = images.write_large_tiff(tmp_path / "big.tif", 2048, 2048, tile=256)
    progress = Progress(lambda d, t, s: progress.cancel() if d > 300 else None)
    with pytest.raises(Cancelled):
        pyramid.build_pyramid(str(p), str(tmp_path / "pyr"), progress)
    assert not (tmp_path / "pyr").exists() and not (tmp_path / "pyr.partial").exists()


def test_tile_cache_budget_and_order():
    cache = TileCache(byte_budget=3000)
    for i in range(5):
        cache.put(i, np.zeros(1000, np.uint8))
    assert len(cache) == 3 and 0 not in cache and 4 in cache
    cache.get(2)
    cache.put(5, np.zeros(1000, np.uint8))
    assert 2 in cache and 3 not in cache


def test_tile_grid_math():
    assert level_for_scale(1.0, 6) == 0 and level_for_scale(0.5, 6) == 1 and level_for_scale(0.26, 6) == 1
    assert level_for_scale(0.001, 4) == 3
    keys = tiles_for_rect((1000, 1000), 256, 200, 200, 600, 600)
    assert len(keys) == 9 and keys[0] == (0, 1, 1)
