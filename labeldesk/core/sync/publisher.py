"""Publishing this device's outbox as segments (docs/sync.md §5, C1–C7).

:func:`plan` (SQLite thread) turns the outbox into segment bytes in memory; :func:`write` (any
thread, share I/O only) writes each to a dot-prefixed temp name in the device's folder, fsyncs,
links it to its final hash-bearing name without ever replacing a file, fsyncs the folder (best
effort), re-reads and verifies it; :func:`mark_published` (SQLite thread) then clears the outbox
rows in one local transaction. A crash anywhere leaves either nothing or a complete segment,
which the next round recognises by content (failure modes #1, #4).
"""
from __future__ import annotations

import errno
import json
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeldesk.core.store import repo
from labeldesk.core.sync import blobs as blob_store
from labeldesk.core.sync import segment
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.sync.history import History
from labeldesk.core.sync.keys import local_keys
from labeldesk.core.sync.trust import Signer
from labeldesk.core.sync.layout import (OWN_TEMP_RE, SEGMENT_MAX, DuplicateIdentity, SegmentName, ShareLayout,
                                        fsync_dir, link_no_replace, read_capped, temp_name)

MAX_OPS = 5000
MAX_BYTES = 4 * 1024 * 1024
STALE_TEMP_S = 24 * 3600


@dataclass
class PlannedSegment:
    name: str
    data: bytes
    first: int
    last: int
    sha256: str
    op_ids: list[str]
    blobs: dict[str, bytes] = field(default_factory=dict)


def last_published(conn: Any, dev: str) -> tuple[int, str]:
    row = conn.execute("SELECT last_seq, sha256 FROM sync_published WHERE dev = ? ORDER BY last_seq DESC LIMIT 1",
                       (dev,)).fetchone()
    return (int(row[0]), row[1]) if row else (0, segment.GENESIS)


def _line(row: Any, seen: dict[str, int] | None, blobs: dict[str, bytes]) -> str:
    """One op line, canonical JSON; the stored (canonical) payload JSON is used as is."""
    payload_json = row["payload"]
    line: dict[str, Any] = {"v": 1, "op_id": row["op_id"], "seq": row["seq"], "dev": row["dev"],
                            "user": row["user"], "hlc": [row["hlc_ms"], row["hlc_ctr"]], "wall": row["wall"],
                            "type": row["type"], "entity": row["entity"], "base": json.loads(row["base"]),
                            "reason": row["reason"], "sha256": row["op_hash"]}
    if seen is not None:
        line["seen"] = seen
    if len(payload_json) > blob_store.THRESHOLD:
        data = payload_json.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        line["payload"], line["blob"] = None, digest
        return segment.encode_line(line)
    return segment.encode_line(line, payload_json)


def _segment(project: Any, dev: str, nonce: str, prev_sha: str, rows: list[Any], lines: list[str],
             blobs: dict[str, bytes], key: str | None = None) -> PlannedSegment:
    first, last = rows[0]["seq"], rows[-1]["seq"]
    name, data = segment.build(project.id, dev, nonce, prev_sha, first, last,
                               [rows[-1]["hlc_ms"], rows[-1]["hlc_ctr"]], lines, Signer.signer(key), key)
    return PlannedSegment(name, data, first, last, hashlib.sha256(data).hexdigest(),
                          [r["op_id"] for r in rows], blobs)


