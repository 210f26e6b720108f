"""Frame-stamped synthetic clips: each frame carries its index as big black/white bit blocks that
survive lossy codecs, so a test can read back which frame a seek really returned."""
from __future__ import annotations

from pathlib import Path

import numpy as np

BITS = 12
CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1", ".webm": "VP90"}


def stamp(frame_rgb: np.ndarray, index: int) -> None:
    h, w = frame_rgb.shape[:2]
    bw = w // BITS
    bh = max(8, h // 6)
    for bit in range(BITS):
        value = 255 if (index >> bit) & 1 else 0
        frame_rgb[0:bh, bit * bw:(bit + 1) * bw] = value


def read_stamp(frame_rgb: np.ndarray) -> int:
    h, w = frame_rgb.shape[:2]
    bw = w // BITS
    bh = max(8, h // 6)
    index = 0
    for bit in range(BITS):
        block = frame_rgb[bh // 4:3 * bh // 4, bit * bw + bw // 4:(bit + 1) * bw - bw // 4]
        if block.mean() > 127:
            index |= 1 << bit
    return index


def write_stamped_clip(path: str | Path, n_frames: int = 60, size: tuple[int, int] = (320, 240),
                       fps: float = 25.0, fourcc: str | None = None) -> Path:
    """Write a clip whose frame i shows i in bit blocks plus a moving disk (for tracking demos)."""
    from labeldesk.core.io.opencv import cv2
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    code = fourcc or CODECS.get(path.suffix.lower(), "mp4v")
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*code), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write {code} here")
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.dstack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)),
                            np.full_like(xx, 90)]).astype(np.uint8)
    for i in range(n_frames):
        frame = background.copy()
        cx = int(w * 0.2 + (w * 0.6) * i / max(1, n_frames - 1))
        cv2.circle(frame, (cx, h * 2 // 3), max(4, h // 10), (230, 60, 40), -1)
        stamp(frame, i)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_unsupported_codec(path: str | Path) -> Path:
    """An AVI whose stream claims a FOURCC no decoder knows (its frames cannot be decoded)."""
    src = write_stamped_clip(Path(path).with_suffix(".tmp.avi"), n_frames=5, size=(64, 48), fourcc="MJPG")
    data = bytearray(src.read_bytes())
    src.unlink()
    for tag in (b"MJPG", b"mjpg"):
        start = 0
        while (i := data.find(tag, start)) >= 0:
            data[i:i + 4] = b"QQZZ"
            start = i + 4
    out = Path(path)
    out.write_bytes(bytes(data))
    return out
