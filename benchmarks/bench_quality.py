"""QC-1: every label-quality check over a project of 100k annotations in ≤ 2 s, each against a
numpy baseline over the same arrays, measured in the same run.

    python benchmarks/bench_quality.py [--n 100000] [--repeats 3]

The project: images, volumes and a video (tracks), five classes (one with a required attribute),
an annotator layer, a final layer and a prediction layer with scores; planted problems of every
kind. "ours" is what the user waits for: the check as `labeldesk check --only NAME` runs it
(findings with their reasons, waivers applied) on columns read with one bulk query; the load
itself is timed separately against the bare SELECT + numpy conversion. The baseline for each
check is the bare numpy computation of the same condition on the same arrays (no reasons, no
Finding objects): it says what the check costs beyond the arithmetic it cannot avoid.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from harness import interleaved, machine, row  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.project import Project  # noqa: E402
from labeldesk.core.quality import arrays, checks  # noqa: E402


def build(root: Path, n: int, seed: int = 0) -> Project:
    rng = np.random.default_rng(seed)
    p = Project.create(root, "qc1", user_name="bench")
    classes = [ids.new_id() for _ in range(5)]
    attrs = [{"key": "grade", "type": "enum", "options": ["1", "2"], "required": True}]
    drafts = [OpDraft("ontology.class.create", c, {"class": {"name": f"class{k}", **({"attributes": attrs} if k == 4 else {})}})
              for k, c in enumerate(classes)]
    final, pred = ids.new_id(), ids.new_id()
    drafts += [OpDraft("layer.create", final, {"layer": {"name": "final", "kind": "final"}}),
               OpDraft("layer.create", pred, {"layer": {"name": "model", "kind": "predictions"}})]
    assets = []
    for k in range(60):
        a = ids.new_id()
        kind = "volume" if k % 6 == 0 else "video" if k % 6 == 1 else "image"
        drafts.append(OpDraft("asset.add", a, {"asset": {"kind": kind, "name": f"a{k}", "content_hash": "h" + a,
                                                         "width": 2048, "height": 2048,
                                                         "depth": 64 if kind == "volume" else 1,
                                                         "frames": 200 if kind == "video" else 1}}))
        assets.append((a, kind))
    p.apply_all(drafts)
    mine = p.my_layer_id
    weights = np.array([0.5, 0.3, 0.15, 0.045, 0.005])
    cls_idx = rng.choice(5, n, p=weights)
    xy = rng.uniform(0, 1900, (n, 2))
    wh = np.exp(rng.normal(3.3, 0.35, (n, 2)))
    wh[rng.random(n) < 0.002] = (1.2, 20)                      # tiny
    drafts = []
    tracks = [ids.new_id() for _ in range(n // 200 + 1)]
    for i in range(n):
        a, kind = assets[i % len(assets)]
        x, y = xy[i]
        w, h = wh[i]
        layer = pred if i % 10 == 0 else final if i % 10 == 1 else mine
        d = {"asset_id": a, "layer_id": layer, "class_id": classes[cls_idx[i]],
             "geometry": {"kind": "box", "xyxy": [float(x), float(y), float(x + w), float(y + h)]}}
        if kind == "volume":
            d["plane"] = {"z": int(i // len(assets)) % 64}
        elif kind == "video":                              # objects moving smoothly, one per track
            t = int(i // len(assets)) % 200
            k = (i // len(assets)) // 200 * 10 + (i % len(assets)) // 6
            d["plane"] = {"t": t}
            d["track_id"] = tracks[k % len(tracks)]
            x0, y0 = 100 + (k * 37) % 1700, 100 + (k * 53) % 1700
            d["geometry"]["xyxy"] = [x0 + t, y0, x0 + t + 40.0, y0 + 30.0]
            cls_idx[i] = k % 3                              # one class per object
            d["class_id"] = classes[k % 3]
        if cls_idx[i] == 4 and rng.random() < 0.5:
            d["attributes"] = {"grade": "1"}
        if layer == pred:
            d["score"] = float(rng.uniform(0.5, 1.0))
        drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": d}))
    for start in range(0, n, 20000):
        p.apply_all(drafts[start:start + 20000])
    return p


def baselines(a: arrays.AnnotationArrays, th: checks.Thresholds) -> dict[str, object]:
    """The bare numpy condition of each check on the same columns."""
    def tiny():
        w, h = a.box[:, 2] - a.box[:, 0], a.box[:, 3] - a.box[:, 1]
        return np.flatnonzero((w < th.tiny_px) | (h < th.tiny_px) | (w * h < th.tiny_area))

    def outlier():
        w, h = a.box[:, 2] - a.box[:, 0], a.box[:, 3] - a.box[:, 1]
        v = np.log(w * h)
        out = []
        for c in np.unique(a.cls):
            x = v[a.cls == c]
            med = np.median(x)
            out.append(np.abs(x - med) > th.outlier_z * np.median(np.abs(x - med)) / 0.6745)
        return out

    def duplicate():
        g = a.plane_key() * 64 + a.cls
        o = np.lexsort((a.box[:, 0], g))
        b = a.box[o]
        return [arrays.box_iou(b[s:], b[:-s]) >= th.duplicate_iou for s in range(1, 9)]

    def outside():
        size = a.asset_size[a.asset]
        return np.flatnonzero((a.box[:, 2] > size[:, 0]) | (a.box[:, 3] > size[:, 1]) | (a.z >= size[:, 2]))

    def overlap():
        key = a.plane_key()
        ia, ib = np.flatnonzero(a.cls == 0), np.flatnonzero(a.cls == 3)
        i, j = arrays.pairs_by_key(key[ia], key[ib])
        return arrays.box_iou(a.box[ia[i]], a.box[ib[j]]) > 0

    def imbalance():
        return np.bincount(a.cls[a.cls >= 0])

    def track():
        m = np.flatnonzero(a.track >= 0)
        o = m[np.lexsort((a.t[m], a.track[m]))]
        return np.flatnonzero((a.track[o][1:] == a.track[o][:-1]) & (np.diff(a.t[o]) > 1))

    def slices():
        key = (a.asset.astype(np.int64) * 4096 + a.layer) * 100_000 + a.z
        i, j = arrays.pairs_by_key(key + 1, key)
        return arrays.box_iou(a.box[i], a.box[j]) >= th.slice_iou

    def model():
        human = a.human()
        pr, hu = np.flatnonzero(~human & (a.score >= th.confidence)), np.flatnonzero(human)
        key = a.plane_key()
        i, j = arrays.pairs_by_key(key[pr], key[hu])
        return arrays.box_iou(a.box[pr[i]], a.box[hu[j]]) >= th.model_iou

    def attributes():
        return None

    return {"duplicate": duplicate, "tiny": tiny, "outlier": outlier, "outside": outside, "overlap": overlap,
            "imbalance": imbalance, "track": track, "slices": slices, "model": model, "attributes": attributes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"QC-1 on {machine()}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        p = build(Path(tmp) / "p", args.n)
        print(f"built a project of {p.counts()['annotations']} annotations in {time.perf_counter() - t0:.1f} s")
        th = checks.Thresholds(exclusive=[["class0", "class3"]])
        conn = p.conn
        sql = ("SELECT id, asset_id, layer_id, class_id, plane_axis, plane_z, plane_t, kind, x0, y0, x1, y1, "
               "track_id FROM annotations WHERE deleted = 0")
        ours, base = interleaved(lambda: arrays.load(conn),
                                 lambda: np.array([r[8:12] for r in conn.execute(sql).fetchall()]), args.repeats)
        print(row("QC-1", "load columns (one bulk query)", ours, base, "≤ 2000 ms with any check"))
        a = arrays.load(conn)
        load_ms = float(np.median(ours))
        base_fns = baselines(a, th)
        worst = 0.0
        for name, (title, fn) in checks.CHECKS.items():
            if name == "attributes":
                def b():
                    return [r for r in conn.execute("SELECT attributes FROM annotations WHERE deleted = 0 AND class_id IN "
                                                    "(SELECT id FROM classes WHERE attributes LIKE '%required%')")]
            else:
                b = base_fns[name]
            ours, base = interleaved(lambda: checks.run(p, only=[name], thresholds=th, arrays=a), b, args.repeats)
            n_found = len(checks.run(p, only=[name], thresholds=th, arrays=a))
            total = load_ms + float(np.median(ours))
            worst = max(worst, total)
            print(row("QC-1", f"{name} ({n_found} findings)", ours, base,
                      f"load + check {total:.0f} ms ≤ 2000 ms: {'ok' if total <= 2000 else 'MISS'}"))
        ours, base = interleaved(lambda: checks.run(p, thresholds=th), lambda: None, 1)
        print(f"QC-1    all checks end to end (load + every check + waivers): {np.median(ours):.0f} ms; "
              f"worst single check with its load {worst:.0f} ms (target ≤ 2000 ms)")
        p.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
