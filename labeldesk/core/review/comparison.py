"""Dual-label comparison over a project: how far annotator layers agree, per item (asset + plane),
per class and per layer pair, and which items a reviewer should look at first.

* Shapes: greedy one-to-one matching at an IoU threshold (:mod:`.matching`) on every plane that
  either layer annotated; precision/recall/F1, mean IoU and Dice of matches, class mismatches.
* Masks: per plane and class, Dice and HD95 (mm) of the union of each layer's masks; for volumes
  also per class in 3-D over the axial slices, with the asset's voxel spacing (:mod:`.masks`).
* Classifications (whole asset or one plane): percent agreement, Cohen's kappa per pair, Fleiss'
  kappa and Krippendorff's alpha over all layers (:mod:`.agreement`). A layer that gave several
  classes to one unit is rated with the combination.

A pair of layers is compared on an asset only when both layers have annotations or
classifications on it (an asset one annotator has not done yet is not a disagreement); such
assets are counted in the pair's ``assets_only_a`` / ``assets_only_b``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Sequence

import numpy as np

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.geometry import Mask
from labeldesk.core.groups import reserved_attributes
from labeldesk.core.model import Annotation, Asset, Layer, Plane
from labeldesk.core.review import agreement
from labeldesk.core.review.masks import SurfaceReport, compare_masks
from labeldesk.core.review.matching import Match, MatchResult, match_annotations, match_plane
from labeldesk.core.tasks import NO_PROGRESS, Progress


@dataclass
class ItemAgreement:
    """Two layers on one plane of one asset."""

    asset_id: str
    asset_name: str
    plane: Plane
    layer_a: str
    layer_b: str
    shapes: MatchResult
    masks: dict[str | None, SurfaceReport] = field(default_factory=dict)   # by class id
    counts_a: dict[str | None, int] = field(default_factory=dict)          # annotations by class
    counts_b: dict[str | None, int] = field(default_factory=dict)
    # (class id, attribute key, value A, value B) of every same-class match
    attribute_pairs: list[tuple[str | None, str, Any, Any]] = field(default_factory=list)

    @property
    def score(self) -> float:
        """F1 of the shapes, lowered to the worst mask Dice on this plane."""
        dices = [r.dice for r in self.masks.values()]
        return min([self.shapes.f1] + dices)


@dataclass
class PairClassification:
    layer_a: str
    layer_b: str
    percent: agreement.Statistic
    kappa: agreement.Statistic
    categories: list[Any]
    confusion: np.ndarray


@dataclass
class ProjectComparison:
    threshold: float
    layers: list[Layer]
    items: list[ItemAgreement] = field(default_factory=list)
    volumes: list[tuple[str, str, str, str | None, int, SurfaceReport]] = field(default_factory=list)
    classification_units: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    coverage: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)
    class_names: dict[str | None, str] = field(default_factory=dict)
    attribute_defs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # class -> key -> def
    tolerance: float = 1.0        # mm, surface Dice of masks
    tracks: list[dict[str, Any]] = field(default_factory=list)   # per video asset and layer pair

    # ---- aggregates ------------------------------------------------------------------------
    def class_label(self, value: str | None) -> str:
        """A class id, or a "+"-joined combination of ids (several classes on one unit), by name."""
        if value is None:
            return "(none)"
        return "+".join(self.class_names.get(c) or c for c in value.split("+"))

    def layer_name(self, layer_id: str) -> str:
        return next((l.name for l in self.layers if l.id == layer_id), layer_id)

    def pairs(self) -> list[tuple[str, str]]:
        return [(a.id, b.id) for a, b in combinations(self.layers, 2)]

    def pair_shapes(self, layer_a: str, layer_b: str) -> MatchResult:
        total = MatchResult(self.threshold)
        for item in self.items:
            if (item.layer_a, item.layer_b) == (layer_a, layer_b):
                total.extend(item.shapes)
        return total

    def pair_mask_dice(self, layer_a: str, layer_b: str) -> float:
        vals = [r.dice for it in self.items if (it.layer_a, it.layer_b) == (layer_a, layer_b)
                for r in it.masks.values()]
        return float(np.mean(vals)) if vals else math.nan

    def class_rows(self) -> list[dict[str, Any]]:
        """Per class and layer pair: counts, F1, mean IoU and mean mask Dice."""
        rows: dict[tuple[str | None, str, str], dict[str, Any]] = {}

        def row(cid: str | None, it: ItemAgreement) -> dict[str, Any]:
            return rows.setdefault((cid, it.layer_a, it.layer_b), {
                "class_id": cid, "class": self.class_names.get(cid, cid or "(none)"),
                "layer_a": self.layer_name(it.layer_a), "layer_b": self.layer_name(it.layer_b),
                "n_a": 0, "n_b": 0, "matched": 0, "class_mismatch": 0, "_ious": [], "_dice": []})

        for it in self.items:
            for cid, n in it.counts_a.items():
                row(cid, it)["n_a"] += n
            for cid, n in it.counts_b.items():
                row(cid, it)["n_b"] += n
            for m in it.shapes.matches:
                r = row(m.class_a, it)
                r["matched"] += 1
                r["_ious"].append(m.iou)
            for m in it.shapes.class_mismatches:
                row(m.class_a, it)["class_mismatch"] += 1
                if m.class_b != m.class_a:
                    row(m.class_b, it)["class_mismatch"] += 1
            for cid, rep in it.masks.items():
                row(cid, it)["_dice"].append(rep.dice)
        out = []
        for r in rows.values():
            total = r["n_a"] + r["n_b"]
            r["f1"] = _num(2 * r["matched"] / total) if total else None
            ious = r.pop("_ious")
            r["mean_iou"] = _num(float(np.mean(ious))) if ious else None
            dice = r.pop("_dice")
            r["mask_dice"] = _num(float(np.mean(dice))) if dice else None
            out.append(r)
        return sorted(out, key=lambda r: (r["class"], r["layer_a"], r["layer_b"]))

    def classification_stats(self) -> dict[str, Any]:
        """Over all layers: percent agreement, Fleiss' kappa, Krippendorff's alpha; per pair:
        percent agreement, Cohen's kappa and the confusion matrix."""
        ids = [l.id for l in self.layers]
        units = [[u.get(lid) for lid in ids] for u in self.classification_units.values()]
        out: dict[str, Any] = {"units": len(units),
                               "percent": agreement.multi_rater_agreement(units),
                               "alpha": agreement.krippendorff_alpha(units, "nominal")}
        try:
            out["fleiss"] = agreement.fleiss_kappa_ratings(units)
        except ValueError as exc:  # pragma: no cover - units are aligned on layers
            out["fleiss"] = agreement.Statistic("Fleiss' kappa", math.nan, 0, str(exc))
        pairs = []
        for a, b in self.pairs():
            ia, ib = ids.index(a), ids.index(b)
            ra, rb = [u[ia] for u in units], [u[ib] for u in units]
            cats, conf = agreement.confusion_matrix(ra, rb)
            pairs.append(PairClassification(a, b, agreement.percent_agreement(ra, rb),
                                            agreement.cohen_kappa(ra, rb), cats, conf))
        out["pairs"] = pairs
        return out

    def pair_rows(self) -> list[dict[str, Any]]:
        cls = self.classification_stats()
        by_pair = {(p.layer_a, p.layer_b): p for p in cls["pairs"]}
        rows = []
        for a, b in self.pairs():
            shapes = self.pair_shapes(a, b)
            both, only_a, only_b = self.coverage.get((a, b), (0, 0, 0))
            pc = by_pair[(a, b)]
            paired = shapes.matches + shapes.class_mismatches
            shape_kappa = agreement.cohen_kappa([m.class_a for m in paired], [m.class_b for m in paired])
            rows.append({"layer_a": self.layer_name(a), "layer_b": self.layer_name(b),
                         "layer_a_id": a, "layer_b_id": b, "assets_compared": both,
                         "assets_only_a": only_a, "assets_only_b": only_b, **shapes.summary(),
                         "matched_class_kappa": _num(shape_kappa.value),
                         "mask_dice": _num(self.pair_mask_dice(a, b)),
                         "class_percent": _num(pc.percent.value), "class_kappa": _num(pc.kappa.value),
                         "class_units": pc.kappa.n, "class_kappa_note": pc.kappa.reason})
            if not both:        # nothing both layers annotated: no agreement to report (not 1.0)
                rows[-1].update(precision=None, recall=None, f1=None, mean_iou=None, mean_dice=None)
        return rows

    def attribute_rows(self) -> list[dict[str, Any]]:
        """Per layer pair, class and attribute: agreement of the values on same-class matches
        (enum: kappa, and quadratic-weighted kappa in option order; bool/multi: kappa; number:
        Krippendorff's interval alpha). Text attributes are not compared."""
        groups: dict[tuple[str, str, str | None, str], tuple[list[Any], list[Any]]] = {}
        for it in self.items:
            for cid, key, va, vb in it.attribute_pairs:
                ga, gb = groups.setdefault((it.layer_a, it.layer_b, cid, key), ([], []))
                ga.append(va)
                gb.append(vb)
        rows = []
        for (la, lb, cid, key), (va, vb) in sorted(groups.items(), key=lambda kv: (
                self.class_names.get(kv[0][2], ""), kv[0][3], kv[0][0], kv[0][1])):
            d = self.attribute_defs.get(cid or "", {}).get(key, {})
            kind = d.get("type")
            row: dict[str, Any] = {"class": self.class_names.get(cid, cid or "(none)"), "attribute": key,
                                   "type": kind, "layer_a": self.layer_name(la), "layer_b": self.layer_name(lb)}
            pct = agreement.percent_agreement(va, vb)
            row.update(n=pct.n, percent=_num(pct.value))
            if kind == "number":
                alpha = agreement.krippendorff_alpha(agreement.units_from_raters([va, vb]), "interval")
                row.update(statistic=alpha.name, value=_num(alpha.value), note=alpha.reason)
            else:
                options = d.get("options") if kind == "enum" else None
                labels = options if options and all(v in options for v in va + vb if v is not None) else None
                k = agreement.cohen_kappa(va, vb, "quadratic" if labels else None, labels=labels)
                row.update(statistic=k.name, value=_num(k.value), note=k.reason)
            rows.append(row)
        return rows

    def item_rows(self) -> list[dict[str, Any]]:
        """One row per item; "plane" is what people read (1-based), "plane_key" the 0-based key."""
        from labeldesk.core.numbering import plane_label
        rows = []
        for it in self.items:
            masks = {self.class_names.get(c, c or "(none)"): r.to_dict() for c, r in it.masks.items()}
            dices = [r.dice for r in it.masks.values()]
            hds = [r.hd95 for r in it.masks.values() if not math.isnan(r.hd95)]
            rows.append({"asset_id": it.asset_id, "asset": it.asset_name, "plane": plane_label(it.plane),
                         "plane_key": it.plane.key(),
                         "layer_a": self.layer_name(it.layer_a), "layer_b": self.layer_name(it.layer_b),
                         **it.shapes.summary(),
                         "mask_dice": _num(min(dices)) if dices else None,
                         "mask_hd95_mm": _num(max(hds)) if hds else None,
                         "score": _num(it.score), "masks": masks})
        return rows

    def track_rows(self) -> list[dict[str, Any]]:
        return [{**t, "layer_a": self.layer_name(t["layer_a"]), "layer_b": self.layer_name(t["layer_b"])}
                for t in self.tracks]

    def volume_rows(self) -> list[dict[str, Any]]:
        names = {it.asset_id: it.asset_name for it in self.items}
        return [{"asset_id": aid, "asset": names.get(aid, aid), "layer_a": self.layer_name(a),
                 "layer_b": self.layer_name(b), "class": self.class_names.get(c, c or "(none)"), "frame": t + 1, **rep.to_dict()}
                for aid, a, b, c, t, rep in self.volumes]

    def to_dict(self) -> dict[str, Any]:
        cls = self.classification_stats()
        return {"iou_threshold": self.threshold, "surface_dice_tolerance_mm": self.tolerance,
                "layers": [l.to_dict() for l in self.layers],
                "pairs": self.pair_rows(), "classes": self.class_rows(), "items": self.item_rows(),
                "volumes": self.volume_rows(), "attributes": self.attribute_rows(),
                "tracks": self.track_rows(),
                "classification": {
                    "units": cls["units"], "percent": cls["percent"].to_dict(),
                    "fleiss": cls["fleiss"].to_dict(), "alpha": cls["alpha"].to_dict(),
                    "pairs": [{"layer_a": self.layer_name(p.layer_a), "layer_b": self.layer_name(p.layer_b),
                               "percent": p.percent.to_dict(), "kappa": p.kappa.to_dict(),
                               "categories": [self.class_label(c) for c in p.categories],
                               "confusion": p.confusion.tolist()} for p in cls["pairs"]]}}


