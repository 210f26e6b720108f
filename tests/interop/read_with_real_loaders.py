"""Run by the INTEROP Python (a venv with datumaro, torchvision, ultralytics, label-studio-converter):
load labeldesk's exports with the real loaders and write what they read as JSON.

    python read_with_real_loaders.py EXPORTS_DIR RESULTS.json

Each reader's result is {"ok": bool, ...} or {"ok": false, "error": "..."}; a reader that is not
installed is {"skipped": "..."}."""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")          # Ultralytics: no network, no settings sync


def _run(name, fn, results):
    try:
        results[name] = {"ok": True, **fn()}
    except ImportError as exc:
        results[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                         "trace": traceback.format_exc()[-2000:]}


def torchvision_coco(root: Path) -> dict:
    from torchvision.datasets import CocoDetection
    out = {}
    for subset in ("train", "val"):
        ds = CocoDetection(str(root / "images" / subset), str(root / "annotations" / f"instances_{subset}.json"))
        items = [ds[i] for i in range(len(ds))]
        out[subset] = {"images": len(ds), "sizes": sorted({im.size for im, _ in items}),
                       "annotations": sum(len(t) for _, t in items),
                       "categories": sorted({a["category_id"] for _, t in items for a in t})}
    return out


def pycocotools_eval(root: Path) -> dict:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    out = {}
    for subset in ("train", "val"):
        ann = str(root / "annotations" / f"instances_{subset}.json")
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(ann)
            anns = [dict(a, score=1.0) for a in gt.dataset["annotations"]]
            dt = gt.loadRes(anns)
            aps = {}
            for kind in ("bbox", "segm"):
                ev = COCOeval(gt, dt, kind)
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
                aps[kind] = float(ev.stats[0])
        out[subset] = aps
    return out


def datumaro_import(path: Path, fmt: str) -> dict:
    import datumaro as dm
    ds = dm.Dataset.import_from(str(path), fmt)
    label_cat = ds.categories().get(dm.AnnotationType.label)
    labels = [l.name for l in label_cat.items] if label_cat is not None else []
    kinds = {}
    groups = set()
    for item in ds:
        for a in item.annotations:
            kinds[a.type.name] = kinds.get(a.type.name, 0) + 1
            if getattr(a, "group", 0):
                groups.add((item.id, a.group))
    return {"items": len(ds), "subsets": sorted(ds.subsets()), "labels": labels, "kinds": kinds,
            "grouped_objects": len(groups),
            "media": sum(1 for item in ds if item.media is not None and getattr(item.media, "has_data", False))}


def ultralytics_check(path: Path) -> dict:
    from ultralytics.data.utils import check_det_dataset
    from ultralytics.data.dataset import YOLODataset
    data = check_det_dataset(str(path / "data.yaml"), autodownload=False)
    out = {"names": data["names"], "nc": data["nc"]}
    ds = YOLODataset(img_path=data["train"], data=data, task="detect", augment=False, imgsz=96)
    out["train_images"] = len(ds.im_files)
    out["train_boxes"] = int(sum(len(l["cls"]) for l in ds.labels))
    return out


def label_studio_brush(path: Path) -> dict:
    import numpy as np
    from label_studio_converter.brush import decode_rle
    tasks = json.loads(path.read_text())
    areas = []
    for t in tasks:
        for r in t["annotations"][0]["result"]:
            if r["type"] == "brushlabels":
                img = np.reshape(decode_rle(r["value"]["rle"]), (r["original_height"], r["original_width"], 4))
                areas.append(int((img[:, :, 3] > 0).sum()))
    # and the other way: a brush region encoded by label-studio-converter, for labeldesk to import
    from label_studio_converter.brush import mask2rle
    mask = np.zeros((64, 96), np.uint8)
    mask[10:20, 30:70] = 255
    mask[40:44, 5:9] = 255
    task = [{"id": 1, "data": {"image": "/data/upload/1/ab12cd34-img3.png"}, "annotations": [{"id": 1, "result": [
        {"id": "b", "type": "brushlabels", "from_name": "tag", "to_name": "image", "original_width": 96,
         "original_height": 64, "value": {"format": "rle", "rle": [int(v) for v in mask2rle(mask)],
                                          "brushlabels": ["person"]}}]}]}]
    (path.parent / "ls_foreign.json").write_text(json.dumps(task))
    return {"brush_areas": areas, "foreign_area": int((mask > 0).sum())}


def main() -> None:
    root = Path(sys.argv[1])
    results: dict = {"python": sys.version.split()[0]}
    _run("torchvision_coco", lambda: torchvision_coco(root / "coco"), results)
    _run("pycocotools_eval", lambda: pycocotools_eval(root / "coco"), results)
    # (datumaro's "label_me" is MIT LabelMe XML, not the labelme tool's JSON: not a reader of ours)
    for fmt, folder in (("coco", "coco"), ("voc", "voc"), ("yolo", "yolo"), ("cvat", "cvat"), ("mot_seq", "mot")):
        _run(f"datumaro_{fmt}", lambda fmt=fmt, folder=folder: datumaro_import(root / folder, fmt), results)
    _run("ultralytics", lambda: ultralytics_check(root / "yolo"), results)
    _run("label_studio_converter", lambda: label_studio_brush(root / "ls.json"), results)
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
