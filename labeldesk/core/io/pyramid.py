"""Tile pyramids for images of any size: built on import by streaming, read tile by tile.

Layout of a pyramid folder: ``pyramid.json`` (size, tile size, dtype, per level: size, tile grid,
offset and length of every tile) and one ``level-N.pack`` per level holding the encoded tiles back
to back (JPEG for 8-bit, PNG for 16-bit and lossless sources). Building streams bands of ``tile``
rows through a cascade of levels, so peak memory is a few tile rows whatever the image size; the
folder is written under a temporary name and renamed when complete, so a crash or a cancel never
leaves a half pyramid that looks whole.
"""
from __future__ import annotations

import errno
import json
import os
import threading
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import ImageSource, SourceInfo, clip_rect
from labeldesk.core.io.tiles import TileCache
from labeldesk.core.model import Plane
from labeldesk.core.tasks import NO_PROGRESS, Progress

INDEX = "pyramid.json"
JPEG_QUALITY = 90


class _Level:
    """Accumulates rows of one level, writes full tile rows, passes halved rows to the next."""

    def __init__(self, builder: "_Builder", level: int, width: int, height: int) -> None:
        self.b, self.level, self.width, self.height = builder, level, width, height
        self.pending: np.ndarray | None = None
        self.y = 0                      # rows of this level written so far
        self.pack = open(builder.tmp / f"level-{level}.pack", "wb")
        self.offsets: list[int] = []
        self.lengths: list[int] = []
        self.next: _Level | None = None
        if max(width, height) > builder.tile:
            self.next = _Level(builder, level + 1, max(1, (width + 1) // 2), max(1, (height + 1) // 2))

    def push(self, rows: np.ndarray, final: bool = False) -> None:
        if len(rows):
            self.pending = rows if self.pending is None else np.concatenate([self.pending, rows])
        t = self.b.tile
        while self.pending is not None and (len(self.pending) >= t or (final and len(self.pending))):
            band, rest = self.pending[:t], self.pending[t:]
            self.pending = rest if len(rest) else None
            self._write_band(band)
            if self.next is not None:
                self.next.push(self.b.halve(band, self.next.width))
        if final and self.next is not None:
            self.next.push(np.zeros((0, self.next.width) + rows.shape[2:], rows.dtype), final=True)

    def _write_band(self, band: np.ndarray) -> None:
        t = self.b.tile
        tiles = [band[:, x:x + t] for x in range(0, self.width, t)]
        for data in self.b.encode_all(tiles):
            self.offsets.append(self.pack.tell())
            self.lengths.append(len(data))
            self.pack.write(data)
        self.y += len(band)

    def close(self) -> list[dict[str, Any]]:
        self.pack.flush()
        os.fsync(self.pack.fileno())
        self.pack.close()
        t = self.b.tile
        me = {"level": self.level, "width": self.width, "height": self.height,
              "cols": -(-self.width // t), "rows": -(-self.height // t),
              "offsets": self.offsets, "lengths": self.lengths}
        return [me] + (self.next.close() if self.next else [])


class _Builder:
    def __init__(self, tmp: Path, tile: int, ext: str) -> None:
        self.tmp, self.tile, self.ext = tmp, tile, ext
        self.pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))  # cv2 releases the GIL

    @staticmethod
    def halve(band: np.ndarray, out_width: int) -> np.ndarray:
        from labeldesk.core.io.opencv import cv2
        h = max(1, (len(band) + 1) // 2)
        return cv2.resize(band, (out_width, h), interpolation=cv2.INTER_AREA)

    def encode(self, tile: np.ndarray) -> bytes:
        from labeldesk.core.io.opencv import cv2
        img = tile
        if img.ndim == 3:
            img = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2BGR)
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if self.ext == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
        ok, buf = cv2.imencode(self.ext, np.ascontiguousarray(img), params)
        if not ok:
            raise RuntimeError("tile encoding failed")
        return buf.tobytes()

    def encode_all(self, tiles: list[np.ndarray]) -> list[bytes]:
        return list(self.pool.map(self.encode, tiles))


def build_pyramid(src_path: str, dest_dir: str, progress: Progress = NO_PROGRESS, tile: int = 256) -> str:
    """Stream ``src_path`` into a pyramid folder at ``dest_dir``; returns ``dest_dir``."""
    from labeldesk.core.io.bands import iter_bands
    from labeldesk.core.io.raster import header_size
    dest = Path(dest_dir)
    if (dest / INDEX).is_file():
        return str(dest)                                  # content-addressed: built already
    width, height, channels, dtype = header_size(src_path)
    if dtype not in ("uint8", "uint16"):
        raise InputError(src_path, f"large {dtype} images are not supported yet (8 and 16-bit are)")
    ext = ".jpg" if dtype == "uint8" else ".png"
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    builder = _Builder(tmp, tile, ext)
    top = _Level(builder, 0, width, height)
    out_channels = 1
    try:
        for y0, band in iter_bands(src_path, tile):
            if band.ndim == 3 and band.shape[2] == 4:
                band = band[..., :3]
            out_channels = band.shape[2] if band.ndim == 3 else 1
            top.push(band)
            progress.report(min(height, y0 + len(band)), height, f"building tile pyramid of {Path(src_path).name}")
        top.push(np.zeros((0, width) + ((out_channels,) if out_channels > 1 else ()), np.dtype(dtype)), final=True)
        levels = top.close()
        index = {"format": "labeldesk-pyramid/1", "width": width, "height": height, "tile": tile,
                 "dtype": dtype, "channels": out_channels, "ext": ext, "levels": levels,
                 "source": Path(src_path).name}
        with open(tmp / INDEX, "w", encoding="utf-8") as fh:
            json.dump(index, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException as exc:
        builder.pool.shutdown(wait=True)
        _close_all(top)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, InputError):
            raise InputError(src_path, f"could not write its tile pyramid to {dest.parent} "
                                       f"({exc.strerror or exc}{'; the disk is full' if exc.errno == errno.ENOSPC else ''});"
                                       f" nothing was added") from None
        raise
    builder.pool.shutdown()
    return str(dest)


def _close_all(level: _Level | None) -> None:
    while level is not None:
        if not level.pack.closed:
            level.pack.close()
        level = level.next


def pyramid_info(directory: str) -> dict[str, Any]:
    path = Path(directory) / INDEX
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"pyramid index is missing or corrupt ({exc}); re-add the image") from None


