"""A pixel classifier that learns from the project's labels (no weights needed), as ilastik and
QuPath do: a random forest (scikit-learn) on multi-scale intensity, edge and texture features.

* Training data: every plane of the chosen assets on which the chosen layers (default: your own
  layer and the final layers) have area annotations (masks, brush strokes, polygons, boxes,
  ellipses). Such a plane counts as fully labelled: pixels inside an annotation are its class,
  the rest background. Up to ``per_class`` pixels of each class are drawn per plane (seeded).
* Features per pixel (:func:`features`): the intensity, and at each scale σ in :data:`SIGMAS`
  the Gaussian-smoothed intensity, gradient magnitude, Laplacian of Gaussian and local standard
  deviation (texture).
* The trained forest is saved in the project's ``models/`` folder under its SHA-256 and
  registered (``model.register``, task ``pixel-classifier``) as version n + 1 of its name with a
  training summary; it is loaded only if the file's hash matches that record.
* Proposals: the most probable class per pixel on the other planes, one mask per class per plane,
  written to a predictions layer with the mean probability as the score: the queue's
  least-confident order then puts the planes the classifier is least sure of first.
"""
from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from labeldesk.core.errors import Cancelled, LabeldeskError
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Plane
from labeldesk.core.models import prelabel
from labeldesk.core.models.manifest import Manifest, Normalisation, sha256_file
from labeldesk.core.tasks import NO_PROGRESS, Progress

SIGMAS = (0.7, 1.6, 3.5, 5.0)
FEATURE_SET = "v1"
AREA_KINDS = ("mask", "polygon", "box", "rotated_box", "ellipse")
BACKGROUND = "background"


def _grey(pixels: np.ndarray) -> np.ndarray:
    a = np.asarray(pixels, np.float32)
    return a.mean(axis=2) if a.ndim == 3 else a


