from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core.assist.contours import mask_to_polygons, polygon_to_mask
from labeldesk.core.assist.segment import grabcut_from_box, magic_wand, threshold_mask
from labeldesk.core.geometry import GeometryError, Mask, Polygon, iou


def disk_image(h=120, w=160, cx=80, cy=60, r=30, fg=200, bg=40, noise=0):
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img = np.where(inside, fg, bg).astype(np.int16)
    if noise:
        img = img + np.random.default_rng(0).integers(-noise, noise + 1, img.shape)
    return img, inside


def test_grabcut_finds_the_disk_in_its_box():
    img, inside = disk_image(noise=5)
    disp = np.clip(img, 0, 255).astype(np.uint8)
    m = grabcut_from_box(img, (40, 20, 120, 100), display=disp)
    assert iou(m, Mask.from_array(inside)) > 0.9
    with pytest.raises(GeometryError, match="too small"):
        grabcut_from_box(img, (5, 5, 6, 6), display=disp)


def test_wand_stops_at_an_edge_beyond_its_tolerance():
    img = np.full((50, 80), 100, np.uint8)
    img[:, 40:] = 150                           # an edge of contrast 50
    img[10, 5] = 108                            # within tolerance 10: still filled
    m = magic_wand(img, (5, 5), tolerance=10)
    assert m.bounds() == (0, 0, 40, 50) and m.area() == 40 * 50
    assert magic_wand(img, (60, 5), tolerance=60).area() == 80 * 50


def test_threshold_in_hounsfield_units_and_connected_to_seed():
    stored = np.zeros((40, 40), np.int16)
    stored[5:15, 5:15] = 1024 + 60               # 60 HU
    stored[25:35, 25:35] = 1024 + 70             # 70 HU, not connected
    m = threshold_mask(stored, 50, 80, slope=1, intercept=-1024)
    assert m.area() == 200
    one = threshold_mask(stored, 50, 80, slope=1, intercept=-1024, seed_xy=(30, 30))
    assert one.area() == 100 and one.bounds() == (25, 25, 35, 35)
    with pytest.raises(GeometryError, match="outside the intensity range"):
        threshold_mask(stored, 50, 80, slope=1, intercept=-1024, seed_xy=(0, 0))


def test_mask_polygon_round_trip_with_hole():
    a = np.zeros((60, 60), bool)
    a[10:50, 10:50] = True
    a[25:35, 25:35] = False
    polys = mask_to_polygons(Mask.from_array(a), tolerance=0)
    assert len(polys) == 1 and len(polys[0].holes) == 1
    back = polygon_to_mask(polys[0], 60, 60)
    assert iou(back, Mask.from_array(a)) > 0.95
    square = Polygon(((10.5, 10.5), (20.5, 10.5), (20.5, 20.5), (10.5, 20.5)))
    assert polygon_to_mask(square, 40, 40).area() == 121     # cv2.fillPoly includes both edges


def test_live_wire_follows_an_edge():
    from labeldesk.core.assist.scissors import LiveWire
    img = np.zeros((80, 120), np.uint8)
    img[:, 60:] = 200                                   # a vertical edge at x = 60
    wire = LiveWire(img)
    wire.set_anchor((60, 10))
    path = wire.path_to((60, 70))
    xs = [x for x, _ in path]
    assert path[0] == (60.5, 10.5) and path[-1] == (60.5, 70.5)
    assert max(abs(x - 60.5) for x in xs) <= 1.0       # stays on the edge, never cuts across
