"""The frame index of one video: the ground truth that makes seeking verifiable.

Built once, at import, from two passes over the file:

* a **decode pass** (``grab()`` on every frame: decoded, not colour-converted) counts the frames
  that really decode and records each one's presentation time (``CAP_PROP_POS_MSEC``) in display
  order. ``frames`` is that count, never ``CAP_PROP_FRAME_COUNT``, which is an estimate for some
  containers (duration x fps for Matroska/WebM, the header's claim for a truncated AVI);
* a **packet pass** (``CAP_PROP_FORMAT = -1``: demux only, no decoding, milliseconds) records which
  packets are keyframes (``CAP_PROP_LRF_HAS_KEY_FRAME``), mapped to display indices by timestamp.

A decoded frame is identified by looking its timestamp up in the index, so a seek that lands
elsewhere is detected instead of trusted. The index lives in memory and in the asset's local
locator (compact: runs of evenly spaced values; a constant-frame-rate clip is one run), never on
the shared folder.
"""
from __future__ import annotations

import bisect
import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeldesk.core.errors import InputError
from labeldesk.core.tasks import NO_PROGRESS, Progress

# A decode pass that ends this far short of what the container declares (in frames *and* in
# time) means the file is truncated or damaged, not that the declaration was an estimate.
SHORT_FRAMES = 2
SHORT_FRACTION = 0.02


