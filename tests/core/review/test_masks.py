"""Dice / HD95 / Hausdorff / ASSD on shapes with known answers, checked against brute force."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labeldesk.core.review.masks import (
    compare_label_maps, compare_masks, dice, distance_to, hd95, jaccard, surface, surface_distances)


def square(k=0, size=20, shape=(60, 60)):
    m = np.zeros(shape, bool)
    m[10:10 + size, 10 + k:10 + k + size] = True
    return m


def brute(a, b, spacing):
    pa = np.argwhere(surface(a)) * np.asarray(spacing)
    pb = np.argwhere(surface(b)) * np.asarray(spacing)
    d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
    return d.min(axis=1), d.min(axis=0)


def test_surface_is_the_boundary():
    s = surface(square())
    assert s.sum() == 4 * 20 - 4
    assert not s[15, 15] and s[10, 15] and s[29, 29]


@pytest.mark.parametrize("k", [0, 1, 3, 7])
def test_squares_offset_by_k_pixels(k):
    a, b = square(), square(k)
    assert dice(a, b) == pytest.approx((20 - k) / 20)
    assert jaccard(a, b) == pytest.approx((20 - k) / (20 + k))
    r = compare_masks(a, b, spacing=(0.5, 0.5))
    assert r.hausdorff == pytest.approx(0.5 * k)
    assert r.volume_a == pytest.approx(400 * 0.25)
    da, db = brute(a, b, (0.5, 0.5))
    pooled = np.concatenate([da, db])
    assert r.hd95 == pytest.approx(np.percentile(pooled, 95))
    assert r.assd == pytest.approx(pooled.mean())
    assert 0 <= r.hd95 <= r.hausdorff
    if k:
        assert r.hd95 > 0


def test_anisotropic_spacing_scales_each_axis():
    a, b = square(), square(3)        # shifted along columns (axis 1)
    assert compare_masks(a, b, spacing=(1.0, 2.0)).hausdorff == pytest.approx(6.0)
    assert compare_masks(a, b, spacing=(2.0, 1.0)).hausdorff == pytest.approx(3.0)
    da, db = brute(a, b, (1.0, 2.0))
    got_a, got_b = surface_distances(a, b, (1.0, 2.0))
    assert np.allclose(np.sort(got_a), np.sort(da)) and np.allclose(np.sort(got_b), np.sort(db))


def test_distance_transform_matches_brute_force():
    rng = np.random.default_rng(7)
    for shape, spacing in (((23, 31), (1.0, 1.0)), ((23, 31), (0.7, 1.3)),
                           ((9, 14, 11), (2.5, 0.8, 0.8)), ((9, 14, 11), (1.0, 0.5, 2.0))):
        f = rng.random(shape) < 0.02
        f.flat[5] = True
        got = distance_to(f, spacing)
        pts = np.argwhere(f) * np.asarray(spacing)
        grid = np.indices(shape).reshape(len(shape), -1).T * np.asarray(spacing)
        want = np.linalg.norm(grid[:, None, :] - pts[None, :, :], axis=2).min(axis=1).reshape(shape)
        assert np.allclose(got, want, atol=1e-4), (shape, spacing)
    assert np.isinf(distance_to(np.zeros((4, 4), bool), (1, 1))).all()


def sphere(shape, centre_mm, radius_mm, spacing):
    zz, yy, xx = np.indices(shape).astype(float)
    pos = (zz * spacing[0] - centre_mm[0], yy * spacing[1] - centre_mm[1], xx * spacing[2] - centre_mm[2])
    return (pos[0] ** 2 + pos[1] ** 2 + pos[2] ** 2) <= radius_mm ** 2


def test_sphere_against_shifted_sphere_in_mm():
    spacing = (2.0, 1.0, 1.0)            # thick slices
    shape = (24, 40, 40)
    r, shift = 10.0, 4.0                 # mm; the shift is two slices along z
    a = sphere(shape, (22, 20, 20), r, spacing)
    b = sphere(shape, (22 + shift, 20, 20), r, spacing)
    rep = compare_masks(a, b, spacing)
    overlap = math.pi * (4 * r + shift) * (2 * r - shift) ** 2 / 12
    assert rep.dice == pytest.approx(overlap / (4 / 3 * math.pi * r ** 3), abs=0.03)
    assert rep.hausdorff == pytest.approx(shift, abs=0.5)
    assert 0 < rep.hd95 <= rep.hausdorff
    da, db = brute(a, b, spacing)
    assert rep.hd95 == pytest.approx(np.percentile(np.concatenate([da, db]), 95))
    assert rep.volume_a == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.05)
    same = compare_masks(a, a, spacing)
    assert same.dice == 1.0 and same.hd95 == 0.0 and same.hausdorff == 0.0


def test_empty_masks_are_defined_or_nan_with_reason():
    empty = np.zeros((10, 10), bool)
    both = compare_masks(empty, empty)
    assert both.dice == 1.0 and both.hd95 == 0.0 and "both" in both.reason
    one = compare_masks(square(shape=(40, 40)), np.zeros((40, 40), bool))
    assert one.dice == 0.0 and math.isnan(one.hd95) and "mask B is empty" in one.reason
    assert one.to_dict()["hd95"] is None
    assert math.isnan(hd95(np.zeros((40, 40), bool), square(shape=(40, 40))))
    with pytest.raises(ValueError, match="differ in shape"):
        dice(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        compare_masks(square(), square(), spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        compare_masks(square(), square(), spacing=(1, 0))


def test_label_maps_per_label():
    a = np.zeros((8, 30, 30), np.uint8)
    b = np.zeros_like(a)
    a[2:6, 5:15, 5:15] = 1
    b[2:6, 5:15, 7:17] = 1
    a[2:6, 20:25, 20:25] = 2
    b[2:6, 20:25, 20:25] = 2
    a[0, 0, 0] = 3                       # label 3 only in A
    reps = compare_label_maps(a, b, spacing=(3.0, 0.5, 0.5))
    assert sorted(reps) == [1, 2, 3]
    assert reps[1].dice == pytest.approx(0.8) and reps[1].hausdorff == pytest.approx(1.0)
    assert reps[2].dice == 1.0 and reps[2].hd95 == 0.0
    assert reps[3].dice == 0.0 and math.isnan(reps[3].hd95)
    assert compare_label_maps(a, b, labels=[2])[2].dice == 1.0


def test_surface_dice_at_tolerance():
    a, b = square(), square(3)
    da, db = brute(a, b, (1.0, 1.0))
    pooled = np.concatenate([da, db])
    for tol in (0.0, 1.0, 2.0, 3.0):
        r = compare_masks(a, b, tolerance=tol)
        assert r.surface_dice == pytest.approx(np.mean(pooled <= tol + 1e-9))
        assert r.tolerance == tol
    assert compare_masks(a, b, tolerance=3.0).surface_dice == 1.0      # nothing is further than 3 px
    assert compare_masks(a, a, tolerance=0.0).surface_dice == 1.0
    assert compare_masks(a, np.zeros_like(a)).surface_dice == 0.0
    assert compare_masks(np.zeros_like(a), np.zeros_like(a)).to_dict()["surface_dice"] == 1.0
