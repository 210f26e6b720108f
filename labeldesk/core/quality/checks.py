"""Label-quality checks: a test suite for a project's annotations.

Each check is a function of the annotation columns (:mod:`arrays`) and the thresholds, vectorised
with numpy, returning :class:`Finding` s with a reason a person can read. A finding someone judged
"not a problem" is waived with a ``quality.waive`` op (key ``check:subject``) and is not reported
again. Thresholds come from the project setting ``quality_checks`` (an op), overridable per run.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

import numpy as np

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.quality.arrays import EXTENTLESS, AnnotationArrays, box_iou, near_pairs, robust_z

SETTING = "quality_checks"


@dataclass
class Thresholds:
    duplicate_iou: float = 0.9          # same class, layer and plane, boxes at least this IoU
    tiny_px: float = 3.0                # width or height below this many pixels
    tiny_area: float = 16.0             # or area below this many square pixels
    outlier_z: float = 3.5              # robust z-score of log area / log aspect within the class
    outlier_min: int = 8                # classes with fewer shapes are not judged
    outside_px: float = 0.5             # box beyond the image by more than this
    exclusive: list[list[str]] = field(default_factory=list)   # class name pairs that must not overlap
    overlap: float = 0.2                # intersection / smaller box above which they overlap
    imbalance_ratio: float = 10.0       # a class this many times rarer than the commonest
    track_gap: int = 1                  # missing frames/slices allowed inside a track
    track_jump: float = 2.0             # centre moves more than this × the box size between frames
    slice_iou: float = 0.5              # shapes on adjacent slices this similar must share a class
    confidence: float = 0.9             # model predictions at least this sure are trusted
    model_iou: float = 0.5

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Thresholds":
        t = cls()
        names = {f.name for f in fields(cls)}
        for k, v in (d or {}).items():
            if k not in names:
                raise LabeldeskError(f"unknown check threshold {k!r} (known: {', '.join(sorted(names))})")
            setattr(t, k, v)
        return t


@dataclass
class Finding:
    check: str
    subject: str                 # what the waiver names: an annotation, track, class or pair of ids
    reason: str
    value: float
    threshold: float
    asset_id: str | None = None
    annotation_id: str | None = None
    plane: dict[str, Any] | None = None
    layer: str | None = None

    @property
    def key(self) -> str:
        return f"{self.check}:{self.subject}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CheckFn = Callable[[AnnotationArrays, Thresholds, Any], list[Finding]]
CHECKS: dict[str, tuple[str, CheckFn]] = {}


def check(name: str, title: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[name] = (title, fn)
        return fn
    return register


def _finding(a: AnnotationArrays, check_name: str, i: int, reason: str, value: float, threshold: float,
             subject: str | None = None) -> Finding:
    return Finding(check_name, subject or a.ids[i], reason, round(float(value), 4), threshold,
                   a.asset_ids[a.asset[i]], a.ids[i], {"z": int(a.z[i]), "t": int(a.t[i]),
                                                       "axis": ("axial", "coronal", "sagittal")[a.axis[i]]},
                   a.layer_names[a.layer[i]])


def _sized(a: AnnotationArrays) -> np.ndarray:
    return ~np.isin(a.kind, EXTENTLESS)


@check("duplicate", "Duplicates and near-duplicates")
def duplicates(a: AnnotationArrays, th: Thresholds, ctx: Any = None, window: int = 8) -> list[Finding]:
    """Same class, layer and plane with box IoU ≥ ``duplicate_iou``. Candidates are the next
    ``window`` shapes in (group, x0, y0) order, which finds any pair whose left edges are close."""
    if not len(a):
        return []
    group = a.plane_key() * 1_000_003 + a.layer.astype(np.int64) * 1009 + a.cls
    order = np.lexsort((a.box[:, 1], a.box[:, 0], group))
    g, b = group[order], a.box[order]
    out, seen = [], set()
    for s in range(1, window + 1):
        same = g[s:] == g[:-s]
        if not same.any():
            break
        iou = box_iou(b[s:], b[:-s])
        for k in np.flatnonzero(same & (iou >= th.duplicate_iou)):
            i, j = int(order[k + s]), int(order[k])
            if i in seen:
                continue
            seen.add(i)
            word = "exact duplicate" if iou[k] >= 0.999 else "near-duplicate"
            out.append(_finding(a, "duplicate", i, f"{word} of {a.ids[j][:8]} ({a.class_name(a.cls[i])}, "
                                f"box IoU {iou[k]:.2f} ≥ {th.duplicate_iou})", iou[k], th.duplicate_iou))
    return out


@check("tiny", "Tiny shapes")
def tiny(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    w, h = a.width, a.height
    bad = _sized(a) & ((w < th.tiny_px) | (h < th.tiny_px) | (w * h < th.tiny_area))
    return [_finding(a, "tiny", int(i), f"tiny {a.class_name(a.cls[i])}: {w[i]:.1f}×{h[i]:.1f} px "
                     f"(minimum {th.tiny_px:g} px a side, {th.tiny_area:g} px²)", min(w[i], h[i]), th.tiny_px)
            for i in np.flatnonzero(bad)]


@check("outlier", "Size and aspect outliers per class")
def outliers(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    """Robust z-score (median/MAD) of log area and log aspect ratio within each class."""
    m = _sized(a) & (a.width > 0) & (a.height > 0) & (a.cls >= 0)
    idx = np.flatnonzero(m)
    if not len(idx):
        return []
    cls = a.cls[idx]
    counts = np.bincount(cls)
    idx, cls = idx[counts[cls] >= th.outlier_min], cls[counts[cls] >= th.outlier_min]
    w, h = a.width[idx], a.height[idx]
    out = []
    for what, values in (("area", np.log(w * h)), ("aspect", np.log(w / h))):
        z = robust_z(values, cls)
        for k in np.flatnonzero(np.abs(z) > th.outlier_z):
            i = int(idx[k])
            desc = f"{w[k] * h[k]:.0f} px²" if what == "area" else f"aspect {w[k] / h[k]:.2f}"
            side = "large" if z[k] > 0 else "small" if what == "area" else ("wide" if z[k] > 0 else "tall")
            out.append(_finding(a, "outlier", i, f"{a.class_name(cls[k])} unusually {side}: {desc} "
                                f"(robust z {z[k]:+.1f}, limit ±{th.outlier_z:g})", abs(z[k]), th.outlier_z,
                                subject=f"{a.ids[i]}/{what}"))
    return out


@check("outside", "Outside the image")
def outside(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    if not len(a):
        return []
    size = a.asset_size[a.asset]
    tol = th.outside_px
    beyond = np.maximum.reduce([-a.box[:, 0], -a.box[:, 1], a.box[:, 2] - size[:, 0], a.box[:, 3] - size[:, 1]])
    off_plane = (a.z >= np.maximum(size[:, 2], 1)) | (a.t >= np.maximum(size[:, 3], 1))
    out = []
    for i in np.flatnonzero((beyond > tol) | off_plane):
        if off_plane[i]:
            reason = f"on slice {a.z[i]}, frame {a.t[i]}: the asset has {size[i, 2]} slice(s), {size[i, 3]} frame(s)"
        else:
            reason = f"reaches {beyond[i]:.1f} px beyond the {size[i, 0]}×{size[i, 1]} image"
        out.append(_finding(a, "outside", int(i), reason, beyond[i], tol))
    return out


@check("overlap", "Overlapping classes that must not overlap")
def overlaps(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    by_name = {n: i for i, n in enumerate(a.class_names)}
    out = []
    key = a.plane_key() * 64 + a.layer
    for pair in th.exclusive:
        if len(pair) != 2 or any(n not in by_name for n in pair):
            raise LabeldeskError(f"exclusive classes {pair!r}: name two classes of this project")
        ia, ib = (np.flatnonzero(a.cls == by_name[n]) for n in pair)
        pi, pj = near_pairs(key[ia], a.box[ia], key[ib], a.box[ib])
        i, j = ia[pi], ib[pj]
        ba, bb = a.box[i], a.box[j]
        iw = np.clip(np.minimum(ba[:, 2], bb[:, 2]) - np.maximum(ba[:, 0], bb[:, 0]), 0, None)
        ih = np.clip(np.minimum(ba[:, 3], bb[:, 3]) - np.maximum(ba[:, 1], bb[:, 1]), 0, None)
        small = np.minimum((ba[:, 2] - ba[:, 0]) * (ba[:, 3] - ba[:, 1]), (bb[:, 2] - bb[:, 0]) * (bb[:, 3] - bb[:, 1]))
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(small > 0, iw * ih / small, 0.0)
        for k in np.flatnonzero(frac > th.overlap):
            out.append(_finding(a, "overlap", int(i[k]), f"{pair[0]} overlaps {pair[1]} {a.ids[j[k]][:8]} by "
                                f"{frac[k]:.0%} of the smaller box (these classes must not overlap)",
                                frac[k], th.overlap, subject=f"{a.ids[i[k]]}+{a.ids[j[k]]}"))
    return out


@check("imbalance", "Class imbalance")
def imbalance(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    human = a.human() & (a.cls >= 0)
    counts = np.bincount(a.cls[human], minlength=len(a.class_ids))
    if not counts.any():
        return []
    top = counts.max()
    out = []
    for c in np.flatnonzero(counts * th.imbalance_ratio < top):
        first = np.flatnonzero(human & (a.cls == c))
        ratio = top / counts[c] if counts[c] else float("inf")
        f = Finding("imbalance", a.class_ids[c], f"{a.class_names[c]}: {counts[c]} shape(s), "
                    f"{ratio:.0f}× rarer than {a.class_names[int(counts.argmax())]} ({top}); limit {th.imbalance_ratio:g}×",
                    round(float(min(ratio, 1e9)), 2), th.imbalance_ratio)
        if len(first):
            g = _finding(a, "imbalance", int(first[0]), "", 0, 0)
            f.asset_id, f.annotation_id, f.plane, f.layer = g.asset_id, g.annotation_id, g.plane, g.layer
        out.append(f)
    return out


def _along(a: AnnotationArrays) -> np.ndarray:
    """Position along a track: the frame for videos and 4-D data, the slice otherwise."""
    return np.where(a.t > 0, a.t, a.z) if len(a) else a.t


@check("track", "Broken tracks (gaps, identity switches)")
def tracks(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    m = np.flatnonzero(a.track >= 0)
    if len(m) < 2:
        return []
    pos = np.maximum(a.t[m], 0).astype(np.int64) * 100_000 + a.z[m]
    order = m[np.lexsort((pos, a.track[m]))]
    tr, t = a.track[order], np.where(a.t[order] > 0, a.t[order], a.z[order])
    same = tr[1:] == tr[:-1]
    gap = (t[1:] - t[:-1]) - 1
    b = a.box[order]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    size = np.maximum(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1.0)
    jump = np.hypot(cx[1:] - cx[:-1], cy[1:] - cy[:-1]) / np.minimum(size[1:], size[:-1])
    cls = a.cls[order]
    out = []
    for k in np.flatnonzero(same & (gap > th.track_gap)):
        i = int(order[k + 1])
        out.append(_finding(a, "track", i, f"track {a.track_ids[tr[k]][:8]} skips {gap[k]} frame(s)/slice(s) "
                            f"between {t[k]} and {t[k + 1]} (allowed {th.track_gap})", gap[k], th.track_gap,
                            subject=f"gap:{a.ids[i]}"))
    for k in np.flatnonzero(same & (cls[1:] != cls[:-1])):
        i = int(order[k + 1])
        out.append(_finding(a, "track", i, f"identity switch: track {a.track_ids[tr[k]][:8]} changes class from "
                            f"{a.class_name(cls[k])} to {a.class_name(cls[k + 1])} at {t[k + 1]}", 1, 0,
                            subject=f"class:{a.ids[i]}"))
    for k in np.flatnonzero(same & (gap <= th.track_gap) & (jump > th.track_jump)):
        i = int(order[k + 1])
        out.append(_finding(a, "track", i, f"identity switch? track {a.track_ids[tr[k]][:8]} jumps "
                            f"{jump[k]:.1f}× its size between {t[k]} and {t[k + 1]} (limit {th.track_jump:g}×)",
                            jump[k], th.track_jump, subject=f"jump:{a.ids[i]}"))
    return out


@check("slices", "Classes inconsistent across slices")
def slices(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    """On volumes: a shape on slice z+1 that covers a shape on slice z (box IoU ≥ ``slice_iou``, same
    layer) is the same structure and should have its class."""
    vol = np.array([k == "volume" for k in a.asset_kind] or [False], bool)
    m = np.flatnonzero(vol[a.asset] & _sized(a) & (a.cls >= 0)) if len(a) else np.zeros(0, np.int64)
    if not len(m):
        return []
    base = ((a.asset[m].astype(np.int64) * 3 + a.axis[m]) * 4096 + a.layer[m]) * 65536 + a.t[m]
    key = base * 100_000 + a.z[m]
    pi, pj = near_pairs(key + 1, a.box[m], key, a.box[m])          # i on slice z, j on slice z+1
    i, j = m[pi], m[pj]
    iou = box_iou(a.box[i], a.box[j])
    out = []
    for k in np.flatnonzero((iou >= th.slice_iou) & (a.cls[i] != a.cls[j])):
        out.append(_finding(a, "slices", int(j[k]), f"{a.class_name(a.cls[j[k]])} on slice {a.z[j[k]]} continues "
                            f"{a.class_name(a.cls[i[k]])} {a.ids[i[k]][:8]} on slice {a.z[i[k]]} (box IoU {iou[k]:.2f})",
                            iou[k], th.slice_iou, subject=f"{a.ids[i[k]]}+{a.ids[j[k]]}"))
    return out


@check("model", "Disagreement with a confident model")
def model(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    if not len(a):
        return []
    human = a.human()
    pred = np.flatnonzero(~human & (a.score >= th.confidence))
    hum = np.flatnonzero(human)
    key = a.plane_key()
    pi, pj = near_pairs(key[pred], a.box[pred], key[hum], a.box[hum])
    p, h = pred[pi], hum[pj]
    iou = box_iou(a.box[p], a.box[h])
    close = iou >= th.model_iou
    agree = np.zeros(len(a), bool)
    agree[h[close & (a.cls[p] == a.cls[h])]] = True
    covered = np.zeros(len(a), bool)
    covered[p[close]] = True
    out = []
    for k in np.flatnonzero(close & (a.cls[p] != a.cls[h])):
        if agree[h[k]]:
            continue
        out.append(_finding(a, "model", int(h[k]), f"labelled {a.class_name(a.cls[h[k]])}; the model says "
                            f"{a.class_name(a.cls[p[k]])} with {a.score[p[k]]:.2f} (IoU {iou[k]:.2f})",
                            a.score[p[k]], th.confidence, subject=f"{a.ids[h[k]]}/{a.ids[p[k]]}"))
    labelled_planes = set(key[hum].tolist())
    for i in pred[~covered[pred]]:
        if int(key[i]) in labelled_planes or not len(hum):
            out.append(_finding(a, "model", int(i), f"possibly missed: the model finds {a.class_name(a.cls[i])} "
                                f"with {a.score[i]:.2f} where no one labelled it", a.score[i], th.confidence))
    return out


def thresholds_of(project: Any, overrides: dict[str, Any] | None = None) -> Thresholds:
    row = project.conn.execute("SELECT value FROM meta WHERE key = ?", ("setting." + SETTING,)).fetchone()
    saved = json.loads(row[0]) if row else {}
    return Thresholds.from_dict({**saved, **(overrides or {})})


def run(project: Any, *, only: list[str] | None = None, thresholds: Thresholds | None = None,
        layers: list[str] | None = None, include_waived: bool = False,
        arrays: AnnotationArrays | None = None) -> list[Finding]:
    """Run the checks (all, or ``only``) and drop waived findings unless ``include_waived``."""
    from labeldesk.core.quality import arrays as arrays_mod
    from labeldesk.core.quality import records
    unknown = [c for c in (only or []) if c not in CHECKS]
    if unknown:
        raise LabeldeskError(f"unknown check {unknown[0]!r} (known: {', '.join(CHECKS)})")
    th = thresholds or thresholds_of(project)
    a = arrays if arrays is not None else arrays_mod.load(project.conn, layers=layers)
    found: list[Finding] = []
    for name in only or list(CHECKS):
        found += CHECKS[name][1](a, th, project)
    if include_waived:
        return found
    recs = records.load(project.conn)
    return [f for f in found if f.key not in recs.waivers]


@check("attributes", "Missing required attributes")
def attributes(a: AnnotationArrays, th: Thresholds, ctx: Any = None) -> list[Finding]:
    """Shapes whose class has required attributes (shown given their conditions) left empty."""
    from labeldesk.core.ontology import missing_required
    if ctx is None or not len(a):
        return []
    defs = {}
    for cid, text in ctx.conn.execute("SELECT id, attributes FROM classes"):
        d = json.loads(text or "[]")
        if any(x.get("required") for x in d):
            defs[cid] = d
    if not defs:
        return []
    out = []
    rows = ctx.conn.execute(f"SELECT rowid, id, class_id, attributes FROM annotations WHERE deleted = 0 AND class_id IN "
                            f"({','.join('?' * len(defs))})", list(defs))
    pos = {aid: i for i, aid in enumerate(a.ids)} if a.rowid is None else None
    for rowid, aid, cid, text in rows:
        if pos is not None:
            i = pos.get(aid)
        else:
            k = int(np.searchsorted(a.rowid, rowid))
            i = k if k < len(a.rowid) and a.rowid[k] == rowid else None
        if i is None:
            continue
        missing = missing_required(defs[cid], json.loads(text or "{}"))
        if missing:
            out.append(_finding(a, "attributes", i, f"{a.class_name(a.cls[i])} lacks required "
                                f"attribute(s) {', '.join(missing)}", len(missing), 0))
    return out