def _num(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 6)


def _counts(anns: Sequence[Annotation]) -> dict[str | None, int]:
    out: dict[str | None, int] = {}
    for a in anns:
        out[a.class_id] = out.get(a.class_id, 0) + 1
    return out


# ---- reading the project -----------------------------------------------------------------------
def select_layers(project: Any, layers: Sequence[str] | None) -> list[Layer]:
    """The layers named (by name or id), or every annotator layer."""
    all_layers = project.layers()
    if not layers:
        return [l for l in all_layers if l.kind == "annotator"]
    out = []
    for key in layers:
        found = [l for l in all_layers if l.id == key] or [l for l in all_layers if l.name == key]
        if not found:
            names = ", ".join(f"{l.name} ({l.id})" for l in all_layers)
            raise LabeldeskError(f"{project.root}: no layer named or with id {key!r}; layers: {names}")
        if len(found) > 1:
            raise LabeldeskError(f"{project.root}: several layers are named {key!r}; give its id")
        out.append(found[0])
    if len({l.id for l in out}) < len(out):
        raise LabeldeskError("the same layer was given twice")
    return out


def _classification_units(project: Any, asset: Asset, layer_ids: set[str]) -> dict[str, dict[str, Any]]:
    from labeldesk.core.op_types.classifications import classifications
    by_unit: dict[str, dict[str, list[str]]] = {}
    for c in classifications(project.conn, asset.id):
        if c["layer_id"] not in layer_ids:
            continue
        unit = "asset" if c["scope"] == "asset" else Plane(c["plane_z"], c["plane_t"], c["plane_axis"]).key()
        by_unit.setdefault(unit, {}).setdefault(c["layer_id"], []).append(c["class_id"])
    return {u: {lid: "+".join(sorted(v)) for lid, v in per.items()} for u, per in by_unit.items()}


