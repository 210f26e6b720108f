"""Shape similarity for every geometry kind and greedy one-to-one matching."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labeldesk.core.geometry import Box, Ellipse, Mask, Points, Polygon, Polyline, RotatedBox
from labeldesk.core.model import Annotation, Plane
from labeldesk.core.review.matching import (
    area_iou, line_iou, match_annotations, match_plane, point_similarity, similarity)


def ann(i, geom, cls="c1", plane=Plane()):
    return Annotation(id=i, asset_id="asset", layer_id="L", class_id=cls, plane=plane, geometry=geom)


def test_box_iou_by_hand():
    assert area_iou(Box(0, 0, 10, 10), Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert area_iou(Box(0, 0, 10, 10), Box(20, 20, 30, 30)) == 0.0
    assert area_iou(Box(0, 0, 10, 10), Box(0, 0, 10, 10)) == pytest.approx(1.0)


def test_rotated_box_ellipse_polygon_with_hole():
    # a square rotated by 90 degrees is the same square
    assert area_iou(RotatedBox(5, 5, 10, 4, 90), Box(3, 0, 7, 10)) == pytest.approx(1.0)
    # 45-degree rotated square inside its axis-aligned bounding square: area 50 of 100
    rb = RotatedBox(5, 5, math.sqrt(50), math.sqrt(50), 45)
    assert area_iou(rb, Box(0, 0, 10, 10)) == pytest.approx(0.5, abs=1e-9)
    circle = Ellipse(50, 50, 10, 10)
    assert area_iou(circle, Ellipse(50, 50, 10, 10, 30)) == pytest.approx(1.0, abs=1e-3)
    assert area_iou(circle, Box(40, 40, 60, 60)) == pytest.approx(math.pi / 4, abs=2e-3)
    ring = Polygon(((0, 0), (10, 0), (10, 10), (0, 10)), (((2, 2), (8, 2), (8, 8), (2, 8)),))
    assert area_iou(ring, Box(0, 0, 10, 10)) == pytest.approx(64 / 100)
    assert area_iou(ring, Box(3, 3, 7, 7)) == 0.0


def test_mask_against_mask_and_against_vectors():
    a = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    m = Mask.from_array(a)
    b = np.zeros((40, 40), bool)
    b[10:20, 15:25] = True
    assert area_iou(m, Mask.from_array(b)) == pytest.approx(50 / 150)
    # a vector box on the same pixels is the same shape
    assert area_iou(m, Box(10, 10, 20, 20)) == pytest.approx(1.0)
    assert area_iou(Box(10, 10, 20, 20), m) == pytest.approx(1.0)
    assert area_iou(m, Box(15, 10, 25, 20)) == pytest.approx(50 / 150)
    holed = Polygon(((10, 10), (20, 10), (20, 20), (10, 20)), (((12, 12), (18, 12), (18, 18), (12, 18)),))
    assert area_iou(m, holed) == pytest.approx(64 / 100)
    assert area_iou(m, Box(30, 30, 35, 35)) == 0.0


def test_polylines_compare_as_bands_and_points_by_distance():
    line = Polyline(((0, 0), (100, 0)))
    assert line_iou(line, line) == pytest.approx(1.0)
    shifted = Polyline(((0, 2), (100, 2)))           # 4 px bands overlapping by 2 px
    assert line_iou(line, shifted) == pytest.approx(2 / 6)
    assert line_iou(line, shifted, width=8) == pytest.approx(6 / 10)
    p = Points(((10, 10), (20, 20)))
    assert point_similarity(p, p) == pytest.approx(1.0)
    off = Points(((14, 10), (20, 20)))
    assert point_similarity(p, off) == pytest.approx((math.exp(-0.5) + 1) / 2)
    # labels pair points by name; a label only one side has scores 0
    la = Points(((0, 0), (50, 50)), ("nose", "tail"))
    lb = Points(((50, 50), (0, 0), (9, 9)), ("tail", "nose", "ear"))
    assert point_similarity(la, lb) == pytest.approx(2 / 3)
    # different counts without labels: nearest pairs, unpaired points count 0
    assert point_similarity(Points(((0, 0),)), Points(((0, 0), (30, 30)))) == pytest.approx(0.5)


def test_different_families_are_not_comparable():
    assert similarity(Box(0, 0, 5, 5), Polyline(((0, 0), (5, 5)))) is None
    assert similarity(Points(((1, 1),)), Box(0, 0, 5, 5)) is None
    assert similarity(Polyline(((0, 0), (5, 5))), Polyline(((0, 0), (5, 5)))) == pytest.approx(1.0)


def test_greedy_matching_takes_highest_iou_first_one_to_one():
    a = [ann("a1", Box(0, 0, 10, 10)), ann("a2", Box(100, 100, 110, 110))]
    b = [ann("b1", Box(1, 0, 11, 10)), ann("b2", Box(0, 0, 10, 10)), ann("b3", Box(200, 200, 210, 210))]
    r = match_plane(a, b, 0.5)
    assert [(m.a, m.b) for m in r.matches] == [("a1", "b2")]      # exact copy wins over the near one
    assert r.matches[0].iou == pytest.approx(1.0)
    assert r.unmatched_a == ["a2"] and sorted(r.unmatched_b) == ["b1", "b3"]
    assert r.precision == pytest.approx(1 / 3) and r.recall == pytest.approx(1 / 2)
    assert r.f1 == pytest.approx(2 / 5)
    assert r.mean_iou == pytest.approx(1.0) and r.mean_dice == pytest.approx(1.0)


def test_same_class_first_then_class_mismatches_then_low_iou():
    a = [ann("a1", Box(0, 0, 10, 10), "cat"), ann("a2", Box(50, 50, 60, 60), "dog"),
         ann("a3", Box(100, 0, 110, 10), "cat")]
    b = [ann("b1", Box(0, 0, 10, 10), "dog"), ann("b2", Box(1, 0, 11, 10), "cat"),
         ann("b3", Box(50, 50, 60, 60), "cat"), ann("b4", Box(106, 0, 116, 10), "cat")]
    r = match_plane(a, b, 0.5)
    # a1 prefers b2 (same class, IoU 0.82) over b1 (other class, IoU 1)
    assert [(m.a, m.b) for m in r.matches] == [("a1", "b2")]
    assert [(m.a, m.b, m.class_a, m.class_b) for m in r.class_mismatches] == [("a2", "b3", "dog", "cat")]
    assert [(m.a, m.b) for m in r.low_iou] == [("a3", "b4")]
    assert r.low_iou[0].iou == pytest.approx(40 / 160)
    assert r.unmatched_a == ["a3"] and sorted(r.unmatched_b) == ["b1", "b4"]
    assert r.summary()["class_mismatch"] == 1


def test_matching_never_crosses_planes_and_threshold_checked():
    a = [ann("a1", Box(0, 0, 10, 10), plane=Plane(z=1))]
    b = [ann("b1", Box(0, 0, 10, 10), plane=Plane(z=2))]
    r = match_annotations(a, b)
    assert not r.matches and r.unmatched_a == ["a1"] and r.unmatched_b == ["b1"]
    assert r.f1 == 0.0
    with pytest.raises(ValueError, match="threshold"):
        match_plane(a, b, 0)
    empty = match_annotations([], [])
    assert empty.f1 == 1.0 and math.isnan(empty.precision) and empty.summary()["precision"] is None


def test_threshold_decides_match_or_low_iou():
    a = [ann("a", Box(0, 0, 10, 10))]
    b = [ann("b", Box(3, 0, 13, 10))]           # IoU 70/130 = 0.538
    assert len(match_plane(a, b, 0.5).matches) == 1
    r = match_plane(a, b, 0.75)
    assert not r.matches and len(r.low_iou) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(2, 20), st.integers(2, 20)),
                min_size=0, max_size=8),
       st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(2, 20), st.integers(2, 20)),
                min_size=0, max_size=8),
       st.floats(0.1, 1.0))
def test_matching_is_one_to_one_and_counts_add_up(sa, sb, t):
    a = [ann(f"a{i}", Box(x, y, x + w, y + h)) for i, (x, y, w, h) in enumerate(sa)]
    b = [ann(f"b{i}", Box(x, y, x + w, y + h), cls=("c1" if i % 2 else "c2")) for i, (x, y, w, h) in enumerate(sb)]
    r = match_plane(a, b, t)
    paired = r.matches + r.class_mismatches
    assert len({m.a for m in paired}) == len(paired) == len({m.b for m in paired})
    assert len(paired) + len(r.unmatched_a) == len(a)
    assert len(paired) + len(r.unmatched_b) == len(b)
    assert all(m.iou >= t for m in paired) and all(0 < m.iou < t for m in r.low_iou) or \
        all(m.iou > 0 for m in r.low_iou)
    assert all(m.class_a == m.class_b for m in r.matches)
    assert all(m.class_a != m.class_b for m in r.class_mismatches)
    # symmetric in the number of pairs
    r2 = match_plane(b, a, t)
    assert len(r2.matches) + len(r2.class_mismatches) <= len(a) and r2.n_a == len(b)


def test_grid_index_finds_the_same_pairs_as_the_dense_search(monkeypatch):
    import labeldesk.core.review.matching as matching
    rng = np.random.default_rng(3)

    def shapes(prefix, n):
        out = []
        for k in range(n):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(3, 30, 2)
            if k % 4 == 0:
                geom = Polygon(((x, y), (x + w, y), (x + w / 2, y + h)))
            elif k % 4 == 1:
                geom = Points(((x, y),))
            else:
                geom = Box(x, y, x + w, y + h)
            out.append(ann(f"{prefix}{k}", geom, cls=("c1" if k % 3 else "c2")))
        return out

    a, b = shapes("a", 300), shapes("b", 300)
    dense = match_plane(a, b, 0.3)
    monkeypatch.setattr(matching, "DENSE_LIMIT", 0)
    grid = match_plane(a, b, 0.3)
    assert dense.matches and dense.low_iou
    for attr in ("matches", "class_mismatches", "low_iou", "unmatched_a", "unmatched_b"):
        assert getattr(grid, attr) == getattr(dense, attr), attr


def test_bulk_box_iou_equals_the_shapely_iou():
    rng = np.random.default_rng(5)
    a = [ann(f"a{k}", Box(x, y, x + w, y + h)) for k, (x, y, w, h) in enumerate(rng.uniform(1, 40, (30, 4)))]
    b = [ann(f"b{k}", Box(x, y, x + w, y + h)) for k, (x, y, w, h) in enumerate(rng.uniform(1, 40, (30, 4)))]
    r = match_plane(a, b, 0.05)
    by_id = {x.id: x.geometry for x in a + b}
    for m in r.matches + r.low_iou:
        assert m.iou == pytest.approx(area_iou(by_id[m.a], by_id[m.b]))


def test_mask_and_box_iou_agree_with_pycocotools():
    from pycocotools import mask as cmask
    rng = np.random.default_rng(11)
    for _ in range(10):
        a = rng.random((50, 60)) < 0.3
        b = rng.random((50, 60)) < 0.3
        a[0, 0] = b[0, 0] = True
        want = cmask.iou([cmask.encode(np.asfortranarray(a.astype(np.uint8)))],
                         [cmask.encode(np.asfortranarray(b.astype(np.uint8)))], [0])[0, 0]
        assert area_iou(Mask.from_array(a), Mask.from_array(b)) == pytest.approx(want)
    boxes = rng.uniform(0, 50, (20, 4))
    ga = [Box(x, y, x + w + 1, y + h + 1) for x, y, w, h in boxes[:10]]
    gb = [Box(x, y, x + w + 1, y + h + 1) for x, y, w, h in boxes[10:]]
    xywh = lambda g: [g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0]
    want = cmask.iou([xywh(g) for g in ga], [xywh(g) for g in gb], [0] * 10)
    for i, x in enumerate(ga):
        for j, y in enumerate(gb):
            assert area_iou(x, y) == pytest.approx(want[i, j], abs=1e-9)
