"""The shared folder's layout (docs/sync.md §2): project marker, per-device segment folders,
content-addressed blobs, quarantine; strict file names and the sync-tool artefacts we recognise.

Nothing here touches SQLite. Every path name is generated from hex ids and digits only (no user
names, no patient data).
"""
from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeldesk import __version__
from labeldesk.core import sync_tools
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.sync import share_json

MARKER = "labeldesk-project.json"
SHARE_FORMAT = "labeldesk-share/1"
SEGMENT_FORMAT = "labeldesk-seg/1"       # unsigned (shares made before signing keys)
SIGNED_FORMAT = "labeldesk-seg/2"        # signed by the key of the user whose ops it carries
MIN_APP_VERSION = "0.1.0"
MARKER_MAX = 64 * 1024                   # caps on what is read of a share file of each kind
HEAD_MAX = 256 * 1024
SEGMENT_MAX = 64 * 1024 * 1024           # the publisher cuts segments at 4 MiB (a line may exceed it)

SEGMENT_RE = re.compile(r"^seg-(\d{12})-(\d{12})-([0-9a-f]{12})\.jsonl$")
DEVICE_RE = re.compile(r"^[0-9a-f]{32}$")
# snapshots/snap-<hlc ms>-<hlc counter>-<device>/ holding manifest.json and ops-<device>.jsonl.gz
SNAPSHOT_RE = re.compile(r"^snap-(\d{15})-(\d{6})-([0-9a-f]{32})$")
SNAPSHOT_OPS_RE = re.compile(r"^ops-([0-9a-f]{32})\.jsonl\.gz$")
# Our temp files: ".~ld.<tag>.<hex>.tmp", a name sync tools skip (sync_tools.TEMP_PREFIX); before 0.2
# they were ".<tag>.<hex>.tmp".
OWN_TEMP_RE = re.compile(r"^\.(~ld\.)?(seg-\d{12}|blob-[0-9a-f]{12}|head|device)\.[0-9a-f]+\.tmp$")
# Recognised foreign artefacts (docs/sync.md §2, failure modes #8, #9).
ARTEFACTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("syncthing conflict copy", re.compile(r"\.sync-conflict-\d{8}-\d{6}(-[A-Z0-9]+)?", re.I)),
    ("syncthing temp file", re.compile(r"^(\.syncthing\..*\.tmp|~syncthing~.*\.tmp)$", re.I)),
    ("dropbox conflicted copy", re.compile(r"\(.*conflicted copy.*\)", re.I)),
    ("system file", re.compile(r"^(desktop\.ini|\.ds_store|thumbs\.db)$", re.I)),
)


class ShareError(LabeldeskError):
    """The shared folder cannot be used (missing, foreign or unreadable marker, I/O error)."""


class HostileFile(LabeldeskError):
    """A file or folder in the share that must not be used: a symbolic link, not a regular file,
    or larger than any file of its kind can be."""


class DuplicateIdentity(LabeldeskError):
    """Two stores publish under one device id (a cloned or restored store)."""


def artefact_kind(name: str) -> str | None:
    for kind, pattern in ARTEFACTS:
        if pattern.search(name):
            return kind
    return None


def is_segment_artefact(name: str) -> bool:
    """A conflict copy of one of our own files (a segment, head.json or device.json)."""
    return bool(re.match(r"^(seg-\d{12}-\d{12}-[0-9a-f]{12}|head|device)", name))


@dataclass(frozen=True)
class SegmentName:
    name: str
    first: int
    last: int
    sha12: str

    @classmethod
    def parse(cls, name: str) -> "SegmentName | None":
        m = SEGMENT_RE.match(name)
        if not m:
            return None
        first, last = int(m.group(1)), int(m.group(2))
        return cls(name, first, last, m.group(3)) if 1 <= first <= last else None

    @staticmethod
    def make(first: int, last: int, sha256: str) -> str:
        return f"seg-{first:012d}-{last:012d}-{sha256[:12]}.jsonl"


