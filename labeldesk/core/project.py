"""A project: one local SQLite store plus a local cache, identified by a UUID, not a path.

Every change goes through :meth:`Project.apply` (or :meth:`Project.apply_all` for bulk work): the
op is validated, appended to the hash-chained log and the outbox, and materialised, in one
transaction. The result says exactly which ids changed and carries the inverse draft for undo.
"""
from __future__ import annotations

import getpass
import hashlib
import os
import platform
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from labeldesk import __version__
from labeldesk.core import ids
from labeldesk.core.clock import HybridClock, Timestamp, wall_text
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.model import Annotation, Asset, Layer, Plane, User
from labeldesk.core.ontology import LabelClass
from labeldesk.core.op_types import annotations
from labeldesk.core.ops import Applied, ChangeSet, Op, OpDraft
from labeldesk.core.store import bulk, oplog, repo, single
from labeldesk.core.store.checkpoint import Checkpointer, checkpoint as _checkpoint
from labeldesk.core.store.connection import backup, connect, integrity_check
from labeldesk.core.store.location import check_store_location
from labeldesk.core.store import writable
from labeldesk.core.store.lock import ProjectLock

STORE_NAME = "project.labeldesk"
# Drafts whose payload or reason is text a person typed are checked by the PHI guard before
# writing (labeldesk.core.privacy.holds_free_text; the op types declare their typed-text fields).
from labeldesk.core.privacy import FREE_TEXT_OPS, holds_free_text  # noqa: E402,F401
LOCK_NAME = "project.lock"
CACHE_DIR = "cache"


def is_project(root: str | Path) -> bool:
    return (Path(root) / STORE_NAME).is_file()


def store_upgrade_pending(root: str | Path) -> tuple[int, int] | None:
    """(version, newest) when the project's store was written by an older labeldesk and opening
    it will upgrade it first (once; a large op log is copied: seconds for 100,000s of ops), else
    None. Read from the file's header, without opening SQLite (a version committed but still in
    the WAL reads as older: the upgrade then finds nothing to do)."""
    from labeldesk.core.store.migrations import SCHEMA_VERSION
    try:
        with open(Path(root) / STORE_NAME, "rb") as f:
            header = f.read(100)
    except OSError:
        return None
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return None
    version = int.from_bytes(header[60:64], "big")
    return (version, SCHEMA_VERSION) if 0 < version < SCHEMA_VERSION else None


def upgrade_store(root: str | Path) -> None:
    """Bring the project's store to this app's version (what ``Project.open`` does first), under
    the project's lock, so that a window can do it on a worker while it shows progress."""
    root = Path(root).resolve()
    lock = _acquire_writable(root)
    try:
        connect(root / STORE_NAME).close()
    finally:
        lock.release()


def _machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            return Path(p).read_text().strip()
        except OSError:
            continue
    return platform.node()


def _instance_nonce(store_path: Path) -> str:
    """Binds the device identity to this machine and store path (docs/sync.md §3)."""
    return hashlib.sha256(f"{_machine_id()}|{store_path.resolve()}".encode()).hexdigest()[:32]