@dataclass
class FrameIndex:
    pts_ms: list[float]                      # presentation time of each frame, display order
    keyframes: list[int] | None              # display indices of keyframes; None = unknown
    fps: float
    codec: str
    size: tuple[int, int]                    # (width, height)
    declared_frames: int = 0                 # CAP_PROP_FRAME_COUNT, for the record
    grab_ms: float = 0.0                     # decode cost per frame measured by the decode pass
    _tol: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        # A frame is *stamped* when its timestamp rises above every earlier one. Decoders drain
        # the last frames of some streams without a timestamp (MPEG-PS reports 0 for the final
        # frame), so a few unstamped frames are tolerated: they are identified by counting from
        # a stamped neighbour. Timestamps identify frames only if (nearly) all are stamped;
        # otherwise seeks are resolved by decoding from the start (slow, still exact).
        top = float("-inf")
        self.stamped = []
        for p in self.pts_ms:
            self.stamped.append(p > top)
            top = max(top, p)
        good = [(p, i) for i, p in enumerate(self.pts_ms) if self.stamped[i]]
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(good)]
        self._tol = min(0.5, 0.25 * min(gaps)) if gaps else 0.5
        odd = [p for i, p in enumerate(self.pts_ms) if not self.stamped[i]]
        # a stamped time that an unstamped frame also reports cannot identify a frame
        self._lookup = [(p, i) for p, i in good if not any(abs(p - q) <= self._tol for q in odd)]
        self._good = good
        self.pts_reliable = bool(self.pts_ms) and self.stamped[0] and len(odd) <= max(2, len(self.pts_ms) // 100)

    @property
    def frames(self) -> int:
        return len(self.pts_ms)

    def index_of(self, pts_ms: float, strict: bool = True) -> int | None:
        """Display index of the stamped frame with this timestamp, or None. ``strict`` also
        refuses times that an unstamped frame reports too (a decoded frame could be either)."""
        if not self.pts_reliable:
            return None
        table = self._lookup if strict else self._good
        k = bisect.bisect_left(table, (pts_ms - self._tol, -1))
        if k < len(table) and abs(table[k][0] - pts_ms) <= self._tol:
            return table[k][1]
        return None

    def matches(self, index: int, pts_ms: float) -> bool:
        """Whether a frame decoded in sequence as ``index`` reports the time the index holds."""
        return not self.stamped[index] or abs(self.pts_ms[index] - pts_ms) <= self._tol

    def keyframe_before(self, index: int) -> int | None:
        """The last keyframe at or before ``index`` (None if keyframes are unknown)."""
        if not self.keyframes:
            return None
        k = bisect.bisect_right(self.keyframes, max(0, index)) - 1
        return self.keyframes[max(0, k)]

    def to_json(self) -> dict[str, Any]:
        return {"pts_runs": runs(self.pts_ms), "key_runs": None if self.keyframes is None else runs(self.keyframes),
                "fps": self.fps, "codec": self.codec, "size": list(self.size),
                "declared_frames": self.declared_frames, "grab_ms": round(self.grab_ms, 4)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FrameIndex:
        keys = d.get("key_runs")
        return cls(pts_ms=unruns(d["pts_runs"]), keyframes=None if keys is None else [round(k) for k in unruns(keys)],
                   fps=float(d.get("fps") or 0.0), codec=str(d.get("codec", "")),
                   size=(int(d["size"][0]), int(d["size"][1])), declared_frames=int(d.get("declared_frames", 0)),
                   grab_ms=float(d.get("grab_ms", 0.0)))


def runs(values: list[float] | list[int], tol: float = 1e-6) -> list[list[float]]:
    """``[[start, step, count], ...]``: evenly spaced stretches of ``values`` (exact within ``tol``)."""
    out: list[list[float]] = []
    i, n = 0, len(values)
    while i < n:
        start = float(values[i])
        if i + 1 == n:
            out.append([start, 0.0, 1])
            break
        step = float(values[i + 1]) - start
        j = i + 1
        while j + 1 < n and abs(float(values[j + 1]) - (start + step * (j + 1 - i))) <= tol:
            j += 1
        out.append([start, step, j - i + 1])
        i = j + 1
    return out


def unruns(encoded: list[list[float]]) -> list[float]:
    return [float(start) + float(step) * k for start, step, count in encoded for k in range(int(count))]


# -- opening and checking ------------------------------------------------------------------------

def open_capture(path: str) -> Any:
    """A cv2.VideoCapture on ``path`` (FFmpeg backend), or an InputError saying what is wrong."""
    from labeldesk.core.io.opencv import cv2
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "no such file")
    if p.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        codec = sniff_codec(path)
        if codec:
            raise InputError(path, f"unsupported codec {codec!r}: this build's FFmpeg cannot decode the "
                                   "video stream (or the file is damaged)")
        raise InputError(path, "not a video this build can open (unknown container, or the file is "
                               "damaged or truncated)")
    return cap


def fourcc_of(cap: Any) -> str:
    from labeldesk.core.io.opencv import cv2
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else f"0x{code & 0xFFFFFFFF:08x}"


def sniff_codec(path: str) -> str | None:
    """The codec a container *claims* (AVI biCompression, MP4 sample entry, Matroska CodecID),
    read from the file's bytes; only used to name the codec in an error message."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - (1 << 20)))
        tail = fh.read()
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        i = head.find(b"vids")
        j = head.find(b"strf", i) if i >= 0 else -1
        if j >= 0 and j + 28 <= len(head):
            return head[j + 24:j + 28].decode("latin-1")
        return None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        m = re.search(rb"V_[A-Z0-9_/.]{2,40}", head)
        return m.group().decode() if m else None
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        for blob in (head, tail):
            i = blob.find(b"stsd")
            if i >= 0 and i + 20 <= len(blob):
                return blob[i + 16:i + 20].decode("latin-1")
    return None


def build(path: str, progress: Progress = NO_PROGRESS) -> FrameIndex:
    """Index ``path``: proves the codec decodes (first frame) and that every frame does."""
    from labeldesk.core.io.opencv import cv2
    cap = open_capture(path)
    try:
        codec = fourcc_of(cap)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, first = cap.read()
        if not ok or first is None:
            raise InputError(path, f"unsupported codec {codec!r} or damaged data: the first frame does not decode")
        size = (int(first.shape[1]), int(first.shape[0]))
        pts = [float(cap.get(cv2.CAP_PROP_POS_MSEC))]
        t0 = time.perf_counter()
        while cap.grab():
            pts.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
            if len(pts) % 250 == 0:
                progress.report(len(pts), max(declared, len(pts)), f"indexing {Path(path).name}")
        grab_ms = (time.perf_counter() - t0) * 1000.0 / max(1, len(pts) - 1)
    finally:
        cap.release()
    if fps <= 0 and len(pts) > 1 and pts[-1] > pts[0]:
        fps = 1000.0 * (len(pts) - 1) / (pts[-1] - pts[0])
    _check_complete(path, pts, fps, declared)
    index = FrameIndex(pts, None, fps, codec, size, declared, grab_ms)
    index.keyframes = _keyframes(path, index)
    return index


def _check_complete(path: str, pts: list[float], fps: float, declared: int) -> None:
    """Refuse a file whose frames stop well before what its container declares."""
    if declared <= 0 or fps <= 0:
        return
    slack = max(SHORT_FRAMES, SHORT_FRACTION * declared)
    decoded_s = (pts[-1] - pts[0]) / 1000.0 + 1.0 / fps
    declared_s = declared / fps          # OpenCV derives the count from duration x fps when it must
    if declared - len(pts) > slack and declared_s - decoded_s > slack / fps:
        raise InputError(path, f"truncated or damaged: the container declares {declared} frames "
                               f"but only {len(pts)} decode")


def _keyframes(path: str, index: FrameIndex) -> list[int] | None:
    """Display indices of keyframes from a demux-only pass; None when they cannot be mapped."""
    from labeldesk.core.io.opencv import cv2
    if not index.pts_reliable:
        return None
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened() or not cap.set(cv2.CAP_PROP_FORMAT, -1):
            return None
        keys: list[int] = []
        while cap.grab():
            if cap.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME):
                i = index.index_of(float(cap.get(cv2.CAP_PROP_POS_MSEC)), strict=False)
                if i is None:
                    return None
                keys.append(i)
    finally:
        cap.release()
    keys = sorted(set(keys))
    return keys if keys and keys[0] == 0 else None
