"""MET-1 (greedy box matching between two layers), MET-2 (HD95 of 3-D masks) and MET-3 (a whole
project comparison), each against a baseline measured in the same run.

    python benchmarks/bench_metrics.py [--boxes 2000] [--big 50000] [--side 96] [--repeats 5]

MET-1 baseline: what CVAT does, pycocotools.mask.iou on the full N x M box matrix, then the same
greedy assignment over the sorted matrix. MET-2 baseline: brute-force nearest surface point
(chunked numpy distances between the two surface point sets). MET-3 prints the time per
annotation of ``compare_project`` (no baseline exists; the ratio is against MET-1's per-pair cost).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from harness import interleaved, machine, row  # noqa: E402

from labeldesk.core.geometry import Box  # noqa: E402
from labeldesk.core.model import Annotation, Plane  # noqa: E402
from labeldesk.core.review.masks import compare_masks, surface  # noqa: E402
from labeldesk.core.review.matching import match_plane  # noqa: E402


def _layers(n: int, seed: int = 1) -> tuple[list[Annotation], list[Annotation]]:
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(n) * 40)
    xy = rng.uniform(0, side, (n, 2))
    wh = rng.uniform(8, 30, (n, 2))
    jitter = rng.normal(0, 2, (n, 4))
    plane = Plane()
    a = [Annotation(f"a{i}", "x", "A", "c", plane, Box(x, y, x + w, y + h))
         for i, ((x, y), (w, h)) in enumerate(zip(xy, wh))]
    b = [Annotation(f"b{i}", "x", "B", "c", plane,
                    Box(x + j0, y + j1, x + w + j0 + abs(j2) + 1, y + h + j1 + abs(j3) + 1))
         for i, ((x, y), (w, h), (j0, j1, j2, j3)) in enumerate(zip(xy, wh, jitter))]
    return a, b


def _coco_greedy(a: list[Annotation], b: list[Annotation], t: float) -> int:
    from pycocotools import mask as cmask
    da = np.array([[g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0] for g in (x.geometry for x in a)])
    db = np.array([[g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0] for g in (x.geometry for x in b)])
    ious = cmask.iou(da, db, [0] * len(db))
    flat = np.argsort(-ious, axis=None, kind="stable")
    used_a, used_b, n = set(), set(), 0
    for f in flat:
        i, j = divmod(int(f), len(b))
        if ious[i, j] < t:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            n += 1
    return n


def met1(n: int, big: int, repeats: int) -> None:
    a, b = _layers(n)
    ours_n = len(match_plane(a, b, 0.5).matches)
    base_n = _coco_greedy(a, b, 0.5)
    print(f"MET-1   {n} boxes per layer: ours {ours_n} matches, pycocotools+greedy {base_n}")
    ours, base = interleaved(lambda: match_plane(a, b, 0.5), lambda: _coco_greedy(a, b, 0.5), repeats)
    print(row("MET-1", f"greedy matching, {n} x {n} boxes", ours, base, "<= 1x"))
    a, b = _layers(big, seed=2)
    t0 = time.perf_counter()
    r = match_plane(a, b, 0.5)
    dt = (time.perf_counter() - t0) * 1000
    print(f"MET-1b  {big} x {big} boxes (grid index; the full-matrix baseline would need "
          f"{big * big * 8 / 1e9:.0f} GB): {dt:.0f} ms, {len(r.matches)} matches")


def _sphere(side: int, shift: float) -> np.ndarray:
    zz, yy, xx = np.indices((side, side, side)).astype(float)
    c = side / 2
    return (zz - c - shift) ** 2 + (yy - c) ** 2 + (xx - c) ** 2 <= (side / 3) ** 2


def _brute_hd95(a: np.ndarray, b: np.ndarray, spacing: tuple[float, ...]) -> float:
    pa = np.argwhere(surface(a)) * np.asarray(spacing)
    pb = np.argwhere(surface(b)) * np.asarray(spacing)

    def directed(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        out = np.empty(len(p))
        for k in range(0, len(p), 512):
            chunk = p[k:k + 512]
            out[k:k + 512] = np.sqrt(((chunk[:, None, :] - q[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
        return out
    return float(np.percentile(np.concatenate([directed(pa, pb), directed(pb, pa)]), 95))


def met2(side: int, repeats: int) -> None:
    a, b = _sphere(side, 0), _sphere(side, 3)
    spacing = (2.0, 0.8, 0.8)
    ours_v, base_v = compare_masks(a, b, spacing).hd95, _brute_hd95(a, b, spacing)
    print(f"MET-2   sphere {side}^3 vs shifted: HD95 ours {ours_v:.4f} mm, brute force {base_v:.4f} mm")
    ours, base = interleaved(lambda: compare_masks(a, b, spacing), lambda: _brute_hd95(a, b, spacing), repeats)
    print(row("MET-2", f"Dice+HD95 3-D {side}^3, anisotropic", ours, base, "<= 1x"))


def met3(assets: int, per_asset: int) -> None:
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    from labeldesk.core.project import Project
    from labeldesk.core.review.comparison import compare_project, queue_by_agreement
    tmp = Path(tempfile.mkdtemp())
    p = Project.create(tmp / "p", user_name="alice")
    uid, bob = ids.new_id(), ids.new_id()
    p.apply_all([OpDraft("user.add", uid, {"name": "bob"}),
                 OpDraft("layer.create", bob, {"layer": {"name": "bob", "owner": uid}})])
    alice = p.my_layer_id
    drafts = []
    rng = np.random.default_rng(4)
    for _ in range(assets):
        aid = ids.new_id()
        drafts.append(OpDraft("asset.add", aid, {"asset": {"kind": "image", "name": aid[-6:], "content_hash": aid,
                                                             "width": 1000, "height": 1000}}))
        for _k in range(per_asset):
            x, y = rng.uniform(0, 900, 2)
            for layer, d in ((alice, 0.0), (bob, rng.normal(0, 3))):
                if layer == bob and rng.random() < 0.1:
                    continue          # bob missed one object in ten
                drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                    "asset_id": aid, "layer_id": layer, "geometry": {"kind": "box", "xyxy": [x + d, y, x + 40 + d, y + 30]}}}))
    p.apply_all(drafts)
    n = sum(1 for d in drafts if d.type == "annotation.create")
    t0 = time.perf_counter()
    rep = compare_project(p)
    q = queue_by_agreement(p, report=rep)
    dt = (time.perf_counter() - t0) * 1000
    print(f"MET-3   compare_project + queue, {assets} assets, {n} annotations: {dt:.0f} ms "
          f"({dt / n * 1000:.1f} us per annotation), {len(q)} queue entries")
    p.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--boxes", type=int, default=2000)
    ap.add_argument("--big", type=int, default=50000)
    ap.add_argument("--side", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--assets", type=int, default=200)
    ap.add_argument("--per-asset", type=int, default=25)
    args = ap.parse_args()
    print(machine())
    met1(args.boxes, args.big, args.repeats)
    met2(args.side, args.repeats)
    met3(args.assets, args.per_asset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
