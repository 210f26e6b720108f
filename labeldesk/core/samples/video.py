"""Frame-stamped synthetic clips: each frame carries its index as big black/white bit blocks that
survive lossy codecs, so a test can read back which frame a seek really returned."""
from __future__ import annotations

from pathlib import Path

import numpy as np

BITS = 12                      # frame indices 0..4095
CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1", ".webm": "VP90"}
# every (suffix, FOURCC) this OpenCV's FFmpeg writes and reads back (no H.264 encoder in the wheel)
CLIPS = ((".mp4", "mp4v"), (".avi", "MJPG"), (".avi", "XVID"), (".mkv", "FFV1"), (".webm", "VP90"))


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
    """Write a clip whose frame i shows i in bit blocks plus a moving disk (for tracking demos).

    ``fourcc`` defaults by suffix (``CODECS``; mp4v otherwise). The top sixth of each frame holds
    ``BITS`` black/white blocks, least significant bit on the left: lossy codecs blur their edges,
    and ``read_stamp`` reads only their middle halves."""
    from labeldesk.core.io.opencv import cv2
    if not 0 < n_frames <= 1 << BITS:
        raise ValueError(f"n_frames must be 1..{1 << BITS}, got {n_frames}")
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
    """An AVI whose video stream claims the FOURCC ``QQZZ``, which no FFmpeg decoder knows: a
    well-formed container OpenCV refuses to open ("Could not find decoder")."""
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


def _vint(data: bytes | bytearray, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length)."""
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    return value, length


def write_vfr_clip(path: str | Path, n_frames: int = 60, size: tuple[int, int] = (192, 96),
                   slow_from: int = 20, extra_ms: int = 25) -> Path:
    """A variable-frame-rate Matroska clip: frame-stamped FFV1 whose frames from ``slow_from`` on
    are ``extra_ms`` further apart than the nominal 40 ms, so frame *n* is not at *n* / fps and
    ``CAP_PROP_POS_FRAMES`` seeks land on the wrong frame. Made by rewriting the block timestamps
    of an OpenCV-written file (Cues are blanked, so seeks scan the clusters)."""
    path = Path(path)
    write_stamped_clip(path, n_frames=n_frames, size=size, fourcc="FFV1")
    data = bytearray(path.read_bytes())
    frame = 0

    def walk(start: int, end: int, cluster_tc: int) -> None:
        nonlocal frame
        pos = start
        while pos < end:
            eid, n_id = _vint(data, pos, keep_marker=True)
            size_, n_size = _vint(data, pos + n_id, keep_marker=False)
            body = pos + n_id + n_size
            stop = end if size_ == (1 << (7 * n_size)) - 1 else min(end, body + size_)   # unknown size
            if eid in (0x18538067, 0x1F43B675, 0xA0):            # Segment, Cluster, BlockGroup
                walk(body, stop, cluster_tc)
            elif eid == 0x1C53BB6B:                             # Cues -> Void of the same length
                total = stop - pos
                data[pos:pos + 9] = bytes([0xEC, 0x01]) + (total - 9).to_bytes(7, "big")
            elif eid == 0xE7:                                   # Cluster timestamp (ms)
                cluster_tc = int.from_bytes(data[body:stop], "big")
            elif eid in (0xA3, 0xA1):                           # SimpleBlock / Block
                _, n_track = _vint(data, body, keep_marker=False)
                at = body + n_track
                rel = int.from_bytes(data[at:at + 2], "big", signed=True)
                shift = extra_ms * max(0, frame - slow_from)
                data[at:at + 2] = (rel + shift).to_bytes(2, "big", signed=True)
                frame += 1
            pos = stop

    walk(0, len(data), 0)
    path.write_bytes(bytes(data))
    return path