def default_user_name() -> str:
    try:
        return os.environ.get("LABELDESK_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "user"


class Project:
    def __init__(self, root: Path, conn: sqlite3.Connection, lock: ProjectLock) -> None:
        self.root = root
        self.conn = conn
        self._lock = lock
        self.store_path = root / STORE_NAME
        self.cache_dir = root / CACHE_DIR
        self.id = self._meta("project_id")
        self.device_id = self._meta("device_id")
        self.clock = HybridClock(Timestamp(*repo.clock_floor(conn, self.device_id)))
        self.user_id = self._meta("user_id")
        # Called with the ChangeSet of every committed apply_all (open documents keep in step)
        self.on_applied: list[Callable[[ChangeSet], None]] = []
        # WAL checkpoints run on a thread of their own, not inside an edit's commit
        # (store/checkpoint.py); started once the store is known to be writable
        self._checkpointer: Checkpointer | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, name: str | None = None, *, user_name: str | None = None,
               allow_unsafe_location: bool = False, project_id: str | None = None,
               founder: bool = True) -> "Project":
        """A new store. ``project_id``/``founder=False``: a replica of an existing project (sync
        ``share join``): same project id, a new device, no founding user/roles/layer ops."""
        root = Path(root).resolve()
        if is_project(root):
            raise LabeldeskError(f"{root}: a labeldesk project exists here already")
        if root.exists() and not root.is_dir():
            raise LabeldeskError(f"{root}: exists and is not a folder")
        check_store_location(root, allow_unsafe_location)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabeldeskError(f"{root}: cannot make the project folder ({exc.strerror or exc})") from None
        lock = _acquire_writable(root)
        try:
            conn = connect(root / STORE_NAME)
            conn.execute("BEGIN IMMEDIATE")
            for key, value in {
                "project_id": project_id or str(uuid.uuid4()), "name": name or root.name,
                "device_id": ids.new_device_id(), "next_seq": 1, "hlc": "0,0",
                "instance_nonce": _instance_nonce(root / STORE_NAME),
                "created_by_app": f"labeldesk/{__version__}", "ontology_version": 0,
                "project_salt": os.urandom(16).hex(),
            }.items():
                repo.set_meta(conn, key, value)
            conn.execute("COMMIT")
            project = cls(root, conn, lock)
            project._start_checkpoints()
        except BaseException:
            lock.release()
            raise
        if not founder:
            project.cache_dir.mkdir(exist_ok=True)
            return project
        uname = user_name or default_user_name()
        user_id = ids.new_id()
        project.apply_all([
            OpDraft("user.add", user_id, {"name": uname}),
            OpDraft("role.grant", user_id, {"role": "admin"}),
            OpDraft("role.grant", user_id, {"role": "annotator"}),
            OpDraft("layer.create", ids.new_id(), {"layer": {"name": uname, "kind": "annotator", "owner": user_id}}),
        ], user=user_id)
        with project.transaction():
            repo.set_meta(conn, "user_id", user_id)
        project.user_id = user_id
        project.cache_dir.mkdir(exist_ok=True)
        return project

    @classmethod
    def open(cls, root: str | Path, *, allow_unsafe_location: bool = False) -> "Project":
        root = Path(root).resolve()
        if not is_project(root):
            raise LabeldeskError(f"{root}: not a labeldesk project (no {STORE_NAME}); "
                                 f"create one with `labeldesk init {root}`")
        check_store_location(root, allow_unsafe_location)
        lock = _acquire_writable(root)
        project = None
        try:
            conn = connect(root / STORE_NAME)
            project = cls(root, conn, lock)
            writable.check_store(root, conn)
            project._check_identity()
            project._start_checkpoints()
        except BaseException:
            if project is not None and project._checkpointer is not None:
                project._checkpointer.close()
            lock.release()
            raise
        project.cache_dir.mkdir(exist_ok=True)
        return project

    def _check_identity(self) -> None:
        """A store copied to another machine or path gets a new device id (never two writers
        publishing under one identity); its earlier ops keep their original op ids."""
        nonce = _instance_nonce(self.store_path)
        if self._meta("instance_nonce") != nonce:
            with self.transaction():
                old = self.device_id
                self.device_id = ids.new_device_id()
                repo.set_meta(self.conn, "previous_device_id", old)
                repo.set_meta(self.conn, "device_id", self.device_id)
                repo.set_meta(self.conn, "next_seq", 1)
                repo.set_meta(self.conn, "instance_nonce", nonce)

    def _start_checkpoints(self) -> None:
        self._checkpointer = Checkpointer(self.store_path, self.conn)

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def checkpoint(self, *, wait: float | None = None) -> tuple[int, int, int] | bool:
        """Copy the WAL back into the store now (what the checkpoint thread does by itself after
        a run of commits and when the writer is idle). Without ``wait``: on this thread, returns
        SQLite's (busy, WAL frames, frames copied). With ``wait`` seconds: asks the thread and
        returns whether it ran one in time."""
        if wait is not None:
            return self._checkpointer.wait(wait) if self._checkpointer is not None else False
        return _checkpoint(self.conn)

    def close(self) -> None:
        from labeldesk.core import document_snapshot
        document_snapshot.flush()            # snapshots of open documents still being written
        if self._checkpointer is not None:   # (stopped first: the write connection, closed last,
            self._checkpointer.close()       # checkpoints what is left and removes the WAL)
            self._checkpointer = None
        if self.conn is not None:
            try:
                self.conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            self.conn.close()
            self.conn = None  # type: ignore[assignment]
        self._lock.release()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the one write path ----------------------------------------------------------------
    def transaction(self) -> "_Transaction":
        return _Transaction(self.conn, self._committed)

    def apply(self, draft: OpDraft, *, user: str | None = None) -> Applied:
        """``apply_all([draft])[0]``, written for the latency of one edit (``store/single.py``)."""
        return single.apply_one(self, draft, user)

    def apply_all(self, drafts: Iterable[OpDraft], *, user: str | None = None) -> list[Applied]:
        """Apply drafts in one transaction: all land or none does (OpRejected names the problem).
        The write loop lives in ``store/bulk.py``."""
        return bulk.apply_drafts(self, drafts, user)

    def apply_bulk(self, drafts: Iterable[OpDraft], *, user: str | None = None) -> bulk.BulkResult:
        """``apply_all`` for bulk work (imports): the same transaction, rules and op log, with runs
        of annotation.create checked and written together; returns counts, the changed ids and the
        undo drafts instead of one ``Applied`` per op. ``drafts`` may be a generator."""
        return bulk.apply_bulk(self, drafts, user)

    def _check_no_phi(self, draft: OpDraft) -> None:
        """Text a person typed (comments, reasons, names) must not carry a patient identifier this
        project knows of: ops are synced and immutable, so it is refused before it is written."""
        from labeldesk.core.privacy import PhiGuard
        found = PhiGuard(self).problems([draft])
        if found:
            raise OpRejected(f"{draft.type}: refused because it contains a patient identifier "
                             f"({'; '.join(found)}); changes are shared with the team and kept forever")

    def _stamp(self, draft: OpDraft, seq: int, user: str | None) -> Op:
        ts = self.clock.tick()
        return Op(op_id=ids.op_id(self.device_id, seq), dev=self.device_id, seq=seq,
                  hlc=(ts.ms, ts.counter), wall=wall_text(),
                  user=user or self.user_id, type=draft.type, entity=draft.entity,
                  payload=draft.payload, base=tuple(draft.base), reason=draft.reason)

    # ---- reads -----------------------------------------------------------------------------
    def _meta(self, key: str, default: str | None = None) -> Any:
        return repo.get_meta(self.conn, key, default)

    @property
    def name(self) -> str:
        return str(self._meta("name", self.root.name))

    @property
    def ontology_version(self) -> int:
        return int(self._meta("ontology_version", "0"))

    def assets(self, include_removed: bool = False) -> list[Asset]:
        return repo.assets(self.conn, include_removed)

    def asset(self, asset_id: str) -> Asset:
        a = repo.asset(self.conn, asset_id)
        if a is None:
            raise LabeldeskError(f"no asset with id {asset_id} in this project")
        return a

    def locator(self, asset_id: str) -> dict[str, Any] | None:
        return repo.locator(self.conn, asset_id)

    def open_source(self, asset_id: str) -> Any:
        """The asset's pixels as an ImageSource (readers are imported lazily)."""
        from labeldesk.core.io.registry import open_locator
        loc = self.locator(asset_id)
        if loc is None:
            raise LabeldeskError(f"asset {self.asset(asset_id).name}: its files are not on this machine")
        return open_locator(loc)

    def annotations(self, asset_id: str, plane: Plane | None = None, layer_id: str | None = None,
                    include_deleted: bool = False) -> list[Annotation]:
        return repo.annotations(self.conn, asset_id, plane, layer_id, include_deleted)

    def annotation(self, annotation_id: str) -> Annotation | None:
        return repo.annotation(self.conn, annotation_id)

    def track(self, track_id: str) -> list[Annotation]:
        return repo.track(self.conn, track_id)

    def classes(self) -> list[LabelClass]:
        return repo.classes(self.conn)

    def layers(self) -> list[Layer]:
        return repo.layers(self.conn)

    def users(self) -> list[User]:
        return repo.users(self.conn)

    @property
    def my_layer_id(self) -> str:
        """The local user's own annotator layer (created with the project or on first use)."""
        for layer in self.layers():
            if layer.owner == self.user_id and layer.kind == "annotator":
                return layer.id
        uname = next((u.name for u in self.users() if u.id == self.user_id), default_user_name())
        return str(self.apply(OpDraft("layer.create", ids.new_id(),
                                      {"layer": {"name": uname, "kind": "annotator", "owner": self.user_id}})).op.entity)

    def counts(self) -> dict[str, int]:
        return repo.counts(self.conn)

    def ops(self, entity: str | None = None) -> Iterator[Op]:
        return oplog.iter_ops(self.conn, entity)

    def verify_chain(self) -> oplog.ChainReport:
        return oplog.verify_chain(self.conn)

    def integrity_check(self) -> str:
        return integrity_check(self.conn)

    def backup(self, dest: str | Path) -> Path:
        return backup(self.conn, dest)

    def info(self) -> dict[str, Any]:
        return {"project_id": self.id, "name": self.name, "root": str(self.root),
                "device_id": self.device_id, "user_id": self.user_id,
                "ontology_version": self.ontology_version, "counts": self.counts(),
                "assets": [{"id": a.id, "name": a.name, "kind": a.kind, "width": a.width,
                            "height": a.height, "depth": a.depth, "frames": a.frames, "dtype": a.dtype}
                           for a in self.assets()]}


