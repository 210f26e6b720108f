"""Snapshots of a share (docs/sync.md §2 ``snapshots/``, §8, failure mode #32).

A snapshot is an immutable folder ``snapshots/snap-<hlc ms>-<hlc counter>-<device>/`` written once
through a temp folder and a rename. It holds ``manifest.json`` and, per covered device, the op
lines of seqs 1..last_seq (``ops-<device>.jsonl.gz``: gzip'd canonical JSON lines in seq order,
exactly the lines a segment carries, payloads inline). The manifest names the covered vector
``{device: last_seq}`` (what the writing store had merged or published), the SHA-256 of the last
segment covering each (the cursor a joiner continues from), each file's SHA-256 and line count,
the writer's state digest, and its own SHA-256.

A new device loads the newest snapshot that verifies through the merger (the same checks and
rules as segments), in one transaction, sets its cursors to the vector and reads only the tails.
A snapshot that fails a check is reported and skipped; nothing on the share is ever changed.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from labeldesk import __version__
from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import canonical_json
from labeldesk.core.sync import reader, segment
from labeldesk.core.sync.history import History
from labeldesk.core.sync.layout import HostileFile, read_capped
from labeldesk.core.sync.layout import (DEVICE_RE, SNAPSHOT_OPS_RE, SNAPSHOT_RE, SegmentName, ShareLayout,
                                        fsync_dir)
from labeldesk.core.sync.merge import Merger, cursors
from labeldesk.core.sync.validation import InvalidOp
from labeldesk.core.sync import share_json

SNAPSHOT_FORMAT = "labeldesk-snap/1"
CHUNK = 5000          # op lines merged per batch (one transaction for the whole snapshot)


class SnapshotProblem(Exception):
    """A snapshot that does not verify (named in the message)."""


@dataclass
class Snapshot:
    name: str
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)     # device -> its ops file (hash verified)


def snapshots_dir(layout: ShareLayout) -> Path:
    return layout.snapshots


def snapshot_name(hlc: list[int], dev: str) -> str:
    return f"snap-{int(hlc[0]):015d}-{int(hlc[1]):06d}-{dev}"


# ---- writing --------------------------------------------------------------------------------------
def covered_vector(conn: Any) -> dict[str, tuple[int, str, str]]:
    """{device: (last_seq, sha of the last segment covering it, its name)}: every device's merged
    cursor, and what this store published itself (under this and earlier identities)."""
    out: dict[str, tuple[int, str, str]] = {}
    for r in conn.execute("SELECT dev, last_seq, last_sha, last_segment FROM sync_cursors"):
        if int(r[1]) > 0:
            out[r[0]] = (int(r[1]), r[2], r[3] or "")
    for r in conn.execute("SELECT dev, last_seq, sha256, name FROM sync_published p WHERE last_seq ="
                          " (SELECT MAX(last_seq) FROM sync_published q WHERE q.dev = p.dev)"):
        if int(r[1]) > out.get(r[0], (0, "", ""))[0]:
            out[r[0]] = (int(r[1]), r[2], r[3])
    return out


def _lines(conn: Any, dev: str, last_seq: int) -> tuple[list[str], int]:
    """(encoded op lines 1..last_seq of ``dev``, how many came from the ops table)."""
    history = History(conn)
    by_seq: dict[int, str] = {}
    prev_seen: dict[str, int] | None = None
    rows = conn.execute("SELECT * FROM ops WHERE dev = ? AND seq BETWEEN 1 AND ? ORDER BY seq", (dev, last_seq))
    for row in rows:
        seen = history.seen(dev, row["seq"])
        line: dict[str, Any] = {"v": 1, "op_id": row["op_id"], "seq": row["seq"], "dev": row["dev"],
                                "user": row["user"], "hlc": [row["hlc_ms"], row["hlc_ctr"]], "wall": row["wall"],
                                "type": row["type"], "entity": row["entity"], "base": json.loads(row["base"]),
                                "reason": row["reason"], "sha256": row["op_hash"]}
        if seen != prev_seen:
            line["seen"] = seen
        prev_seen = seen
        by_seq[int(row["seq"])] = segment.encode_line(line, row["payload"])
    from_ops = len(by_seq)
    # lines merged while their payload blob was missing wait here, not in the op log
    for r in conn.execute("SELECT seq, line FROM sync_pending_lines WHERE dev = ? AND seq BETWEEN 1 AND ?",
                          (dev, last_seq)):
        by_seq.setdefault(int(r[0]), segment.encode_line(json.loads(r[1])))
    missing = [s for s in range(1, last_seq + 1) if s not in by_seq]
    if missing:
        raise LabeldeskError(f"device {dev[:8]}: op {missing[0]} (of 1..{last_seq}) is not held by this store "
                             f"(a damaged or colliding line); no snapshot written")
    return [by_seq[s] for s in range(1, last_seq + 1)], from_ops


def write(project: Any) -> tuple[str, dict[str, Any]]:
    """Write a snapshot of what this store has merged and published; (folder name, manifest)."""
    from labeldesk.core.sync.engine import share_path
    from labeldesk.core.sync.status import state_digest
    share = share_path(project)
    if share is None:
        raise LabeldeskError(f"{project.root}: this project is not shared; use `labeldesk share init` first")
    layout = ShareLayout(share)
    layout.check_marker(project.id)
    conn = project.conn
    vector = covered_vector(conn)
    if not vector:
        raise LabeldeskError(f"{share}: nothing is published or merged yet; sync first, then snapshot")
    files: dict[str, bytes] = {}
    devices: dict[str, Any] = {}
    held = waiting = 0
    for dev, (last_seq, last_sha, last_segment) in sorted(vector.items()):
        encoded, from_ops = _lines(conn, dev, last_seq)
        held += from_ops
        waiting += len(encoded) - from_ops
        data = gzip.compress(("\n".join(encoded) + "\n").encode("utf-8"), compresslevel=6, mtime=0)
        fname = f"ops-{dev}.jsonl.gz"
        files[fname] = data
        devices[dev] = {"last_seq": last_seq, "last_sha": last_sha, "last_segment": last_segment,
                        "file": fname, "sha256": hashlib.sha256(data).hexdigest(), "count": len(encoded)}
    total = conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
    hlc = project.clock.last.to_list()
    body = {"format": SNAPSHOT_FORMAT, "project_id": project.id, "device_id": project.device_id,
            "hlc": hlc, "vector": {d: v["last_seq"] for d, v in devices.items()}, "devices": devices,
            # the writer's state is exactly the vector's only if it holds no other op and none
            # waits for its blob (a joiner may have the blob by now)
            "state_digest": state_digest(conn) if total == held and not waiting else None,
            "app": f"labeldesk/{__version__}"}
    manifest = {**body, "sha256": hashlib.sha256(canonical_json(body).encode()).hexdigest()}
    from labeldesk.core.sync import keys, trust
    key = trust.usable_key(project, str(project.user_id)) if project.user_id else None
    if key is not None:          # joiners trust a snapshot signed by the founding admin's key
        manifest.update(key=key, sig=keys.sign(key, keys.SNAPSHOT_CONTEXT, manifest["sha256"]))
    files["manifest.json"] = (canonical_json(manifest) + "\n").encode()
    root = snapshots_dir(layout)
    root.mkdir(exist_ok=True)
    name = snapshot_name(hlc, project.device_id)
    final = root / name
    if final.exists():
        raise LabeldeskError(f"{final}: a snapshot of this name exists already; nothing written")
    tmp = root / f".{name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        for fname, data in files.items():
            with open(tmp / fname, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(tmp)
        os.rename(tmp, final)      # a folder: never replaces an existing non-empty one
        fsync_dir(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return name, manifest


# ---- reading --------------------------------------------------------------------------------------
def read(layout: ShareLayout, name: str, project_id: str, trusted: dict[str, str] | None = None) -> Snapshot:
    """Read and verify ``snapshots/<name>``, or raise :class:`SnapshotProblem`. ``trusted`` (key id
    -> public key; None on a share made before signing keys): the keys whose signature a joiner
    accepts on a snapshot -- the founding admin's, pinned in the project marker."""
    folder = snapshots_dir(layout) / name
    where = f"snapshots/{name}"
    try:
        layout.real_dir(folder)
        manifest = share_json.loads(read_capped(folder / "manifest.json", 64 * 1024 * 1024))
    except FileNotFoundError:
        raise SnapshotProblem(f"{where}: no manifest.json") from None
    except (OSError, ValueError, UnicodeDecodeError, HostileFile) as exc:
        raise SnapshotProblem(f"{where}/manifest.json: unreadable ({exc})") from None
    if not isinstance(manifest, dict):
        raise SnapshotProblem(f"{where}/manifest.json: not a snapshot manifest")
    body = {k: v for k, v in manifest.items() if k not in ("sha256", "key", "sig")}
    if hashlib.sha256(canonical_json(body).encode()).hexdigest() != manifest.get("sha256"):
        raise SnapshotProblem(f"{where}/manifest.json: content does not match its SHA-256")
    if trusted is not None:
        from labeldesk.core.sync import keys
        public = trusted.get(str(manifest.get("key")))
        if public is None or not keys.verify(public, manifest.get("sig"), keys.SNAPSHOT_CONTEXT, manifest["sha256"]):
            raise SnapshotProblem(f"{where}: not signed by the founding admin's key pinned in the project marker")
    if manifest.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotProblem(f"{where}: snapshot format {manifest.get('format')!r} is not understood by this app")
    if manifest.get("project_id") != project_id:
        raise SnapshotProblem(f"{where}: belongs to another project")
    devices = manifest.get("devices")
    if not isinstance(devices, dict) or manifest.get("vector") != {d: v.get("last_seq") for d, v in devices.items()
                                                                  if isinstance(v, dict)}:
        raise SnapshotProblem(f"{where}/manifest.json: the device list does not match the vector")
    snap = Snapshot(name, manifest)
    for dev, entry in sorted(devices.items()):
        snap.files[dev] = _read_ops(folder, where, dev, entry)
    return snap


