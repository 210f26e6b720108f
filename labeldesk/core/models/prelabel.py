"""Pre-labeling: run a detector or a segmenter over assets, slices or frames into a predictions layer.

Each plane's results are written as ``annotation.create`` ops in the model's predictions layer
(named ``<model> <version>``, created on first use) with provenance ``source = {model, version,
score, scores}``; a person then accepts, edits or rejects them as any imported prediction
(:mod:`labeldesk.core.predictions`), which records how much they changed each one. The work is
committed plane by plane: cancelling keeps the planes already done, and the report says which.

Detector output (YOLOv5/v8/11 ONNX export): ``[1, 4 + classes, boxes]`` (or transposed) of centre
x, centre y, width, height in model input pixels followed by class scores; YOLOv5's extra
objectness column is recognised by the count (``5 + classes``). Boxes scoring under
``extra.score_threshold`` (0.25) are dropped, then per-class non-maximum suppression at
``extra.iou_threshold`` (0.45). Segmenter output: ``[1, C, H, W]`` scores or logits, ``C`` = the
classes, or the classes + background first; one mask per class per plane (``extra.instances``:
one per connected region), scored by its mean probability.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from labeldesk.core import ids
from labeldesk.core.errors import Cancelled, LabeldeskError
from labeldesk.core.geometry import Box, GeometryError, Mask
from labeldesk.core.model import Plane
from labeldesk.core.models import runner
from labeldesk.core.ops import OpDraft
from labeldesk.core.tasks import NO_PROGRESS, Progress


@dataclass(frozen=True)
class Found:
    geometry: Any                       # Box or Mask in plane pixels
    class_index: int
    score: float
    class_scores: dict[str, float] | None = None


# ---- planes ---------------------------------------------------------------------------------
def planes_of(asset: Any, slices: Sequence[int] | None = None, every: int = 1) -> list[Plane]:
    """The planes to run on: an image's one plane, a volume's axial slices, a video's frames."""
    if asset.depth > 1:
        chosen = list(slices) if slices is not None else list(range(0, asset.depth, max(1, every)))
        return [Plane(z=z) for z in chosen if 0 <= z < asset.depth]
    if asset.frames > 1:
        chosen = list(slices) if slices is not None else list(range(0, asset.frames, max(1, every)))
        return [Plane(t=t) for t in chosen if 0 <= t < asset.frames]
    return [Plane()]


def read_plane(project: Any, asset_id: str, plane: Plane, sources: dict[str, Any] | None = None) -> np.ndarray:
    src = sources.get(asset_id) if sources is not None else None
    if src is None:
        src = project.open_source(asset_id)
        if sources is not None:
            sources[asset_id] = src
    return np.asarray(src.read_plane(plane))


def predictions_layer(project: Any, name: str) -> str:
    for layer in project.layers():
        if layer.kind == "predictions" and layer.name == name:
            return layer.id
    return str(project.apply(OpDraft("layer.create", ids.new_id(), {"layer": {"name": name, "kind": "predictions"}}))
               .op.entity)


def class_ids(project: Any, manifest: Any) -> list[str | None]:
    """The ontology class id of each model class, in output order."""
    by_name = {c.name: c.id for c in project.classes()}
    out = []
    for model_class, onto in manifest.classes.items():
        if onto not in by_name:
            raise LabeldeskError(f"model {manifest.name}: its class {model_class!r} maps to {onto!r}, which "
                                 "this project's ontology lacks")
        out.append(by_name[onto])
    return out


def drafts(asset_id: str, layer_id: str, plane: Plane, found: Iterable[Found], cids: Sequence[str | None],
           model: str, version: str) -> list[OpDraft]:
    out = []
    for f in found:
        source: dict[str, Any] = {"model": model, "version": version, "score": round(f.score, 6)}
        if f.class_scores:
            source["scores"] = {k: round(v, 6) for k, v in f.class_scores.items()}
        out.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset_id, "layer_id": layer_id, "class_id": cids[f.class_index] if cids else None,
            "plane": plane.to_dict(), "geometry": f.geometry.to_dict(), "attributes": {},
            "score": round(f.score, 6), "source": source}}))
    return out


# ---- detector ---------------------------------------------------------------------------------
def detect(sess: Any, manifest: Any, pixels: np.ndarray) -> list[Found]:
    from labeldesk.core.io.opencv import cv2
    rgb = runner.to_rgb(pixels)
    h, w = rgb.shape[:2]
    img, s = runner.letterbox(rgb, manifest.input_size, pad=114.0)
    out = np.asarray(sess.run(None, {sess.get_inputs()[0].name: runner.normalise(img, manifest.normalisation)})[0])
    names = manifest.class_names
    nc = len(names)
    a = out[0]
    if a.shape[0] not in (4 + nc, 5 + nc) and a.shape[-1] in (4 + nc, 5 + nc):
        a = a.T
    if a.shape[0] == 5 + nc:                     # YOLOv5: objectness times class scores
        a = np.concatenate([a[:4], a[5:] * a[4:5]])
    if a.shape[0] != 4 + nc:
        raise LabeldeskError(f"model {manifest.name}: output {list(out.shape)} does not hold 4 + {nc} values per box")
    scores = a[4:]
    cls = np.argmax(scores, axis=0)
    best = scores[cls, np.arange(scores.shape[1])]
    keep = best >= float(manifest.extra.get("score_threshold", 0.25))
    cx, cy, bw, bh = (a[i][keep] / s for i in range(4))
    x0, y0 = np.clip(cx - bw / 2, 0, w), np.clip(cy - bh / 2, 0, h)
    x1, y1 = np.clip(cx + bw / 2, 0, w), np.clip(cy + bh / 2, 0, h)
    cls, best, sc = cls[keep], best[keep], scores[:, keep]
    found: list[Found] = []
    iou = float(manifest.extra.get("iou_threshold", 0.45))
    for c in np.unique(cls):
        idx = np.nonzero(cls == c)[0]
        rects = [[float(x0[i]), float(y0[i]), float(x1[i] - x0[i]), float(y1[i] - y0[i])] for i in idx]
        kept = cv2.dnn.NMSBoxes(rects, [float(best[i]) for i in idx], 0.0, iou)
        for k in np.asarray(kept).reshape(-1):
            i = idx[int(k)]
            try:
                box = Box(float(x0[i]), float(y0[i]), float(x1[i]), float(y1[i]))
            except GeometryError:
                continue
            dist = {names[j]: float(sc[j, i]) for j in range(nc) if sc[j, i] >= 0.01}
            found.append(Found(box, int(c), float(best[i]), dist if nc > 1 else None))
    return sorted(found, key=lambda f: -f.score)