def _attribute_value(value: Any, kind: str | None) -> Any:
    if value is None:
        return None
    if kind == "multi" and isinstance(value, (list, tuple)):
        return "+".join(sorted(str(v) for v in value))
    if kind == "number":
        return float(value)
    return value


def _attribute_pairs(shapes: MatchResult, a: Sequence[Annotation], b: Sequence[Annotation],
                     defs: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str | None, str, Any, Any]]:
    """Attribute values of both sides of each same-class match (text attributes left out; a
    value only one annotator gave counts as missing on the other side)."""
    by_id = {x.id: x for x in list(a) + list(b)}
    out = []
    for m in shapes.matches:
        xa, xb = by_id[m.a], by_id[m.b]
        cdefs = defs.get(m.class_a or "", {})
        reserved = set(reserved_attributes(xa.attributes)) | set(reserved_attributes(xb.attributes))
        for key in sorted(set(xa.attributes) | set(xb.attributes)):
            kind = cdefs.get(key, {}).get("type")
            if kind == "text" or key in reserved:       # (group ids, probabilities: not answers to compare)
                continue
            va = _attribute_value(xa.attributes.get(key), kind)
            vb = _attribute_value(xb.attributes.get(key), kind)
            out.append((m.class_a, key, va, vb))
    return out