def _read_ops(folder: Path, where: str, dev: str, entry: Any) -> bytes:
    """The device's ops file, checked against the manifest (its lines are checked as they are read)."""
    if not isinstance(entry, dict):
        raise SnapshotProblem(f"{where}/manifest.json: bad entry for device {dev[:8]}")
    fname = str(entry.get("file"))
    m = SNAPSHOT_OPS_RE.match(fname)
    if not DEVICE_RE.match(dev) or m is None or m.group(1) != dev:
        raise SnapshotProblem(f"{where}: bad file name {fname!r} for device {dev[:8]}")
    last = entry.get("last_seq")
    sn = SegmentName.parse(str(entry.get("last_segment")))
    sha = entry.get("last_sha")
    if not isinstance(last, int) or last < 1 or entry.get("count") != last:
        raise SnapshotProblem(f"{where}/manifest.json: bad op count for device {dev[:8]}")
    if sn is None or sn.last != last or not isinstance(sha, str) or len(sha) != 64 or sha[:12] != sn.sha12:
        raise SnapshotProblem(f"{where}/manifest.json: the segment covering device {dev[:8]}'s last op is not named")
    try:
        data = read_capped(folder / fname, 8 * 1024 ** 3)
    except HostileFile as exc:
        raise SnapshotProblem(f"{where}/{fname}: {exc}") from None
    except OSError as exc:
        raise SnapshotProblem(f"{where}/{fname}: cannot read ({exc.strerror or exc})") from None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise SnapshotProblem(f"{where}/{fname}: content does not match the manifest's SHA-256")
    return data


