"""Agreement statistics for classifications: percent agreement, Cohen's kappa (unweighted, linear,
quadratic), Fleiss' kappa and Krippendorff's alpha (nominal, ordinal, interval, ratio).

Written here rather than taken from scikit-learn, statsmodels or the GPL ``krippendorff`` package
(no extra dependency, and no GPL code). Every function returns a :class:`Statistic`: a value, the number of
units it rests on and, when the statistic is undefined (no data, or every rating in one category
so chance agreement is 1), ``NaN`` with a reason instead of an exception. Missing ratings are
``None``.

Caution (docs/sync.md §12): kappa is depressed by skewed prevalence, so report the raw agreement
and the confusion matrix next to it; Fleiss' kappa needs the same raters on every unit, use
Krippendorff's alpha when raters vary or ratings are missing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Hashable, Iterable, Sequence

import numpy as np

WEIGHTS = (None, "linear", "quadratic")
LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class Statistic:
    """One agreement figure. ``value`` is NaN when undefined; ``reason`` then says why."""

    name: str
    value: float
    n: int                 # units (items) the figure rests on
    reason: str = ""

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)

    def __float__(self) -> float:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value if self.defined else None, "n": self.n,
                "reason": self.reason}

    def text(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f}" if self.defined else "n/a"


def _undefined(name: str, n: int, reason: str) -> Statistic:
    return Statistic(name, math.nan, n, reason)


def _pairs(a: Sequence[Hashable | None], b: Sequence[Hashable | None]) -> list[tuple[Hashable, Hashable]]:
    if len(a) != len(b):
        raise ValueError(f"the two raters rated different numbers of units ({len(a)} and {len(b)})")
    return [(x, y) for x, y in zip(a, b) if x is not None and y is not None]


def _categories(values: Iterable[Hashable], labels: Sequence[Hashable] | None) -> list[Hashable]:
    seen = list(dict.fromkeys(values))
    if labels is None:
        try:
            return sorted(seen)  # type: ignore[type-var]
        except TypeError:
            return seen
    extra = [v for v in seen if v not in set(labels)]
    if extra:
        raise ValueError(f"ratings {extra!r} are not among the given categories {list(labels)!r}")
    return list(labels)


def confusion_matrix(a: Sequence[Hashable | None], b: Sequence[Hashable | None],
                     labels: Sequence[Hashable] | None = None) -> tuple[list[Hashable], np.ndarray]:
    """(categories, counts) with rater ``a`` in rows and rater ``b`` in columns; units either
    rater left missing are skipped."""
    pairs = _pairs(a, b)
    cats = _categories([v for p in pairs for v in p], labels)
    index = {c: i for i, c in enumerate(cats)}
    m = np.zeros((len(cats), len(cats)), dtype=np.int64)
    for x, y in pairs:
        m[index[x], index[y]] += 1
    return cats, m


def percent_agreement(a: Sequence[Hashable | None], b: Sequence[Hashable | None]) -> Statistic:
    """Share of units both raters rated on which they gave the same category."""
    pairs = _pairs(a, b)
    if not pairs:
        return _undefined("percent agreement", 0, "no unit was rated by both raters")
    return Statistic("percent agreement", sum(x == y for x, y in pairs) / len(pairs), len(pairs))


def cohen_kappa(a: Sequence[Hashable | None], b: Sequence[Hashable | None],
                weights: str | None = None, labels: Sequence[Hashable] | None = None) -> Statistic:
    """Cohen's kappa of two raters. ``weights`` None (nominal), ``"linear"`` or ``"quadratic"``
    (ordinal: categories in ``labels`` order, or sorted)."""
    if weights not in WEIGHTS:
        raise ValueError(f"unknown kappa weights {weights!r}; expected one of {WEIGHTS}")
    name = "Cohen's kappa" + (f" ({weights})" if weights else "")
    cats, m = confusion_matrix(a, b, labels)
    n = int(m.sum())
    if n == 0:
        return _undefined(name, 0, "no unit was rated by both raters")
    k = len(cats)
    i, j = np.indices((k, k))
    if weights is None or k < 2:
        disagree = (i != j).astype(float)
    elif weights == "linear":
        disagree = np.abs(i - j) / (k - 1)
    else:
        disagree = (i - j) ** 2 / (k - 1) ** 2
    p = m / n
    expected = np.outer(p.sum(axis=1), p.sum(axis=0))
    d_obs, d_exp = float((disagree * p).sum()), float((disagree * expected).sum())
    if d_exp <= 1e-15:
        return _undefined(name, n, "both raters used a single category throughout, so chance "
                                   "agreement is 1 and kappa is undefined")
    return Statistic(name, 1.0 - d_obs / d_exp, n)


def rating_table(units: Sequence[Sequence[Hashable | None]],
                 labels: Sequence[Hashable] | None = None) -> tuple[list[Hashable], np.ndarray]:
    """(categories, counts[unit, category]) from each unit's list of ratings (None = missing)."""
    cats = _categories([v for u in units for v in u if v is not None], labels)
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(units), len(cats)), dtype=np.int64)
    for r, unit in enumerate(units):
        for v in unit:
            if v is not None:
                table[r, index[v]] += 1
    return cats, table


