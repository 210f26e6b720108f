"""SYNC-2: an op published on one replica → merged on the other, through real Syncthing.

Two Syncthing instances on loopback (watcher delay 1 s, Syncthing's own floor) keep two folders in
step. Per sample: replica A draws a box and runs a sync round (the op is published as a segment);
the clock starts when that round returns; replica B syncs every 50 ms (as a user pressing F5
would, the app polls every 10 s) until the box is in its store. Baseline in the same run: the
same, with B reading A's folder directly (a network share: no sync tool in between), i.e.
labeldesk's own publish→merge path. Prints median and p95 of both and the ratio.

    python benchmarks/bench_syncthing.py [--samples 25] [--watcher-delay 1]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "core" / "sync"))

from harness import machine, pct  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.project import Project  # noqa: E402
from labeldesk.core.sync import engine  # noqa: E402
from syncthing_pair import Pair, syncthing_available  # noqa: E402
from test_syncthing_live import _enrolled  # noqa: E402


def _founder(root: Path) -> tuple[Project, str, str, str]:
    a = Project.create(root / "a", "bench", user_name="ana")
    asset, cls, bob = ids.new_id(), ids.new_id(), ids.new_id()
    a.apply_all([OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "a", "content_hash": "h",
                                                       "width": 500, "height": 500}}),
                 OpDraft("ontology.class.create", cls, {"class": {"name": "lesion"}}),
                 OpDraft("user.add", bob, {"name": "bob"}), OpDraft("role.grant", bob, {"role": "annotator"})])
    return a, asset, cls, a.my_layer_id


def _sample(a: Project, b: Project, asset: str, cls: str, layer: str, i: int, timeout: float = 60) -> float:
    ann = ids.new_id()
    a.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": asset, "layer_id": layer, "class_id": cls,
        "geometry": {"kind": "box", "xyxy": [i % 400, 5, i % 400 + 20, 25]}}}))
    engine.sync_round(a)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        engine.sync_round(b)
        if b.conn.execute("SELECT 1 FROM annotations WHERE id = ?", (ann,)).fetchone():
            return (time.perf_counter() - t0) * 1000.0
        time.sleep(0.05)
    raise TimeoutError(f"sample {i}: the op did not arrive within {timeout} s")


def direct(root: Path, samples: int) -> list[float]:
    a, asset, cls, layer = _founder(root)
    engine.init_share(a, root / "share")
    b, _ = engine.join_share(root / "share", root / "b", user="bob")
    assert _enrolled(a, "bob")
    out = [_sample(a, b, asset, cls, layer, i) for i in range(samples)]
    a.close()
    b.close()
    return out


def through_syncthing(root: Path, samples: int, delay: int) -> list[float]:
    pair = Pair(root, watcher_delay_s=delay)
    pair.start()
    try:
        a, asset, cls, layer = _founder(root)
        engine.init_share(a, pair.a.folder)
        marker = pair.b.folder / "labeldesk-project.json"
        pair.wait(lambda: marker.exists() and list((pair.b.folder / "devices").glob("*/segments/seg-*.jsonl")),
                  120, "the share to reach the second folder")
        b, _ = engine.join_share(pair.b.folder, root / "b", user="bob")
        pair.wait(lambda: _enrolled(a, "bob"), 120, "bob's key request to reach alpha")
        _sample(a, b, asset, cls, layer, 0, timeout=120)          # warm-up: index exchange settled
        out = [_sample(a, b, asset, cls, layer, i) for i in range(1, samples + 1)]
        a.close()
        b.close()
        return out
    finally:
        pair.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--watcher-delay", type=int, default=1, help="Syncthing's fsWatcherDelayS (default 1)")
    args = ap.parse_args()
    ok, why = syncthing_available()
    if not ok:
        print(f"SYNC-2 skipped: {why}")
        return 0
    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="bench-syncthing-"))
    try:
        base = direct(tmp / "direct", args.samples)
        ours = through_syncthing(tmp / "st", args.samples, args.watcher_delay)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med, bmed = statistics.median(ours), statistics.median(base)
    print(f"SYNC-2  op published → merged on the other replica ({args.samples} samples each)")
    print(f"        through Syncthing (watcher delay {args.watcher_delay} s): p50 {med:8.1f} ms  p95 {pct(ours, .95):8.1f} ms"
          f"  min {min(ours):7.1f}  max {max(ours):7.1f}")
    print(f"        baseline, same folder (no sync tool):  p50 {bmed:8.1f} ms  p95 {pct(base, .95):8.1f} ms")
    print(f"        ratio {med / bmed:6.1f}x; Syncthing's part ≈ {med - bmed:.0f} ms (its watcher delay is the floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
