"""Content-addressed blobs on the share: ``blobs/sha256/ab/cd/<sha256>.bin``, immutable.

Op payloads larger than :data:`THRESHOLD` bytes (mask RLE, label volumes) travel as blobs so that
segments stay small; the segment line names the blob's SHA-256. A blob that is missing or fails
its hash keeps the op pending (failure mode #34), never applied half.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from labeldesk.core.sync.layout import HostileFile, ShareLayout, link_no_replace, read_capped, temp_name

THRESHOLD = 64 * 1024
BLOB_MAX = 1024 * 1024 * 1024        # a label volume's payload; larger is refused unread


def blob_path(layout: ShareLayout, sha256: str) -> Path:
    return layout.blobs / sha256[:2] / sha256[2:4] / f"{sha256}.bin"


def put(layout: ShareLayout, data: bytes) -> str:
    """Store ``data`` (idempotent: an existing verified blob is kept) and return its SHA-256."""
    import os
    digest = hashlib.sha256(data).hexdigest()
    final = blob_path(layout, digest)
    layout.real_dir(final.parent, create=True)       # HostileFile: never written through a link
    if final.exists() and get(layout, digest) is not None:
        return digest
    tmp = temp_name(final, f"blob-{digest[:12]}")
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        if not link_no_replace(tmp, final) and get(layout, digest) is None:
            # a damaged copy holds the name: move it aside and put ours in place
            final.replace(layout.quarantine / f"{final.name}.{tmp.name[1:]}")
            link_no_replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest


def get(layout: ShareLayout, sha256: str) -> bytes | None:
    """The blob's bytes if present and intact, else None (not here yet, or damaged)."""
    try:
        path = layout.real_dir(blob_path(layout, sha256).parent) / f"{sha256}.bin"
        data = read_capped(path, BLOB_MAX)
    except (OSError, HostileFile):
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None
