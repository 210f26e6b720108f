"""Generated images for tests and the demo: ordinary files, a large tiled TIFF written strip by
strip (never held in memory), and broken files for the bad-input checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def scene_rgb(width: int, height: int, seed: int = 0, x0: int = 0, y0: int = 0) -> np.ndarray:
    """A deterministic 'aerial' scene: field texture, roads, roofs and small vehicles. Any window
    (x0, y0, width, height) of the infinite scene can be made on its own, so huge images are
    generated band by band; built from 1-D terms in int16, so it costs a few ns per pixel."""
    xs = np.arange(x0, x0 + width, dtype=np.float32)
    ys = np.arange(y0, y0 + height, dtype=np.float32)[:, None]
    i16 = np.int16
    noise = np.random.default_rng(seed).normal(0, 6, (256, 256, 3)).astype(i16)
    ox, oy = (x0 * 7 + seed) % 256, (y0 * 3) % 256
    reps = (height + oy) // 256 + 1, (width + ox) // 256 + 1, 1
    tiled = np.tile(noise, reps)[oy:oy + height, ox:ox + width]
    terms = (
        (90 + 40 * np.sin(xs / 97.0)).astype(i16) + (30 * np.cos(ys / 131.0)).astype(i16),
        (120 + 35 * np.sin(xs / 157.0)).astype(i16) + (20 * np.cos(ys / 89.0)).astype(i16),
        (70 + 20 * np.cos(xs / 61.0)).astype(i16) + np.zeros_like(ys, dtype=i16),
    )
    img = np.empty((height, width, 3), np.uint8)
    for c, term in enumerate(terms):
        img[..., c] = np.clip(term + tiled[..., c], 0, 255)
    xm, ym = np.arange(x0, x0 + width), np.arange(y0, y0 + height)[:, None]
    road = ((xm % 1500) < 40) | ((ym % 1100) < 40)
    roof = ((xm % 700) > 300) & ((xm % 700) < 420) & ((ym % 600) > 200) & ((ym % 600) < 300)
    car = ((xm % 1500) > 8) & ((xm % 1500) < 30) & ((ym % 230) < 40) & ~((ym % 1100) < 40)
    img[road] = (128, 128, 128)
    img[roof] = (180, 60, 50)
    img[car] = (20, 40, 200)
    return img


def write_image(path: str | Path, array: np.ndarray) -> Path:
    """PNG/JPEG/BMP through OpenCV (RGB in), TIFF through tifffile (any dtype)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile
        tifffile.imwrite(path, array, photometric="rgb" if array.ndim == 3 else "minisblack")
        return path
    from labeldesk.core.io.opencv import cv2
    img = cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array
    ok, buf = cv2.imencode(path.suffix, img)
    if not ok:
        raise RuntimeError(f"{path}: cannot encode")
    path.write_bytes(buf.tobytes())
    return path


def write_large_tiff(path: str | Path, width: int = 20000, height: int = 15000, tile: int = 512,
                     seed: int = 0) -> Path:
    """A tiled RGB TIFF generated tile row by tile row (memory: one tile row)."""
    import tifffile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def tiles():
        for ty in range(0, height, tile):
            band = scene_rgb(width, min(tile, height - ty), seed, 0, ty)
            for tx in range(0, width, tile):
                part = band[:, tx:tx + tile]
                if part.shape[:2] != (tile, tile):
                    full = np.zeros((tile, tile, 3), np.uint8)
                    full[:part.shape[0], :part.shape[1]] = part
                    part = full
                yield part
    tifffile.imwrite(path, tiles(), shape=(height, width, 3), dtype=np.uint8, tile=(tile, tile),
                     photometric="rgb", bigtiff=width * height * 3 > 2**31)
    return path


def write_truncated_png(path: str | Path) -> Path:
    full = write_image(Path(path).with_suffix(".full.png"), scene_rgb(64, 48))
    data = full.read_bytes()
    full.unlink()
    Path(path).write_bytes(data[: len(data) // 2])
    return Path(path)


def write_zero_byte(path: str | Path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)


def write_huge_claim_png(path: str | Path, side: int = 60000) -> Path:
    """A tiny PNG whose IHDR claims side x side pixels (valid CRC, no real data)."""
    import struct
    import zlib

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return Path(path)
