"""Generated images for tests and the demo: ordinary files, a large tiled TIFF written strip by
strip (never held in memory), and broken files for the bad-input checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def scene_rgb(width: int, height: int, seed: int = 0, x0: int = 0, y0: int = 0) -> np.ndarray:
    """A deterministic 'aerial' scene: field texture, roads, roofs and small vehicles."""
    rng = np.random.default_rng(seed + y0 * 7919 + x0)
    yy, xx = np.mgrid[y0:y0 + height, x0:x0 + width]
    r = (90 + 40 * np.sin(xx / 97.0) + 30 * np.cos(yy / 131.0)).astype(np.float32)
    g = (120 + 35 * np.sin((xx + yy) / 157.0)).astype(np.float32)
    b = (70 + 20 * np.cos(xx / 61.0)).astype(np.float32)
    img = np.dstack([r, g, b])
    road = ((xx % 1500) < 40) | ((yy % 1100) < 40)
    img[road] = (128, 128, 128)
    roof = ((xx % 700) > 300) & ((xx % 700) < 420) & ((yy % 600) > 200) & ((yy % 600) < 300)
    img[roof] = (180, 60, 50)
    car = ((xx % 1500) > 8) & ((xx % 1500) < 30) & ((yy % 230) < 40) & ~((yy % 1100) < 40)
    img[car] = (20, 40, 200)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


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
                     photometric="rgb", compression="deflate" if False else None, bigtiff=width * height * 3 > 2**31)
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
