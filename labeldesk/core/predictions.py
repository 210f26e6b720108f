"""Model pre-labels: provenance, accept / edit / reject, and how much a person changed a model label.

A *prediction* is an annotation in a layer of kind ``predictions``. Its provenance (model name,
version, score, optional class scores) is written by ``annotation.create`` when the payload carries
``score`` and/or ``source``::

    {"annotation": {..., "score": 0.83, "source": {"model": "yolo11n", "version": "2026-05", "score": 0.83,
                                                   "scores": {"cat": 0.83, "dog": 0.12}}}}

Accepting copies the prediction into a person's annotator layer (``source.prediction_id`` links the
copy) and records a ``prediction.accept`` decision; rejecting records ``prediction.reject``. Both are
immutable records; the status is derived from the set of them:

* ``accepted`` / ``edited``: some accept decision (not retracted) whose copy still exists; ``edited``
  when a copy's geometry, class or attributes differ from the prediction it came from;
* ``rejected``: otherwise, a reject decision that was not retracted, or an accepted copy that a
  person deleted afterwards;
* ``pending``: no decision in force.

How much a person changed a copy is computed on read (:func:`change`): IoU between the copy's current
geometry and the prediction's, and whether the class or the attributes changed.
"""
from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.geometry import GeometryError, geometry_from_dict, iou
from labeldesk.core.model import Annotation
from labeldesk.core.ops import OpDraft, canonical_json, require

STATUSES = ("pending", "accepted", "edited", "rejected")


# ---- provenance (written inside annotation.create) ----------------------------------------------
def _score(value: Any, what: str) -> float | None:
    if value is None:
        return None
    require(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            f"annotation: the {what} must be a finite number, got {value!r}")
    return float(value)


def record_provenance(conn: sqlite3.Connection, annotation_id: str, d: dict[str, Any], op_id: str) -> None:
    """Write the provenance row of a new annotation whose payload ``d`` has ``score`` or ``source``."""
    source = d.get("source") or {}
    require(isinstance(source, dict), "annotation: source must be an object {model, version, score}")
    score = _score(source.get("score", d.get("score")), "score")
    scores = source.get("scores")
    if scores is not None:
        require(isinstance(scores, dict) and bool(scores), "annotation: source.scores must be {class: score}")
        for k, v in scores.items():
            _score(v, f"score of class {k!r}")
    prediction_id = source.get("prediction_id")
    original = source.get("original")
    if prediction_id is not None:
        require(isinstance(prediction_id, str), "annotation: source.prediction_id must be an annotation id")
        if original is None:
            original = {k: d.get(k) for k in ("geometry", "class_id", "attributes")}
    model, version = source.get("model") or None, source.get("version") or None
    conn.execute(
        "INSERT INTO annotation_provenance (annotation_id, model, model_version, score, class_scores,"
        " prediction_id, original, source, op_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (annotation_id, None if model is None else str(model), None if version is None else str(version), score,
         canonical_json(scores) if scores is not None else None, prediction_id,
         canonical_json(original) if original is not None else None, canonical_json(source), op_id))


# ---- reads -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Provenance:
    annotation_id: str
    model: str | None = None
    version: str | None = None
    score: float | None = None
    class_scores: dict[str, float] | None = None
    prediction_id: str | None = None      # set on a person's copy of a prediction
    original: dict[str, Any] | None = None

    @property
    def origin(self) -> str:
        """``model`` (a prediction) or ``accepted`` (a person's copy of one)."""
        return "accepted" if self.prediction_id else "model"


def provenance(conn: sqlite3.Connection, annotation_id: str) -> Provenance | None:
    """Where ``annotation_id`` came from (None: drawn by a person, no model involved)."""
    row = conn.execute("SELECT * FROM annotation_provenance WHERE annotation_id = ?", (annotation_id,)).fetchone()
    return _row_to_provenance(row) if row else None


def _row_to_provenance(row: sqlite3.Row) -> Provenance:
    return Provenance(row["annotation_id"], row["model"], row["model_version"], row["score"],
                      json.loads(row["class_scores"]) if row["class_scores"] else None,
                      row["prediction_id"], json.loads(row["original"]) if row["original"] else None)


def _rows_for(conn: sqlite3.Connection, table: str, column: str, wanted: Iterable[str] | None) -> Iterator[sqlite3.Row]:
    if wanted is None:
        yield from conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
        return
    keys = sorted(set(wanted))
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        yield from conn.execute(f"SELECT * FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))})"
                                " ORDER BY rowid", chunk)


def provenances(conn: sqlite3.Connection, annotation_ids: Iterable[str] | None = None) -> dict[str, Provenance]:
    return {r["annotation_id"]: _row_to_provenance(r)
            for r in _rows_for(conn, "annotation_provenance", "annotation_id", annotation_ids)}


