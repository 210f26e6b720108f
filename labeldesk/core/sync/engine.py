"""One sync round through the shared folder, in three steps so that a GUI can run the share I/O
off its thread while the SQLite connection stays on the thread that owns it:

1. :func:`prepare` (SQLite thread): read cursors, plan segments from the outbox.
2. :func:`exchange` (any thread, share I/O only, never raises): check the project marker, publish,
   list and read the other devices' segments and blobs.
3. :func:`commit` (SQLite thread): mark published, reconcile our own folder, merge each segment in
   its own transaction with its cursor, retry pending ops, record device status.

:func:`sync_round` runs the three in a row (the CLI, tests). ``share init`` / ``share join`` are
:func:`init_share` and :func:`join_share`.
"""
from __future__ import annotations

import errno
import json
import time
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from labeldesk.core import sync_tools
from labeldesk.core.clock import MAX_SKEW_MS
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import ChangeSet, OpDraft, canonical_json
from labeldesk.core.store import repo
from labeldesk.core.sync import identity, keys, publisher, reader, trust
from labeldesk.core.sync.layout import (HEAD_MAX, SegmentName, DuplicateIdentity, HostileFile, ShareError, ShareLayout, read_capped,
                                        replace_file, write_once)
from labeldesk.core.sync.merge import Merger, cursors, now_wall
from labeldesk.core.sync.publisher import PlannedSegment
from labeldesk.core.sync.reader import DeviceScan
from labeldesk.core.sync.segment import Segment
from labeldesk.core.gc_pause import no_cyclic_gc
from labeldesk.core.sync import share_json

SHARE_KEY = "sync.share"
RECHECK_NEWEST, RECHECK_SAMPLE = 20, 100
# head.json is advisory; rewritten at most this often so that a sync tool (Syncthing pulls a file
# only once it has stopped changing) can keep up with an app that syncs every 10 s.
HEAD_MIN_INTERVAL_S = 60.0


_bulk = no_cyclic_gc          # (labeldesk.core.gc_pause)


def share_path(project: Any) -> Path | None:
    value = repo.get_meta(project.conn, SHARE_KEY)
    return Path(value) if value else None


@dataclass
class RoundPlan:
    share: Path
    project_id: str
    device_id: str
    own_ids: set[str]
    instance_nonce: str
    cursors: dict[str, tuple[int, str]]
    segments: list[PlannedSegment]
    published: dict[str, tuple[int, str]]          # our published segments: name -> (size, sha)
    previous_published: set[str]
    repairs: list[PlannedSegment]
    blobs_wanted: set[str]
    head: dict[str, Any]
    verify: bool = False
    root_key: dict[str, Any] | None = None      # the founding admin's key this replica pinned
    own_keys: dict[str, str] = field(default_factory=dict)    # this machine's keys: id -> public key
    merged: dict[str, tuple[int, int, str]] = field(default_factory=dict)   # dev/name -> size, mtime, sha
    own_torn: list[str] = field(default_factory=list)     # own torn segments known when planning