class PyramidSource(ImageSource):
    def __init__(self, directory: str, cache: TileCache | None = None) -> None:
        self.path = directory
        self.index = pyramid_info(directory)
        self.tile = int(self.index["tile"])
        self.cache = cache or TileCache(128 * 1024 * 1024)
        self._fds: dict[int, int] = {}
        self._fd_lock = threading.Lock()
        levels = tuple((lv["width"], lv["height"]) for lv in self.index["levels"])
        self.info = SourceInfo(kind="pyramid", width=self.index["width"], height=self.index["height"],
                               channels=self.index["channels"], dtype=self.index["dtype"], levels=levels)

    def _fd(self, level: int) -> int:
        with self._fd_lock:                     # tiles are decoded from several threads
            fd = self._fds.get(level)
            if fd is None:
                fd = os.open(os.path.join(self.path, f"level-{level}.pack"), os.O_RDONLY)
                self._fds[level] = fd
            return fd

    def read_tile(self, level: int, col: int, row: int) -> np.ndarray:
        key = (self.path, level, col, row)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        from labeldesk.core.io.opencv import cv2
        lv = self.index["levels"][level]
        i = row * lv["cols"] + col
        data = os.pread(self._fd(level), lv["lengths"][i], lv["offsets"][i])   # thread-safe
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise InputError(self.path, f"tile {level}/{col}/{row} is corrupt; re-add the image")
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        self.cache.put(key, img)
        return img

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    plane: Plane = Plane()) -> np.ndarray:
        lw, lh = self.info.levels[level]
        x0, y0, x1, y1 = clip_rect(x, y, w, h, lw, lh)
        shape = (y1 - y0, x1 - x0) + ((self.info.channels,) if self.info.channels > 1 else ())
        out = np.zeros(shape, dtype=np.dtype(self.info.dtype))
        t = self.tile
        for row in range(y0 // t, -(-y1 // t)):
            for col in range(x0 // t, -(-x1 // t)):
                tile = self.read_tile(level, col, row)
                tx0, ty0 = col * t, row * t
                sx0, sy0 = max(x0, tx0), max(y0, ty0)
                sx1, sy1 = min(x1, tx0 + tile.shape[1]), min(y1, ty0 + tile.shape[0])
                out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = tile[sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0]
        return out

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def open_locator(locator: dict[str, Any]) -> PyramidSource:
    return PyramidSource(locator["dir"])