class ShareLayout:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def devices(self) -> Path:
        return self.root / "devices"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    def device_dir(self, dev: str) -> Path:
        return self.devices / dev

    def segments_dir(self, dev: str) -> Path:
        return self.devices / dev / "segments"

    # ---- never through a symbolic link (the share is writable by every member) -------------
    def real_dir(self, path: Path, *, create: bool = False) -> Path:
        """``path`` (inside the share) if no part of it below the share's root is a symbolic link
        or a non-folder; HostileFile otherwise. ``create``: make the missing parts."""
        rel = path.relative_to(self.root)
        cur = self.root
        for part in rel.parts:
            cur = cur / part
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                if not create:
                    return path
                cur.mkdir(exist_ok=True)
                st = os.lstat(cur)
            if stat.S_ISLNK(st.st_mode):
                raise HostileFile(f"{cur}: a symbolic link inside the share: not followed (nothing is read or "
                                  f"written through it)")
            if not stat.S_ISDIR(st.st_mode):
                raise HostileFile(f"{cur}: should be a folder")
        return path

    def list_dir(self, path: Path) -> list[str]:
        """Sorted names in a share folder ([] if missing); HostileFile if it is reached through a link."""
        self.real_dir(path)
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            return []

    # ---- marker ----------------------------------------------------------------------------
    def read_marker(self) -> dict[str, Any]:
        try:
            raw = read_capped(self.marker, MARKER_MAX)
        except HostileFile as exc:
            raise ShareError(f"{exc}; nothing was read or changed") from None
        except FileNotFoundError:
            raise ShareError(f"{self.marker}: no project marker: this is not a labeldesk share (or the share "
                             f"is not mounted); nothing was read or changed") from None
        except OSError as exc:
            raise ShareError(f"{self.marker}: cannot read the project marker ({exc})") from exc
        try:
            marker = share_json.loads(raw)
            if not isinstance(marker, dict) or marker.get("format") != SHARE_FORMAT or "project_id" not in marker:
                raise ValueError("not a labeldesk project marker")
        except ValueError as exc:
            raise ShareError(f"{self.marker}: unreadable project marker ({exc}); nothing was read") from None
        return marker

    def check_marker(self, project_id: str) -> dict[str, Any]:
        """The marker, if it names ``project_id``; otherwise stop (failure mode #12)."""
        marker = self.read_marker()
        if marker["project_id"] != project_id:
            raise ShareError(f"{self.marker}: this share belongs to project {marker['project_id']}, not "
                             f"{project_id}: wrong folder; nothing was read or changed")
        if _version(str(marker.get("min_app_version", "0"))) > _version(__version__):
            raise ShareError(f"{self.marker}: this share needs labeldesk {marker['min_app_version']} or newer "
                             f"(this is {__version__}); update labeldesk")
        return marker

    def init(self, project_id: str, created_by: str, created_hlc: list[int],
             admin_key: dict[str, Any] | None = None) -> None:
        """Create the layout in an empty folder (or check an existing one is this project's); the
        marker holds ids only: no project, user or patient names."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.marker.exists():
            marker = self.read_marker()
            if marker["project_id"] != project_id:
                raise ShareError(f"{self.marker}: the folder is already the share of project "
                                 f"{marker['project_id']}; choose an empty folder")
        else:
            others = [p.name for p in self.root.iterdir()
                      if artefact_kind(p.name) is None and sync_tools.control_tool(p.name) is None]
            if others:
                raise ShareError(f"{self.root}: the folder is not empty ({', '.join(sorted(others)[:5])}); "
                                 f"choose an empty folder for the share")
            body = {"format": SHARE_FORMAT, "project_id": project_id,
                    "min_app_version": MIN_APP_VERSION, "created_by": created_by,
                    "created_hlc": created_hlc, "app": f"labeldesk/{__version__}"}
            if admin_key is not None:       # the founding admin's public key (trust.py)
                body["admin_key"] = admin_key
            write_once(self.marker, (json.dumps(body, indent=1, sort_keys=True) + "\n").encode())
        for d in (self.devices, self.blobs, self.quarantine):
            d.mkdir(parents=True, exist_ok=True)


def _version(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


# ---- crash-safe writes ---------------------------------------------------------------------------
def fsync_dir(path: Path) -> None:
    """Best effort: network and VM filesystems refuse directory fsync (python-atomicwrites #27)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES, errno.EPERM):
            raise
    finally:
        os.close(fd)


def temp_name(final: Path, tag: str) -> Path:
    return final.with_name(f"{sync_tools.TEMP_PREFIX}{tag}.{secrets.token_hex(4)}.tmp")


def write_once(final: Path, body: bytes, tag: str = "device") -> bool:
    """Write ``body`` to ``final`` via temp + fsync + link (never replaces). False if it existed."""
    tmp = temp_name(final, tag)
    with open(tmp, "xb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    try:
        return link_no_replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def link_no_replace(tmp: Path, final: Path) -> bool:
    """Move ``tmp`` to ``final`` only if ``final`` does not exist (True) — never overwrite."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links (some SMB/FUSE mounts): check, then rename. The name
        # carries the content hash, so a racing writer of another content has another name.
        if final.exists():
            return False
        os.rename(tmp, final)
        fsync_dir(final.parent)
        return True
    os.unlink(tmp)
    fsync_dir(final.parent)
    return True


def replace_file(final: Path, body: bytes, tag: str) -> None:
    """The one mutable file kind (advisory head.json): temp + fsync + os.replace."""
    tmp = temp_name(final, tag)
    with open(tmp, "xb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)


def read_capped(path: Path, cap: int) -> bytes:
    """A share file's bytes, read without following a symbolic link, streamed, and refused
    (HostileFile) when it is not a regular file or holds more than ``cap`` bytes -- a sparse
    file of gigabytes is refused from its size, never read."""
    if os.path.islink(path):
        raise HostileFile(f"{path}: a symbolic link inside the share: not followed")
    # O_NONBLOCK: opening a named pipe for reading would wait for a writer (a member who put one
    # where a segment is read hung every member's sync); opened at once, fstat refuses it below
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise HostileFile(f"{path}: a symbolic link inside the share: not followed") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise HostileFile(f"{path}: not a regular file")
        if st.st_size > cap:
            raise HostileFile(f"{path}: {st.st_size} bytes, more than such a file can hold ({cap}); not read")
        chunks, n = [], 0
        while True:
            block = os.read(fd, min(1 << 20, cap + 1 - n))
            if not block:
                break
            chunks.append(block)
            n += len(block)
            if n > cap:
                raise HostileFile(f"{path}: grew beyond {cap} bytes while being read; not used")
        return b"".join(chunks)
    finally:
        os.close(fd)
