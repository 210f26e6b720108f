"""DOC-1: reading an open asset's document from the store, cold (no snapshot), headless.

    python benchmarks/bench_document_read.py [--n 100000] [--repeats 7] [--dir /tmp/labeldesk-app-bench]

DOC-1  ``Document(conn, asset)`` with LABELDESK_NO_DOCUMENT_CACHE=1 on the N-polygon bench project
       (benchmarks/app_data.py), on a read-only connection of its own as the app's worker reads it,
       against B20 = a bare ``SELECT`` of the same columns of the same rows with ``fetchall`` and
       the numpy decode of bounds and vertex blobs (what any row-by-row read pays before it builds
       anything). The row-by-row document read (``Document._load_rows_by_row``, the read before
       issue 11) runs in the same rounds. Interleaved; wall and CPU time (CPU time is steadier on a
       shared machine); the load average is printed.
       Then (``--fresh N``, default 5) each read once in a fresh process, as the app's first open
       does (the heap is new: a read that builds millions of objects pays for growing it), with
       the process's peak RSS.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app_data import DEFAULT_DIR, prepare  # noqa: E402
from harness import machine  # noqa: E402

from labeldesk.core import document as document_module  # noqa: E402
from labeldesk.core.document import Document  # noqa: E402
from labeldesk.core.store import connection  # noqa: E402


class RowByRow(Document):
    def _load_rows(self) -> None:
        self._load_rows_by_row()


def bare_select(conn, asset_id: str) -> int:
    """B20: the same rows, one tuple each, and the numpy arrays a document needs from them."""
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute("BEGIN")
    try:
        rows = cur.execute(f"SELECT {document_module._COLUMNS}" + document_module._LIVE, (asset_id,)).fetchall()
    finally:
        cur.execute("COMMIT")
    cols = list(zip(*rows))
    bounds = np.column_stack(cols[7:11])
    buf = np.frombuffer(b"".join(v for v in cols[17] if v is not None), "<f8").reshape(-1, 2)
    return len(bounds) + len(buf)


def measure(fn, repeats_out: dict, key: str) -> None:
    w, c = time.perf_counter(), time.process_time()
    fn()
    repeats_out.setdefault(key, []).append(((time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000))


def runs_for(conn, asset_id: str) -> dict:
    return {
        "DOC-1 Document cold read": lambda: Document(conn, asset_id, own_connection=True),
        "row by row (before)": lambda: RowByRow(conn, asset_id, own_connection=True),
        "B20 bare SELECT + numpy decode": lambda: bare_select(conn, asset_id),
    }


def open_store(db: Path):
    conn = connection.connect(db, read_only=True)
    asset_id = conn.execute("SELECT asset_id, COUNT(*) AS n FROM annotations WHERE deleted = 0"
                            " GROUP BY asset_id ORDER BY n DESC LIMIT 1").fetchone()[0]
    return conn, asset_id


def child(db: Path, key: str) -> None:
    """One read in this (fresh) process: prints wall ms, CPU ms and peak RSS bytes."""
    conn, asset_id = open_store(db)
    fn = runs_for(conn, asset_id)[key]
    w, c = time.perf_counter(), time.process_time()
    fn()
    print((time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000, peak_rss())


def peak_rss() -> float:
    """This process's peak RSS in bytes: VmHWM (ru_maxrss would count the parent's size at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) * 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--fresh", type=int, default=5, help="reads of each kind in a fresh process")
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ["LABELDESK_NO_DOCUMENT_CACHE"] = "1"
    db = prepare(args.n, args.dir) / "project" / "project.labeldesk"
    if args.child:
        child(db, args.child)
        return 0
    conn, asset_id = open_store(db)
    print(machine())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = runs_for(conn, asset_id)
    doc = Document(conn, asset_id, own_connection=True)
    assert doc.count == args.n and not doc.from_snapshot, (doc.count, args.n)
    del doc
    for fn in runs.values():            # warm the page cache and the code
        fn()
    out: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            measure(fn, out, key)
    base = out["B20 bare SELECT + numpy decode"]
    bw, bc = statistics.median(w for w, _ in base), statistics.median(c for _, c in base)
    for key, samples in out.items():
        w = statistics.median(x for x, _ in samples)
        c = statistics.median(x for _, x in samples)
        print(f"{key:<34} N={args.n}: wall p50 {w:8.1f} ms (min {min(x for x, _ in samples):7.1f})  "
              f"cpu p50 {c:8.1f} ms | ratio to B20 wall {w / bw:5.2f}x cpu {c / bc:5.2f}x")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    conn.close()
    fresh: dict[str, list[list[float]]] = {}
    for _ in range(args.fresh):
        for key in runs:
            out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--dir", str(args.dir),
                                  "--child", key], capture_output=True, text=True, check=True)
            fresh.setdefault(key, []).append([float(x) for x in out.stdout.split()])
    if fresh:
        bw = statistics.median(v[0] for v in fresh["B20 bare SELECT + numpy decode"])
        bc = statistics.median(v[1] for v in fresh["B20 bare SELECT + numpy decode"])
        for key, samples in fresh.items():
            w, c = statistics.median(v[0] for v in samples), statistics.median(v[1] for v in samples)
            rss = max(v[2] for v in samples) / 2 ** 20
            print(f"{key:<34} fresh process: wall p50 {w:8.1f} ms  cpu p50 {c:8.1f} ms  peak RSS {rss:6.0f} MiB"
                  f" | ratio to B20 wall {w / bw:5.2f}x cpu {c / bc:5.2f}x")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