def _track_agreement(asset: Asset, la: str, lb: str, items: Sequence[ItemAgreement],
                     anns: Sequence[Annotation]) -> dict[str, Any] | None:
    """Video tracks of two layers on one asset, from the per-frame matches: frames compared,
    mean per-frame F1 and IoU, and identity switches (a track of one layer matched to a
    different track of the other layer than on its previous matched frame, either way)."""
    track_of = {a.id: a.track_id for a in anns}
    tracks_a = {a.track_id for a in anns if a.layer_id == la and a.track_id}
    tracks_b = {a.track_id for a in anns if a.layer_id == lb and a.track_id}
    if not tracks_a and not tracks_b:
        return None
    last_b: dict[str, str] = {}
    last_a: dict[str, str] = {}
    switches = 0
    ious: list[float] = []
    for it in sorted(items, key=lambda i: (i.plane.t, i.plane.axis, i.plane.z)):
        for m in it.shapes.matches:
            ious.append(m.iou)
            ta, tb = track_of.get(m.a), track_of.get(m.b)
            if ta is None or tb is None:
                continue
            if (ta in last_b and last_b[ta] != tb) or (tb in last_a and last_a[tb] != ta):
                switches += 1
            last_b[ta], last_a[tb] = tb, ta
    return {"asset_id": asset.id, "asset": asset.name, "layer_a": la, "layer_b": lb,
            "frames_compared": len({it.plane.t for it in items}), "tracks_a": len(tracks_a),
            "tracks_b": len(tracks_b), "id_switches": switches,
            "mean_f1": _num(float(np.mean([it.shapes.f1 for it in items]))) if items else None,
            "mean_iou": _num(float(np.mean(ious))) if ious else None}


