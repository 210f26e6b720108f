from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeldesk.core import geometry as g
from labeldesk.core.brush import fill_holes, paint, paint_sphere, stroke
from labeldesk.core.interpolation import fill_between, interpolate, interpolate_track
from labeldesk.core.measure import angle, area, length, pixel_size_mm
from labeldesk.core.model import Annotation, Asset, Plane


def test_brush_paint_erase_and_fill_holes():
    m = paint(None, (10, 10), 3, (40, 30))
    assert m.area() == 29                       # lattice points with x² + y² <= 9
    m = stroke(m, [(10, 10), (30, 10)], 3, (40, 30))
    assert m.bounds() == (7, 7, 34, 14)
    erased = paint(m, (20, 10), 3, (40, 30), erase=True)
    assert erased.area() == m.area() - 29
    assert paint(paint(None, (5, 5), 2, (20, 20)), (5, 5), 3, (20, 20), erase=True) is None
    ring = np.zeros((20, 20), bool)
    ring[2:18, 2:18] = True
    ring[6:14, 6:14] = False
    assert fill_holes(g.Mask.from_array(ring)).area() == 16 * 16


def test_sphere_brush_respects_anisotropic_spacing():
    labels = np.zeros((20, 40, 40), np.uint8)
    changed = paint_sphere(labels, (20, 20, 10), radius_mm=5, spacing=(0.5, 0.5, 2.5), value=3)
    zs = np.flatnonzero(changed.any(axis=(1, 2)))
    xs = np.flatnonzero(changed.any(axis=(0, 1)))
    assert (zs.min(), zs.max()) == (8, 12)          # 5 mm / 2.5 mm = 2 slices each side
    assert (xs.min(), xs.max()) == (10, 30)         # 5 mm / 0.5 mm = 10 voxels each side
    assert labels[10, 20, 20] == 3 and labels.max() == 3


def test_box_and_polygon_interpolation_exact():
    a, b = g.Box(0, 0, 10, 10), g.Box(10, 20, 30, 40)
    assert interpolate(a, b, 0.5) == g.Box(5, 10, 20, 25)
    assert interpolate(a, b, 0) is a and interpolate(a, b, 1) is b
    tri = g.Polygon(((0, 0), (10, 0), (0, 10)))
    square = g.Polygon(((0, 0), (20, 0), (20, 20), (0, 20)))
    mid = interpolate(tri, square, 0.5)
    assert 50 < mid.area() < 400


def test_mask_interpolation_gives_the_middle_disk():
    def disk(r):
        yy, xx = np.mgrid[0:80, 0:80]
        return g.Mask.from_array((xx - 40) ** 2 + (yy - 40) ** 2 <= r * r)
    mid = interpolate(disk(10), disk(30), 0.5)
    r = math.sqrt(mid.area() / math.pi)
    assert abs(r - 20) < 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 40), st.integers(1, 40), st.integers(1, 20))
def test_track_at_keyframes_returns_keyframes(x, y, w, h, gap):
    k0, k1 = g.Box(x, y, x + w, y + h), g.Box(x + 5, y + 7, x + w + 9, y + h + 10)
    track = {3: k0, 3 + gap: k1}
    assert interpolate_track(track, 3) == k0 and interpolate_track(track, 3 + gap) == k1
    assert interpolate_track(track, 0) == k0 and interpolate_track(track, 100) == k1


def test_fill_between_builds_drafts_for_the_planes_in_between():
    mk = lambda z, geom: Annotation("a" + str(z), "asset", "layer", "cls", Plane(z=z), geom)  # noqa: E731
    drafts = fill_between(mk(2, g.Box(0, 0, 10, 10)), mk(6, g.Box(4, 4, 14, 14)))
    assert [d.payload["annotation"]["plane"]["z"] for d in drafts] == [3, 4, 5]
    assert drafts[1].payload["annotation"]["geometry"] == {"kind": "box", "xyxy": [2.0, 2.0, 12.0, 12.0]}


def test_measurements_in_mm_with_anisotropic_spacing():
    asset = Asset("a", "volume", "ct", "h", 100, 100, 20, spacing=(0.5, 2.0, 3.0))
    px = pixel_size_mm(asset, "axial")
    assert length([(0, 0), (6, 2)], px).mm == pytest.approx(5.0)        # (3 mm, 4 mm) -> 5 mm
    assert pixel_size_mm(asset, "coronal") == (0.5, 3.0)
    assert area(g.Box(0, 0, 10, 10), px).mm == pytest.approx(100.0)
    assert angle((1, 0), (0, 0), (0, 1), None).pixels == pytest.approx(90.0)
    assert length([(0, 0), (3, 4)], None).text() == "5.0 px"
