"""Refuse to keep a project store on a network filesystem or inside a synced folder.

A network filesystem is recognised by the mount's filesystem type (Linux ``/proc/mounts``) or the
drive type (Windows); a synced folder by the sync tool's markers or settings
(:mod:`labeldesk.core.sync_tools`), never by a folder's name.

SQLite's locking and WAL do not work over network filesystems, and sync tools copy a live
database file mid-write. The shared folder is for segment files only.
"""
from __future__ import annotations

import os
from pathlib import Path

from labeldesk.core.errors import StoreLocationError
from labeldesk.core.sync_tools import synced_by

NETWORK_FS = {
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afs", "ceph", "glusterfs", "lustre",
    "9p", "davfs", "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.davfs2",
    "fuse.glusterfs", "fuse.cephfs", "fuse.onedriver", "fuse.dropbox", "fuse.onedrive", "fuse.seadrive",
    "fuse.pcloud", "fuse.google-drive-ocamlfuse", "fuse.dbxfs", "fuse.keybase", "fuse.juicefs", "smb3",
}
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
    fstype = mount_fstype(path, mounts_file)
    if fstype and fstype.lower() in NETWORK_FS:
        return f"it is on a network filesystem ({fstype})"
    if os.name == "nt" and _windows_remote(path):  # pragma: no cover
        return "it is on a network share"
    return synced_by(path)


def _windows_remote(path: Path) -> bool:  # pragma: no cover - Windows only
    if str(path).startswith("\\\\"):
        return True
    import ctypes
    drive = os.path.splitdrive(str(path))[0] + "\\"
    return ctypes.windll.kernel32.GetDriveTypeW(drive) == 4      # DRIVE_REMOTE (a mapped network drive)


def check_store_location(directory: str | Path, allow_unsafe: bool = False) -> None:
    if allow_unsafe or os.environ.get(OVERRIDE_ENV) == "1":
        return
    reason = unsafe_reason(directory)
    if reason:
        raise StoreLocationError(
            f"{directory}: refusing to keep a project store here because {reason}. SQLite's "
            f"locking and write-ahead log are not safe over network filesystems or in folders "
            f"a sync tool copies, and a corrupted store loses work. {OVERRIDE_HINT}")
