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

import contextlib
import errno
import gc
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from labeldesk.core import sync_tools
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import ChangeSet, OpDraft, canonical_json
from labeldesk.core.store import repo
from labeldesk.core.sync import identity, publisher, reader
from labeldesk.core.sync.layout import DuplicateIdentity, ShareError, ShareLayout, replace_file, write_once
from labeldesk.core.sync.merge import Merger, cursors, now_wall
from labeldesk.core.sync.publisher import PlannedSegment
from labeldesk.core.sync.reader import DeviceScan
from labeldesk.core.sync.segment import Segment

SHARE_KEY = "sync.share"
# head.json is advisory; rewritten at most this often so that a sync tool (Syncthing pulls a file
# only once it has stopped changing) can keep up with an app that syncs every 10 s.
HEAD_MIN_INTERVAL_S = 60.0


@contextlib.contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while a round decodes and merges its many small objects (op
    lines, payloads, refs): the collector would rescan the whole heap again and again (a third of
    a 20k-op round). Reference counting still frees everything, none of it is cyclic."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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
    return RoundPlan(share, project.id, dev, {dev} | ({prev} if prev else set()),
                     str(repo.get_meta(conn, "instance_nonce", "")), curs, publisher.plan(project), published,
                     previous_published, repairs, Merger.pending_blobs_of(conn), head, verify)


# ---- 2. exchange (share I/O only) --------------------------------------------------------------
READ_ONLY_ERRNOS = {errno.EACCES, errno.EROFS, errno.EPERM}


def exchange(plan: RoundPlan, *, budget: int = 100_000) -> Exchange:
    with _bulk():
        return _exchange(plan, budget)


def _exchange(plan: RoundPlan, budget: int) -> Exchange:
    ex = Exchange()
    layout = ShareLayout(plan.share)
    try:
        layout.check_marker(plan.project_id)
    except ShareError as exc:
        ex.state = "wrong-project" if layout.marker.exists() else "offline"
        ex.message = str(exc)
        return ex
    try:
        own_unknown, problems = reader.read_own_unknown(layout, plan.device_id, set(plan.published), plan.project_id)
        ex.own_unknown, ex.problems = own_unknown, problems
        ex.own_damaged = publisher.check_own(layout, plan.device_id, plan.published, plan.verify)
    except OSError as exc:
        ex.state, ex.message = "offline", f"{plan.share}: cannot read the share ({exc})"
        return ex
    if not ex.own_unknown:
        _publish(layout, plan, ex)
    try:
        ex.scans, ex.root_artefacts = reader.scan_share(layout, plan.cursors, {plan.device_id}, plan.project_id,
                                                        budget, plan.previous_published)
        ex.blobs = reader.fetch_blobs(layout, reader.wanted_blobs(ex.scans) | plan.blobs_wanted)
    except OSError as exc:
        ex.state, ex.message = "offline", f"{plan.share}: cannot read the share ({exc})"
    return ex


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
        old = json.loads(path.read_bytes())
    except (OSError, ValueError):
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
    d = layout.device_dir(plan.device_id)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "device.json"
    body = {"device_id": plan.device_id, "instance_nonce": plan.instance_nonce, "format": 1}
    if not path.exists():
        write_once(path, (canonical_json(body) + "\n").encode())
        return
    try:
        existing = json.loads(path.read_bytes())
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
    if ex.own_unknown or ex.state == "identity":
        _reconcile(project, merger, ex, report)
    for dev, scan in ex.scans.items():
        for seg in scan.segments:
            with project.transaction() as conn:
                conn.execute("PRAGMA defer_foreign_keys = ON")
                merger.merge_segment(seg, ex.blobs)
                _mark_seen(project, merger)
                repo.set_meta(conn, "hlc", f"{project.clock.last.ms},{project.clock.last.counter}")
    with project.transaction() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        merger.retry_pending(ex.blobs)
        _devices(conn, merger, ex)
        repo.set_meta(conn, "hlc", f"{project.clock.last.ms},{project.clock.last.counter}")
    report.received = {k: v for k, v in merger.counts.items() if v}
    report.changes.update(merger.changes)
    report.problems += [p for s in ex.scans.values() for p in s.problems]
    _save_round(project, report)
    return report


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
    next_seq = int(repo.get_meta(project.conn, "next_seq", "1") or 1)
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
        ahead = max(int(row[2]) if row else 0, merger.clock_ahead.get(dev, 0))
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
            again = ex.more or bool(ex.own_unknown) or report.rekeyed_to is not None or bool(ex.own_damaged)
            del plan, ex    # the segments read are freed while the collector is still off
            if not again or report.state in ("offline", "wrong-project"):
                break
            verify = False
    return total


# ---- share init / join ----------------------------------------------------------------------------
def init_share(project: Any, folder: str | Path) -> SyncReport:
    folder = Path(folder).resolve()
    ShareLayout(folder).init(project.id, str(project.user_id), project.clock.last.to_list())
    notes = sync_tools.describe(folder)          # e.g. a Syncthing folder: .stignore for our temp files
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
               allow_unsafe_location: bool = False) -> tuple[Any, SyncReport]:
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
    project = Project.create(dest, None, project_id=str(marker["project_id"]), founder=False,
                             allow_unsafe_location=allow_unsafe_location)
    try:
        with project.transaction() as conn:
            repo.set_meta(conn, SHARE_KEY, str(folder))
        from labeldesk.core.sync import snapshot
        with _bulk():       # the newest valid snapshot, then only the segments after it
            _, ignored = snapshot.bootstrap(project, folder)
        report = sync_round(project)
        report.problems[:0] = ignored
        report.notes = notes
        if user:
            from labeldesk.core.review.roles import find_user
            uid = find_user(project.conn, user)
            with project.transaction() as conn:
                repo.set_meta(conn, "user_id", uid)
            project.user_id = uid
    except BaseException:
        project.close()
        raise
    return project, report
