"""Drift: a batch of assets against a baseline batch.

Features: pixel intensity (a sample of each asset's representative plane), image size (log of
width × height), class frequency (shares of the annotations' classes) and shape size (log of the
bounding-box area). Scores: the population stability index over ten baseline-quantile bins
(categorical bins for classes) — below 0.1 stable, 0.1–0.25 a moderate shift, above 0.25 a major
one — and, for the numeric features, the two-sample Kolmogorov–Smirnov statistic with its
asymptotic p-value."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from labeldesk.core.errors import LabeldeskError

EPS = 1e-4


@dataclass
class FeatureDrift:
    feature: str
    psi: float
    ks: float | None
    p_value: float | None
    n_baseline: int
    n_batch: int
    labels: list[str] = field(default_factory=list)     # bin labels
    baseline: list[float] = field(default_factory=list)  # share per bin
    batch: list[float] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.n_baseline == 0 or self.n_batch == 0:
            return "no data"
        return "stable" if self.psi < 0.1 else "moderate shift" if self.psi < 0.25 else "major shift"

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "psi": round(self.psi, 4),
                "ks": None if self.ks is None else round(self.ks, 4),
                "p_value": None if self.p_value is None else float(f"{self.p_value:.4g}"),
                "n_baseline": self.n_baseline, "n_batch": self.n_batch, "verdict": self.verdict,
                "bins": self.labels, "baseline": [round(x, 4) for x in self.baseline],
                "batch": [round(x, 4) for x in self.batch]}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, float), EPS, None)
    a = np.clip(np.asarray(actual, float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_2samp(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic D and its asymptotic p-value (Kolmogorov distribution)."""
    x, y = np.sort(np.asarray(x, float)), np.sort(np.asarray(y, float))
    both = np.concatenate([x, y])
    d = float(np.max(np.abs(np.searchsorted(x, both, "right") / len(x) - np.searchsorted(y, both, "right") / len(y))))
    ne = len(x) * len(y) / (len(x) + len(y))
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    if lam < 1e-3:
        return d, 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, float(min(max(p, 0.0), 1.0))


def numeric(feature: str, base: np.ndarray, batch: np.ndarray, bins: int = 10) -> FeatureDrift:
    base, batch = np.asarray(base, float), np.asarray(batch, float)
    if not len(base) or not len(batch):
        return FeatureDrift(feature, 0.0, None, None, len(base), len(batch))
    # cut points: the baseline's deciles between its minimum and (just above) its maximum, and
    # open bins below and above, so values outside the baseline's range count as a shift
    top = np.nextafter(base.max(), np.inf)
    cuts = np.unique(np.concatenate([[base.min()], np.quantile(base, np.linspace(0, 1, bins + 1)[1:-1]), [top]]))
    k = len(cuts) + 1
    e = np.bincount(np.searchsorted(cuts, base, "right"), minlength=k) / len(base)
    a = np.bincount(np.searchsorted(cuts, batch, "right"), minlength=k) / len(batch)
    d, p = ks_2samp(base, batch)
    labels = ([f"< {cuts[0]:.3g}"] + [f"{cuts[i]:.3g}–{cuts[i + 1]:.3g}" for i in range(len(cuts) - 1)]
              + [f"> {base.max():.3g}"])
    return FeatureDrift(feature, psi(e, a), d, p, len(base), len(batch), labels, e.tolist(), a.tolist())


def categorical(feature: str, base: list[str], batch: list[str]) -> FeatureDrift:
    cats = sorted(set(base) | set(batch))
    if not base or not batch:
        return FeatureDrift(feature, 0.0, None, None, len(base), len(batch), cats)
    e = np.array([base.count(c) for c in cats], float) / len(base)
    a = np.array([batch.count(c) for c in cats], float) / len(batch)
    return FeatureDrift(feature, psi(e, a), None, None, len(base), len(batch), cats, e.tolist(), a.tolist())


def assets_added(project: Any, start: str | None, end: str | None) -> list[str]:
    """Assets whose asset.add op's wall time is in [start, end) (ISO dates or times)."""
    sql = "SELECT entity FROM ops WHERE type = 'asset.add'"
    args = []
    if start:
        sql += " AND wall >= ?"
        args.append(start)
    if end:
        sql += " AND wall < ?"
        args.append(end)
    live = {a.id for a in project.assets()}
    return [r[0] for r in project.conn.execute(sql + " ORDER BY local_order", args) if r[0] in live]


def drift(project: Any, baseline: list[str], batch: list[str], *, pixels: bool = True,
          progress: Callable[[int, int, str], None] | None = None) -> list[FeatureDrift]:
    """The four features of ``batch`` against ``baseline`` (lists of asset ids)."""
    from labeldesk.core.quality import arrays as arrays_mod
    from labeldesk.core.quality.datachecks import asset_stats
    if not baseline or not batch:
        raise LabeldeskError(f"drift needs assets on both sides (baseline {len(baseline)}, batch {len(batch)})")
    by_id = {a.id: a for a in project.assets()}
    out = []
    if pixels:
        samples: dict[str, list[np.ndarray]] = {"base": [], "batch": []}
        todo = [(s, a) for s, ids in (("base", baseline), ("batch", batch)) for a in ids]
        for n, (side, aid) in enumerate(todo):
            if progress:
                progress(n, len(todo), by_id[aid].name)
            st = asset_stats(project, by_id[aid], samples=2048)
            if st.ok:
                samples[side].append(st.intensity)
        cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in samples.items()}
        out.append(numeric("intensity", cat["base"], cat["batch"]))
    size = {aid: math.log(max(by_id[aid].width * by_id[aid].height, 1)) for aid in baseline + batch}
    out.append(numeric("image size (log px)", np.array([size[a] for a in baseline]), np.array([size[a] for a in batch])))
    arr = arrays_mod.load(project.conn)
    human = arr.human()
    index = {aid: i for i, aid in enumerate(arr.asset_ids)}
    sides = []
    for ids in (baseline, batch):
        m = human & np.isin(arr.asset, [index[a] for a in ids if a in index])
        sides.append(m)
    out.append(categorical("class frequency", [arr.class_name(c) for c in arr.cls[sides[0]]],
                           [arr.class_name(c) for c in arr.cls[sides[1]]]))
    area = np.log(np.maximum(arr.width * arr.height, 1.0)) if len(arr) else np.zeros(0)
    out.append(numeric("shape size (log px²)", area[sides[0]], area[sides[1]]))
    return out