@dataclass
class Exchange:
    state: str = "ok"            # ok | read-only | offline | wrong-project | identity
    message: str = ""
    written: list[PlannedSegment] = field(default_factory=list)
    own_unknown: list[Segment] = field(default_factory=list)
    own_damaged: list[str] = field(default_factory=list)
    scans: dict[str, DeviceScan] = field(default_factory=dict)
    root_artefacts: list[str] = field(default_factory=list)
    blobs: dict[str, bytes | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    own_refused: list[str] = field(default_factory=list)
    own_torn: list[str] = field(default_factory=list)      # own segments on the share not readable whole

    @property
    def more(self) -> bool:
        return any(s.more for s in self.scans.values())


@dataclass
class SyncReport:
    state: str = "ok"
    message: str = ""
    published_ops: int = 0
    published_segments: int = 0
    received: dict[str, int] = field(default_factory=dict)
    fast_forwarded: int = 0
    rekeyed_to: str | None = None
    changes: ChangeSet = field(default_factory=ChangeSet)
    problems: list[str] = field(default_factory=list)
    artefacts: list[str] = field(default_factory=list)      # sync-tool files seen outside device folders
    notes: list[str] = field(default_factory=list)          # share init/join: sync tool found, ignore files
    again: bool = False          # a key was enrolled or a fork settled: another pass may merge more

    def add(self, other: "SyncReport") -> None:
        self.state, self.message = other.state, other.message or self.message
        self.published_ops += other.published_ops
        self.published_segments += other.published_segments
        for k, v in other.received.items():
            self.received[k] = self.received.get(k, 0) + v
        self.fast_forwarded += other.fast_forwarded
        self.rekeyed_to = other.rekeyed_to or self.rekeyed_to
        self.changes.update(other.changes)
        self.problems += [p for p in other.problems if p not in self.problems]
        self.artefacts = other.artefacts or self.artefacts

    def to_dict(self) -> dict[str, Any]:
        from labeldesk.core.ops import CHANGE_KINDS
        return {"state": self.state, "message": self.message, "published_ops": self.published_ops,
                "published_segments": self.published_segments, "received": self.received,
                "fast_forwarded": self.fast_forwarded, "rekeyed_to": self.rekeyed_to,
                "changed": {k: len(getattr(self.changes, k)) for k in CHANGE_KINDS}, "problems": self.problems,
                "artefacts": self.artefacts, "notes": self.notes}


# ---- 1. prepare (SQLite thread) ----------------------------------------------------------------
def prepare(project: Any, *, verify: bool = False) -> RoundPlan:
    with _bulk():
        return _prepare(project, verify)


def _prepare(project: Any, verify: bool) -> RoundPlan:
    share = share_path(project)
    if share is None:
        raise LabeldeskError(f"{project.root}: this project is not shared; use `labeldesk share init` first")
    conn = project.conn
    dev = project.device_id
    prev = repo.get_meta(conn, "previous_device_id")
    published = {r[0]: (int(r[1]), r[2]) for r in conn.execute(
        "SELECT name, size, sha256 FROM sync_published WHERE dev = ?", (dev,))}
    previous_published = {r[0] for r in conn.execute("SELECT name FROM sync_published WHERE dev != ?", (dev,))}
    repairs = [seg for name in json.loads(repo.get_meta(conn, "sync.repair", "[]") or "[]")
               if (seg := publisher.rebuild(project, name)) is not None]
    curs = cursors(conn)
    last_seq, last_sha = publisher.last_published(conn, dev)
    head = {"device_id": dev, "last_seq": last_seq, "last_hash": last_sha, "hlc": project.clock.last.to_list(),
            "acks": {d: c[0] for d, c in curs.items()}, "wall": now_wall(), "advisory": True}
    # merged segments re-checked on the share this round (changed afterwards? a fork?): each
    # device's newest ones and a random sample of the rest, so a long-lived share costs a bounded
    # number of stat calls per round
    merged = {f"{r[0]}/{r[1]}": (int(r[2]), int(r[3]), r[4]) for r in conn.execute(
        "SELECT dev, name, size, mtime_ns, sha256 FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY dev ORDER BY name"
        " DESC) AS k FROM sync_segments) WHERE k <= ? UNION SELECT * FROM (SELECT dev, name, size, mtime_ns, sha256"
        " FROM sync_segments ORDER BY random() LIMIT ?)", (RECHECK_NEWEST, RECHECK_SAMPLE))}
    return RoundPlan(share, project.id, dev, {dev} | ({prev} if prev else set()),
                     str(repo.get_meta(conn, "instance_nonce", "")), curs, publisher.plan(project), published,
                     previous_published, repairs, Merger.pending_blobs_of(conn), head, verify,
                     trust.root_key(conn), _own_keys(project), merged,
                     json.loads(repo.get_meta(conn, "sync.own_torn", "[]") or "[]"))


def _own_keys(project: Any) -> dict[str, str]:
    """This machine's keys of the users whose ops this store published or will publish: the only
    keys a segment in our own folder may be signed with."""
    users = {r[0] for r in project.conn.execute(
        "SELECT DISTINCT user FROM ops WHERE dev IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted({project.device_id} | set(filter(None, [repo.get_meta(project.conn, "previous_device_id")])))),))}
    users.add(project.user_id)
    return {k.key_id: k.public_key for u in users if u for k in keys.local_keys(project.id, u)}


# ---- 2. exchange (share I/O only) --------------------------------------------------------------
READ_ONLY_ERRNOS = {errno.EACCES, errno.EROFS, errno.EPERM}


def exchange(plan: RoundPlan, *, budget: int = 100_000) -> Exchange:
    with _bulk():
        return _exchange(plan, budget)


def _exchange(plan: RoundPlan, budget: int) -> Exchange:
    ex = Exchange()
    layout = ShareLayout(plan.share)
    try:
        marker = layout.check_marker(plan.project_id)
    except ShareError as exc:
        ex.state = "wrong-project" if layout.marker.exists() else "offline"
        ex.message = str(exc)
        return ex
    tampered = trust.check_marker(plan.root_key, marker)
    if tampered:
        ex.state, ex.message = "wrong-project", f"{layout.marker}: {tampered}"
        return ex
    try:
        own_unknown, problems = reader.read_own_unknown(layout, plan.device_id, set(plan.published), plan.project_id,
                                                        ex.own_torn)
        ex.problems = problems
        ex.own_unknown = _own_segments(plan, own_unknown, ex)
        ex.own_damaged = publisher.check_own(layout, plan.device_id, plan.published, plan.verify)
    except HostileFile as exc:
        ex.state, ex.message = "unsafe", f"{exc}; this device publishes nothing until it is removed"
        return ex
    except OSError as exc:
        ex.state, ex.message = "offline", f"{plan.share}: cannot read the share ({exc})"
        return ex
    if not ex.own_unknown and not _fork_ahead(plan, ex):
        _publish(layout, plan, ex)
    try:
        ex.scans, ex.root_artefacts = reader.scan_share(layout, plan.cursors, {plan.device_id}, plan.project_id,
                                                        budget, plan.previous_published, plan.merged)
        ex.blobs = reader.fetch_blobs(layout, reader.wanted_blobs(ex.scans) | plan.blobs_wanted)
        ex.problems += reader.changed_after_merge(layout, plan.merged)
    except HostileFile as exc:
        ex.state, ex.message = "unsafe", str(exc)
    except OSError as exc:
        ex.state, ex.message = "offline", f"{plan.share}: cannot read the share ({exc})"
    return ex


def _fork_ahead(plan: RoundPlan, ex: Exchange) -> bool:
    """Would publishing make a second, different segment from a first seq that already has one of
    ours on the share (named after a crash, then torn)? Then publish nothing now: the next plan
    re-makes exactly that range (publisher.plan, ``sync.own_torn``) and replaces the torn copy."""
    planned = {s.name for s in plan.repairs + plan.segments}
    firsts = {SegmentName.parse(n).first: n for n in ex.own_torn if SegmentName.parse(n) is not None}
    for seg in plan.segments:
        if seg.first in firsts and firsts[seg.first] not in planned:
            return True
    return False


def _own_segments(plan: RoundPlan, segs: list[Segment], ex: Exchange) -> list[Segment]:
    """The segments in our own folder that this store may take as its own: on a signed share only
    those signed by a key of this machine; any other is refused, never restored (it would make
    this store adopt, and chain its own work onto, ops someone else wrote in its name)."""
    if plan.root_key is None:
        return segs
    out = []
    for seg in segs:
        if trust.verify_own(seg, plan.own_keys):
            out.append(seg)
        else:
            ex.own_refused.append(seg.name)
            ex.problems.append(f"refused: segment {seg.name} in this device's own folder was not written by this "
                               f"store and is not signed by a key of this machine: not restored (remove it from "
                               f"devices/{plan.device_id}/segments)")
    return out


def _publish(layout: ShareLayout, plan: RoundPlan, ex: Exchange) -> None:
    try:
        _device_file(layout, plan)
        if plan.repairs:
            publisher.write(layout, plan.device_id, plan.repairs)
        ex.written = publisher.write(layout, plan.device_id, plan.segments)
        _write_head(layout, plan, ex)
        publisher.sweep_own_temps(layout, plan.device_id)
    except DuplicateIdentity as exc:
        ex.state, ex.message = "identity", str(exc)
    except HostileFile as exc:
        ex.state, ex.message = "unsafe", f"{exc}; nothing published"
    except OSError as exc:
        if exc.errno in READ_ONLY_ERRNOS:
            ex.state = "read-only"
            ex.message = f"{plan.share}: the share is read-only here ({exc.strerror}); pulling only, " \
                         f"local changes stay in the outbox"
        else:
            ex.state = "offline" if exc.errno != errno.ENOSPC else "full"
            ex.message = f"{plan.share}: could not publish ({exc}); will retry"


def _write_head(layout: ShareLayout, plan: RoundPlan, ex: Exchange) -> None:
    """Advisory head.json (C7), rewritten only when something but the time changed (no churn for
    the sync tool); a read-only share shows up here even when there is nothing to publish."""
    path = layout.device_dir(plan.device_id) / "head.json"
    head = dict(plan.head)
    if ex.written:
        head.update(last_seq=ex.written[-1].last, last_hash=ex.written[-1].sha256)
    try:
        old = share_json.loads(read_capped(path, HEAD_MAX))
    except (OSError, ValueError, HostileFile):
        old = {}
    if {k: v for k, v in old.items() if k not in ("wall", "hlc")} == \
            {k: v for k, v in head.items() if k not in ("wall", "hlc")}:
        return
    if old and _younger_than(path, HEAD_MIN_INTERVAL_S):
        return        # a sync tool needs time to pull the last version (nobody waits on this file)
    try:
        replace_file(path, (canonical_json(head) + "\n").encode(), "head")
    except OSError as exc:
        if exc.errno in READ_ONLY_ERRNOS:
            raise


def _younger_than(path: Path, seconds: float) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    return 0 <= age < seconds       # a clock that disagrees with the share's (negative age): write


def _device_file(layout: ShareLayout, plan: RoundPlan) -> None:
    d = layout.real_dir(layout.device_dir(plan.device_id), create=True)
    layout.real_dir(layout.segments_dir(plan.device_id), create=True)
    path = d / "device.json"
    body = {"device_id": plan.device_id, "instance_nonce": plan.instance_nonce, "format": 1}
    if not os.path.lexists(path):
        write_once(path, (canonical_json(body) + "\n").encode())
        return
    try:
        existing = share_json.loads(read_capped(path, HEAD_MAX))
    except ValueError:
        return
    if existing.get("instance_nonce") not in (None, plan.instance_nonce):
        raise DuplicateIdentity(f"{path}: device {plan.device_id[:8]} was registered by another store")


# ---- 3. commit (SQLite thread) -----------------------------------------------------------------
def commit(project: Any, plan: RoundPlan, ex: Exchange) -> SyncReport:
    with _bulk():
        return _commit(project, plan, ex)


def _commit(project: Any, plan: RoundPlan, ex: Exchange) -> SyncReport:
    report = SyncReport(state=ex.state, message=ex.message, problems=list(ex.problems),
                        artefacts=list(ex.root_artefacts))
    if ex.state in ("offline", "wrong-project") and not ex.scans:
        _save_round(project, report)
        return report
    if project.device_id != plan.device_id:
        report.problems.append("the device id changed during the round; nothing merged")
        return report
    merger = Merger(project)
    if ex.written:
        publisher.mark_published(project, plan.device_id, ex.written)
        report.published_segments = len(ex.written)
        report.published_ops = sum(len(s.op_ids) for s in ex.written)
        _refresh_conflicts(project, merger, [o for s in ex.written for o in s.op_ids])
    with project.transaction() as conn:
        repo.set_meta(conn, "sync.repair", json.dumps(ex.own_damaged))
        repo.set_meta(conn, "sync.own_torn", json.dumps(sorted(ex.own_torn)))
    report.again = report.again or (sorted(ex.own_torn) != plan.own_torn and bool(plan.segments))
    if ex.own_unknown or ex.state == "identity":
        _reconcile(project, merger, ex, report)
    keys_before = _key_count(project.conn)
    waiting_on_key = False
    for dev, scan in ex.scans.items():
        for seg in scan.segments:
            chosen = _choose(project, scan, seg)
            if chosen is None:
                waiting_on_key = waiting_on_key or scan.waiting_key
                break
            problem = _merge(project, merger, chosen, ex.blobs)
            if problem:
                scan.problems.append(problem)
                break
            if chosen is not seg or scan.rivals.get(seg.first):
                report.again = True        # the scan stopped at the fork: read on from the choice
    report.again = report.again or (waiting_on_key and _key_count(project.conn) != keys_before)
    with project.transaction() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        merger.retry_pending(ex.blobs)
        retracted, n = trust.retract_revoked(conn, merger.reducer, merger.now)
        if n:
            merger.changes.update(retracted)
            report.problems.append(f"{n} ops merged before their key's revocation arrived were set aside")
        _devices(conn, merger, ex)
        repo.set_meta(conn, "hlc", f"{project.clock.last.ms},{project.clock.last.counter}")
    report.received = {k: v for k, v in merger.counts.items() if v}
    report.changes.update(merger.changes)
    report.problems += [p for s in ex.scans.values() for p in s.problems]
    _save_round(project, report)
    return report


def _key_count(conn: Any) -> int:
    return int(conn.execute("SELECT COUNT(*) + COUNT(revoked_by_op) FROM user_keys").fetchone()[0])


def _choose(project: Any, scan: reader.DeviceScan, seg: Segment) -> Segment | None:
    """The segment to merge at this point of the device's log: among the candidates from one first
    seq (normally one), the one whose signature and authors this store accepts (trust.py). Two
    different accepted ones are a fork: reported while both are on the share; the first by name is
    merged (every replica chooses the same)."""
    signed = trust.root_key(project.conn) is not None
    chosen: Segment | None = None
    for cand in [seg] + scan.rivals.get(seg.first, []):
        verdict, why = trust.check(project.conn, cand, signed_share=signed)
        if verdict == trust.OK:
            if chosen is None:
                chosen = cand
            else:
                scan.problems.append(f"fork: device {seg.dev[:8]} has two different signed segments from seq "
                                     f"{seg.first} ({chosen.name}, {cand.name}); merged {chosen.name} (the device "
                                     f"that wrote both must remove the one it did not record)")
        else:
            scan.problems.append(why)
            scan.waiting_key = scan.waiting_key or verdict == trust.WAIT
    return chosen


def _merge(project: Any, merger: Merger, seg: Segment, blobs: dict[str, bytes | None]) -> str | None:
    """Merge one accepted segment in its own transaction; an op that fails its type's schema (or
    that its type cannot apply) refuses the whole segment, with nothing of it kept (rolled back)."""
    from labeldesk.core.sync.validation import InvalidOp
    try:
        with project.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            merger.merge_segment(seg, blobs)
            _mark_seen(project, merger)
            repo.set_meta(conn, "hlc", f"{project.clock.last.ms},{project.clock.last.counter}")
            conn.execute("INSERT OR REPLACE INTO sync_segments (dev, name, size, mtime_ns, sha256, key_id) VALUES "
                         "(?,?,?,?,?,?)", (seg.dev, seg.name, seg.size, seg.mtime_ns, seg.sha256, seg.key_id))
    except InvalidOp as exc:
        merger.rolled_back()
        return f"refused: device {seg.dev[:8]}: segment {seg.name}: {exc}; nothing of it merged"
    return None


def _refresh_conflicts(project: Any, merger: Merger, op_ids: list[str]) -> None:
    """Our own edits of an entity with an open conflict change its candidates: recompute them
    now, as every other replica does when it merges those edits."""
    from labeldesk.core.sync.history import REF_COLUMNS, ref_from_row
    from labeldesk.core.sync.reducer import group_of
    if project.conn.execute("SELECT 1 FROM sync_conflicts WHERE status = 'open' LIMIT 1").fetchone() is None:
        return
    groups = set()
    for row in project.conn.execute(f"SELECT {REF_COLUMNS} FROM ops o WHERE o.op_id IN (SELECT value FROM json_each(?))"
                                    " AND o.entity IN (SELECT entity FROM sync_conflicts WHERE status = 'open')",
                                    (json.dumps(op_ids),)):
        if (g := group_of(ref_from_row(tuple(row)))) is not None:
            groups.add(g)
    if groups:
        with project.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for g in sorted(groups, key=lambda g: (g[0], g[1] or "")):
                merger.changes.update(merger.reducer.reduce(g))


def _reconcile(project: Any, merger: Merger, ex: Exchange, report: SyncReport) -> None:
    try:
        identity.check_own(project.conn, ex.own_unknown)
        if ex.state == "identity":
            raise DuplicateIdentity(ex.message)
        with project.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            report.fast_forwarded = identity.adopt(merger, ex.own_unknown, ex.blobs)
            _mark_seen(project, merger)
    except DuplicateIdentity as exc:
        with project.transaction():
            report.rekeyed_to = identity.rekey(project, merger, str(exc))
        report.state, report.message = "identity", f"{exc}; this store now publishes as device " \
                                                   f"{report.rekeyed_to[:8]}"


def _mark_seen(project: Any, merger: Merger) -> None:
    """Ops made from now on have seen every segment merged so far (their causal context)."""
    seen = {d: c[0] for d, c in cursors(project.conn).items() if d != project.device_id}
    prev = repo.get_meta(project.conn, "previous_device_id")
    if prev:                              # our own ops under a previous identity
        seen[prev] = max(seen.get(prev, 0), publisher.last_published(project.conn, prev)[0])
    next_seq = repo.next_seq(project.conn, project.device_id)
    if merger.history.seen(project.device_id, next_seq) != seen:
        merger.history.add_mark(project.device_id, next_seq, seen)


def _devices(conn: Any, merger: Merger, ex: Exchange) -> None:
    now = merger.now
    for dev, scan in ex.scans.items():
        row = conn.execute("SELECT waiting_since, waiting_for_seq, clock_ahead_ms, problems FROM sync_devices"
                           " WHERE dev = ?", (dev,)).fetchone()
        earlier = {p["text"]: p["since"] for p in json.loads(row[3]) if isinstance(p, dict)} if row else {}
        problems = [{"text": t, "since": earlier.get(t, now)} for t in dict.fromkeys(scan.problems)]
        since = None
        if scan.waiting_for is not None:
            since = row[0] if row is not None and row[1] == scan.waiting_for and row[0] else now
        cur = conn.execute("SELECT last_seq, last_segment FROM sync_cursors WHERE dev = ?", (dev,)).fetchone()
        user = merger.users.get(dev)
        if dev in merger.clock_ahead:      # its own clock seen this round: flag it, or clear it
            ahead = merger.clock_ahead[dev] if merger.clock_ahead[dev] > MAX_SKEW_MS else 0
        else:
            ahead = int(row[2]) if row else 0
        conn.execute(
            "INSERT INTO sync_devices (dev, user, last_segment, last_seq, waiting_for_seq, waiting_since, clock_ahead_ms,"
            " problems, artefacts, updated) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(dev) DO UPDATE SET"
            " user = COALESCE(excluded.user, user), last_segment = excluded.last_segment, last_seq = excluded.last_seq,"
            " waiting_for_seq = excluded.waiting_for_seq, waiting_since = excluded.waiting_since,"
            " clock_ahead_ms = excluded.clock_ahead_ms, problems = excluded.problems, artefacts = excluded.artefacts,"
            " updated = excluded.updated",
            (dev, user, cur[1] if cur else None, cur[0] if cur else 0, scan.waiting_for, since, ahead,
             json.dumps(problems), json.dumps(scan.artefacts), now))


def _save_round(project: Any, report: SyncReport) -> None:
    with project.transaction() as conn:
        repo.set_meta(conn, "sync.last_round", json.dumps({"wall": now_wall(), **report.to_dict()}))


def sync_round(project: Any, *, verify: bool = False, max_passes: int = 100) -> SyncReport:
    """Publish, read, merge — repeated while there is more to read or our folder was reconciled."""
    total = SyncReport()
    with _bulk():       # for the whole round: what a step leaves to the next is not rescanned
        for _ in range(max_passes):
            plan = prepare(project, verify=verify)
            ex = exchange(plan)
            report = commit(project, plan, ex)
            total.add(report)
            again = ex.more or bool(ex.own_unknown) or report.rekeyed_to is not None or bool(ex.own_damaged) \
                or report.again
            del plan, ex    # the segments read are freed while the collector is still off
            if not again or report.state in ("offline", "wrong-project"):
                break
            verify = False
    return total


# ---- share init / join ----------------------------------------------------------------------------
def init_share(project: Any, folder: str | Path, *, passphrase: str | None = None) -> SyncReport:
    """Found the share: the founding admin's key (made now if this machine has none) is pinned in
    the project marker and in this store."""
    from labeldesk.core.sync.enrolment import ensure_own_key
    folder = Path(folder).resolve()
    info, _ = ensure_own_key(project, passphrase)
    admin_key = None if info is None else {"key_id": info.key_id, "public_key": info.public_key,
                                           "user_id": str(project.user_id)}
    ShareLayout(folder).init(project.id, str(project.user_id), project.clock.last.to_list(), admin_key)
    notes = sync_tools.describe(folder)          # e.g. a Syncthing folder: .stignore for our temp files
    pinned = trust.marker_key(ShareLayout(folder).read_marker())
    with project.transaction() as conn:
        trust.pin_root(conn, pinned)
    if repo.get_meta(project.conn, "setting.asset_key") is None:
        # DICOM assets are named by a keyed hash of their UIDs: every replica needs the same key
        project.apply(OpDraft("project.settings", None, {"set": {"asset_key": repo.get_meta(project.conn, "project_salt")}},
                              reason="sharing: replicas name DICOM series alike"))
    with project.transaction() as conn:
        repo.set_meta(conn, SHARE_KEY, str(folder))
        if identity.inherited_outbox(conn, project.device_id):
            # the store was copied or moved before it was shared: its earlier work would otherwise
            # wait forever for a store that no longer publishes it
            merger = Merger(project)
            identity.rekey(project, merger, "work made before this store was copied or moved", inherited=True)
            conn.execute("DELETE FROM meta WHERE key = 'sync.identity_alert'")   # expected, not an alarm
    report = sync_round(project)
    report.notes = notes
    return report


def join_share(folder: str | Path, dest: str | Path, *, user: str | None = None,
               allow_unsafe_location: bool = False, passphrase: str | None = None) -> tuple[Any, SyncReport]:
    from labeldesk.core.project import Project
    folder = Path(folder).resolve()
    try:
        marker = ShareLayout(folder).read_marker()
    except ShareError as exc:
        tools = sync_tools.tools_at(folder) if folder.is_dir() else []
        if tools and not (folder / "labeldesk-project.json").exists():
            raise ShareError(f"{exc}. This is a {', '.join(tools)} folder: if the share was just added "
                             f"there, wait until the first sync has finished") from None
        raise
    notes = sync_tools.describe(folder)          # .stignore is never synced: each device writes its own
    try:
        pinned = trust.marker_key(marker)
    except LabeldeskError as exc:
        raise ShareError(f"{ShareLayout(folder).marker}: {exc}; not joined") from None
    fresh = not Path(dest).exists() or not any(Path(dest).iterdir())
    project = Project.create(dest, None, project_id=str(marker["project_id"]), founder=False,
                             allow_unsafe_location=allow_unsafe_location)
    try:
        with project.transaction() as conn:
            repo.set_meta(conn, SHARE_KEY, str(folder))
            trust.pin_root(conn, pinned)
        from labeldesk.core.sync import snapshot
        with _bulk():       # the newest valid snapshot, then only the segments after it
            _, ignored = snapshot.bootstrap(project, folder)
        report = sync_round(project)
        report.problems[:0] = ignored
        report.notes = notes
        if user:
            from labeldesk.core.review.roles import find_user
            from labeldesk.core.sync.enrolment import ensure_own_key
            uid = find_user(project.conn, user)
            with project.transaction() as conn:
                repo.set_meta(conn, "user_id", uid)
            project.user_id = uid
            ensure_own_key(project, passphrase)        # its public half waits on the share for an admin
    except BaseException:
        project.close()
        if fresh:
            _discard(Path(dest))
        raise
    return project, report


def _discard(dest: Path) -> None:
    """A join that failed leaves no half-built replica behind (only what it made itself)."""
    import shutil
    from labeldesk.core.project import STORE_NAME
    if (dest / STORE_NAME).exists():
        shutil.rmtree(dest, ignore_errors=True)
