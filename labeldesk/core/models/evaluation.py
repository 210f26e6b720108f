"""Evaluate a model version's predictions against the reviewed truth.

Truth, per asset: the final (adjudicated) layers and the annotator layers whose review state is
*approved* (or one layer named by the caller). Only assets with truth are evaluated: elsewhere a
prediction is not known to be right or wrong.

Per class, COCO style: the model's predictions in decreasing score are matched one-to-one to the
same plane's truth of the same class at IoU >= ``iou`` (masks, polygons, boxes: see
:func:`labeldesk.core.review.matching.similarity`); cumulative precision and recall give the PR
curve, AP is the area under its precision envelope (all points), mAP the mean over classes with
truth. Precision, recall and F1 are those of all predictions scored at or above ``min_score``.
The confusion matrix pairs truth and predictions on each plane whatever their class (highest
IoU first): rows are truth classes plus ``background`` (a prediction matching nothing), columns
the predicted classes plus ``missed`` (truth no prediction matched).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Sequence

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Annotation
from labeldesk.core.review.matching import similarity

BACKGROUND, MISSED = "background", "missed"


@dataclass
class ClassResult:
    name: str
    truth: int = 0
    predictions: int = 0
    tp: int = 0
    ap: float | None = None
    curve: list[tuple[float, float, float]] = field(default_factory=list)   # (recall, precision, score)

    @property
    def precision(self) -> float | None:
        return self.tp / self.predictions if self.predictions else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.truth if self.truth else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)

    def row(self) -> dict[str, Any]:
        def num(v: float | None) -> float | None:
            return None if v is None else round(v, 6)
        return {"class": self.name, "truth": self.truth, "predictions": self.predictions, "tp": self.tp,
                "precision": num(self.precision), "recall": num(self.recall), "f1": num(self.f1), "ap": num(self.ap)}


@dataclass
class Evaluation:
    model: str
    version: str
    iou: float
    assets: int
    classes: list[ClassResult]
    confusion: dict[str, dict[str, int]]

    @property
    def map(self) -> float | None:
        aps = [c.ap for c in self.classes if c.ap is not None]
        return sum(aps) / len(aps) if aps else None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "iou": self.iou, "assets": self.assets,
                "mAP": None if self.map is None else round(self.map, 6),
                "classes": [dict(c.row(), pr_curve=[[round(r, 6), round(p, 6), round(s, 6)] for r, p, s in c.curve])
                            for c in self.classes],
                "confusion": self.confusion}

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, ["model", "version", "class", "truth", "predictions", "tp", "precision", "recall",
                                 "f1", "ap"], lineterminator="\n")
        w.writeheader()
        for c in self.classes:
            w.writerow(dict(c.row(), model=self.model, version=self.version))
        w.writerow({"model": self.model, "version": self.version, "class": "(mean)",
                    "ap": None if self.map is None else round(self.map, 6)})
        return buf.getvalue()


def truth_layers_by_asset(project: Any, layer: str | None = None) -> dict[str, list[str]]:
    if layer is not None:
        chosen = [l for l in project.layers() if layer in (l.id, l.name)]
        if not chosen:
            raise LabeldeskError(f"no layer {layer!r}; layers are: " + ", ".join(repr(l.name) for l in project.layers()))
        return {a.id: [chosen[0].id] for a in project.assets()}
    from labeldesk.core.review.workflow import item_states
    out: dict[str, list[str]] = {}
    finals = [l.id for l in project.layers() if l.kind == "final"]
    for a in project.assets():
        ids = [f for f in finals if project.annotations(a.id, layer_id=f)]
        if ids:
            out[a.id] = ids
    for st in item_states(project.conn):
        if st.state == "approved" and st.asset_id not in out:
            out.setdefault(st.asset_id, [])
        if st.state == "approved" and not any(project.annotations(st.asset_id, layer_id=f) for f in finals):
            if st.layer_id not in out[st.asset_id]:
                out[st.asset_id].append(st.layer_id)
    return {k: v for k, v in out.items() if v}


def model_predictions(project: Any, model: str, version: str | None) -> dict[str, list[tuple[Annotation, float]]]:
    """The model's predictions (not people's copies) by asset, with their scores."""
    pred_layers = {l.id for l in project.layers() if l.kind == "predictions"}
    rows = project.conn.execute(
        "SELECT annotation_id, model_version, score FROM annotation_provenance WHERE model = ? AND prediction_id IS NULL",
        (model,)).fetchall()
    out: dict[str, list[tuple[Annotation, float]]] = {}
    for ann_id, v, score in rows:
        if version is not None and v != version:
            continue
        a = project.annotation(ann_id)
        if a is None or a.deleted or a.layer_id not in pred_layers:
            continue
        out.setdefault(a.asset_id, []).append((a, 1.0 if score is None else float(score)))
    return out


def _ap(flags: Sequence[bool], scores: Sequence[float], n_truth: int) -> tuple[float | None, list[tuple[float, float, float]]]:
    if n_truth == 0:
        return None, []
    tp = fp = 0
    curve = []
    for ok, s in zip(flags, scores):
        tp, fp = tp + ok, fp + (not ok)
        curve.append((tp / n_truth, tp / (tp + fp), s))
    ap, prev_r = 0.0, 0.0
    for i, (r, _p, _s) in enumerate(curve):
        envelope = max(p for _r, p, _s2 in curve[i:])
        ap += (r - prev_r) * envelope
        prev_r = r
    return ap, curve


def evaluate(project: Any, model: str, version: str | None = None, *, truth_layer: str | None = None,
             iou: float = 0.5, min_score: float = 0.0) -> Evaluation:
    if not 0 < iou <= 1:
        raise LabeldeskError(f"the IoU threshold must be in (0, 1], got {iou}")
    preds = model_predictions(project, model, version)
    if not preds:
        raise LabeldeskError(f"model {model}{' ' + version if version else ''} has no predictions in this project: "
                             "run `labeldesk predict` first")
    truth = truth_layers_by_asset(project, truth_layer)
    if not truth:
        raise LabeldeskError("no reviewed truth to evaluate against: approve some annotator layers, adjudicate "
                             "into a final layer, or name a layer with --truth")
    names = {c.id: c.name for c in project.classes()}
    results: dict[str, ClassResult] = {}
    scored: dict[str, list[tuple[float, bool]]] = {}
    confusion: dict[str, dict[str, int]] = {}

    def bump(row: str, col: str) -> None:
        confusion.setdefault(row, {}).setdefault(col, 0)
        confusion[row][col] += 1

    assets = 0
    for asset_id, layers in truth.items():
        gts = [a for l in layers for a in project.annotations(asset_id, layer_id=l)]
        ps = [(a, s) for a, s in preds.get(asset_id, []) if s >= min_score]
        if not gts and not ps:
            continue
        assets += 1
        for plane in {a.plane for a in gts} | {a.plane for a, _ in ps}:
            g_here = [g for g in gts if g.plane == plane]
            p_here = sorted([(a, s) for a, s in ps if a.plane == plane], key=lambda t: -t[1])
            for cid in {g.class_id for g in g_here} | {a.class_id for a, _ in p_here}:
                cname = names.get(cid, str(cid))
                res = results.setdefault(cname, ClassResult(cname))
                g_cls = [g for g in g_here if g.class_id == cid]
                res.truth += len(g_cls)
                used: set[int] = set()
                for a, s in [(a, s) for a, s in p_here if a.class_id == cid]:
                    best, best_j = iou, -1
                    for j, g in enumerate(g_cls):
                        if j in used:
                            continue
                        v = similarity(a.geometry, g.geometry)
                        if v is not None and v >= best:
                            best, best_j = v, j
                    ok = best_j >= 0
                    if ok:
                        used.add(best_j)
                    res.predictions += 1
                    res.tp += ok
                    scored.setdefault(cname, []).append((s, ok))
            pairs = sorted(((similarity(a.geometry, g.geometry) or 0.0, i, j) for i, (a, _) in enumerate(p_here)
                            for j, g in enumerate(g_here)), reverse=True)
            pi, gj = set(), set()
            for v, i, j in pairs:
                if v < iou or i in pi or j in gj:
                    continue
                pi.add(i)
                gj.add(j)
                bump(names.get(g_here[j].class_id, str(g_here[j].class_id)), names.get(p_here[i][0].class_id, "?"))
            for j, g in enumerate(g_here):
                if j not in gj:
                    bump(names.get(g.class_id, str(g.class_id)), MISSED)
            for i, (a, _) in enumerate(p_here):
                if i not in pi:
                    bump(BACKGROUND, names.get(a.class_id, str(a.class_id)))
    for cname, res in results.items():
        ranked = sorted(scored.get(cname, []), key=lambda t: -t[0])
        res.ap, res.curve = _ap([ok for _, ok in ranked], [s for s, _ in ranked], res.truth)
    versions = {v for (v,) in project.conn.execute(
        "SELECT DISTINCT model_version FROM annotation_provenance WHERE model = ?", (model,))}
    return Evaluation(model, version or ", ".join(sorted(str(v) for v in versions)), iou, assets,
                      sorted(results.values(), key=lambda c: c.name), confusion)
