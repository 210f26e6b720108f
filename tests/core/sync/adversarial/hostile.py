"""A hostile team member: writes hand-made segments into the shared folder (any device folder),
signed with any key they hold, or forged. Every member can write every file of the share."""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from labeldesk.core import ids
from labeldesk.core.ops import Op, canonical_json
from labeldesk.core.sync import keys, segment
from labeldesk.core.sync.layout import SegmentName


def op_line(dev: str, seq: int, user: str | None, type_: str, entity: str | None, payload: Any,
            hlc_ms: int = 1_700_000_000_000) -> dict[str, Any]:
    line = {"v": 1, "op_id": ids.op_id(dev, seq), "seq": seq, "dev": dev, "user": user, "hlc": [hlc_ms + seq, 0],
            "wall": "2026-01-01T00:00:00Z", "type": type_, "entity": entity, "base": [], "reason": None,
            "payload": payload}
    try:
        line["sha256"] = Op.from_dict(line).digest(canonical_json(payload))
    except (TypeError, ValueError, KeyError):
        line["sha256"] = "0" * 64
    return line


def write_segment(share: Path, project_id: str, dev: str, lines: list[dict[str, Any]], *, first: int | None = None,
                  prev_sha: str = segment.GENESIS, key_id: str | None = None, bad_sig: bool = False) -> Path:
    """A well-formed segment file (right hashes and chain), signed with ``key_id`` (its private key
    must be in the keyring) or, with ``bad_sig``, carrying a signature that does not verify."""
    first = first if first is not None else lines[0]["seq"]
    last = first + len(lines) - 1
    encoded = [segment.encode_line({k: v for k, v in line.items() if k != "payload"}, canonical_json(line["payload"]))
               for line in lines]
    signer = None
    if key_id is not None:
        if bad_sig:
            signer = lambda digest: keys.sign(key_id, keys.SEGMENT_CONTEXT, hashlib.sha256(digest.encode()).hexdigest())
        else:
            signer = lambda digest: keys.sign(key_id, keys.SEGMENT_CONTEXT, digest)
    name, data = segment.build(project_id, dev, "nonce", prev_sha, first, last, [1, 0], encoded, signer, key_id)
    folder = share / "devices" / dev / "segments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def last_segment(share: Path, dev: str) -> tuple[int, str]:
    """(last seq, sha256) of the newest segment of ``dev`` on the share."""
    names = [SegmentName.parse(p.name) for p in (share / "devices" / dev / "segments").glob("seg-*.jsonl")]
    sn = max((n for n in names if n), key=lambda n: n.last)
    return sn.last, hashlib.sha256((share / "devices" / dev / "segments" / sn.name).read_bytes()).hexdigest()


@contextmanager
def machine(folder: Path) -> Iterator[None]:
    """Run as another machine: its own keyring (and no private key cached from this one)."""
    old = os.environ.get("LABELDESK_KEYS_DIR")
    saved = dict(keys._cache)
    keys._cache.clear()
    os.environ["LABELDESK_KEYS_DIR"] = str(folder)
    try:
        yield
    finally:
        keys._cache.clear()
        keys._cache.update(saved)
        if old is None:
            del os.environ["LABELDESK_KEYS_DIR"]
        else:
            os.environ["LABELDESK_KEYS_DIR"] = old


def key_of(project: Any, user_id: str) -> str:
    return project.conn.execute("SELECT key_id FROM user_keys WHERE user_id = ? AND revoked_by_op IS NULL",
                                (user_id,)).fetchone()[0]


def problems(project: Any) -> list[str]:
    from labeldesk.core.sync.status import status
    s = status(project, digest=False)
    return [p["text"] for d in s["devices"] for p in d["problems"]] + list((s["last_round"] or {}).get("problems", []))
