"""SYNC-1 (push / pull 10k changed annotations through the shared folder), SYNC-M (merge of 100k
foreign ops), SYNC-B (bootstrap of a new device by `share join`; with --snapshot: from a snapshot + tails).

    python benchmarks/bench_sync.py [--changed 10000] [--merge 100000] [--bootstrap 0] [--snapshot 0]

Baselines, measured in the same run: B30 = ``shutil.copyfile`` to the share of a file as large as
the segments the round wrote (SYNC-1); a plain SQLite ``executemany`` of the same op rows into a
table of the same columns in one transaction (SYNC-M, SYNC-B). After the timing each test checks
the audit hash chain of the replicas (and, for SYNC-1, that both hold the same annotations).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.project import Project  # noqa: E402
from labeldesk.core.store import repo  # noqa: E402
from labeldesk.core.sync import engine, trust  # noqa: E402
from labeldesk.core.sync.layout import ShareLayout  # noqa: E402


def _founder(tmp: Path, n: int) -> tuple[Project, str]:
    a = Project.create(tmp / "a", "bench", user_name="alice")
    asset = ids.new_id()
    a.apply(OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "x", "content_hash": "h",
                                                   "width": 4000, "height": 3000}}))
    engine.init_share(a, tmp / "share")
    _creates(a, asset, n)
    return a, asset


def _creates(p: Project, asset: str, n: int) -> list[str]:
    layer, made = p.my_layer_id, []
    for k in range(0, n, 5000):
        drafts = []
        for i in range(k, min(n, k + 5000)):
            x, y = 10 + (i * 37) % 3900, 10 + (i * 91) % 2900
            made.append(ids.new_id())
            drafts.append(OpDraft("annotation.create", made[-1], {"annotation": {
                "asset_id": asset, "layer_id": layer,
                "geometry": {"kind": "polygon", "shell": [[x, y], [x + 40, y + 3], [x + 35, y + 30], [x + 2, y + 25]]}}}))
        p.apply_all(drafts)
    return made


def _segment_bytes(share: Path, dev: str, names: set[str] | None = None) -> int:
    return sum(p.stat().st_size for p in (share / "devices" / dev / "segments").glob("seg-*")
               if names is None or p.name not in names)


def _copy_baseline(share: Path, size: int) -> float:
    src = share.parent / "change-file.bin"
    src.write_bytes(b"x" * size)
    best = float("inf")
    for i in range(3):
        dest = share / f"baseline-{i}.bin"
        t0 = time.perf_counter()
        shutil.copyfile(src, dest)
        best = min(best, time.perf_counter() - t0)
        dest.unlink()
    return best


def sync1(n: int, *, signed: bool = True, quiet: bool = False) -> tuple[float, float, float, float]:
    tmp = Path(tempfile.mkdtemp())
    if signed:
        a, asset = _founder(tmp, 0)
    else:               # a share made before signing keys: nothing signed, nothing verified
        from labeldesk.core.sync import enrolment
        real = enrolment.ensure_own_key
        enrolment.ensure_own_key = lambda project, passphrase=None: (None, False)
        try:
            a, asset = _founder(tmp, 0)
        finally:
            enrolment.ensure_own_key = real
    b, _ = engine.join_share(tmp / "share", tmp / "b")
    made = _creates(a, asset, n // 2)
    engine.sync_round(a)
    engine.sync_round(b)
    before = {p.name for p in (tmp / "share" / "devices" / a.device_id / "segments").glob("seg-*")}
    edits = [OpDraft("annotation.update", ann, {"set": {"z_order": 1.0}}) for ann in made]
    a.apply_all(edits)
    _creates(a, asset, n - len(made))
    t0, c0 = time.perf_counter(), time.process_time()
    push = engine.sync_round(a)
    t_push, c_push = time.perf_counter() - t0, time.process_time() - c0
    size = _segment_bytes(tmp / "share", a.device_id, before)
    t0, c0 = time.perf_counter(), time.process_time()
    pull = engine.sync_round(b)
    t_pull, c_pull = time.perf_counter() - t0, time.process_time() - c0
    base = _copy_baseline(tmp / "share", size)
    signed_now = all(p.name.endswith(".jsonl") and b'"key":' in p.read_bytes()[:2000]
                     for p in (tmp / "share" / "devices" / a.device_id / "segments").glob("seg-*"))
    assert signed_now == signed, "the share is not in the signing mode asked for"
    if quiet:
        a.close()
        b.close()
        shutil.rmtree(tmp, ignore_errors=True)
        return t_push, t_pull, c_push, c_pull
    print(f"SYNC-1  push {push.published_ops} changed annotations: {t_push * 1000:8.1f} ms | pull "
          f"{pull.received.get('applied', 0)}: {t_pull * 1000:8.1f} ms | B30 copyfile {size / 1e6:.1f} MB: "
          f"{base * 1000:6.2f} ms | ratio push {t_push / base:6.0f}x, pull {t_pull / base:6.0f}x  (target <= 2x)")
    on_share = [p.name for p in (tmp / "share").rglob("*") if p.suffix in (".labeldesk", ".db", ".sqlite")]
    print(f"        SQLite files on the share: {len(on_share)}; {_checks(a, b)}")
    a.close()
    b.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return t_push, t_pull, c_push, c_pull


def signing_cost(n: int, repeats: int) -> None:
    """SYNC-1 push and pull with every segment signed and verified (Ed25519, one signature per
    segment) against the same rounds on an unsigned share (baseline, same run, interleaved);
    best of ``repeats`` each. Also the cryptography alone: one sign and one verify."""
    from labeldesk.core.sync import keys
    signed, unsigned = [], []
    for _ in range(repeats):
        unsigned.append(sync1(n, signed=False, quiet=True))
        signed.append(sync1(n, signed=True, quiet=True))
    sp, sl, csp, csl = (min(t[i] for t in signed) for i in range(4))
    up, ul, cup, cul = (min(t[i] for t in unsigned) for i in range(4))
    info = keys.generate("bench", None, "bench")
    digest = "ab" * 32
    t0 = time.perf_counter()
    for _ in range(200):
        sig = keys.sign(info.key_id, keys.SEGMENT_CONTEXT, digest)
    t_sign = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter()
    for _ in range(200):
        keys.verify(info.public_key, sig, keys.SEGMENT_CONTEXT, digest)
    t_verify = (time.perf_counter() - t0) / 200
    for suffix in (".key", ".json"):
        (keys.keys_dir() / f"{info.key_id}{suffix}").unlink()
    print(f"SIGN-1  SYNC-1 {n} ops, best of {repeats}: push signed {sp * 1000:7.1f} ms vs unsigned {up * 1000:7.1f} ms "
          f"(ratio {sp / up:4.2f}x) | pull verified {sl * 1000:7.1f} ms vs unsigned {ul * 1000:7.1f} ms "
          f"(ratio {sl / ul:4.2f}x)  (target <= 1.1x)")
    print(f"        CPU time of this process: push {csp * 1000:7.1f} vs {cup * 1000:7.1f} ms ({csp / cup:4.2f}x), "
          f"pull {csl * 1000:7.1f} vs {cul * 1000:7.1f} ms ({csl / cul:4.2f}x)")
    print(f"        one Ed25519 signature {t_sign * 1e6:5.0f} us, one verification {t_verify * 1e6:5.0f} us "
          f"(one each per segment of up to 5,000 ops / 4 MiB)")


def _checks(*projects: Project) -> str:
    """After the timing: the audit chain of every replica, and whether the replicas agree."""
    chains = [p.verify_chain() for p in projects]
    text = "audit chain " + ("ok on every replica" if all(c.ok for c in chains) else
                             "BROKEN: " + "; ".join(f"{c.first_bad} {c.problem}" for c in chains if not c.ok))
    if len(projects) > 1:
        rows = [sorted(map(tuple, p.conn.execute("SELECT id, revision, z_order, deleted FROM annotations")))
                for p in projects]
        text += ", annotations " + ("identical" if all(r == rows[0] for r in rows) else "DIFFER") + " on both"
    return text


def _executemany_baseline(store: Path, tmp: Path) -> float:
    src = sqlite3.connect(store)
    rows = src.execute("SELECT op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload, reason,"
                       " op_hash, chain_hash FROM ops").fetchall()
    src.close()
    raw = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("CREATE TABLE ops (local_order INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT UNIQUE, dev TEXT, seq INT,"
                " hlc_ms INT, hlc_ctr INT, wall TEXT, user TEXT, type TEXT, entity TEXT, base TEXT, payload TEXT,"
                " reason TEXT, op_hash TEXT, chain_hash TEXT, UNIQUE (dev, seq))")
    t0 = time.perf_counter()
    raw.execute("BEGIN")
    raw.executemany("INSERT INTO ops (op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload,"
                    " reason, op_hash, chain_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    raw.execute("COMMIT")
    dt = time.perf_counter() - t0
    raw.close()
    return dt


def merge(n: int, label: str) -> None:
    tmp = Path(tempfile.mkdtemp())
    a, _ = _founder(tmp, n)
    engine.sync_round(a)
    # a new replica as `share join` makes it (the founder's key pinned from the share's marker:
    # without it every signed segment waits for an enrolment and nothing is merged), then the
    # rounds of `sync_round`, each step timed on its own
    b = Project.create(tmp / "b", None, project_id=a.id, founder=False)
    with b.transaction() as conn:
        repo.set_meta(conn, engine.SHARE_KEY, str(tmp / "share"))
        trust.pin_root(conn, trust.marker_key(ShareLayout(tmp / "share").read_marker()))
    t_io = t_db = 0.0
    received = 0
    problems: list[str] = []
    t_all = time.perf_counter()
    with engine._bulk():                         # as sync_round: no cyclic GC during the round
        while True:                              # the bootstrap: rounds of at most 100k ops
            plan = engine.prepare(b)
            t0 = time.perf_counter()
            ex = engine.exchange(plan)
            t_io += time.perf_counter() - t0
            t0 = time.perf_counter()
            rep = engine.commit(b, plan, ex)
            t_db += time.perf_counter() - t0
            received += rep.received.get("applied", 0)
            problems += rep.problems
            if not ex.more:
                break
    t_all = time.perf_counter() - t_all
    if received < n:
        raise SystemExit(f"{label}: only {received} of {n} foreign ops were merged ({'; '.join(problems) or 'no problem reported'})"
                         " -- the figure would measure nothing")
    base = _executemany_baseline(tmp / "b" / "project.labeldesk", tmp)
    print(f"{label:<7} {received} foreign ops: {t_all:7.2f} s ({received / t_all:8.0f} ops/s; share read+verify "
          f"{t_io:5.2f} s, merge {t_db:6.2f} s) | executemany of the same rows {base:5.2f} s | ratio "
          f"{t_db / base:5.1f}x merge, {t_all / base:5.1f}x total")
    print(f"        {_checks(b)}")
    a.close()
    b.close()
    shutil.rmtree(tmp, ignore_errors=True)


def bootstrap_from_snapshot(n: int, per_segment: int = 50) -> None:
    """SYNC-B (snapshot): ``share join`` of a share holding n ops in segments of ``per_segment`` ops,
    a snapshot of them and a 1% tail, against ``share join`` of the same share without the snapshot
    (baseline, same run)."""
    from labeldesk.core.sync import snapshot
    tmp = Path(tempfile.mkdtemp())
    a, asset = _founder(tmp, 0)
    for _ in range(0, n, per_segment):        # a long-lived share: one small segment per sync round
        _creates(a, asset, per_segment)
        engine.sync_round(a)
    snapshot.write(a)
    _creates(a, asset, max(1, n // 100))
    engine.sync_round(a)
    t0 = time.perf_counter()
    s, _ = engine.join_share(tmp / "share", tmp / "s")
    t_snap = time.perf_counter() - t0
    used = s.conn.execute("SELECT value FROM meta WHERE key = 'sync.snapshot'").fetchone()
    (tmp / "share" / "snapshots").rename(tmp / "snapshots-aside")
    t0 = time.perf_counter()
    g, _ = engine.join_share(tmp / "share", tmp / "g")
    t_segs = time.perf_counter() - t0
    same = s.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0] == g.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
    from labeldesk.core.sync.status import state_digest
    print(f"SYNC-B  join of {n} ops in {n // per_segment} segments + {max(1, n // 100)} ops: from a snapshot + tails {t_snap:6.2f} s, from segments only "
          f"{t_segs:6.2f} s | ratio {t_snap / t_segs:4.2f}x ({'snapshot used' if used else 'SNAPSHOT NOT USED'}, "
          f"state digests {'equal' if state_digest(s.conn) == state_digest(g.conn) and same else 'DIFFER'})")
    print(f"        {_checks(s, g)}")
    for p in (a, s, g):
        p.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changed", type=int, default=10_000)
    ap.add_argument("--merge", type=int, default=100_000)
    ap.add_argument("--bootstrap", type=int, default=0, help="ops for SYNC-B (1,000,000 in the design; slow)")
    ap.add_argument("--signing", type=int, default=0, metavar="REPEATS",
                    help="SIGN-1: SYNC-1 signed vs unsigned share, best of REPEATS interleaved runs")
    ap.add_argument("--snapshot", type=int, default=0, help="ops (in segments of 50) for SYNC-B bootstrap from a snapshot + 1%% tail vs "
                    "from segments")
    args = ap.parse_args()
    print(machine())
    print("load average at start:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.signing:
        signing_cost(args.changed, args.signing)
    sync1(args.changed)
    if args.merge:
        merge(args.merge, "SYNC-M")
    if args.bootstrap:
        merge(args.bootstrap, "SYNC-B")
    if args.snapshot:
        bootstrap_from_snapshot(args.snapshot)
    print("load average at end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