# ---- segmenter --------------------------------------------------------------------------------
def class_probabilities(sess: Any, manifest: Any, pixels: np.ndarray) -> np.ndarray:
    """[C, H, W] probabilities on the plane's grid (softmax applied to logits)."""
    from labeldesk.core.io.opencv import cv2
    rgb = runner.to_rgb(pixels)
    h, w = rgb.shape[:2]
    img, s = runner.letterbox(rgb, manifest.input_size)
    out = np.asarray(sess.run(None, {sess.get_inputs()[0].name: runner.normalise(img, manifest.normalisation)})[0])[0]
    out = out.astype(np.float32)
    if out.min() < 0.0 or out.max() > 1.0 or out.shape[0] == 1:
        if out.shape[0] == 1:
            out = np.concatenate([-out, out]) / 2.0          # one logit channel: background vs it
        out = np.exp(out - out.max(axis=0, keepdims=True))
        out /= out.sum(axis=0, keepdims=True)
    ch = min(out.shape[1], int(np.ceil(h * s * out.shape[1] / manifest.input_size[1])))
    cw = min(out.shape[2], int(np.ceil(w * s * out.shape[2] / manifest.input_size[0])))
    crop = out[:, :ch, :cw]
    return np.stack([cv2.resize(np.ascontiguousarray(p), (w, h), interpolation=cv2.INTER_LINEAR) for p in crop])


def masks_from_probabilities(probs: np.ndarray, names: Sequence[str], instances: bool = False,
                             min_pixels: int = 4) -> list[Found]:
    """One mask per class (or per connected region); channel 0 is background when there is one
    more channel than classes."""
    from labeldesk.core.io.opencv import cv2
    offset = probs.shape[0] - len(names)
    if offset not in (0, 1):
        raise LabeldeskError(f"the segmenter gave {probs.shape[0]} channels for {len(names)} classes")
    winner = np.argmax(probs, axis=0)
    top = np.max(probs, axis=0)
    if offset == 0 and len(names) == 1:
        winner = (probs[0] >= 0.5).astype(np.int64)
        top = np.where(winner == 1, probs[0], 1.0 - probs[0])
        offset = -1                          # channel 0 is the class itself
    found: list[Found] = []
    for i, _name in enumerate(names):
        ch = i + offset if offset >= 0 else 1
        region = winner == ch
        if region.sum() < min_pixels:
            continue
        parts = [region]
        if instances:
            n, labels = cv2.connectedComponents(region.astype(np.uint8))
            parts = [labels == k for k in range(1, n) if (labels == k).sum() >= min_pixels]
        for part in parts:
            found.append(Found(Mask.from_array(part), i, float(top[part].mean())))
    return found


@dataclass
class PrelabelReport:
    layer_id: str = ""
    planes_done: list[tuple[str, Plane]] = field(default_factory=list)
    predictions: int = 0
    cancelled: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)     # (asset name, why)


def prelabel(project: Any, rec: Any, targets: Sequence[tuple[str, Plane]], progress: Progress = NO_PROGRESS,
             layer: str | None = None) -> PrelabelReport:
    """Run the registered detector/segmenter ``rec`` on ``targets`` [(asset id, plane)]."""
    from labeldesk.core.models.registry import file_path
    m = rec.manifest
    if m.task not in ("detector", "segmenter"):
        raise LabeldeskError(f"model {rec.label} is a {m.task}; pre-labeling runs a detector or a segmenter")
    sess = runner.session(file_path(project, rec))
    cids = class_ids(project, m)
    report = PrelabelReport(predictions_layer(project, layer or f"{m.name} {m.version}"))
    sources: dict[str, Any] = {}
    names = {a.id: a.name for a in project.assets()}
    try:
        for i, (asset_id, plane) in enumerate(targets):
            progress.report(i, len(targets), f"{names.get(asset_id, asset_id)} {plane.key()}")
            try:
                pixels = read_plane(project, asset_id, plane, sources)
            except (LabeldeskError, OSError, IndexError, ValueError) as exc:
                report.skipped.append((names.get(asset_id, asset_id), str(exc)))
                continue
            if m.task == "detector":
                found = detect(sess, m, pixels)
            else:
                found = masks_from_probabilities(class_probabilities(sess, m, pixels), m.class_names,
                                                 bool(m.extra.get("instances")))
            ds = drafts(asset_id, report.layer_id, plane, found, cids, m.name, m.version)
            if ds:
                project.apply_all(ds)
            report.planes_done.append((asset_id, plane))
            report.predictions += len(ds)
        progress.report(len(targets), len(targets), "done")
    except Cancelled:
        report.cancelled = True
    finally:
        for src in sources.values():
            src.close()
    return report