@dataclass(frozen=True)
class Change:
    """How much a person changed a copy of a prediction (computed from the current state)."""

    iou: float | None            # current geometry vs the prediction's (None: not an area shape)
    geometry_changed: bool
    class_changed: bool
    attributes_changed: bool

    @property
    def edited(self) -> bool:
        return self.geometry_changed or self.class_changed or self.attributes_changed


def change(current: Annotation, original: dict[str, Any]) -> Change:
    geom = current.geometry.to_dict()
    orig_geom = original.get("geometry") or {}
    moved = canonical_json(geom) != canonical_json(orig_geom)
    overlap: float | None = 1.0 if not moved else None
    if moved:
        try:
            overlap = iou(current.geometry, geometry_from_dict(orig_geom))
        except (GeometryError, ValueError):
            overlap = None
    return Change(overlap, moved, current.class_id != original.get("class_id"),
                  canonical_json(current.attributes or {}) != canonical_json(original.get("attributes") or {}))


@dataclass(frozen=True)
class Decision:
    id: str
    prediction_id: str
    decision: str
    copy_id: str | None
    target: str | None
    reason: str | None
    user: str | None
    op_id: str


def decisions(conn: sqlite3.Connection, prediction_ids: Iterable[str] | None = None) -> dict[str, list[Decision]]:
    out: dict[str, list[Decision]] = {}
    for r in _rows_for(conn, "prediction_decisions", "prediction_id", prediction_ids):
        out.setdefault(r["prediction_id"], []).append(Decision(
            r["id"], r["prediction_id"], r["decision"], r["copy_id"], r["target"], r["reason"], r["user"],
            r["op_id"]))
    return out


@dataclass
class PredictionState:
    prediction: Annotation
    provenance: Provenance | None
    status: str = "pending"
    copies: list[tuple[Annotation, Change]] = field(default_factory=list)   # live accepted copies
    reasons: list[str] = field(default_factory=list)                        # reasons of rejections
    decided_by: list[str] = field(default_factory=list)                     # user ids

    @property
    def score(self) -> float | None:
        return self.provenance.score if self.provenance else None


def derive_status(project: Any, prediction: Annotation, records: list[Decision],
                  prov: Provenance | None, copies_prov: dict[str, Provenance]) -> PredictionState:
    """The state from the set of decision records: the same whatever order they arrived in."""
    retracted = {d.target for d in records if d.decision == "retract"}
    live = [d for d in records if d.decision != "retract" and d.id not in retracted]
    state = PredictionState(prediction, prov)
    deleted_copy = False
    for d in sorted(live, key=lambda d: d.id):
        state.decided_by.append(d.user or "")
        if d.decision == "reject":
            state.reasons.append(d.reason or "")
            continue
        copy = project.annotation(d.copy_id) if d.copy_id else None
        if copy is None or copy.deleted:
            deleted_copy = True
            continue
        cp = copies_prov.get(copy.id)
        original = (cp.original if cp and cp.original else None) or _values(prediction)
        state.copies.append((copy, change(copy, original)))
    if state.copies:
        state.status = "edited" if any(c.edited for _, c in state.copies) else "accepted"
    elif state.reasons or deleted_copy:
        state.status = "rejected"
    return state


def _values(ann: Annotation) -> dict[str, Any]:
    return {"geometry": ann.geometry.to_dict(), "class_id": ann.class_id, "attributes": ann.attributes}


def prediction_layers(project: Any, wanted: str | None = None) -> list[Any]:
    layers = [l for l in project.layers() if l.kind == "predictions"]
    if wanted is not None:
        chosen = [l for l in layers if wanted in (l.id, l.name)]
        if not chosen:
            raise LabeldeskError(f"no predictions layer {wanted!r}; predictions layers are: "
                                 + (", ".join(repr(l.name) for l in layers) or "none"))
        return chosen
    return layers


def find_asset(project: Any, wanted: str) -> Any:
    for a in project.assets():
        if wanted in (a.id, a.name):
            return a
    raise LabeldeskError(f"no asset {wanted!r} in this project")


def predictions(project: Any, asset_id: str | None = None, layer: str | None = None) -> list[PredictionState]:
    """Every prediction (annotation in a predictions layer) with its provenance and derived status."""
    layers = prediction_layers(project, layer)
    assets = [project.asset(asset_id)] if asset_id else project.assets()
    anns = [a for asset in assets for l in layers for a in project.annotations(asset.id, layer_id=l.id)]
    pred_ids = [a.id for a in anns]
    recs = decisions(project.conn, pred_ids)
    copy_ids = {d.copy_id for rs in recs.values() for d in rs if d.copy_id}
    provs = provenances(project.conn, set(pred_ids) | copy_ids)
    return [derive_status(project, a, recs.get(a.id, []), provs.get(a.id), provs) for a in anns]