def _plane_of(key: str) -> Plane:
    axis, z, t = key.split(":")
    return Plane(int(z), int(t), axis)


def _mask_union(anns: Sequence[Annotation], window: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = window
    out = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for a in anns:
        out |= a.geometry.translate(-x0, -y0).paste(x1 - x0, y1 - y0)
    return out


def _window(anns: Sequence[Annotation]) -> tuple[int, int, int, int]:
    b = np.array([a.geometry.bounds() for a in anns])
    return (int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max()))


def _spacing_2d(asset: Asset, plane: Plane) -> tuple[float, float]:
    """(row, column) spacing in mm of ``plane`` (asset spacing is (sx, sy, sz)); 1 where unknown."""
    sp = tuple(float(v) for v in (asset.spacing or ()))
    if len(sp) < 2:
        return (1.0, 1.0)
    sx, sy, sz = sp[0], sp[1], (sp[2] if len(sp) > 2 else 1.0)
    if plane.axis == "coronal":
        return (sz, sx)
    if plane.axis == "sagittal":
        return (sz, sy)
    return (sy, sx)


def _plane_masks(a: Sequence[Annotation], b: Sequence[Annotation],
                 spacing: tuple[float, float], tolerance: float) -> dict[str | None, SurfaceReport]:
    out: dict[str | None, SurfaceReport] = {}
    ma = [x for x in a if isinstance(x.geometry, Mask)]
    mb = [x for x in b if isinstance(x.geometry, Mask)]
    for cid in sorted({x.class_id for x in ma + mb}, key=lambda c: c or ""):
        ca = [x for x in ma if x.class_id == cid]
        cb = [x for x in mb if x.class_id == cid]
        win = _window(ca + cb)
        out[cid] = compare_masks(_mask_union(ca, win), _mask_union(cb, win), spacing, tolerance=tolerance)
    return out


def _volume_masks(asset: Asset, a: Sequence[Annotation], b: Sequence[Annotation],
                  tolerance: float) -> list[tuple[str | None, int, SurfaceReport]]:
    """(class id, frame, 3-D report) over axial masks (z, y, x) with spacing (sz, sy, sx);
    only where the masks span two or more slices."""
    out: list[tuple[str | None, int, SurfaceReport]] = []
    ma = [x for x in a if isinstance(x.geometry, Mask) and x.plane.axis == "axial"]
    mb = [x for x in b if isinstance(x.geometry, Mask) and x.plane.axis == "axial"]
    sp = asset.spacing or (1.0, 1.0, 1.0)
    spacing = (float(sp[2]) if len(sp) > 2 else 1.0, float(sp[1]), float(sp[0]))
    for cid in sorted({x.class_id for x in ma + mb}, key=lambda c: c or ""):
        ca = [x for x in ma if x.class_id == cid]
        cb = [x for x in mb if x.class_id == cid]
        for t in sorted({x.plane.t for x in ca + cb}):
            ta, tb = [x for x in ca if x.plane.t == t], [x for x in cb if x.plane.t == t]
            zs = [x.plane.z for x in ta + tb]
            if len(set(zs)) < 2:
                continue      # one slice: the per-plane figures say it all
            z0, z1 = min(zs), max(zs) + 1
            win = _window(ta + tb)
            va = np.zeros((z1 - z0, win[3] - win[1], win[2] - win[0]), dtype=bool)
            vb = np.zeros_like(va)
            for side, vol in ((ta, va), (tb, vb)):
                for z in {x.plane.z for x in side}:
                    vol[z - z0] = _mask_union([x for x in side if x.plane.z == z], win)
            out.append((cid, t, compare_masks(va, vb, spacing, tolerance=tolerance)))
    return out


