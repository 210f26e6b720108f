"""SYNC-1 pull against B32: what any store that verifies what it reads must at least do.

    python benchmarks/bench_sync_pull.py [--changed 10000] [--repeats 3]

Device A makes N changes (half creates, half edits of earlier annotations) and publishes them;
device B pulls them (verify, log, decide, role check, materialise), timed. B32, measured in the
same run on the same bytes and rows: ``json.loads`` of every line of the segments B read +
SHA-256 of those bytes + ``executemany`` of the op-log rows and the annotation rows B ended up
with, into a fresh SQLite store (WAL, synchronous=NORMAL) with the same tables, in one
transaction. Target: pull <= 3x B32. (The file-copy baseline B30 in bench_sync.py cannot be
reached by any store that verifies what it reads.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import _checks, _creates, _founder  # noqa: E402
from harness import machine  # noqa: E402

from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.sync import engine  # noqa: E402

CPU: list[float] = []          # CPU seconds of each timed part, in order: pull, B32, pull, B32, ...


def b32(segments: list[Path], store: Path, after: int, tmp: Path) -> float:
    """JSON parse + SHA-256 of the segment bytes + executemany of the same op and annotation rows."""
    src = sqlite3.connect(store)
    ops = src.execute("SELECT * FROM ops WHERE local_order > ?", (after,)).fetchall()
    entities = [r[0] for r in src.execute("SELECT entity FROM ops WHERE local_order > ? AND type LIKE 'annotation.%'",
                                          (after,))]
    anns = src.execute("SELECT * FROM annotations WHERE id IN (SELECT value FROM json_each(?))",
                       (json.dumps(sorted(set(entities))),)).fetchall()
    schema = [r[0] for r in src.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('ops', 'annotations')")]
    src.close()
    path = tmp / f"b32-{time.monotonic_ns()}.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    for sql in schema:
        raw.execute(sql.replace("AUTOINCREMENT", ""))
    blobs = [p.read_bytes() for p in segments]                  # reading is not timed (page cache)
    t0, c0 = time.perf_counter(), time.process_time()
    for data in blobs:
        hashlib.sha256(data).hexdigest()
        for line in data.splitlines():
            if line.strip():
                json.loads(line)
    raw.execute("BEGIN")
    raw.executemany(f"INSERT INTO ops VALUES ({','.join('?' * len(ops[0]))})", ops)
    raw.executemany(f"INSERT OR REPLACE INTO annotations VALUES ({','.join('?' * len(anns[0]))})", anns)
    raw.execute("COMMIT")
    dt = time.perf_counter() - t0
    CPU.append(time.process_time() - c0)
    raw.close()
    return dt


def once(n: int) -> tuple[float, float, str]:
    tmp = Path(tempfile.mkdtemp())
    try:
        a, asset = _founder(tmp, 0)
        b, _ = engine.join_share(tmp / "share", tmp / "b")
        made = _creates(a, asset, n // 2)
        engine.sync_round(a)
        engine.sync_round(b)
        seg_dir = tmp / "share" / "devices" / a.device_id / "segments"
        before = {p.name for p in seg_dir.glob("seg-*")}
        a.apply_all([OpDraft("annotation.update", ann, {"set": {"z_order": 1.0}}) for ann in made])
        _creates(a, asset, n - len(made))
        engine.sync_round(a)
        after = int(b.conn.execute("SELECT MAX(local_order) FROM ops").fetchone()[0])
        t0, c0 = time.perf_counter(), time.process_time()
        pull = engine.sync_round(b)
        t_pull = time.perf_counter() - t0
        CPU.append(time.process_time() - c0)
        applied = pull.received.get("applied", 0)
        segments = sorted(p for p in seg_dir.glob("seg-*") if p.name not in before)
        base = b32(segments, b.store_path, after, tmp)
        checks = _checks(a, b)
        a.close()
        b.close()
        return t_pull * 1000, base * 1000, f"{applied} ops applied; {checks}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changed", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(machine())
    print("load average at start:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    pulls, bases = [], []
    for _ in range(a.repeats):
        p, b, checks = once(a.changed)
        pulls.append(p)
        bases.append(b)
    pm, bm = statistics.median(pulls), statistics.median(bases)
    print(f"SYNC-1  pull of {a.changed:,} changes: {pm:8.1f} ms | B32 (parse + SHA-256 + executemany): {bm:7.1f} ms"
          f" | ratio {pm / bm:5.2f}x  (target <= 3x B32)")
    cp, cb = statistics.median(CPU[0::2]), statistics.median(CPU[1::2])
    print(f"        CPU seconds: pull {cp * 1000:8.1f} ms | B32 {cb * 1000:7.1f} ms | ratio {cp / cb:5.2f}x; "
          f"per-repeat wall ratios {', '.join(f'{p / b:.2f}' for p, b in sorted(zip(pulls, bases)))}")
    print(f"        {checks}")
    print("load average at end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