def fleiss_kappa(table: Any) -> Statistic:
    """Fleiss' kappa from a (units × categories) table of rating counts; every unit must have the
    same number of ratings (use :func:`krippendorff_alpha` otherwise)."""
    name = "Fleiss' kappa"
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] == 0:
        return _undefined(name, 0, "no units were rated")
    per_unit = t.sum(axis=1)
    if not np.all(per_unit == per_unit[0]):
        raise ValueError("Fleiss' kappa needs the same number of ratings on every unit "
                         f"(found {sorted(set(per_unit.astype(int).tolist()))}); use Krippendorff's alpha")
    r = per_unit[0]
    n_units = t.shape[0]
    if r < 2:
        return _undefined(name, n_units, "each unit needs at least two ratings")
    p_j = t.sum(axis=0) / (n_units * r)
    p_i = ((t * t).sum(axis=1) - r) / (r * (r - 1))
    p_bar, pe_bar = float(p_i.mean()), float((p_j ** 2).sum())
    if pe_bar >= 1 - 1e-15:
        return _undefined(name, n_units, "every rating is in one category, so chance agreement is 1 "
                                         "and kappa is undefined")
    return Statistic(name, (p_bar - pe_bar) / (1 - pe_bar), n_units)


def fleiss_kappa_ratings(units: Sequence[Sequence[Hashable | None]]) -> Statistic:
    """Fleiss' kappa over units rated by every rater (units with a missing rating are left out)."""
    full = [u for u in units if u and all(v is not None for v in u)]
    if not full:
        return _undefined("Fleiss' kappa", 0, "no unit was rated by every rater")
    sizes = {len(u) for u in full}
    if len(sizes) > 1:
        raise ValueError("Fleiss' kappa needs the same raters on every unit; use Krippendorff's alpha")
    return fleiss_kappa(rating_table(full)[1])


def multi_rater_agreement(units: Sequence[Sequence[Hashable | None]]) -> Statistic:
    """Mean over units (with ≥ 2 ratings) of the share of agreeing rater pairs."""
    shares = []
    for unit in units:
        vals = [v for v in unit if v is not None]
        if len(vals) >= 2:
            pairs = list(combinations(vals, 2))
            shares.append(sum(x == y for x, y in pairs) / len(pairs))
    if not shares:
        return _undefined("percent agreement", 0, "no unit has two or more ratings")
    return Statistic("percent agreement", float(np.mean(shares)), len(shares))


def _delta2(level: str, values: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    """Squared difference function of Krippendorff's alpha between every pair of values."""
    k = len(values)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        cum = np.concatenate(([0.0], np.cumsum(n_c)))
        i, j = np.indices((k, k))
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        between = cum[hi + 1] - cum[lo]
        return (between - (n_c[i] + n_c[j]) / 2.0) ** 2
    v = values.astype(float)
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff ** 2
    total = v[:, None] + v[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total == 0, 0.0, (diff / total) ** 2)
    return out


def krippendorff_alpha(units: Sequence[Sequence[Hashable | None]], level: str = "nominal") -> Statistic:
    """Krippendorff's alpha from each unit's ratings (any number of raters, ``None`` = missing;
    units with fewer than two ratings are not pairable and are left out).

    ``level``: nominal, ordinal (categories in sorted order), interval or ratio (numeric values).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}; expected one of {LEVELS}")
    name = f"Krippendorff's alpha ({level})"
    rated = [[v for v in u if v is not None] for u in units]
    pairable = [u for u in rated if len(u) >= 2]
    if not pairable:
        return _undefined(name, 0, "no unit has two or more ratings")
    try:
        values = sorted(set(v for u in pairable for v in u))  # type: ignore[type-var]
    except TypeError:
        if level != "nominal":
            raise ValueError(f"{level} alpha needs values that can be ordered")
        values = list(dict.fromkeys(v for u in pairable for v in u))
    if level in ("interval", "ratio"):
        try:
            arr = np.array([float(v) for v in values])  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{level} alpha needs numeric values ({exc})") from exc
    else:
        arr = np.arange(len(values))
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    o = np.zeros((k, k))
    for u in pairable:
        counts = np.bincount([index[v] for v in u], minlength=k).astype(float)
        pair = np.outer(counts, counts) - np.diag(counts)
        o += pair / (len(u) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    d2 = _delta2(level, arr, n_c)
    d_obs = float((o * d2).sum()) / n
    d_exp = float((np.outer(n_c, n_c) * d2).sum()) / (n * (n - 1))
    if d_exp <= 1e-15:
        return _undefined(name, len(pairable), "every rating has the same value, so expected "
                                               "disagreement is 0 and alpha is undefined")
    return Statistic(name, 1.0 - d_obs / d_exp, len(pairable))


def units_from_raters(raters: Sequence[Sequence[Hashable | None]]) -> list[list[Hashable | None]]:
    """Transpose rater-major data (one list per rater, aligned on units) into unit-major data."""
    if not raters:
        return []
    n = len(raters[0])
    if any(len(r) != n for r in raters):
        raise ValueError("every rater needs one entry (or None) per unit")
    return [[r[i] for r in raters] for i in range(n)]
