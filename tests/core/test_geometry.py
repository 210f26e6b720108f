from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeldesk.core.geometry import (Box, Ellipse, GeometryError, Mask, Points, Polygon, Polyline,
                                     RotatedBox, geometry_from_dict, iou, repair_polygon)

ALL = [
    Box(1, 2, 30, 40),
    RotatedBox(50, 50, 20, 10, 30),
    Ellipse(40, 40, 10, 5, 15),
    Polygon(((0, 0), (20, 0), (20, 20), (0, 20)), (((5, 5), (10, 5), (10, 10), (5, 10)),)),
    Polyline(((0, 0), (10, 0), (10, 10))),
    Points(((1, 1), (2, 3)), ("nose", "eye")),
    Mask.from_array(np.eye(6, dtype=bool), 3, 4),
]


@pytest.mark.parametrize("geom", ALL, ids=lambda g: g.kind)
def test_dict_round_trip_is_exact(geom):
    assert geometry_from_dict(geom.to_dict()) == geom


def test_box_normalises_corners_and_refuses_zero_area():
    assert Box(10, 10, 0, 0).bounds() == (0, 0, 10, 10)
    with pytest.raises(GeometryError, match="zero area"):
        Box(0, 0, 0, 10)
    with pytest.raises(GeometryError, match="not finite"):
        Box(0, 0, float("nan"), 1)


def test_polygon_with_hole_area_and_self_intersection():
    poly = ALL[3]
    assert poly.area() == pytest.approx(400 - 25)
    bowtie = ((0, 0), (10, 10), (10, 0), (0, 10))
    with pytest.raises(GeometryError, match="not valid"):
        Polygon(bowtie)
    fixed = repair_polygon(bowtie)
    assert fixed.area() == pytest.approx(25.0)
    with pytest.raises(GeometryError, match="zero area"):
        Polygon(((0, 0), (5, 5), (10, 10)))


def test_iou_boxes_and_masks():
    assert iou(Box(0, 0, 10, 10), Box(5, 0, 15, 10)) == pytest.approx(1 / 3)
    a = np.zeros((10, 10), bool)
    a[0:4, 0:4] = True
    b = np.zeros((10, 10), bool)
    b[2:6, 2:6] = True
    assert iou(Mask.from_array(a), Mask.from_array(b)) == pytest.approx(4 / 28)
    with pytest.raises(GeometryError):
        iou(Polyline(((0, 0), (1, 1))), Box(0, 0, 1, 1))


def test_clip_to_image():
    assert Box(-5, -5, 10, 10).clip(8, 8) == Box(0, 0, 8, 8)
    assert Box(20, 20, 30, 30).clip(8, 8) is None
    clipped = Polygon(((-10, -10), (10, -10), (10, 10), (-10, 10))).clip(100, 100)
    assert clipped.area() == pytest.approx(100)
    assert Points(((1, 1), (200, 1))).clip(100, 100) == Points(((1, 1),))
    m = Mask.from_array(np.ones((4, 4), bool), -2, -2).clip(10, 10)
    assert (m.x, m.y, m.width, m.height, m.area()) == (0, 0, 2, 2, 4)


def test_rotated_box_corners():
    rb = RotatedBox(0, 0, 2, 2, 90)
    xs = sorted(round(x, 6) for x, _ in rb.corners())
    assert xs == [-1, -1, 1, 1]
    assert rb.area() == 4


def test_mask_rle_starts_with_background_run():
    m = Mask.from_array(np.ones((2, 3), bool))
    assert m.counts == (0, 6)
    assert m.area() == 6
    with pytest.raises(GeometryError, match="empty"):
        Mask.from_array(np.zeros((3, 3), bool))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=40),
       st.integers(-5, 5), st.integers(-5, 5))
def test_mask_round_trip_property(cells, x, y):
    a = np.zeros((16, 16), bool)
    for r, c in cells:
        a[r, c] = True
    m = Mask.from_array(a, x, y)
    assert m.area() == a.sum()
    assert geometry_from_dict(m.to_dict()) == m
    canvas = m.translate(-x, -y).paste(16, 16)
    assert (canvas == a).all()


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 100), st.floats(0, 100), st.floats(1, 50), st.floats(1, 50),
       st.floats(0, 100), st.floats(0, 100), st.floats(1, 50), st.floats(1, 50))
def test_box_iou_properties(x, y, w, h, x2, y2, w2, h2):
    a, b = Box(x, y, x + w, y + h), Box(x2, y2, x2 + w2, y2 + h2)
    v = iou(a, b)
    assert 0.0 <= v <= 1.0 + 1e-9
    assert v == pytest.approx(iou(b, a))
    assert iou(a, a) == pytest.approx(1.0)


def test_malformed_dicts_name_the_problem():
    with pytest.raises(GeometryError, match="unknown geometry kind"):
        geometry_from_dict({"kind": "blob"})
    with pytest.raises(GeometryError, match="malformed box"):
        geometry_from_dict({"kind": "box", "xyxy": [1, 2]})
    assert math.isclose(Polyline(((0, 0), (3, 4))).length(), 5.0)