def plan(project: Any, *, limit: int = 200_000) -> list[PlannedSegment]:
    """Segments for this device's unpublished ops, in seq order, chained to the last published one."""
    conn = project.conn
    dev = project.device_id
    last_seq, prev_sha = last_published(conn, dev)
    rows = conn.execute("SELECT o.* FROM outbox x JOIN ops o ON o.op_id = x.op_id WHERE o.dev = ? AND o.seq > ?"
                        " ORDER BY o.seq LIMIT ?", (dev, last_seq, limit)).fetchall()
    signer = Signer(project)
    rows = _publishable(project, rows, signer)
    history = History(conn)
    nonce = str(repo.get_meta(conn, "instance_nonce", ""))
    out: list[PlannedSegment] = []
    chunk: list[Any] = []
    lines: list[str] = []
    blobs: dict[str, bytes] = {}
    size = 0
    expected = last_seq + 1
    prev_seen: dict[str, int] | None = None
    key: str | None = None
    # our segments named on the share before a crash and torn since: re-made with the same range
    # (and so the same bytes), never a different segment from the same first seq (no fork)
    torn = {sn.first: sn for n in json.loads(repo.get_meta(conn, "sync.own_torn", "[]") or "[]")
            if (sn := SegmentName.parse(n)) is not None}
    until: SegmentName | None = None
    for row in rows:
        if row["seq"] != expected:
            break                       # never publish across a hole in our own seqs
        expected += 1
        row_key = signer.key_for(row["user"], dev, row["seq"])
        if lines and (row_key != key or row["seq"] in torn):    # one segment, one key (one user)
            out.append(_segment(project, dev, nonce, prev_sha, chunk, lines, blobs, key))
            prev_sha, chunk, lines, blobs, size, prev_seen = out[-1].sha256, [], [], {}, 0, None
        key = row_key
        if not lines:
            until = torn.get(row["seq"])
        seen = history.seen(dev, row["seq"])
        lines.append(_line(row, seen if seen != prev_seen else None, blobs))
        chunk.append(row)
        prev_seen = seen
        size += len(lines[-1])
        if until is not None:
            if row["seq"] < until.last:
                continue
            out.append(_segment(project, dev, nonce, prev_sha, chunk, lines, blobs, key))
            if out[-1].name != until.name:
                _block(project, f"our segment {until.name} on the share is torn and this store cannot re-make it "
                                f"(its ops differ here): nothing is published after seq {until.first - 1}")
                return out[:-1]
            prev_sha, chunk, lines, blobs, size, prev_seen, until = out[-1].sha256, [], [], {}, 0, None, None
            continue
        if len(lines) >= MAX_OPS or size >= MAX_BYTES:
            out.append(_segment(project, dev, nonce, prev_sha, chunk, lines, blobs, key))
            prev_sha, chunk, lines, blobs, size, prev_seen = out[-1].sha256, [], [], {}, 0, None
    if until is not None:
        return out                      # not all of the torn range is here yet: wait
    if lines:
        out.append(_segment(project, dev, nonce, prev_sha, chunk, lines, blobs, key))
    return out


def _block(project: Any, why: str) -> None:
    with project.transaction() as conn:
        repo.set_meta(conn, "sync.publish_blocked", why)


def _publishable(project: Any, rows: list[Any], signer: Signer) -> list[Any]:
    """The rows up to (not including) the first op that carries a patient identifier (rule 5: the
    PHI guard of ``labeldesk.core.privacy``) or that this machine cannot sign (no private key of its
    user here, or a locked one). Such an op blocks publishing -- seqs cannot have holes -- and the
    reason is kept in ``sync.publish_blocked`` for the status and the Sync panel."""
    from labeldesk.core.privacy import PhiGuard
    blocked = None
    if rows:
        guard = PhiGuard(project)
        users: dict[Any, str | None] = {}
        for i, row in enumerate(rows):
            found = guard.problems([row])
            if found:
                blocked = (f"publishing stopped at op {row['op_id']} ({row['type']}): it would put patient "
                           f"identifiers in the shared folder ({'; '.join(found)}); later changes wait in the outbox")
                rows = rows[:i]
                break
            key = signer.key_for(row["user"], row["dev"], row["seq"])
            if (row["user"], key) not in users:
                users[(row["user"], key)] = signer.problem(row["user"], row["dev"], row["seq"])
            if users[(row["user"], key)]:
                blocked = (f"publishing stopped at op {row['op_id']} ({row['type']}): "
                           f"{users[(row['user'], key)]}; later changes wait in the outbox")
                rows = rows[:i]
                break
    if blocked != repo.get_meta(project.conn, "sync.publish_blocked"):
        with project.transaction() as conn:
            if blocked is None:
                conn.execute("DELETE FROM meta WHERE key = 'sync.publish_blocked'")
            else:
                repo.set_meta(conn, "sync.publish_blocked", blocked)
    return rows


