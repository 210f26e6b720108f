"""Label Studio JSON (the "JSON" export: a list of tasks), written from the format's documentation.

One task per image (``data.image``; planes of videos and volumes as our plane names) with one
annotation whose ``result`` holds the regions. Coordinates are percent of ``original_width`` /
``original_height``. Region types: ``rectanglelabels`` <-> box, or rotated box (``rotation``:
degrees clockwise about the top-left corner ``x, y``); ``polygonlabels`` <-> polygon (Label Studio
has no holes: left out, with a note); ``ellipselabels`` <-> ellipse (centre and radii);
``keypointlabels`` <-> one point each (a labeldesk points annotation is written as one region per
point sharing ``meta.labeldesk_group``, with the keypoint name in ``meta.labeldesk_point``, and
read back as one annotation); ``brushlabels`` <-> mask (Label Studio's brush RLE of the RGBA
image, :mod:`labeldesk.core.formats.ls_rle`); ``choices`` without a region id <-> asset
classification. Attribute values are per-region controls sharing the region's ``id``
(``choices`` for enum, multi and bool, ``number``, ``textarea`` for text), Label Studio's
convention for per-region attributes. A task's ``predictions`` are imported into a predictions
layer per ``model_version`` ("predictions: <model_version>") with the model as each annotation's
provenance and the region's (else the prediction's) ``score``; annotations of predictions layers in
an export are written as the task's ``predictions`` (one per model and version, with the mean score).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree
from labeldesk.core.formats.context import ImportContext, check_vertices
from labeldesk.core.formats.ls_rle import mask_from_rle, rle_from_mask
from labeldesk.core.formats.matching import extent, item_name
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Box, Ellipse, GeometryError, Mask, Points, Polygon, Polyline, RotatedBox

UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
CONTROL = {"rectanglelabels", "polygonlabels", "ellipselabels", "keypointlabels", "brushlabels"}


def _pct(v: float, size: int) -> float:
    return v * 100.0 / size


def _px(v: Any, size: int) -> float:
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"{v!r} is not finite")
    return x * size / 100.0


# ---- import ------------------------------------------------------------------------------------
def _image_ref(data: dict[str, Any]) -> str | None:
    for key in ("image", "img", "url", "video"):
        if isinstance(data.get(key), str) and data[key]:
            ref = data[key]
            break
    else:
        found = [v for v in data.values() if isinstance(v, str) and v]
        if not found:
            return None
        ref = found[0]
    if "?d=" in ref:
        ref = ref.split("?d=", 1)[1]
    ref = ref.split("?", 1)[0]
    for prefix in ("/data/upload/", "/data/local-files/", "s3://", "gs://", "http://", "https://"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            parts = ref.split("/")
            if prefix == "/data/upload/" and len(parts) > 1:
                ref = parts[-1]
            break
    leaf = ref.rsplit("/", 1)[-1]
    if UPLOAD_PREFIX.match(leaf):
        ref = ref[: len(ref) - len(leaf)] + leaf[9:]
    return ref


def import_labelstudio(ctx: ImportContext, path: Path) -> None:
    with InputTree(path, ctx.report) as tree:
        names = tree.names(".json")
        if not names:
            raise InputError(path, "no .json file in it")
        for name in names:
            doc = tree.json(name)
            where = tree.location(name)
            tasks = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) and "data" in doc else None
            if tasks is None:
                if len(names) == 1:
                    raise InputError(where, "not a Label Studio export: expected a list of tasks")
                continue
            for i, task in enumerate(tasks):
                ctx.progress.report(i, len(tasks), f"reading {where}")
                _task(ctx, task, f"{where}: task[{i}]")


def _task(ctx: ImportContext, task: Any, loc: str) -> None:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        ctx.report.refuse(loc, "not a task (no 'data' object)")
        return
    ref = _image_ref(task["data"])
    if not ref:
        ctx.report.refuse(loc, "the task names no image")
        return
    found = ctx.index_find(ref)
    if isinstance(found, str):
        alt = ctx.index_find(ref.rsplit("/", 1)[-1])
        if isinstance(alt, str):
            ctx.report.refuse(f"{loc} ({ref})", found)
            return
        found = alt
    asset, plane = found
    for k, pred in enumerate(task.get("predictions") or []):
        if not isinstance(pred, dict) or not isinstance(pred.get("result"), list):
            ctx.report.refuse(f"{loc} prediction[{k}]", "no 'result' list")
            continue
        model = str(pred.get("model_version") or "").strip() or "label-studio predictions"
        layer = ctx.other_layer(f"predictions: {model}", "predictions")
        _results(ctx, pred["result"], f"{loc} prediction[{k}]", asset, plane,
                 prediction=(layer, model, _score(pred)))
    for k, ann in enumerate(task.get("annotations") or task.get("completions") or []):
        if not isinstance(ann, dict) or not isinstance(ann.get("result"), list):
            ctx.report.refuse(f"{loc} annotation[{k}]", "no 'result' list")
            continue
        if ann.get("was_cancelled"):
            ctx.report.note(f"{loc} annotation[{k}]", "a skipped (cancelled) annotation: not imported")
            continue
        _results(ctx, ann["result"], f"{loc} annotation[{k}]", asset, plane)


def _results(ctx: ImportContext, results: list[Any], loc: str, asset: Any, plane: Any,
             prediction: tuple[str, str, float | None] | None = None) -> None:
    """The regions of one annotation (or, with ``prediction`` = (layer id, model version, score),
    of one prediction: imported into that predictions layer with the model as provenance)."""
    w, h, _ = extent(asset, plane)

    def add(where: str, g: dict[str, Any], cls: Any, attrs: dict[str, Any], score: float | None) -> None:
        if prediction is None:
            ctx.annotation(where, asset, plane, g, cls, attrs, score=score)
            return
        layer, model, whole = prediction
        score = score if score is not None else whole
        ctx.annotation(where, asset, plane, g, cls, attrs, score=score, layer_id=layer,
                       source={"model": model, "version": "", "score": score})

    regions: dict[Any, dict[str, Any]] = {}
    extras: dict[Any, dict[str, Any]] = {}
    region_ids = {x.get("id") for x in results if isinstance(x, dict) and x.get("type") in CONTROL}
    groups: dict[Any, tuple[str, Any, list[Any], list[str], dict[str, Any]]] = {}
    for j, r in enumerate(results):
        where = f"{loc} result[{j}]"
        if not isinstance(r, dict) or not isinstance(r.get("value"), dict):
            ctx.report.refuse(where, "not a region (no 'value' object)")
            continue
        kind, value = str(r.get("type", "")), r["value"]
        if kind in CONTROL:
            regions[r.get("id", f"#{j}")] = {"where": where, "r": r}
        elif kind in ("choices", "textarea", "number", "rating", "taxonomy"):
            if r.get("id") is None or r.get("id") not in region_ids:       # about the whole image
                if kind == "choices":
                    for name in value.get("choices") or []:
                        cls = ctx.class_for(name, where)
                        if cls is not None:
                            ctx.classification(where, asset, None if asset.kind in ("image", "pyramid") else plane, cls)
                else:
                    ctx.report.note(where, f"a task-level {kind} is not kept")
                continue
            extras.setdefault(r["id"], {})[str(r.get("from_name") or kind)] = value.get(
                {"choices": "choices", "textarea": "text", "number": "number", "rating": "rating"}.get(kind, kind))
        else:
            ctx.report.refuse(where, f"region type {kind!r} is not supported")
    for rid, item in regions.items():
        r, where = item["r"], item["where"]
        value, kind = r["value"], r["type"]
        labels = value.get(kind) or []
        if not labels:
            ctx.report.refuse(where, f"{kind} region without a label")
            continue
        if len(labels) > 1:
            ctx.report.note(where, f"several labels ({', '.join(map(str, labels))}): imported as {labels[0]!r}")
        try:
            ow, oh = int(r.get("original_width") or w), int(r.get("original_height") or h)
            if (ow, oh) != (w, h):
                ctx.report.note(where, f"the task says {ow}x{oh}, the asset is {w}x{h}: percentages of the asset")
            g = _geometry(kind, value, w, h)
        except (ValueError, TypeError, KeyError, GeometryError) as exc:
            ctx.report.refuse(where, f"bad {kind}: {exc}")
            continue
        attrs = _attributes(extras.get(rid, {}))
        meta = r.get("meta") if isinstance(r.get("meta"), dict) else {}
        if g["kind"] == "points" and meta.get("labeldesk_group"):
            key = (str(labels[0]), meta["labeldesk_group"])
            grp = groups.setdefault(key, (where, labels[0], [], [], attrs))
            grp[2].append(g["points"][0])
            grp[3].append(str(meta.get("labeldesk_point") or ""))
            continue
        cls = ctx.class_for(labels[0], where)
        if cls is not None:
            add(where, g, cls, attrs, _score(r))
    for where, label, pts, names, attrs in groups.values():
        g = {"kind": "points", "points": pts}
        if any(names):
            g["labels"] = names
        cls = ctx.class_for(label, where)
        if cls is not None:
            add(where, g, cls, attrs, None)


def _score(r: dict[str, Any]) -> float | None:
    s = r.get("score")
    return float(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else None


def _attributes(extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in extra.items():
        if isinstance(v, list):
            out[key] = v[0] if len(v) == 1 else v
            if out[key] in ("true", "false"):
                out[key] = out[key] == "true"
        else:
            out[key] = v
    return out


def _geometry(kind: str, v: dict[str, Any], w: int, h: int) -> dict[str, Any]:
    if kind == "rectanglelabels":
        x, y, bw, bh = _px(v["x"], w), _px(v["y"], h), _px(v["width"], w), _px(v["height"], h)
        rot = float(v.get("rotation") or 0.0)
        if rot % 360 == 0:
            return {"kind": "box", "xyxy": [x, y, x + bw, y + bh]}
        phi = math.radians(rot)
        c, s = math.cos(phi), math.sin(phi)
        cx, cy = x + bw / 2 * c - bh / 2 * s, y + bw / 2 * s + bh / 2 * c
        angle = -rot % 360.0
        return {"kind": "rotated_box", "cxcywha": [cx, cy, bw, bh, angle - 360.0 if angle > 180 else angle]}
    if kind == "polygonlabels":
        pts = v["points"]
        check_vertices(len(pts), "the polygon")
        return {"kind": "polygon", "shell": [[_px(p[0], w), _px(p[1], h)] for p in pts]}
    if kind == "ellipselabels":
        rot = float(v.get("rotation") or 0.0)
        angle = -rot % 360.0
        return {"kind": "ellipse", "cxcyrxrya": [_px(v["x"], w), _px(v["y"], h), _px(v["radiusX"], w),
                                                 _px(v["radiusY"], h), angle - 360.0 if angle > 180 else angle]}
    if kind == "keypointlabels":
        return {"kind": "points", "points": [[_px(v["x"], w), _px(v["y"], h)]]}
    if kind == "brushlabels":
        if v.get("format", "rle") != "rle" or not isinstance(v.get("rle"), list):
            raise ValueError(f"brush format {v.get('format')!r} is not Label Studio's rle")
        m = mask_from_rle(v["rle"], w, h)
        if not m.any():
            raise ValueError("the brush mask is empty")
        return Mask.from_array(m).to_dict()
    raise ValueError(f"unknown region type {kind!r}")


# ---- export ------------------------------------------------------------------------------------
def _region(kind: str, value: dict[str, Any], label: str, w: int, h: int, rid: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "type": kind, "from_name": "label", "to_name": "image", "original_width": w,
            "original_height": h, "image_rotation": 0, "value": {**value, kind: [label]}, **extra}


def _regions(ctx: ExportContext, asset: Any, ann: Any, label: str, w: int, h: int) -> list[dict[str, Any]]:
    g, rid = ann.geometry, ann.id[-10:]
    if isinstance(g, Box):
        x0, y0, x1, y1 = g.bounds()
        return [_region("rectanglelabels", {"x": _pct(x0, w), "y": _pct(y0, h), "width": _pct(x1 - x0, w),
                                            "height": _pct(y1 - y0, h), "rotation": 0}, label, w, h, rid)]
    if isinstance(g, RotatedBox):
        x, y = g.corners()[0]
        return [_region("rectanglelabels", {"x": _pct(x, w), "y": _pct(y, h), "width": _pct(g.w, w),
                                            "height": _pct(g.h, h), "rotation": -g.angle % 360.0}, label, w, h, rid)]
    if isinstance(g, Ellipse):
        return [_region("ellipselabels", {"x": _pct(g.cx, w), "y": _pct(g.cy, h), "radiusX": _pct(g.rx, w),
                                          "radiusY": _pct(g.ry, h), "rotation": -g.angle % 360.0}, label, w, h, rid)]
    if isinstance(g, Mask):         # a brush region (Label Studio's RLE of the RGBA image)
        return [_region("brushlabels", {"format": "rle", "rle": rle_from_mask(g.paste(w, h))}, label, w, h, rid)]
    if isinstance(g, Polygon):
        if g.holes:
            ctx.converted(asset, ann, f"{len(g.holes)} hole(s) left out: Label Studio polygons have none")
        return [_region("polygonlabels", {"points": [[_pct(x, w), _pct(y, h)] for x, y in g.shell], "closed": True},
                        label, w, h, rid)]
    if isinstance(g, Points):
        group = ann.id
        out = []
        for k, (x, y) in enumerate(g.points):
            meta: dict[str, Any] = {"labeldesk_group": group}
            if g.labels:
                meta["labeldesk_point"] = g.labels[k]
            out.append(_region("keypointlabels", {"x": _pct(x, w), "y": _pct(y, h), "width": 0.5}, label, w, h,
                               f"{rid}-{k}", meta=meta))
        return out
    if isinstance(g, Polyline):
        ctx.skip(asset, ann, "Label Studio image regions have no polyline")
    else:
        ctx.skip(asset, ann, f"Label Studio has no {g.kind}")
    return []


def _layer_model(ctx: ExportContext, layer_id: str) -> str:
    name = next((l.name for l in ctx.layers if l.id == layer_id), "") or "predictions"
    return name[len("predictions: "):] if name.startswith("predictions: ") else name


def _attribute_results(entry: Any, ann: Any, rid: str) -> list[dict[str, Any]]:
    out = []
    for d in entry.attributes:
        v = ann.attributes.get(d["key"])
        if v is None:
            continue
        if d["type"] in ("enum", "bool", "multi"):
            kind, value = "choices", {"choices": v if isinstance(v, list) else ["true" if v is True else "false"
                                                                                if v is False else str(v)]}
        elif d["type"] == "number":
            kind, value = "number", {"number": v}
        else:
            kind, value = "textarea", {"text": [str(v)]}
        out.append({"id": rid, "type": kind, "from_name": d["key"], "to_name": "image", "value": value})
    return out


def export_labelstudio(ctx: ExportContext, out: Any) -> None:
    from labeldesk.core.predictions import provenances
    if ctx.options.get("with_predictions"):     # the project's predictions layers go along too
        ctx.layers += [l for l in ctx.project.layers() if l.kind == "predictions" and l not in ctx.layers]
    predicted = {l.id for l in ctx.layers if l.kind == "predictions"}
    tasks = []
    for asset in ctx.each_asset():
        tags = [c for c in ctx.classifications(asset) if c["scope"] == "asset"]
        for plane, items in ctx.export_planes(asset):
            w, h, _ = extent(asset, plane)
            result: list[dict[str, Any]] = []
            models: dict[str, list[dict[str, Any]]] = {}        # model version -> prediction regions
            scores: dict[str, list[float]] = {}
            prov = provenances(ctx.project.conn, [a.id for a in items if a.layer_id in predicted]) if predicted else {}
            for ann in items:
                entry = ctx.entry(asset, ann)
                if entry is None:
                    continue
                regions = _regions(ctx, asset, ann, entry.name, w, h)
                if not regions:
                    continue
                target = result
                if ann.layer_id in predicted:       # a model's prediction: the task's predictions
                    p = prov.get(ann.id)
                    version = " ".join(x for x in ((p.model if p else None) or _layer_model(ctx, ann.layer_id),
                                                   (p.version if p else None) or "") if x)
                    target = models.setdefault(version, [])
                    if p is not None and p.score is not None:
                        for r in regions:
                            r["score"] = p.score
                        scores.setdefault(version, []).append(float(p.score))
                target += regions
                if len(regions) == 1:
                    target += _attribute_results(entry, ann, regions[0]["id"])
                elif ann.attributes:
                    ctx.converted(asset, ann, "attributes of a keypoint group are not written")
                ctx.report.count(ann.geometry.kind)
            for c in tags:
                e = ctx.classes.resolve(c["class_id"])
                if e is not None:
                    result.append({"type": "choices", "from_name": "class", "to_name": "image",
                                   "value": {"choices": [e.name]}})
                    ctx.report.count("classification")
            tags = []                               # an asset's tags go with its first plane
            preds = []
            for version, regions in models.items():
                pred: dict[str, Any] = {"model_version": version, "result": regions}
                if scores.get(version):
                    pred["score"] = sum(scores[version]) / len(scores[version])
                preds.append(pred)
            tasks.append({"id": len(tasks) + 1, "data": {"image": item_name(asset, plane)},
                          "annotations": [{"id": len(tasks) + 1, "result": result, "was_cancelled": False}],
                          "predictions": preds})
    out.write("tasks.json", json.dumps(tasks, ensure_ascii=False, allow_nan=False, indent=1))