class _Transaction:
    def __init__(self, conn: sqlite3.Connection, on_commit: Callable[[], None] | None = None) -> None:
        self.conn = conn
        self.on_commit = on_commit

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if "readonly" not in str(err):
                raise
            raise _store_error(err) from err          # a disk made read-only under an open project
        return self.conn

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (e.g. a full disk): only roll back if open.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as err:
                self._rollback()
                raise _store_error(err) from err
            if self.on_commit is not None:
                self.on_commit()
            return
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise _store_error(exc) from exc


def _acquire_writable(root: Path) -> ProjectLock:
    """The project's lock, taken only where the project can be written (a clear refusal, not an
    OSError, for a read-only folder: labeldesk.core.store.writable)."""
    writable.check_folder(root, root / STORE_NAME)
    lock = ProjectLock(root / LOCK_NAME)
    try:
        lock.acquire()
    except OSError as exc:
        refused = writable.lock_error(root, exc)
        if refused is None:
            raise
        raise refused from None
    return lock


def _store_error(err: sqlite3.Error) -> LabeldeskError:
    text = str(err)
    if "readonly" in text:
        return LabeldeskError(f"the project's store cannot be written any more (read-only folder or disk): the "
                              f"change was not saved; earlier changes are kept. Close the project and open it "
                              f"where it can be written ({text})")
    if "full" in text:
        return LabeldeskError(f"the disk is full: the change was not saved (nothing was lost); "
                              f"free some space and try again ({text})")
    if "append-only" in text:
        return LabeldeskError(f"refused: {text}")
    return LabeldeskError(f"the project store refused the change: {text}")
