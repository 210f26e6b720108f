"""Segment files (docs/sync.md §4): a header line, one canonical-JSON line per op, a footer line
carrying the SHA-256 of every byte before it. The file name carries the first and last seq and the
first 12 hex digits of the whole file's SHA-256.

Format 2 segments are signed: the header names the key (``"key"``: key id) and the footer carries
an Ed25519 signature (``"sig"``) of the footer's SHA-256; :mod:`labeldesk.core.sync.trust` decides
whether the key may sign for the segment's ops. Format 1 segments (unsigned) are read from shares
made before signing keys.

A segment is valid iff its name matches, the header names this project and the folder's device,
the seqs match the name and run without a gap, the count and both hashes match. A file that stops
short (no footer yet) is *incomplete* (retry later); a complete file that fails a check is *corrupt*: a first line that is not a header, a line that
is not JSON before the last one, or a last line that ends but is not JSON.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

from labeldesk import __version__
from labeldesk.core import ids
from labeldesk.core.ops import canonical_json
from labeldesk.core.sync import share_json
from labeldesk.core.sync.layout import SEGMENT_FORMAT, SIGNED_FORMAT, SegmentName

GENESIS = "0" * 64


class SegmentProblem(Exception):
    """``kind`` is 'incomplete' (not all bytes are here yet), 'corrupt' or 'newer' (newer format)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Segment:
    name: str
    dev: str
    first: int
    last: int
    prev_sha: str
    sha256: str           # of the whole file
    instance_nonce: str
    lines: list[dict[str, Any]]     # op lines, in seq order
    size: int
    key_id: str | None = None       # the signing key named by the header (None: unsigned, format 1)
    sig: str | None = None
    body_sha: str = ""              # the footer's SHA-256 (what the signature signs)
    mtime_ns: int = 0               # of the file it was read from (set by the reader)


def encode_line(line: dict[str, Any], payload_json: str | None = None) -> str:
    """The canonical JSON of an op line; ``payload_json`` (already canonical) is spliced in as is."""
    if payload_json is None:
        return canonical_json({**line, "kind": "op"})
    body = canonical_json({**line, "kind": "op", "payload": 0})
    key = '"payload":0'
    i = body.index(key)
    return body[:i] + '"payload":' + payload_json + body[i + len(key):]


def build(project_id: str, dev: str, instance_nonce: str, prev_sha: str, first: int, last: int,
          created_hlc: list[int], encoded: list[str],
          signer: Callable[[str], str] | None = None, key_id: str | None = None) -> tuple[str, bytes]:
    """(file name, bytes) for op lines already encoded by :func:`encode_line`, in seq order;
    signed with ``key_id`` (``signer`` maps the footer's SHA-256 to a signature) if given.

    Deterministic: the same ops, chain and key give the same bytes (Ed25519 signatures are
    deterministic), so a crash between rename and the local "published" mark is recognised by
    content (failure mode #4)."""
    header = {"kind": "header", "format": SIGNED_FORMAT if signer else SEGMENT_FORMAT, "project": project_id,
              "dev": dev, "first_seq": first, "last_seq": last, "prev_segment_sha256": prev_sha,
              "instance_nonce": instance_nonce, "created_hlc": list(created_hlc),
              "app": f"labeldesk/{__version__}"}
    if signer:
        header["key"] = key_id
    body = (canonical_json(header) + "\n" + "\n".join(encoded) + "\n").encode("utf-8")
    body_sha = hashlib.sha256(body).hexdigest()
    footer_d: dict[str, Any] = {"kind": "footer", "count": len(encoded), "sha256": body_sha}
    if signer:
        footer_d["sig"] = signer(body_sha)
    footer = canonical_json(footer_d)
    data = body + footer.encode("utf-8") + b"\n"
    return SegmentName.make(first, last, hashlib.sha256(data).hexdigest()), data