def features(pixels: np.ndarray) -> np.ndarray:
    """[H, W, 1 + 4 x len(SIGMAS)] float32 features of a plane (raw intensities: trees need no scaling)."""
    from labeldesk.core.io.opencv import cv2
    g = _grey(pixels)
    out = [g]
    sq = g * g
    for s in SIGMAS:
        k = 2 * int(math.ceil(3 * s)) + 1
        sm = cv2.GaussianBlur(g, (k, k), s, borderType=cv2.BORDER_REFLECT)
        gx = cv2.Sobel(sm, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(sm, cv2.CV_32F, 0, 1, ksize=3)
        var = cv2.GaussianBlur(sq, (k, k), s, borderType=cv2.BORDER_REFLECT) - sm * sm
        out += [sm, np.sqrt(gx * gx + gy * gy), cv2.Laplacian(sm, cv2.CV_32F, ksize=3),
                np.sqrt(np.maximum(var, 0.0))]
    return np.stack(out, axis=-1)


def rasterise(geometry: Any, width: int, height: int) -> np.ndarray:
    """A boolean plane-sized array of the pixels whose centre is inside ``geometry``."""
    if isinstance(geometry, Mask):
        return geometry.paste(width, height).astype(bool)
    import shapely
    shp = geometry.to_shapely()
    out = np.zeros((height, width), bool)
    x0, y0, x1, y1 = shp.bounds
    c0, r0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    c1, r1 = min(width, int(math.ceil(x1))), min(height, int(math.ceil(y1)))
    if c1 > c0 and r1 > r0:
        gx, gy = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        out[r0:r1, c0:c1] = shapely.contains_xy(shp, gx, gy)
    return out


# ---- training data ---------------------------------------------------------------------------
@dataclass
class LabelledPlane:
    asset_id: str
    plane: Plane
    labels: np.ndarray            # int16 [H, W]: 0 background, i + 1 = classes[i]


def truth_layers(project: Any) -> list[str]:
    """Your own layer and the final layers: what you labeled and what was adjudicated."""
    return [project.my_layer_id] + [l.id for l in project.layers() if l.kind == "final"]


def labelled_planes(project: Any, asset_ids: Sequence[str], layer_ids: Sequence[str] | None = None,
                    classes: list[str] | None = None) -> tuple[list[LabelledPlane], list[str]]:
    """Label maps of every plane with area annotations; ``classes`` (ids) grows as new ones appear."""
    layers = list(layer_ids) if layer_ids is not None else truth_layers(project)
    classes = list(classes or [])
    out = []
    for asset_id in asset_ids:
        asset = project.asset(asset_id)
        by_plane: dict[Plane, list[Any]] = {}
        for layer_id in layers:
            for a in project.annotations(asset_id, layer_id=layer_id):
                if a.geometry.kind in AREA_KINDS and a.class_id is not None:
                    by_plane.setdefault(a.plane, []).append(a)
        for plane in sorted(by_plane, key=lambda p: (p.axis, p.t, p.z)):
            w, h = _plane_size(asset, plane)
            lab = np.zeros((h, w), np.int16)
            for a in sorted(by_plane[plane], key=lambda a: a.z_order):
                if a.class_id not in classes:
                    classes.append(a.class_id)
                lab[rasterise(a.geometry, w, h)] = classes.index(a.class_id) + 1
            out.append(LabelledPlane(asset_id, plane, lab))
    return out, classes


def _plane_size(asset: Any, plane: Plane) -> tuple[int, int]:
    if plane.axis == "coronal":
        return asset.width, asset.depth
    if plane.axis == "sagittal":
        return asset.height, asset.depth
    return asset.width, asset.height


def sample(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of up to ``per_class`` pixels of each label value (seeded, sorted)."""
    flat = labels.ravel()
    picks = []
    for v in np.unique(flat):
        idx = np.flatnonzero(flat == v)
        picks.append(idx if len(idx) <= per_class else rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(picks))


# ---- the classifier ---------------------------------------------------------------------------
@dataclass
class PixelClassifier:
    forest: Any
    classes: list[str]                        # ontology class ids; label i + 1 = classes[i]
    feature_set: str = FEATURE_SET
    training: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """[K, H, W]: probability of each of the forest's labels (``forest.classes_``)."""
        f = features(pixels)
        h, w, n = f.shape
        p = self.forest.predict_proba(f.reshape(-1, n))
        return p.T.reshape(-1, h, w).astype(np.float32)

    def predict(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label map, confidence = the winner's probability, probabilities [K, H, W])."""
        p = self.probabilities(pixels)
        k = np.argmax(p, axis=0)
        return np.asarray(self.forest.classes_)[k], np.max(p, axis=0), p


def new_forest(seed: int = 0, trees: int = 40) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    # bounded depth: unbounded trees on noisy pixels grow huge and make predicting a slice 100x slower
    return RandomForestClassifier(n_estimators=trees, max_depth=16, min_samples_leaf=3, max_features="sqrt",
                                  n_jobs=-1, random_state=seed)


def train(project: Any, planes: Sequence[LabelledPlane], classes: list[str], *, per_class: int = 20000,
          seed: int = 0, trees: int = 40, progress: Progress = NO_PROGRESS) -> PixelClassifier:
    """Read the labelled planes' pixels and :func:`fit`."""
    if not planes:
        raise LabeldeskError(NOTHING_TO_LEARN)
    sources: dict[str, Any] = {}
    try:
        pixels = [prelabel.read_plane(project, lp.asset_id, lp.plane, sources) for lp in planes]
    finally:
        for s in sources.values():
            s.close()
    return fit(list(zip(pixels, planes)), classes, per_class=per_class, seed=seed, trees=trees, progress=progress)


NOTHING_TO_LEARN = ("nothing to learn from: label some pixels first (paint or outline objects of a class on a few "
                    "slices or images)")


def fit(pairs: Sequence[tuple[np.ndarray, LabelledPlane]], classes: list[str], *, per_class: int = 20000,
        seed: int = 0, trees: int = 40, progress: Progress = NO_PROGRESS) -> PixelClassifier:
    """Train on (pixels, labelled plane) pairs; touches no project (runs on any thread)."""
    if not pairs:
        raise LabeldeskError(NOTHING_TO_LEARN)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i, (pixels, lp) in enumerate(pairs):
        progress.report(i, len(pairs) + 1, f"features of {lp.plane.key()}")
        f = features(pixels)
        if f.shape[:2] != lp.labels.shape:
            raise LabeldeskError(f"plane {lp.plane.key()}: pixels {f.shape[:2]} and labels {lp.labels.shape} differ")
        idx = sample(lp.labels, per_class, rng)
        xs.append(f.reshape(-1, f.shape[2])[idx])
        ys.append(lp.labels.ravel()[idx])
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(np.unique(y)) < 2:
        raise LabeldeskError("the labels have only one class on every labelled plane: label a plane where the "
                             "object does not cover everything (its background is learned too)")
    progress.report(len(pairs), len(pairs) + 1, f"training on {len(y)} pixels")
    forest = new_forest(seed, trees).fit(x, y)
    counts = {("background" if v == 0 else classes[v - 1]): int((y == v).sum()) for v in np.unique(y)}
    return PixelClassifier(forest, list(classes), FEATURE_SET, {
        "labelled_pixels": int(len(y)), "pixels_per_class": counts,
        "planes": [{"asset_id": lp.asset_id, "plane": lp.plane.to_dict()} for _, lp in pairs],
        "trees": trees, "seed": seed, "features": FEATURE_SET, "sigmas": list(SIGMAS)})


# ---- saved with the project, versioned -----------------------------------------------------------
def save(project: Any, clf: PixelClassifier, name: str = "pixels") -> Any:
    from labeldesk.core.models import registry
    import os
    buf = io.BytesIO()
    pickle.dump({"forest": clf.forest, "classes": clf.classes, "feature_set": clf.feature_set}, buf,
                protocol=pickle.HIGHEST_PROTOCOL)
    folder = registry.models_dir(project)
    folder.mkdir(exist_ok=True)
    tmp = folder / f".pixel-classifier.{os.getpid()}.tmp"
    tmp.write_bytes(buf.getvalue())
    sha = sha256_file(tmp)
    os.replace(tmp, registry.stored_path(project, sha, ".pkl"))
    versions = [r for r in registry.list_models(project, "pixel-classifier", include_retired=True) if r.name == name]
    version = str(1 + max((int(r.version) for r in versions if r.version.isdigit()), default=0))
    names = {c.id: c.name for c in project.classes()}
    m = Manifest(name, version, "pixel-classifier", {"model": {"path": f"{sha}.pkl", "sha256": sha}},
                 (0, 0), Normalisation(), {names.get(c, c): names.get(c, c) for c in clf.classes},
                 "trained in this project", "labeldesk pixel classifier (random forest, scikit-learn)")
    return registry.register(project, m, m.files, dict(clf.training, class_ids=clf.classes))


def load(project: Any, rec: Any) -> PixelClassifier:
    from labeldesk.core.models import registry
    if rec.task != "pixel-classifier":
        raise LabeldeskError(f"model {rec.label} is a {rec.task}, not a pixel classifier")
    path = registry.file_path(project, rec)
    if sha256_file(path) != rec.manifest.files["model"]["sha256"]:
        raise LabeldeskError(f"{path}: refused: its SHA-256 does not match model {rec.label}'s record")
    with open(path, "rb") as f:
        d = pickle.load(f)  # noqa: S301 - only a file whose hash the op log records is loaded
    if d.get("feature_set") != FEATURE_SET:
        raise LabeldeskError(f"model {rec.label} was trained with features {d.get('feature_set')!r}; this "
                             f"labeldesk computes {FEATURE_SET!r}: train it again (`labeldesk learn`)")
    return PixelClassifier(d["forest"], list(d["classes"]), d["feature_set"], dict(rec.record.get("training") or {}))


# ---- proposals ---------------------------------------------------------------------------------
@dataclass
class ProposalReport:
    layer_id: str = ""
    uncertainty: dict[tuple[str, Plane], float] = field(default_factory=dict)   # mean 1 - p per plane
    predictions: int = 0
    cancelled: bool = False


def proposals(clf: PixelClassifier, pixels: np.ndarray, names: dict[str, str] | None = None,
              min_pixels: int = 9) -> tuple[list[prelabel.Found], float]:
    """The masks the classifier proposes on a plane (one per class, scored by the mean probability
    of its pixels, with the mean distribution over classes) and the plane's uncertainty (mean of
    1 - the winning probability). Touches no project (runs on any thread)."""
    names = names or {}
    labels, conf, probs = clf.predict(pixels)
    labels_of = list(clf.forest.classes_)
    found = []
    for v in labels_of:
        if v == 0:
            continue
        region = labels == v
        if region.sum() < min_pixels:
            continue
        cid = clf.classes[int(v) - 1]
        dist = {(names.get(clf.classes[int(u) - 1], clf.classes[int(u) - 1]) if u else BACKGROUND):
                float(probs[k][region].mean()) for k, u in enumerate(labels_of)}
        found.append(prelabel.Found(Mask.from_array(region), int(v) - 1, float(conf[region].mean()), dist))
    return found, float(1.0 - conf.mean())


def proposal_layer(project: Any, rec: Any) -> str:
    return prelabel.predictions_layer(project, f"{rec.name} (pixel classifier)")


def propose(project: Any, clf: PixelClassifier, rec: Any, targets: Sequence[tuple[str, Plane]],
            progress: Progress = NO_PROGRESS, min_pixels: int = 9) -> ProposalReport:
    """Write the classifier's masks on ``targets`` into its predictions layer; the report carries
    each plane's uncertainty."""
    names = {c.id: c.name for c in project.classes()}
    report = ProposalReport(proposal_layer(project, rec))
    sources: dict[str, Any] = {}
    try:
        for i, (asset_id, plane) in enumerate(targets):
            progress.report(i, len(targets), f"proposing on {plane.key()}")
            found, report.uncertainty[(asset_id, plane)] = proposals(
                clf, prelabel.read_plane(project, asset_id, plane, sources), names, min_pixels)
            ds = prelabel.drafts(asset_id, report.layer_id, plane, found, clf.classes, rec.name, rec.version)
            if ds:
                project.apply_all(ds)
            report.predictions += len(ds)
        progress.report(len(targets), len(targets), "done")
    except Cancelled:
        report.cancelled = True
    finally:
        for s in sources.values():
            s.close()
    return report


def unlabelled_targets(project: Any, asset_ids: Iterable[str], labelled: Sequence[LabelledPlane]) -> list[tuple[str, Plane]]:
    done = {(lp.asset_id, lp.plane) for lp in labelled}
    return [(a, p) for a in asset_ids for p in prelabel.planes_of(project.asset(a)) if (a, p) not in done]


def learn(project: Any, asset_ids: Sequence[str], name: str = "pixels", *, propose_on: Sequence[str] | None = None,
          layer_ids: Sequence[str] | None = None, progress: Progress = NO_PROGRESS, seed: int = 0,
          trees: int = 40) -> tuple[Any, ProposalReport | None]:
    """Train on the labelled planes of ``asset_ids``, save a new version, and propose masks on the
    unlabelled planes of ``propose_on`` (default: the same assets). Returns (record, report)."""
    planes, classes = labelled_planes(project, asset_ids, layer_ids)
    clf = train(project, planes, classes, seed=seed, trees=trees, progress=progress)
    rec = save(project, clf, name)
    targets = unlabelled_targets(project, propose_on if propose_on is not None else asset_ids, planes)
    report = propose(project, clf, rec, targets, progress) if targets else None
    return rec, report
