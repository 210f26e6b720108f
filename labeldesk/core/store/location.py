"""Refuse to keep a project store on a network filesystem or inside a synced folder.

SQLite's locking and WAL do not work over network filesystems, and sync tools copy a live
database file mid-write (see design/sync.md §1). The shared folder is for segment files only.
"""
from __future__ import annotations

import os
from pathlib import Path

from labeldesk.core.errors import StoreLocationError

NETWORK_FS = {
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afs", "ceph", "glusterfs", "lustre",
    "9p", "davfs", "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.davfs2",
    "fuse.glusterfs", "fuse.cephfs", "fuse.onedriver", "fuse.dropbox",
}
# Files or folders whose presence in an ancestor marks a folder kept in step by a sync tool.
SYNC_MARKERS = (".stfolder", ".dropbox", ".dropbox.cache", ".sync", ".tresorit")
SYNC_NAMES = ("dropbox", "onedrive", "google drive", "googledrive", "icloud drive",
              "mobile documents", "syncthing", "nextcloud", "owncloud", "box sync", "pcloud")
OVERRIDE_ENV = "LABELDESK_ALLOW_UNSAFE_STORE"
OVERRIDE_HINT = (f"Keep the project on a local disk and use `labeldesk share` for the team folder. "
                 f"To override at your own risk, pass --allow-unsafe-location or set {OVERRIDE_ENV}=1.")


def mount_fstype(path: Path, mounts_file: str = "/proc/mounts") -> str | None:
    """Filesystem type of the mount holding ``path`` (Linux); None where unknown."""
    try:
        lines = Path(mounts_file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    best, fstype = "", None
    target = str(path)
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/") or mnt == "/") and len(mnt) >= len(best):
            best, fstype = mnt, parts[2]
    return fstype


def unsafe_reason(directory: str | Path, mounts_file: str = "/proc/mounts") -> str | None:
    """Why ``directory`` is no place for a SQLite store, or None if it looks local."""
    path = Path(directory).resolve()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fstype = mount_fstype(path, mounts_file)
    if fstype and fstype.lower() in NETWORK_FS:
        return f"it is on a network filesystem ({fstype})"
    if os.name == "nt" and str(path).startswith("\\\\"):  # pragma: no cover
        return "it is on a network share (UNC path)"
    for parent in (existing, *existing.parents):
        for marker in SYNC_MARKERS:
            if (parent / marker).exists():
                return f"it is inside a synced folder ({parent} holds {marker})"
        if parent.name.lower() in SYNC_NAMES or parent.name.lower().startswith(("onedrive -", "dropbox (")):
            return f"it is inside a synced folder ({parent})"
    return None


def check_store_location(directory: str | Path, allow_unsafe: bool = False) -> None:
    if allow_unsafe or os.environ.get(OVERRIDE_ENV) == "1":
        return
    reason = unsafe_reason(directory)
    if reason:
        raise StoreLocationError(
            f"{directory}: refusing to keep a project store here because {reason}. SQLite's "
            f"locking and write-ahead log are not safe over network filesystems or in folders "
            f"a sync tool copies, and a corrupted store loses work. {OVERRIDE_HINT}")