def parse(data: bytes, name: SegmentName, dev: str, project_id: str) -> Segment:
    """Verify and decode a segment read from ``devices/<dev>/segments/<name>``."""
    where = f"{dev[:8]}/{name.name}"
    if not data:
        raise SegmentProblem("incomplete", f"{where}: empty (still being delivered?)")
    first_nl = data.find(b"\n")
    if first_nl >= 0:
        try:
            head = share_json.loads(data[:first_nl])
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("kind") != "header":
            raise SegmentProblem("corrupt", f"{where}: the first line is not a segment header")
    if not data.endswith(b"\n"):
        raise SegmentProblem("incomplete", f"{where}: ends mid-line (still being delivered?)")
    cut = data.rfind(b"\n", 0, len(data) - 1) + 1
    try:
        footer = share_json.loads(data[cut:])
    except ValueError:
        raise SegmentProblem("corrupt", f"{where}: the last line is not JSON") from None
    if not isinstance(footer, dict) or footer.get("kind") != "footer":
        raise SegmentProblem("incomplete", f"{where}: no footer yet (still being delivered?)")
    view = memoryview(data)
    body_hash = hashlib.sha256(view[:cut])
    body_sha = body_hash.hexdigest()
    if body_sha != footer.get("sha256"):
        raise SegmentProblem("corrupt", f"{where}: content does not match the footer's SHA-256")
    whole_hash = body_hash.copy()             # the whole file's hash goes on from the body's
    whole_hash.update(view[cut:])
    whole = whole_hash.hexdigest()
    if whole[:12] != name.sha12:
        raise SegmentProblem("corrupt", f"{where}: the file's SHA-256 does not match its name")
    try:
        rows = _lines(data[:cut].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SegmentProblem("corrupt", f"{where}: unreadable line ({exc})") from None
    header, ops = rows[0], rows[1:]
    if not isinstance(header, dict) or header.get("kind") != "header":
        raise SegmentProblem("corrupt", f"{where}: no header line")
    if header.get("format") not in (SEGMENT_FORMAT, SIGNED_FORMAT):
        raise SegmentProblem("newer", f"{where}: segment format {header.get('format')!r} is newer than this "
                                      f"app understands; update labeldesk")
    checks = ((header.get("project") == project_id, "belongs to another project"),
              (header.get("dev") == dev, "names another device than its folder"),
              (header.get("first_seq") == name.first and header.get("last_seq") == name.last,
               "header seqs do not match the name"),
              (footer.get("count") == len(ops) == name.last - name.first + 1, "op count does not match"))
    for ok, problem in checks:
        if not ok:
            raise SegmentProblem("corrupt", f"{where}: {problem}")
    for i, line in enumerate(ops):
        seq = name.first + i
        if (not isinstance(line, dict) or line.get("kind") != "op" or line.get("seq") != seq
                or line.get("dev") != dev or line.get("op_id") != ids.op_id(dev, seq)):
            raise SegmentProblem("corrupt", f"{where}: op line {i + 1} is not op {seq} of this device")
    signed = header.get("format") == SIGNED_FORMAT
    if signed and not (isinstance(header.get("key"), str) and isinstance(footer.get("sig"), str)):
        raise SegmentProblem("corrupt", f"{where}: a signed segment without its key or signature")
    return Segment(name.name, dev, name.first, name.last, str(header.get("prev_segment_sha256")), whole,
                   str(header.get("instance_nonce")), ops, len(data),
                   header.get("key") if signed else None, footer.get("sig") if signed else None, body_sha)


def _lines(body: str) -> list[Any]:
    """``json.loads`` of each line of ``body`` (which ends with "\n"). Lines end at "\n" only:
    canonical JSON leaves U+2028, U+2029 and U+0085 in text as they are, and ``str.splitlines``
    would break a line there. A line is decoded by the decoder's own scanner when it is one JSON
    value with nothing around it (every line a writer makes), else by ``json.loads`` itself (the
    same value, or the same error)."""
    parts = body.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    scan = json.JSONDecoder().scan_once
    loads, check_depth = share_json.loads, share_json.check_depth
    out = []
    for line in parts:
        try:
            value, end = scan(line, 0)
        except (StopIteration, ValueError, RecursionError):
            value, end = loads(line), len(line)
        if end != len(line):
            value = loads(line)
        check_depth(value, line)
        out.append(value)
    return out
