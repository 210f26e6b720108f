from __future__ import annotations

import numpy as np
import pytest
import tifffile

from labeldesk.core.errors import InputError
from labeldesk.core.io import raster
from labeldesk.core.samples import images


def test_png_rgb_order_and_region_clipping(tmp_path):
    a = np.zeros((40, 60, 3), np.uint8)
    a[5:10, 7:9] = (250, 10, 3)
    p = images.write_image(tmp_path / "a.png", a)
    found = raster.probe(str(p))
    assert (found.info.kind, found.info.width, found.info.height, found.info.channels) == ("image", 60, 40, 3)
    src = raster.open_locator(found.locator)
    assert tuple(src.read_region(0, 7, 5, 1, 1)[0, 0]) == (250, 10, 3)
    assert src.read_region(0, 55, 35, 20, 20).shape == (5, 5, 3)
    assert (src.read_plane() == a).all()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_tiff_dtypes_are_kept(tmp_path, dtype):
    a = (np.arange(30 * 20).reshape(20, 30) * 3).astype(dtype)
    p = images.write_image(tmp_path / f"a-{dtype}.tif", a)
    src = raster.open_locator(raster.probe(str(p)).locator)
    px = src.read_plane()
    assert px.dtype == np.dtype(dtype) and np.array_equal(px, a)


def test_16bit_png_and_bmp_and_jpeg(tmp_path):
    a16 = (np.arange(64 * 64).reshape(64, 64) * 13).astype(np.uint16)
    p = images.write_image(tmp_path / "g.png", a16)
    assert np.array_equal(raster.open_locator(raster.probe(str(p)).locator).read_plane(), a16)
    rgb = images.scene_rgb(64, 48)
    bmp = images.write_image(tmp_path / "s.bmp", rgb)
    assert np.array_equal(raster.open_locator(raster.probe(str(bmp)).locator).read_plane(), rgb)
    jpg = images.write_image(tmp_path / "s.jpg", rgb)
    got = raster.open_locator(raster.probe(str(jpg)).locator).read_plane()
    assert np.abs(got.astype(int) - rgb).mean() < 8


def test_bad_inputs_each_give_one_clear_message(tmp_path):
    cases = {
        images.write_truncated_png(tmp_path / "trunc.png"): "truncated|could not be decoded",
        images.write_zero_byte(tmp_path / "zero.png"): "empty",
        images.write_huge_claim_png(tmp_path / "huge.png"): "60,000 x 60,000",
    }
    (tmp_path / "text.jpg").write_text("not an image")
    cases[tmp_path / "text.jpg"] = "not a readable image"
    for path, pattern in cases.items():
        with pytest.raises(InputError, match=pattern) as err:
            raster.probe(str(path))
        assert err.value.path.endswith(path.name)


def test_large_image_probe_reads_header_only(tmp_path):
    p = tmp_path / "wide.tif"
    tifffile.imwrite(p, np.zeros((16, raster.PYRAMID_SIDE + 8), np.uint8), tile=(16, 16))
    found = raster.probe(str(p))
    assert found.info.kind == "pyramid" and found.info.width == raster.PYRAMID_SIDE + 8
