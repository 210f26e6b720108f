"""DB-1 (commit latency per edit) and DB-2 (kill -9 during edit bursts).

    python benchmarks/bench_db.py [--edits 2000] [--runs 20] [--rounds 1] [--pace 0] [--floor] [--pages]

DB-1 times ``Project.apply`` of one polygon edit (validation, clipping, undo, hash-chained log,
outbox, materialised row: one transaction) against a bare one-row ``UPDATE`` commit on a store
with SQLite's defaults (WAL, synchronous=NORMAL, automatic checkpoints), interleaved edit by
edit. The project's checkpoints run on its checkpoint thread (store/checkpoint.py); the line
after the figures says how many it ran and how large the WAL grew. ``--rounds`` repeats DB-1 on
a fresh project and prints each round (the machine may be shared: compare ratios). ``--pace MS``
leaves MS of idle time after each edit and its baseline (both timed as before): the pace of a
person editing, when the checkpoints run between edits. ``--floor`` adds the floor: each edit's SQL
statements, recorded on a twin project, replayed with the same values on a bare connection.
``--pages`` counts the WAL frames one edit's commit writes, by the b-tree (table or index) each
page belongs to (read from the WAL file's frame headers and SQLite's ``dbstat``).
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sqlite3
import struct
from collections import Counter
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, pct, row  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.project import Project  # noqa: E402
from labeldesk.core.store.connection import connect  # noqa: E402
try:                                              # (absent before the checkpoint thread: run on an old tree)
    from labeldesk.core.store.checkpoint import wal_size  # noqa: E402
except ImportError:                                # pragma: no cover
    def wal_size(store: Path) -> int:
        return os.stat(str(store) + "-wal").st_size if os.path.exists(str(store) + "-wal") else 0


class Recorder:
    """The project's connection, recording every statement and its values (the floor pass)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.__dict__["_conn"] = conn
        self.__dict__["log"] = []

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.log.append((sql, tuple(params) if not isinstance(params, dict) else params))
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self.log.append((sql, rows, "many"))
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)


def edit_project(root: Path) -> tuple[Project, str, list[list[float]]]:
    p = Project.create(root)
    asset = ids.new_id()
    p.apply(OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "a", "content_hash": "h",
                                                    "width": 4000, "height": 3000}}))
    layer = p.my_layer_id
    ann = ids.new_id()
    shell = [[100 + 50 * math.cos(i / 32 * 6.283), 100 + 50 * math.sin(i / 32 * 6.283)] for i in range(32)]
    p.apply(OpDraft("annotation.create", ann, {"annotation": {"asset_id": asset, "layer_id": layer,
                                                              "geometry": {"kind": "polygon", "shell": shell}}}))
    return p, ann, shell


def replay(conn: sqlite3.Connection, log: list[Any]) -> None:
    """The statements of one edit, with their values, on a bare connection (no Python between)."""
    for entry in log:
        if len(entry) == 3:
            conn.executemany(entry[0], entry[1])
        else:
            conn.execute(entry[0], entry[1]).fetchone()


def db1(edits: int, pace: float = 0.0, floor: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp())
    p, ann, shell = edit_project(tmp / "p")
    if floor:
        # The floor: a twin project makes the same edit with its connection recording the SQL; the
        # recorded statements are replayed, with the very same values, on a copy of the twin's
        # store (same schema, indexes, triggers and pragmas; no checkpoints at all), timed edit by
        # edit next to ours and the baseline: what one edit costs in SQLite with no Python in it.
        twin, twin_ann, _ = edit_project(tmp / "twin")
        if getattr(twin, "_checkpointer", None) is not None:
            twin._checkpointer.close()      # (no thread of the twin's beside ours: it checkpoints untimed)
        bare = connect(tmp / "floor.db")
        twin.conn.backup(bare)
        bare.execute("PRAGMA wal_autocheckpoint = 0")
        twin.conn = Recorder(twin.conn)  # type: ignore[assignment]
        floor_ms: list[float] = []
    raw = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pts BLOB)")
    raw.execute("INSERT INTO t VALUES (1, ?)", (b"x" * 256,))
    ours, base = [], []
    top_wal = 0
    for i in range(edits):
        moved = [[x + (i % 3), y] for x, y in shell]
        t0 = time.perf_counter()
        p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "polygon", "shell": moved}}}))
        ours.append((time.perf_counter() - t0) * 1000)
        if i % 64 == 0:
            top_wal = max(top_wal, wal_size(p.store_path))
        t0 = time.perf_counter()
        raw.execute("BEGIN")
        raw.execute("UPDATE t SET pts = ? WHERE id = 1", (bytes([i % 256]) * 256,))
        raw.execute("COMMIT")
        base.append((time.perf_counter() - t0) * 1000)
        if floor:
            twin.conn.log.clear()
            twin.apply(OpDraft("annotation.update", twin_ann, {"set": {"geometry": {"kind": "polygon", "shell": moved}}}))
            t0 = time.perf_counter()
            replay(bare, twin.conn.log)
            floor_ms.append((time.perf_counter() - t0) * 1000)
        if pace:
            time.sleep(pace / 1000)
    what = f"{edits} edits" + (f", {pace:g} ms apart" if pace else "")
    print(row("DB-1", f"edit commit (polygon update), {what}", ours, base, "p99 <= 3x B26"))
    print(f"        p99 ours {pct(ours, .99):.3f} ms, p99 base {pct(base, .99):.3f} ms, "
          f"p99 ratio {pct(ours, .99) / pct(base, .99):.1f}x; max ours {max(ours):.1f} ms, base {max(base):.1f} ms")
    if floor:
        print(row("DB-1", "floor: the same SQL, same values, replayed bare", floor_ms, base, "-"))
        print(f"        p99 floor {pct(floor_ms, .99):.3f} ms, p99 ratio floor/base {pct(floor_ms, .99) / pct(base, .99):.1f}x; "
              f"ours/floor p50 {pct(ours, .5) / pct(floor_ms, .5):.1f}x, p99 {pct(ours, .99) / pct(floor_ms, .99):.1f}x; "
              f"{len(twin.conn.log)} statements per edit")
        twin.conn = twin.conn._conn
        twin.close()
        bare.close()
    c = getattr(p, "_checkpointer", None)
    if c is None:
        print(f"        largest WAL seen {top_wal / 2**20:.1f} MiB; load average {os.getloadavg()[0]:.2f}")
    else:
        print(f"        checkpoints: {c.checkpoints} on the checkpoint thread, {c.inline_checkpoints} by the writer "
              f"(WAL at its hard limit during the burst), {getattr(c, 'syncs', 0)} WAL flushes by the thread; "
              f"largest WAL seen {top_wal / 2**20:.1f} MiB; load average {os.getloadavg()[0]:.2f}")
    p.close()


