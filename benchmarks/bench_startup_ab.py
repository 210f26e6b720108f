"""Start-up before/after (issue 11): bench_app.py's own child programs (B31, APP-1's window shown,
APP-3's first complete paint of the 10k image, snapshot and cold) run alternately from two trees,
sample by sample, each a fresh process; per sample the wall time (the child's own stamps) and the
child's CPU seconds (user + system, all threads: steadier than wall time on a shared machine).

    python benchmarks/bench_startup_ab.py --before /path/to/older/checkout [--samples 10]

The older tree is any checkout of labeldesk (e.g. `git worktree add /tmp/old <commit>`). Data:
bench_app.py's 10k project (made when missing) and a private copy of the small demo project.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_app as B  # noqa: E402
from app_data import DEFAULT_DIR, prepare  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(code: str, tree: Path, pycache: Path, *args: str, cold: bool = False) -> tuple[dict, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(tree), "T0": repr(time.time()),
           "PYTHONPYCACHEPREFIX": str(pycache), **({"LABELDESK_NO_DOCUMENT_CACHE": "1"} if cold else {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # run in the tree: `python -c` puts the working directory first on sys.path
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, cwd=tree)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(f"child failed ({tree}): {out.stderr[-2000:]}")
    values: dict[str, float] = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        try:
            values.setdefault(key, float(value))
        except ValueError:
            pass
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return values, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, required=True, help="the older labeldesk tree")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where benchmark data is cached")
    a = ap.parse_args()
    trees = {"before": a.before.resolve(), "after": ROOT}
    pycache = a.dir / "pycache"
    small = a.dir / "small-demo"
    if not (small / "project.labeldesk").exists():
        shutil.rmtree(small, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "labeldesk", "demo", "--no-gui", "--small", "--dir", str(small)],
                       check=True, capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    big = str(prepare(10000, a.dir) / "project")
    print(B.machine())
    print("load average at start:", " ".join(f"{x:.2f}" for x in os.getloadavg()), time.strftime("%H:%M:%S"))
    for tree in trees.values():                  # bytecode, page cache, the document snapshot
        run(B.BARE, tree, pycache)
        run(B.OURS_SHOWN, tree, pycache, str(small))
        run(B.OURS_PAINT, tree, pycache, big, "10000", "0")
    rows: dict[str, list[float]] = {}
    for i in range(a.samples):
        v, cpu = run(B.BARE, ROOT, pycache)
        rows.setdefault("B31 wall", []).append(v["shown"])
        rows.setdefault("B31 cpu", []).append(cpu)
        order = list(trees.items()) if i % 2 == 0 else list(reversed(trees.items()))
        for name, tree in order:
            v, cpu = run(B.OURS_SHOWN, tree, pycache, str(small))
            rows.setdefault(f"APP-1 {name} wall", []).append(v["shown"])
            rows.setdefault(f"APP-1 {name} cpu", []).append(cpu)
            for label, cold in (("snapshot", False), ("cold", True)):
                v, cpu = run(B.OURS_PAINT, tree, pycache, big, "10000", "0", cold=cold)
                rows.setdefault(f"APP-3 10k {label} {name} wall", []).append(v["painted"])
                rows.setdefault(f"APP-3 10k {label} {name} cpu", []).append(cpu)
    print("load average at end:", " ".join(f"{x:.2f}" for x in os.getloadavg()), time.strftime("%H:%M:%S"))
    for key in rows:
        v = rows[key]
        print(f"{key:<30} p50 {1000 * statistics.median(v):7.0f} ms  min {1000 * min(v):7.0f} ms")


if __name__ == "__main__":
    main()
