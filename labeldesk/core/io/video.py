"""Video through OpenCV/FFmpeg with verified, frame-accurate seeking and a decoded-frame ring.

At import a sequential pass counts the frames and records each frame's presentation time: that
index (kept in the local locator) is the ground truth. A seek jumps a few frames *before* the
target with ``CAP_PROP_POS_FRAMES``, then decodes forward, checking each frame's timestamp against
the index; a mismatch falls back to decoding from the start of the file. Every decoded frame on the
way lands in a byte-bounded ring, so stepping backwards right after a seek is instant and playback
(t, t+1, …) never re-seeks. One VideoSource is used from one thread at a time.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import Discovered, ImageSource, SourceInfo, clip_rect
from labeldesk.core.model import Plane
from labeldesk.core.tasks import NO_PROGRESS, Progress

PREROLL = 12                 # frames decoded before a seek target (fills the ring for back-steps)
RING_BYTES = 256 * 1024 * 1024


def _fourcc(cap: Any) -> str:
    from labeldesk.core.io.opencv import cv2
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else f"0x{code:08x}"


def _open_capture(path: str) -> Any:
    from labeldesk.core.io.opencv import cv2
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "no such file")
    if p.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise InputError(path, "not a video this build can open (unknown container or corrupt file)")
    return cap


def build_index(path: str, progress: Progress = NO_PROGRESS) -> tuple[list[float], float, str, tuple[int, int]]:
    """(pts_ms per frame, fps, fourcc, (w, h)) from one sequential pass; proves frames decode."""
    from labeldesk.core.io.opencv import cv2
    cap = _open_capture(path)
    try:
        fourcc = _fourcc(cap)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        estimate = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, first = cap.read()
        if not ok or first is None:
            raise InputError(path, f"no frame could be decoded: unsupported codec {fourcc!r} or corrupt data")
        pts = [float(cap.get(cv2.CAP_PROP_POS_MSEC))]
        while cap.grab():
            pts.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
            if len(pts) % 500 == 0:
                progress.report(len(pts), max(estimate, len(pts)), f"indexing {Path(path).name}")
        h, w = first.shape[:2]
    finally:
        cap.release()
    if fps <= 0 and len(pts) > 1 and pts[-1] > pts[0]:
        fps = 1000.0 * (len(pts) - 1) / (pts[-1] - pts[0])
    return pts, fps, fourcc, (w, h)


def probe(path: str, progress: Progress = NO_PROGRESS) -> Discovered:
    path = str(Path(path).resolve())
    pts, fps, fourcc, (w, h) = build_index(path, progress)
    info = SourceInfo(kind="video", width=w, height=h, frames=len(pts), channels=3, dtype="uint8",
                      levels=((w, h),), fps=fps or None, meta={"codec": fourcc})
    return Discovered(name=Path(path).name, info=info,
                      locator={"reader": "video", "path": path, "pts_ms": pts, "fps": fps, "codec": fourcc},
                      files=(path,))


class VideoSource(ImageSource):
    def __init__(self, path: str, pts_ms: list[float] | None = None, fps: float | None = None,
                 ring_bytes: int = RING_BYTES) -> None:
        from labeldesk.core.io.opencv import cv2
        self.path = path
        if pts_ms is None:
            pts_ms, fps, _, _ = build_index(path)
        self.pts = list(pts_ms)
        self._cap = _open_capture(path)
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.info = SourceInfo(kind="video", width=w, height=h, frames=len(self.pts), channels=3,
                               dtype="uint8", levels=((w, h),), fps=fps or None)
        self._next = 0                     # index of the frame the capture will return next
        self._ring: OrderedDict[int, np.ndarray] = OrderedDict()
        self._ring_bytes = ring_bytes
        self._held = 0
        self.stats = {"seeks": 0, "decoded": 0, "ring_hits": 0, "fallbacks": 0}

    # -- decoding ------------------------------------------------------------------------------
    def _keep(self, index: int, frame: np.ndarray) -> None:
        if index in self._ring:
            self._ring.move_to_end(index)
            return
        self._ring[index] = frame
        self._held += frame.nbytes
        while self._held > self._ring_bytes and len(self._ring) > 1:
            _, old = self._ring.popitem(last=False)
            self._held -= old.nbytes

    def _decode_next(self) -> np.ndarray:
        from labeldesk.core.io.opencv import cv2
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise InputError(self.path, f"frame {self._next} could not be decoded")
        self.stats["decoded"] += 1
        index = self._next
        pos = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if abs(pos - self.pts[index]) > 0.5:
            raise _Misaligned(index)
        self._next += 1
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._keep(index, rgb)
        return rgb

    def _seek(self, index: int) -> None:
        from labeldesk.core.io.opencv import cv2
        self.stats["seeks"] += 1
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self._next = index

    def _rewind(self) -> None:
        self._cap.release()
        self._cap = _open_capture(self.path)
        self._next = 0

    def read_frame(self, t: int) -> np.ndarray:
        if not 0 <= t < len(self.pts):
            raise IndexError(f"{self.path}: frame {t} outside 0..{len(self.pts) - 1}")
        cached = self._ring.get(t)
        if cached is not None:
            self.stats["ring_hits"] += 1
            self._ring.move_to_end(t)
            return cached
        if not self._next <= t <= self._next + PREROLL:
            self._seek(max(0, t - PREROLL))
        try:
            while True:
                frame = self._decode_next()
                if self._next - 1 == t:
                    return frame
        except _Misaligned:
            # The container's seek landed elsewhere: decode from the start (always exact).
            self.stats["fallbacks"] += 1
            self._rewind()
            while self._next < t:
                self._decode_after_rewind()
            return self._decode_after_rewind()

    def _decode_after_rewind(self) -> np.ndarray:
        try:
            return self._decode_next()
        except _Misaligned as exc:
            raise InputError(self.path, f"frame {exc.index}: timestamps do not match the index; "
                                        "the file changed since it was added") from None

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    plane: Plane = Plane()) -> np.ndarray:
        if level != 0:
            raise ValueError(f"{self.path}: video has one level (0), not {level}")
        frame = self.read_frame(plane.t)
        x0, y0, x1, y1 = clip_rect(x, y, w, h, frame.shape[1], frame.shape[0])
        return frame[y0:y1, x0:x1]

    def plane_count(self, axis: str = "axial") -> int:
        return 1

    def drop_cache(self) -> None:
        """Forget decoded frames (the next reads decode again)."""
        self._ring.clear()
        self._held = 0

    def close(self) -> None:
        self._cap.release()
        self.drop_cache()


class _Misaligned(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


def open_locator(locator: dict[str, Any]) -> VideoSource:
    return VideoSource(locator["path"], locator.get("pts_ms"), locator.get("fps"))