def chunks(snap: Snapshot, dev: str, size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """The device's op lines in seq order, ``size`` at a time, each checked to be op 1, 2, … of
    ``dev``; :class:`SnapshotProblem` if the file cannot be read or holds more or fewer ops."""
    where = f"snapshots/{snap.name}/ops-{dev}.jsonl.gz"
    last = snap.manifest["devices"][dev]["last_seq"]
    seq, part = 0, []
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(snap.files[dev])) as f:
            for raw in f:
                line = share_json.loads(raw)
                seq += 1
                if (not isinstance(line, dict) or line.get("kind") != "op" or line.get("seq") != seq or seq > last
                        or line.get("dev") != dev or line.get("op_id") != ids.op_id(dev, seq)):
                    raise SnapshotProblem(f"{where}: line {seq} is not op {seq} of device {dev[:8]}")
                part.append(line)
                if len(part) >= size:
                    yield part
                    part = []
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise SnapshotProblem(f"{where}: unreadable ({exc})") from None
    if seq != last:
        raise SnapshotProblem(f"{where}: holds {seq} ops, the manifest says {last}")
    if part:
        yield part


def newest_valid(layout: ShareLayout, project_id: str,
                 trusted: dict[str, str] | None = None) -> tuple[Snapshot | None, list[str]]:
    """The newest snapshot that verifies, and the problems of newer ones that did not."""
    problems: list[str] = []
    for name in _names(layout):
        try:
            return read(layout, name, project_id, trusted), problems
        except SnapshotProblem as exc:
            problems.append(f"snapshot ignored: {exc}")
    return None, problems