def compare_project(project: Any, iou: float = 0.5, layers: Sequence[str] | None = None,
                    progress: Progress = NO_PROGRESS, tolerance: float = 1.0) -> ProjectComparison:
    """Compare every pair of annotator layers (or the ``layers`` given, by name or id);
    ``tolerance`` (mm) is the surface-Dice tolerance of mask comparisons."""
    if not 0 < iou <= 1:
        raise LabeldeskError(f"the IoU threshold must be in (0, 1], got {iou}")
    if not tolerance >= 0:
        raise LabeldeskError(f"the surface-Dice tolerance must be >= 0 mm, got {tolerance}")
    chosen = select_layers(project, layers)
    if len(chosen) < 2:
        raise LabeldeskError(f"{project.root}: comparing needs two layers, the project has "
                             f"{len(chosen)} annotator layer(s); pick layers with --layers A B")
    classes = project.classes()
    report = ProjectComparison(iou, chosen, class_names={c.id: c.name for c in classes},
                               attribute_defs={c.id: {d["key"]: d for d in c.attributes} for c in classes},
                               tolerance=tolerance)
    ids = {l.id for l in chosen}
    assets = project.assets()
    for n, asset in enumerate(assets):
        progress.report(n, len(assets), asset.name)
        anns = {l.id: project.annotations(asset.id, layer_id=l.id) for l in chosen}
        units = _classification_units(project, asset, ids)
        for key, per in units.items():
            report.classification_units[(asset.id, key)] = per
        from labeldesk.core import segments as seg
        segmented = {s.layer_id for s in seg.segments(project.conn, asset.id) if s.voxels} if asset.kind == "volume" else set()
        has = {lid for lid in ids if anns[lid] or lid in segmented or any(lid in per for per in units.values())}
        for la, lb in report.pairs():
            both, only_a, only_b = report.coverage.get((la, lb), (0, 0, 0))
            if la in has and lb in has:
                report.coverage[(la, lb)] = (both + 1, only_a, only_b)
            else:
                report.coverage[(la, lb)] = (both, only_a + (la in has), only_b + (lb in has))
                continue
            by_plane: dict[str, tuple[list[Annotation], list[Annotation]]] = {}
            for side, lid in ((0, la), (1, lb)):
                for x in anns[lid]:
                    by_plane.setdefault(x.plane.key(), ([], []))[side].append(x)
            pair_items: list[ItemAgreement] = []
            for key in sorted(by_plane):
                pa, pb = by_plane[key]
                plane = _plane_of(key)
                shapes = match_plane(pa, pb, iou)
                pair_items.append(ItemAgreement(
                    asset.id, asset.name, plane, la, lb, shapes,
                    _plane_masks(pa, pb, _spacing_2d(asset, plane), tolerance), _counts(pa), _counts(pb),
                    _attribute_pairs(shapes, pa, pb, report.attribute_defs)))
            report.items.extend(pair_items)
            if asset.depth > 1:
                for cid, t, rep in _volume_masks(asset, anns[la], anns[lb], tolerance):
                    report.volumes.append((asset.id, la, lb, cid, t, rep))
            if la in segmented or lb in segmented:            # segments: 3-D Dice and HD95 per class
                for cid, t, rep in seg.agreement(project.conn, asset, la, lb, tolerance):
                    report.volumes.append((asset.id, la, lb, cid, t, rep))
            if asset.frames > 1:
                track = _track_agreement(asset, la, lb, pair_items, anns[la] + anns[lb])
                if track is not None:
                    report.tracks.append(track)
    progress.report(len(assets), len(assets), "done")
    return report


