"""Agreement statistics against hand-worked published examples, plus degenerate cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labeldesk.core.review.agreement import (
    cohen_kappa, confusion_matrix, fleiss_kappa, fleiss_kappa_ratings, krippendorff_alpha,
    multi_rater_agreement, percent_agreement, rating_table, units_from_raters)


def _from_table(yy: int, yn: int, ny: int, nn: int) -> tuple[list[str], list[str]]:
    a = ["yes"] * (yy + yn) + ["no"] * (ny + nn)
    b = ["yes"] * yy + ["no"] * yn + ["yes"] * ny + ["no"] * nn
    return a, b


def test_cohen_wikipedia_50_applicants():
    # Wikipedia "Cohen's kappa", simple example: 20 yes/yes, 5 A-yes/B-no, 10 A-no/B-yes, 15 no/no.
    a, b = _from_table(20, 5, 10, 15)
    assert percent_agreement(a, b).value == pytest.approx(0.7)
    k = cohen_kappa(a, b)
    assert k.value == pytest.approx(0.4)
    assert k.n == 50
    cats, m = confusion_matrix(a, b)
    assert cats == ["no", "yes"] and m.tolist() == [[15, 10], [5, 20]]


def test_cohen_kappa_paradox_examples():
    # Wikipedia: same 60 % agreement, different marginals -> 0.1304 and 0.2593.
    assert cohen_kappa(*_from_table(45, 15, 25, 15)).value == pytest.approx(0.1304, abs=1e-4)
    assert cohen_kappa(*_from_table(25, 35, 5, 35)).value == pytest.approx(0.2593, abs=1e-4)


def test_cohen_published_small_examples():
    # scikit-learn docstring example (0.6875) and a tutorial example (2/3).
    y1 = ["negative", "positive", "negative", "neutral", "positive"]
    y2 = ["negative", "positive", "negative", "neutral", "negative"]
    assert cohen_kappa(y1, y2).value == pytest.approx(0.6875)
    assert cohen_kappa([0, 1, 2, 0, 1], [0, 1, 1, 0, 1]).value == pytest.approx(2 / 3)


def test_weighted_kappa_by_hand():
    # 3 ordered grades; disagreements one step apart count less under weights.
    a = [1, 1, 2, 2, 3, 3, 1, 3]
    b = [1, 2, 2, 3, 3, 2, 1, 1]
    _, m = confusion_matrix(a, b)
    p = m / m.sum()
    e = np.outer(p.sum(1), p.sum(0))
    i, j = np.indices(m.shape)
    for weights, w in ((None, (i != j) * 1.0), ("linear", abs(i - j) / 2), ("quadratic", (i - j) ** 2 / 4)):
        expected = 1 - (w * p).sum() / (w * e).sum()
        assert cohen_kappa(a, b, weights=weights).value == pytest.approx(expected)
    # a 2-step miss (3 vs 1) costs more under quadratic weights than one-step misses
    assert cohen_kappa(a, b, "quadratic").value != pytest.approx(cohen_kappa(a, b).value)
    # with two categories every weighting is the same
    x, y = _from_table(20, 5, 10, 15)
    assert cohen_kappa(x, y, "linear").value == pytest.approx(0.4)
    assert cohen_kappa(x, y, "quadratic").value == pytest.approx(0.4)


def test_cohen_skips_missing_and_orders_by_labels():
    a = ["low", None, "mid", "high", "low"]
    b = ["low", "mid", "mid", "mid", None]
    assert percent_agreement(a, b).n == 3
    k = cohen_kappa(a, b, "linear", labels=["low", "mid", "high"])
    assert k.n == 3 and k.defined
    with pytest.raises(ValueError, match="not among"):
        cohen_kappa(a, b, labels=["low", "mid"])
    with pytest.raises(ValueError, match="different numbers"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1], [1], weights="cubic")


def test_cohen_degenerate_cases_are_nan_with_reason():
    k = cohen_kappa(["a"] * 5, ["a"] * 5)
    assert math.isnan(k.value) and "single category" in k.reason and not k.defined
    assert k.text() == "n/a" and k.to_dict()["value"] is None
    assert percent_agreement(["a"] * 5, ["a"] * 5).value == 1.0
    none = cohen_kappa([None, None], ["a", None])
    assert none.n == 0 and "no unit" in none.reason
    # all agree over several categories: kappa is exactly 1
    assert cohen_kappa([1, 2, 3, 1], [1, 2, 3, 1]).value == pytest.approx(1.0)


FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_fleiss_wikipedia_example():
    k = fleiss_kappa(FLEISS_WIKIPEDIA)
    assert k.value == pytest.approx(0.210, abs=5e-4)
    assert k.n == 10


def test_fleiss_from_ratings_matches_table_and_two_raters_close_to_cohen():
    units = []
    for row in FLEISS_WIKIPEDIA:
        units.append([c for c, n in enumerate(row) for _ in range(n)])
    cats, table = rating_table(units)
    assert table.tolist() == FLEISS_WIKIPEDIA and cats == [0, 1, 2, 3, 4]
    assert fleiss_kappa_ratings(units).value == pytest.approx(fleiss_kappa(FLEISS_WIKIPEDIA).value)
    # units with a missing rating are left out of Fleiss (same raters on every unit)
    assert fleiss_kappa_ratings(units + [[0] * 13 + [None]]).n == 10


def test_fleiss_degenerate_and_invalid():
    k = fleiss_kappa([[3, 0], [3, 0]])
    assert math.isnan(k.value) and "one category" in k.reason
    assert fleiss_kappa([[3, 0], [0, 3]]).value == pytest.approx(1.0)
    assert "at least two" in fleiss_kappa([[1, 0], [0, 1]]).reason
    assert fleiss_kappa(np.zeros((0, 2))).n == 0
    with pytest.raises(ValueError, match="same number of ratings"):
        fleiss_kappa([[2, 1], [1, 1]])


# Krippendorff (2011) "Computing Krippendorff's alpha-reliability", reliability data with missing
# values: 4 observers x 12 units.
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def test_krippendorff_2011_canonical_example():
    units = units_from_raters(K2011)
    a = krippendorff_alpha(units, "nominal")
    assert a.value == pytest.approx(0.743, abs=5e-4)
    assert a.n == 11        # unit 12 has one rating only: not pairable
    assert krippendorff_alpha(units, "ordinal").value == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(units, "interval").value == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(units, "ratio").value == pytest.approx(0.797, abs=5e-4)


def test_krippendorff_degenerate_and_invalid():
    a = krippendorff_alpha([["x", "x"], ["x", "x", None]])
    assert math.isnan(a.value) and "same value" in a.reason
    assert krippendorff_alpha([["x"], [None, "y"]]).n == 0
    assert krippendorff_alpha([["x", "x"], ["y", "y"]]).value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="numeric"):
        krippendorff_alpha([["x", "y"], ["y", "y"]], "interval")
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha([[1, 1]], "cardinal")
    with pytest.raises(ValueError, match="one entry"):
        units_from_raters([[1, 2], [1]])


def test_multi_rater_agreement():
    units = [["a", "a", "a"], ["a", "b", None], ["b", "b", "a"], ["c"]]
    s = multi_rater_agreement(units)
    assert s.n == 3
    assert s.value == pytest.approx((1 + 0 + 1 / 3) / 3)
    assert not multi_rater_agreement([["a"], []]).defined


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=2, max_size=40))
def test_two_raters_nominal_alpha_close_to_kappa_and_symmetric(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    k1, k2 = cohen_kappa(a, b), cohen_kappa(b, a)
    assert (math.isnan(k1.value) and math.isnan(k2.value)) or k1.value == pytest.approx(k2.value)
    if k1.defined:
        assert -1.0 - 1e-9 <= k1.value <= 1.0 + 1e-9
    alpha = krippendorff_alpha([list(p) for p in pairs])
    fk = fleiss_kappa_ratings([list(p) for p in pairs])
    # with two raters and no missing data, alpha = (1 - 1/2n)·pi-bar correction of Scott's pi (= Fleiss)
    n = len(pairs)
    if alpha.defined and fk.defined:
        assert alpha.value == pytest.approx(1 - (2 * n - 1) / (2 * n) * (1 - fk.value), abs=1e-9)