def load(project: Any, snap: Snapshot, layout: ShareLayout) -> int:
    """Merge the snapshot's ops into an empty replica in one transaction and set the cursors to its
    vector; the number of ops merged. Raises :class:`SnapshotProblem` (nothing kept) if the
    resulting state differs from the digest the writer recorded."""
    from labeldesk.core.store import repo
    from labeldesk.core.sync.engine import _mark_seen
    from labeldesk.core.sync.status import state_digest
    if cursors(project.conn):
        raise SnapshotProblem(f"snapshots/{snap.name}: this replica has merged segments already")
    merger = Merger(project)
    devices = snap.manifest["devices"]
    blobs: dict[str, bytes | None] = {}

    class _Mismatch(Exception):
        pass

    try:
        with project.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for dev in snap.files:
                entry = devices[dev]
                for part in chunks(snap, dev):
                    # payloads kept as blobs: lines the writer held waiting for their blob
                    wanted = {str(x["blob"]) for x in part if x.get("blob")} - set(blobs)
                    blobs.update(reader.fetch_blobs(layout, wanted))
                    final = part[-1]["seq"] == entry["last_seq"]
                    seg = segment.Segment(entry["last_segment"] if final else f"{snap.name}:{dev}",
                                          dev, part[0]["seq"], part[-1]["seq"], "",
                                          entry["last_sha"] if final else segment.GENESIS, "", part, 0)
                    merger.merge_segment(seg, blobs)
            merger.retry_pending(blobs)
            _mark_seen(project, merger)
            repo.set_meta(conn, "hlc", f"{project.clock.last.ms},{project.clock.last.counter}")
            repo.set_meta(conn, "sync.snapshot", snap.name)
            want = snap.manifest.get("state_digest")
            if want is not None and state_digest(conn) != want:
                raise _Mismatch()
    except InvalidOp as exc:
        raise SnapshotProblem(f"snapshots/{snap.name}: {exc}") from None
    except _Mismatch:
        raise SnapshotProblem(f"snapshots/{snap.name}: the state rebuilt from it differs from the writer's "
                              f"state digest") from None
    return merger.counts["ops"]


def bootstrap(project: Any, share: Path) -> tuple[str | None, list[str]]:
    """Load the newest valid snapshot into a fresh replica: (its name or None, problems seen)."""
    from labeldesk.core.sync import trust
    layout = ShareLayout(share)
    root = trust.root_key(project.conn)
    trusted = None if root is None else {root["key_id"]: root["public_key"]}
    snap, problems = newest_valid(layout, project.id, trusted)
    while snap is not None:
        try:
            load(project, snap, layout)
            return snap.name, problems
        except SnapshotProblem as exc:
            problems.append(f"snapshot ignored: {exc}")
            older = [n for n in _names(layout) if n < snap.name]
            snap = None
            for name in older:
                try:
                    snap = read(layout, name, project.id, trusted)
                    break
                except SnapshotProblem as exc2:
                    problems.append(f"snapshot ignored: {exc2}")
    return None, problems


def _names(layout: ShareLayout) -> list[str]:
    try:
        return sorted((n for n in os.listdir(snapshots_dir(layout)) if SNAPSHOT_RE.match(n)), reverse=True)
    except OSError:
        return []