def pages(edits: int = 200) -> None:
    """WAL frames per edit and the b-tree each frame's page belongs to (no checkpoint meanwhile)."""
    p, ann, shell = edit_project(Path(tempfile.mkdtemp()) / "p")
    if getattr(p, "_checkpointer", None) is not None:
        p._checkpointer.close()
        p._checkpointer = None
    p.conn.execute("PRAGMA wal_autocheckpoint = 0")

    def edit(i: int) -> None:
        p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {
            "kind": "polygon", "shell": [[x + i % 3, y] for x, y in shell]}}}))
    for i in range(20):                                  # (warm: the kept head, the rows)
        edit(i)
    p.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(edits):
        edit(i)
    data = Path(str(p.store_path) + "-wal").read_bytes()
    size = struct.unpack(">I", data[8:12])[0]
    frames = [struct.unpack(">I", data[32 + k * (24 + size):36 + k * (24 + size)])[0]
              for k in range((len(data) - 32) // (24 + size))]
    owner = dict((page, name) for name, page in p.conn.execute("SELECT name, pageno FROM dbstat"))
    by = Counter(owner.get(f, "?") for f in frames)
    print(f"DB-1    WAL pages per edit: {len(frames) / edits:.2f} ("
          + ", ".join(f"{name} {n / edits:.2f}" for name, n in by.most_common()) + ")")
    p.close()


WRITER = r"""
import sys
from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
p = Project.open(sys.argv[1]); asset = p.assets()[0].id; layer = p.my_layer_id
print("ready", flush=True)
while True:
    a = p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {"asset_id": asset,
        "layer_id": layer, "geometry": {"kind": "box", "xyxy": [1, 1, 20, 20]}}}))
    print(a.op.op_id, flush=True)
"""


def db2(runs: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "p"
    with Project.create(root) as p:
        p.apply(OpDraft("asset.add", ids.new_id(), {"asset": {"kind": "image", "name": "a",
                                                               "content_hash": "h", "width": 64, "height": 64}}))
    corrupt = lost = committed_total = 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for i in range(runs):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True, env=env)
        proc.stdout.readline()
        committed = []
        end = time.monotonic() + 0.05 + (i % 7) * 0.03
        while time.monotonic() < end:
            committed.append(proc.stdout.readline().strip())
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        committed += [c for c in rest.splitlines() if c]
        committed_total += len(committed)
        with Project.open(root) as p:
            if p.integrity_check() != "ok" or not p.verify_chain().ok:
                corrupt += 1
            stored = {o.op_id for o in p.ops()}
            lost += sum(1 for c in committed if c not in stored)
    print(f"DB-2    kill -9 during edit bursts: {runs} runs, {committed_total} committed ops, "
          f"{corrupt} corrupted stores, {lost} committed ops lost  (target 0 corrupted, <= last tx lost)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--floor", action="store_true",
                    help="also replay each edit's SQL statements, with the same values, on a bare connection "
                         "(the floor of what one edit can cost with every statement kept)")
    ap.add_argument("--pages", action="store_true",
                    help="also count the WAL pages one edit writes, by table and index")
    ap.add_argument("--pace", type=float, default=0.0,
                    help="ms of idle time after each edit and its baseline UPDATE (a person editing; default: none)")
    a = ap.parse_args()
    print(machine(), f"load average {os.getloadavg()[0]:.2f}")
    if a.pages:
        pages()
    for _ in range(a.rounds):
        db1(a.edits, a.pace, a.floor)
    db2(a.runs)
