"""PRED-1, PRED-2, REL-1: model predictions with provenance, queue order, releases.

    python benchmarks/bench_predictions.py [--n 10000] [--repeats 3]

PRED-1: import of N box predictions with score and source (provenance rows) vs the same
annotations without them (B = plain annotation.create in one transaction).
PRED-2: queue order by entropy over N predictions on N/20 assets vs B = one SELECT of the scores
joined to their annotations plus a numpy entropy and argsort (the least work the answer needs).
REL-1: release create (labels.json, manifest, hashes, op) vs B = reading the same rows through
project.annotations and one json.dumps of them.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import interleaved, machine, row  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.project import Project  # noqa: E402


def _project(root: Path, n: int) -> tuple[Project, list[str], str, str]:
    p = Project.create(root, "bench", user_name="bench")
    cls, layer = ids.new_id(), ids.new_id()
    drafts = [OpDraft("ontology.class.create", cls, {"class": {"name": "cat", "color": "#ff0000"}}),
              OpDraft("layer.create", layer, {"layer": {"name": "model", "kind": "predictions"}})]
    assets = []
    for i in range(max(1, n // 20)):
        aid = ids.new_id()
        assets.append(aid)
        drafts.append(OpDraft("asset.add", aid, {"asset": {"kind": "image", "name": f"a{i}.png", "content_hash": "sha256:" + aid,
                                                           "width": 1000, "height": 1000}},
                              local={"locator": {"reader": "raster", "path": "/nowhere.png"}}))
    p.apply_all(drafts)
    return p, assets, cls, layer


def _drafts(assets: list[str], cls: str, layer: str, n: int, provenance: bool) -> list[OpDraft]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        x, y, s = rng.uniform(0, 900), rng.uniform(0, 900), rng.random()
        ann = {"asset_id": assets[i % len(assets)], "layer_id": layer, "class_id": cls, "plane": {},
               "geometry": {"kind": "box", "xyxy": [x, y, x + 60, y + 40]}}
        if provenance:
            ann.update(score=s, source={"model": "detr", "version": "1", "score": s})
        out.append(OpDraft("annotation.create", ids.new_id(), {"annotation": ann}))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# {machine()}; N = {args.n}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-pred-"))
    counter = iter(range(10 ** 6))

    def fresh_import(provenance: bool) -> None:
        p, assets, cls, layer = _project(tmp / f"p{next(counter)}", args.n)
        drafts = _drafts(assets, cls, layer, args.n, provenance)
        import time
        t0 = time.perf_counter()
        p.apply_all(drafts)
        timings.setdefault(provenance, []).append((time.perf_counter() - t0) * 1000)
        p.close()

    timings: dict[bool, list[float]] = {}
    interleaved(lambda: fresh_import(True), lambda: fresh_import(False), args.repeats)
    print(row("PRED-1", f"import {args.n} predictions with provenance", timings[True], timings[False], "<= 1.3x"))

    from labeldesk.core import releases as R
    from labeldesk.core.assist.prioritisation import order_queue
    p, assets, cls, layer = _project(tmp / "main", args.n)
    p.apply_all(_drafts(assets, cls, layer, args.n, True))

    def baseline_entropy() -> None:
        rows = p.conn.execute("SELECT a.asset_id, p.score FROM annotations a JOIN annotation_provenance p"
                              " ON p.annotation_id = a.id WHERE a.deleted = 0").fetchall()
        index = {a: i for i, a in enumerate(assets)}
        s = np.clip(np.array([r[1] for r in rows]), 1e-12, 1 - 1e-12)
        h = -(s * np.log2(s) + (1 - s) * np.log2(1 - s))
        best = np.zeros(len(assets))
        np.maximum.at(best, np.array([index[r[0]] for r in rows]), h)
        np.argsort(-best, kind="stable")

    ours, base = interleaved(lambda: order_queue(p, "entropy"), baseline_entropy, args.repeats)
    print(row("PRED-2", f"queue order by entropy, {args.n} predictions", ours, base, "report"))

    names = iter(range(10 ** 6))

    def baseline_release() -> None:
        out = [{"id": a.id, "geometry": a.geometry.to_dict(), "attributes": a.attributes, "class_id": a.class_id}
               for aid in assets for a in p.annotations(aid, layer_id=layer)]
        json.dumps(out, sort_keys=True, separators=(",", ":"))

    ours, base = interleaved(lambda: R.create(p, f"r{next(names)}", layer="model", coco=False), baseline_release,
                             args.repeats)
    print(row("REL-1", f"release of {args.n} annotations", ours, base, "report"))
    p.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
