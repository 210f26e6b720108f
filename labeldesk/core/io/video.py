"""Video through OpenCV/FFmpeg: verified frame-accurate seeking and a decoded-GOP ring buffer.

Formats: whatever this OpenCV's FFmpeg decodes; tested here with mp4 (mp4v), avi (MJPG, XVID),
mkv (FFV1) and webm (VP9). opencv-python has no H.264 *encoder*, but H.264 files decode.

**Frame accuracy.** ``probe`` builds a :class:`~labeldesk.core.io.frame_index.FrameIndex` (frame
count from a full decode pass, each frame's timestamp, keyframes from a demux-only pass). Every
frame this module decodes is identified by looking its timestamp up in that index, never by
trusting where ``CAP_PROP_POS_FRAMES`` says it is: a seek that lands late is retried further back,
one that lands on an unknown timestamp falls back to decoding from the start (always exact).
Files whose timestamps do not strictly increase are read by counting from the start.

**Seek cost.** OpenCV's ``set(CAP_PROP_POS_FRAMES, s)`` seeks to the keyframe at or before frame
``s - 16`` and decodes forward (``cap_ffmpeg_impl.hpp``, ``seek()``). Knowing the keyframes, a seek
to ``t`` starts at ``s = t - tail`` where ``tail`` never moves that landing keyframe, so a cold seek
decodes exactly what the plain ``set`` + ``read`` would and keeps up to ``tail`` frames before ``t``
for stepping back; the tail is capped so that converting those frames costs at most
``TAIL_BUDGET`` of the seek (measured per source: colour conversion vs decode).

**Ring.** Decoded RGB frames live in a byte-bounded LRU ring (read-only arrays). Stepping back
past the ring decodes a whole chunk ending at the requested frame, aligned to a keyframe
(``FILL_MAX`` frames at most, half the ring at most), so repeated back-steps cost one seek per
chunk. Playback (t, t+1, ...) decodes sequentially and never seeks; a short jump forward decodes
forward when a seek would land before the current position anyway.

**Threads.** A VideoSource holds one ``cv2.VideoCapture`` and mutable position state: use it from
one thread at a time (a worker that owns it, or a lock around ``read_frame``). Open several
sources on the same file for parallel readers.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io import frame_index
from labeldesk.core.io.base import Discovered, ImageSource, SourceInfo, clip_rect
from labeldesk.core.io.frame_index import FrameIndex, open_capture
from labeldesk.core.model import Plane
from labeldesk.core.tasks import NO_PROGRESS, Progress

RING_BYTES = 256 * 1024 * 1024
CV_SEEK_LEAD = 16        # OpenCV's seek() lands on the keyframe before frame s - 16
FILL_MAX = 48            # frames decoded into the ring by one step back past it
TAIL_BUDGET = 0.1        # share of a cold seek's cost that may go into keeping earlier frames
NO_KEYS_TAIL = 2         # tail when keyframes are unknown
MAX_RESEEK = 3           # seeks that land past the target, retried further back before rewinding


def _stat(path: str) -> list[int]:
    st = os.stat(path)
    return [int(st.st_size), int(st.st_mtime_ns)]


def probe(path: str, progress: Progress = NO_PROGRESS) -> Discovered:
    """Index a video (decode pass + keyframe pass); InputError if it cannot be used."""
    path = str(Path(path).resolve())
    index = frame_index.build(path, progress)
    return Discovered(name=Path(path).name, info=_info(index),
                      locator={"reader": "video", "path": path, "index": index.to_json(), "stat": _stat(path)},
                      files=(path,))


def _info(index: FrameIndex) -> SourceInfo:
    w, h = index.size
    return SourceInfo(kind="video", width=w, height=h, frames=index.frames, channels=3, dtype="uint8",
                      levels=((w, h),), fps=index.fps or None,
                      meta={"codec": index.codec, "frame_count": "decode pass",
                            "declared_frames": index.declared_frames,
                            "keyframes": None if index.keyframes is None else len(index.keyframes),
                            "timestamps_reliable": index.pts_reliable})


class VideoSource(ImageSource):
    """Frames of one video as RGB uint8 ``(h, w, 3)``; ``plane.t`` is the frame index.

    ``index``: from ``probe`` (the locator keeps it); built here (a full decode pass) if None.
    ``ring_bytes``: budget of the decoded-frame ring. ``seek_tail``: frames kept before a cold
    seek's target (None: chosen from measured decode vs conversion cost).
    ``stats`` counts seeks, frames this source decoded itself (``decoded``; OpenCV's decoding
    inside a seek is not visible) and colour-converted (``converted``), ring hits, rewinds to
    the start (``fallbacks``) and re-seeks after a seek landed past its target (``reseeks``).
    """

    def __init__(self, path: str, index: FrameIndex | None = None, ring_bytes: int = RING_BYTES,
                 seek_tail: int | None = None) -> None:
        self.path = path
        self.index = index if index is not None else frame_index.build(path)
        self.info = _info(self.index)
        self._cap = open_capture(path)
        self._pos: int | None = 0          # display index of the frame the capture decodes next
        self._ring: OrderedDict[int, np.ndarray] = OrderedDict()
        self._ring_bytes = ring_bytes
        self._held = 0
        self._scratch: np.ndarray | None = None       # BGR buffer that retrieve() decodes into
        self._spare: list[np.ndarray] = []             # evicted frames nobody holds: recycled
        w, h = self.index.size
        self._capacity = max(1, ring_bytes // max(1, w * h * 3))
        self._seek_tail = seek_tail
        self._grab_ms = self.index.grab_ms or 1.0
        self._convert_ms = self._grab_ms       # until measured
        self.stats = {"seeks": 0, "decoded": 0, "converted": 0, "ring_hits": 0, "fallbacks": 0, "reseeks": 0}

    # -- public ------------------------------------------------------------------------------
    def read_frame(self, t: int) -> np.ndarray:
        """Frame ``t`` (RGB, read-only; shared with the ring, copy before modifying)."""
        n = self.index.frames
        if not 0 <= t < n:
            raise IndexError(f"{self.path}: frame {t} outside 0..{n - 1}")
        cached = self._ring.get(t)
        if cached is not None:
            self.stats["ring_hits"] += 1
            self._ring.move_to_end(t)
            return cached
        if self._pos is not None and self._pos <= t and not self._seek_pays(self._pos, t):
            return self._decode_to(t, keep_from=t - self._tail(t))
        stepping_back = (t + 1) in self._ring
        return self._seek_and_decode(t, self._fill_start(t) if stepping_back else t - self._tail(t))

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    plane: Plane = Plane()) -> np.ndarray:
        if level != 0:
            raise ValueError(f"{self.path}: video has one level (0), not {level}")
        frame = self.read_frame(plane.t)
        x0, y0, x1, y1 = clip_rect(x, y, w, h, frame.shape[1], frame.shape[0])
        return frame[y0:y1, x0:x1]

    def plane_count(self, axis: str = "axial") -> int:
        return 1

    def cached_frames(self) -> list[int]:
        return sorted(self._ring)

    def drop_cache(self) -> None:
        """Forget decoded frames (the next reads decode again)."""
        self._ring.clear()
        self._spare.clear()
        self._held = 0

    def close(self) -> None:
        self._cap.release()
        self.drop_cache()

    # -- planning ----------------------------------------------------------------------------
    def _landing(self, s: int) -> int | None:
        """Where OpenCV's seek to ``s`` starts decoding (None: keyframes unknown)."""
        return 0 if s - CV_SEEK_LEAD <= 0 else self.index.keyframe_before(s - CV_SEEK_LEAD)

    def _seek_pays(self, pos: int, t: int) -> bool:
        """Whether seeking to ``t`` decodes fewer frames than decoding forward from ``pos``."""
        if not self.index.pts_reliable:
            return False
        land = self._landing(t)
        return (t - pos > 2 * CV_SEEK_LEAD) if land is None else land > pos + 1

    def _tail(self, t: int) -> int:
        """Frames before ``t`` worth keeping on a cold seek (they cost conversion, not decoding)."""
        if self._seek_tail is not None:
            return max(0, min(self._seek_tail, t, self._capacity // 2))
        land = self._landing(t)
        if land is None:
            return min(NO_KEYS_TAIL, t)
        free = t - CV_SEEK_LEAD - land if t > CV_SEEK_LEAD else t     # tail that keeps the landing
        decoded = t - land + 1
        budget = int(TAIL_BUDGET * decoded * self._grab_ms / max(1e-3, self._convert_ms))
        return max(0, min(free, budget, self._capacity // 2, FILL_MAX))

    def _fill_start(self, t: int) -> int:
        """First frame of the chunk decoded when stepping back to ``t`` past the ring: about
        two thirds of ``FILL_MAX`` (or of half the ring), extended down to where OpenCV's seek
        lands anyway, so the frames decoded to get there are kept rather than thrown away."""
        hard = max(1, min(FILL_MAX, self._capacity // 2))
        a = max(0, t - (2 * hard) // 3)
        land = self._landing(a)
        if land is None:
            return a
        if a <= CV_SEEK_LEAD:
            return max(0, t - hard + 1)
        return min(t, max(land + CV_SEEK_LEAD, t - hard + 1))

    # -- decoding ----------------------------------------------------------------------------
    def _step(self, keep_from: int) -> int:
        """Decode the next frame; return its display index (kept in the ring if >= keep_from)."""
        from labeldesk.core.io.opencv import cv2
        t0 = time.perf_counter()
        if not self._cap.grab():
            raise _Lost("end of stream")
        self._grab_ms = 0.9 * self._grab_ms + 0.1 * (time.perf_counter() - t0) * 1000.0
        self.stats["decoded"] += 1
        if not self.index.pts_reliable:
            if self._pos is None:
                raise _Lost("unknown position")
            i = self._pos                                   # counting from the start
        else:
            pts = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
            if self._pos is None:                           # first frame after a seek
                found = self.index.index_of(pts)
                if found is None:
                    raise _Lost("a timestamp that is not in the index")
                i = found
            else:                                           # sequential: count, and check
                i = self._pos
                if i >= self.index.frames or not self.index.matches(i, pts):
                    raise _Lost(f"frame {i} reports {pts:.3f} ms, the index says otherwise")
        self._pos = i + 1
        if i >= keep_from and i not in self._ring:
            t0 = time.perf_counter()
            ok, bgr = self._cap.retrieve(self._scratch)          # reused: no fresh pages per frame
            if not ok or bgr is None:
                raise InputError(self.path, f"frame {i} could not be decoded")
            self._scratch = bgr
            spare = self._spare.pop() if self._spare else None
            if spare is not None and spare.shape == bgr.shape:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=spare)
            else:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self._convert_ms = 0.8 * self._convert_ms + 0.2 * (time.perf_counter() - t0) * 1000.0
            self.stats["converted"] += 1
            self._keep(i, rgb)
        return i

    def _decode_to(self, t: int, keep_from: int) -> np.ndarray:
        """Decode forward from the current position to ``t`` (which must not be behind it)."""
        try:
            while True:
                i = self._step(min(keep_from, t))
                if i == t:
                    return self._ring[t]
                if i > t:
                    raise _Lost(f"decoding jumped from before frame {t} to frame {i}")
        except _Lost:
            return self._rewind_and_decode(t, keep_from)

    def _seek_and_decode(self, t: int, keep_from: int) -> np.ndarray:
        from labeldesk.core.io.opencv import cv2
        keep_from = max(0, min(keep_from, t))
        if not self.index.pts_reliable:
            return self._rewind_and_decode(t, keep_from)
        s = keep_from
        for attempt in range(MAX_RESEEK + 1):
            self.stats["seeks"] += 1
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, self._cv_frame(s))
            self._pos = None
            try:
                while True:
                    i = self._step(min(keep_from, t))
                    if i == t:
                        return self._ring[t]
                    if i > t:                       # landed past the target: seek further back
                        s_next = s - 2 * (i - s) - CV_SEEK_LEAD
                        break
            except _Lost:                           # landed on a frame the index cannot name
                s_next = s - 4 * CV_SEEK_LEAD * (attempt + 1)
            if s == 0:
                break
            self.stats["reseeks"] += 1
            s = max(0, s_next)
        return self._rewind_and_decode(t, keep_from)

    def _cv_frame(self, s: int) -> int:
        """The ``CAP_PROP_POS_FRAMES`` value for a seek meant to land on the keyframe our index
        expects for ``s``. OpenCV turns frame numbers into times with the nominal fps; on a
        variable-frame-rate file frame ``s`` is elsewhere in time, so the landing keyframe is also
        named by its real timestamp, and the earlier of the two aims is used (landing early costs
        decoding, landing late costs a second seek). Equals ``s`` on constant-frame-rate files."""
        land = self._landing(s)
        fps = self.index.fps
        if land is None or land == 0 or s - land < CV_SEEK_LEAD or fps <= 0:
            return s
        n_land = math.ceil(self.index.pts_ms[land] * fps / 1000.0 - 1e-6)
        return max(0, min(s, n_land + (s - land)))

    def _rewind_and_decode(self, t: int, keep_from: int) -> np.ndarray:
        """Exact fallback: reopen and decode from the first frame."""
        self.stats["fallbacks"] += 1
        self._cap.release()
        self._cap = open_capture(self.path)
        self._pos = 0
        try:
            while True:
                i = self._step(min(keep_from, t))
                if i == t:
                    return self._ring[t]
                if i > t:
                    raise _Lost(f"frame {t} was skipped")
        except _Lost as exc:
            self._pos = None
            raise InputError(self.path, f"frame {t} cannot be reached ({exc}): the file changed since "
                                        "it was indexed, or it does not decode the same way twice") from None

    def _seek(self, index: int) -> None:
        """Position the capture so the next decoded frame is ``index`` (verified when decoded)."""
        from labeldesk.core.io.opencv import cv2
        self.stats["seeks"] += 1
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self._pos = index if self.index.pts_reliable else None

    def _keep(self, index: int, frame: np.ndarray) -> None:
        frame.flags.writeable = False
        self._ring[index] = frame
        self._held += frame.nbytes
        while self._held > self._ring_bytes and len(self._ring) > 1:
            _, old = self._ring.popitem(last=False)
            self._held -= old.nbytes
            # reuse its memory for the next frame unless someone still holds it (or a view of it)
            if len(self._spare) < 2 and sys.getrefcount(old) <= 2 and old.flags.owndata:
                old.flags.writeable = True
                self._spare.append(old)


class _Lost(Exception):
    """The decoder's position no longer matches the index."""


def open_locator(locator: dict[str, Any], progress: Progress = NO_PROGRESS) -> VideoSource:
    """Open from a locator; the stored index is reused unless the file changed since (size/mtime)."""
    path = locator["path"]
    index: FrameIndex | None = None
    if not Path(path).is_file():
        raise InputError(path, "no such file")
    unchanged = locator.get("stat") is None or list(locator["stat"]) == _stat(path)
    if unchanged and locator.get("index"):
        index = FrameIndex.from_json(locator["index"])
    return VideoSource(path, index if index is not None else frame_index.build(path, progress))