# ---- the review queue and the GUI overlay ------------------------------------------------------
@dataclass(frozen=True)
class QueueEntry:
    asset_id: str
    asset_name: str
    plane: Plane | None       # None: a whole-asset classification
    score: float              # 0 = total disagreement, 1 = full agreement
    layer_a: str
    layer_b: str
    reason: str


def queue_by_agreement(project: Any, iou: float = 0.5, layers: Sequence[str] | None = None,
                       report: ProjectComparison | None = None) -> list[QueueEntry]:
    """Items (asset + plane) ordered lowest agreement first: the worst layer pair per item;
    items where the layers fully agree are left out."""
    report = report or compare_project(project, iou, layers)
    worst: dict[tuple[str, str], QueueEntry] = {}

    def offer(e: QueueEntry) -> None:
        key = (e.asset_id, e.plane.key() if e.plane else "asset")
        if key not in worst or e.score < worst[key].score:
            worst[key] = e

    for it in report.items:
        s = it.shapes
        if it.score >= 1.0 and not s.class_mismatches:
            continue
        parts = [f"{len(s.matches)} matched"]
        if s.class_mismatches:
            parts.append(f"{len(s.class_mismatches)} class mismatch")
        if s.unmatched_a or s.unmatched_b:
            parts.append(f"unmatched {len(s.unmatched_a)}/{len(s.unmatched_b)}")
        if it.masks:
            parts.append("mask Dice " + ", ".join(f"{r.dice:.2f}" for r in it.masks.values()))
        offer(QueueEntry(it.asset_id, it.asset_name, it.plane, it.score, it.layer_a, it.layer_b,
                         "; ".join(parts)))
    names = {a.id: a.name for a in project.assets()}
    for (asset_id, unit), per in report.classification_units.items():
        for la, lb in report.pairs():
            va, vb = per.get(la), per.get(lb)
            if va is not None and vb is not None and va != vb:
                text = f"classification differs: {report.class_label(va)} vs {report.class_label(vb)}"
                offer(QueueEntry(asset_id, names.get(asset_id, asset_id),
                                 None if unit == "asset" else _plane_of(unit), 0.0, la, lb, text))
    return sorted(worst.values(), key=lambda e: (e.score, e.asset_name, e.plane or Plane()))


@dataclass
class LayerComparison:
    """What the viewport overlay needs: each annotation's status against the other layer."""

    asset_id: str
    layer_a: str
    layer_b: str
    threshold: float
    result: MatchResult

    @property
    def status(self) -> dict[str, str]:
        """annotation id -> matched | class_mismatch | low_iou | unmatched."""
        out = {i: "unmatched" for i in self.result.unmatched_a + self.result.unmatched_b}
        for m in self.result.low_iou:
            out[m.a] = out[m.b] = "low_iou"
        for m in self.result.class_mismatches:
            out[m.a] = out[m.b] = "class_mismatch"
        for m in self.result.matches:
            out[m.a] = out[m.b] = "matched"
        return out

    def ids(self, status: str) -> set[str]:
        return {i for i, s in self.status.items() if s == status}

    @property
    def pairs(self) -> list[Match]:
        return self.result.matches + self.result.class_mismatches + self.result.low_iou


def compare_layers(project: Any, asset_id: str, layer_a: str, layer_b: str,
                   plane: Plane | None = None, iou: float = 0.5) -> LayerComparison:
    """Match two layers' annotations on one asset (one plane, or every plane)."""
    if not 0 < iou <= 1:
        raise LabeldeskError(f"the IoU threshold must be in (0, 1], got {iou}")
    known = {l.id for l in project.layers()}
    for lid in (layer_a, layer_b):
        if lid not in known:
            raise LabeldeskError(f"{project.root}: no layer with id {lid}")
    project.asset(asset_id)
    a = project.annotations(asset_id, plane=plane, layer_id=layer_a)
    b = project.annotations(asset_id, plane=plane, layer_id=layer_b)
    return LayerComparison(asset_id, layer_a, layer_b, iou, match_annotations(a, b, iou))