def rebuild(project: Any, name: str) -> PlannedSegment | None:
    """The exact bytes of one of our published segments, from the local log (for re-publishing a
    damaged copy, failure mode #3); None if the log cannot reproduce them."""
    conn = project.conn
    row = conn.execute("SELECT * FROM sync_published WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    prev = conn.execute("SELECT sha256 FROM sync_published WHERE dev = ? AND last_seq = ?",
                        (row["dev"], row["first_seq"] - 1)).fetchone()
    prev_sha = prev[0] if prev else segment.GENESIS
    ops = conn.execute("SELECT * FROM ops WHERE dev = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                       (row["dev"], row["first_seq"], row["last_seq"])).fetchall()
    history = History(conn)
    blobs: dict[str, bytes] = {}
    lines: list[str] = []
    prev_seen: dict[str, int] | None = None
    for op in ops:
        seen = history.seen(row["dev"], op["seq"])
        lines.append(_line(op, seen if seen != prev_seen else None, blobs))
        prev_seen = seen
    if not lines:
        return None
    nonce = str(repo.get_meta(conn, "instance_nonce", ""))
    signer = Signer(project)
    key = signer.key_for(ops[0]["user"], row["dev"], ops[0]["seq"])
    for k in dict.fromkeys([key, None] + [k.key_id for k in local_keys(project.id, ops[0]["user"])]):
        try:
            seg = _segment(project, row["dev"], nonce, prev_sha, list(ops), lines, blobs, k)
        except LabeldeskError:
            continue
        if seg.name == name:
            return seg
    return None


def mark_published(project: Any, dev: str, segs: list[PlannedSegment]) -> None:
    with project.transaction() as conn:
        for seg in segs:
            conn.executemany("DELETE FROM outbox WHERE op_id = ?", [(o,) for o in seg.op_ids])
            conn.execute("INSERT OR IGNORE INTO sync_published (name, dev, first_seq, last_seq, sha256, size)"
                         " VALUES (?,?,?,?,?,?)", (seg.name, dev, seg.first, seg.last, seg.sha256, len(seg.data)))


# ---- share I/O (no SQLite) ------------------------------------------------------------------------
TRANSIENT_WINERRORS = {5, 32, 33}


def write(layout: ShareLayout, dev: str, segs: list[PlannedSegment]) -> list[PlannedSegment]:
    """Write the planned segments in order; returns those now on the share. Raises
    DuplicateIdentity when a different file holds one of our names, OSError on share trouble."""
    seg_dir = layout.segments_dir(dev)
    seg_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for seg in segs:
        for data in seg.blobs.values():
            blob_store.put(layout, data)
        final = seg_dir / seg.name
        if final.exists():
            _verify_existing(final, seg)
            done.append(seg)
            continue
        tmp = temp_name(final, f"seg-{seg.first:012d}")
        try:
            with open(tmp, "xb") as f:
                f.write(seg.data)
                f.flush()
                os.fsync(f.fileno())
            if not _link(tmp, final):
                _verify_existing(final, seg)
        finally:
            if tmp.exists():
                tmp.unlink()
        fsync_dir(seg_dir)
        if hashlib.sha256(read_capped(final, SEGMENT_MAX)).hexdigest() != seg.sha256:
            raise OSError(errno.EIO, f"{final}: segment verification failed after publish (broken network write?)")
        done.append(seg)
    return done


def _link(tmp: Path, final: Path) -> bool:
    for attempt in range(6):
        try:
            return link_no_replace(tmp, final)
        except PermissionError as exc:     # Windows AV / indexer / OneDrive holding handles
            if getattr(exc, "winerror", None) in TRANSIENT_WINERRORS and attempt < 5:
                time.sleep(0.05 * 2 ** attempt)
                continue
            raise
    return False


def _verify_existing(final: Path, seg: PlannedSegment) -> None:
    data = read_capped(final, SEGMENT_MAX)
    if hashlib.sha256(data).hexdigest() == seg.sha256:
        return                           # crash after rename, before the local mark (#4)
    if len(data) < len(seg.data) and seg.data.startswith(data):
        # our own segment, torn (a crash or a sync tool's partial copy): the name is the hash of
        # exactly these bytes, so the whole file replaces the torn one
        tmp = temp_name(final, f"seg-{seg.first:012d}")
        with open(tmp, "xb") as f:
            f.write(seg.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
        return
    raise DuplicateIdentity(f"{final}: another store published different content under this device's "
                            f"name: two stores share device id {final.parent.parent.name}")


def sweep_own_temps(layout: ShareLayout, dev: str, now: float | None = None) -> int:
    """Delete our own temp files older than 24 h (C6); nobody deletes another device's files."""
    now = time.time() if now is None else now
    n = 0
    seg_dir = layout.segments_dir(dev)
    try:
        entries = list(os.scandir(seg_dir))
    except OSError:
        return 0
    for e in entries:
        if OWN_TEMP_RE.match(e.name):
            try:
                if now - e.stat().st_mtime > STALE_TEMP_S:
                    os.unlink(e.path)
                    n += 1
            except OSError:
                pass
    return n


def check_own(layout: ShareLayout, dev: str, published: dict[str, tuple[int, str]], verify: bool) -> list[str]:
    """Names of our published segments that are missing or damaged on the share; a damaged file
    is moved to ``quarantine/`` (by its owner only) so that it can be re-published."""
    bad = []
    seg_dir = layout.segments_dir(dev)
    for name, (size, sha) in published.items():
        path = seg_dir / name
        try:
            st = path.stat()
        except FileNotFoundError:
            bad.append(name)
            continue
        except OSError:
            continue
        if st.st_size != size or (verify and hashlib.sha256(read_capped(path, SEGMENT_MAX)).hexdigest() != sha):
            layout.quarantine.mkdir(parents=True, exist_ok=True)
            os.replace(path, layout.quarantine / f"{dev}-{name}.{int(time.time())}")
            bad.append(name)
    return bad


def valid_name(name: str) -> bool:
    return SegmentName.parse(name) is not None