def state_of(project: Any, prediction_id: str) -> PredictionState:
    ann = project.annotation(prediction_id)
    if ann is None:
        raise LabeldeskError(f"no annotation with id {prediction_id}")
    recs = decisions(project.conn, [prediction_id]).get(prediction_id, [])
    copy_ids = {d.copy_id for d in recs if d.copy_id}
    provs = provenances(project.conn, {prediction_id} | copy_ids)
    return derive_status(project, ann, recs, provs.get(prediction_id), provs)


# ---- drafts for decisions ----------------------------------------------------------------------
def accept_drafts(project: Any, prediction: Annotation, layer_id: str | None = None, *,
                  class_id: str | None = None, geometry: dict[str, Any] | None = None,
                  attributes: dict[str, Any] | None = None, reason: str | None = None) -> list[OpDraft]:
    """The ops that accept ``prediction`` into ``layer_id`` (default: your annotator layer), as is
    or edited (``class_id`` / ``geometry`` / ``attributes`` replace the prediction's)."""
    layer_id = layer_id or project.my_layer_id
    target = next((l for l in project.layers() if l.id == layer_id), None)
    if target is None:
        raise LabeldeskError(f"no layer with id {layer_id}")
    if target.kind == "predictions":
        raise LabeldeskError(f"layer {target.name!r} holds predictions: accept into an annotator or final layer")
    prov = provenance(project.conn, prediction.id)
    source: dict[str, Any] = {"prediction_id": prediction.id}
    if prov is not None:
        source.update({k: v for k, v in (("model", prov.model), ("version", prov.version),
                                         ("score", prov.score)) if v is not None})
    original = _values(prediction)
    copy = dict(original, asset_id=prediction.asset_id, layer_id=layer_id, plane=prediction.plane.to_dict(),
                z_order=prediction.z_order)
    if prediction.track_id is not None:
        copy.update(track_id=prediction.track_id, keyframe=prediction.keyframe)
    edits = {k: v for k, v in (("class_id", class_id), ("geometry", geometry), ("attributes", attributes))
             if v is not None}
    if edits:
        copy.update(edits)
        source["original"] = original
    copy["source"] = source
    copy_id = ids.new_id()
    return [OpDraft("annotation.create", copy_id, {"annotation": copy}, reason=reason),
            OpDraft("prediction.accept", ids.new_id(), {"prediction_id": prediction.id, "copy_id": copy_id},
                    reason=reason)]


def reject_draft(prediction: Annotation, reason: str | None = None) -> OpDraft:
    payload: dict[str, Any] = {"prediction_id": prediction.id}
    if reason:
        payload["reason"] = reason
    return OpDraft("prediction.reject", ids.new_id(), payload, reason=reason)


@dataclass
class DecisionReport:
    decided: list[str] = field(default_factory=list)                     # prediction ids
    skipped: list[tuple[str, str]] = field(default_factory=list)         # (prediction id, why)
    undo: list[OpDraft] = field(default_factory=list)


def select(states: list[PredictionState], *, ids_: Iterable[str] = (), min_score: float | None = None,
           max_score: float | None = None, status: str | None = None) -> list[PredictionState]:
    wanted = set(ids_)
    out = []
    for s in states:
        if wanted and s.prediction.id not in wanted:
            continue
        if min_score is not None and (s.score is None or s.score < min_score):
            continue
        if max_score is not None and (s.score is None or s.score > max_score):
            continue
        if status is not None and s.status != status:
            continue
        out.append(s)
    return out


def decide(project: Any, chosen: list[PredictionState], decision: str, *, layer_id: str | None = None,
           reason: str | None = None) -> DecisionReport:
    """Accept (into ``layer_id``, default your own layer) or reject ``chosen`` in one transaction;
    predictions already decided the same way are skipped, not decided twice."""
    report = DecisionReport()
    drafts: list[OpDraft] = []
    into = layer_id or (project.my_layer_id if decision == "accept" else None)
    for s in chosen:
        if decision == "accept":
            if any(c.layer_id == into for c, _ in s.copies):
                report.skipped.append((s.prediction.id, "already accepted into that layer"))
                continue
            drafts += accept_drafts(project, s.prediction, into, reason=reason)
        elif decision == "reject":
            if s.status == "rejected":
                report.skipped.append((s.prediction.id, "already rejected"))
                continue
            if s.copies:
                report.skipped.append((s.prediction.id, f"already {s.status}; delete the accepted copy instead"))
                continue
            drafts.append(reject_draft(s.prediction, reason))
        else:
            raise LabeldeskError(f"unknown decision {decision!r} (accept or reject)")
        report.decided.append(s.prediction.id)
    if drafts:
        applied = project.apply_all(drafts)
        report.undo = [a.inverse for a in reversed(applied) if a.inverse is not None]
    return report
