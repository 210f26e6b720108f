"""PNG, JPEG, BMP and TIFF (8/16-bit, float) images that fit in memory.

``probe`` decodes the whole file (so a truncated file is caught at import) for ordinary sizes; for
images above the pyramid threshold it reads only the header and reports ``kind="pyramid"``, and
the importer builds a tile pyramid. Colour comes out as RGB (OpenCV's BGR is converted once).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import Discovered, ImageSource, SourceInfo, clip_rect
from labeldesk.core.model import Plane

# Above either bound an image becomes a tile pyramid on import.
PYRAMID_SIDE = 8192
PYRAMID_PIXELS = 64 * 1024 * 1024
TIFF_SUFFIXES = (".tif", ".tiff")


def header_size(path: str) -> tuple[int, int, int, str]:
    """(width, height, channels, dtype) from the header alone; raises InputError."""
    size = _file_size(path)
    if path.lower().endswith(TIFF_SUFFIXES):
        return _tiff_header(path)
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None          # we judge sizes ourselves below
    try:
        with Image.open(path) as im:
            w, h = im.size
            mode = im.mode
    except Exception as exc:
        raise InputError(path, f"not a readable image ({_short(exc)})") from None
    channels = {"L": 1, "I;16": 1, "I;16B": 1, "I": 1, "F": 1, "1": 1, "P": 3, "RGB": 3, "RGBA": 4,
                "LA": 2, "CMYK": 4}.get(mode, 3)
    dtype = {"I;16": "uint16", "I;16B": "uint16", "I": "uint16", "F": "float32"}.get(mode, "uint8")
    _check_claim(path, w, h, channels, size)
    return w, h, channels, dtype


def _tiff_header(path: str) -> tuple[int, int, int, str]:
    import tifffile
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            h, w = page.shape[:2]
            channels = page.shape[2] if len(page.shape) > 2 else 1
            dtype = np.dtype(page.dtype).name
    except Exception as exc:
        raise InputError(path, f"not a readable TIFF ({_short(exc)})") from None
    _check_claim(path, w, h, channels, _file_size(path))
    return w, h, channels, dtype


def _check_claim(path: str, w: int, h: int, channels: int, file_size: int) -> None:
    if w <= 0 or h <= 0:
        raise InputError(path, f"the header claims an empty image ({w} x {h})")
    # Even the best compression of natural images stays above ~1 bit per 2000 pixels; a header
    # that claims far more pixels than the file could hold is corrupt or hostile.
    if w * h > 2**26 and file_size * 8 * 2000 < w * h:
        raise InputError(path, f"the header claims {w:,} x {h:,} pixels but the file holds only "
                               f"{file_size:,} bytes: corrupt or truncated, not opened")


def _file_size(path: str) -> int:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None
    if size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    return size


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def decode(path: str) -> np.ndarray:
    """Whole image as (H, W) or (H, W, 3|4) RGB(A), stored dtype kept."""
    _file_size(path)
    if path.lower().endswith(TIFF_SUFFIXES):
        import tifffile
        try:
            arr = tifffile.imread(path, key=0)
        except Exception as exc:
            raise InputError(path, f"TIFF data could not be decoded ({_short(exc)})") from None
        if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
            arr = np.moveaxis(arr, 0, -1)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        return np.ascontiguousarray(arr)
    from labeldesk.core.io.opencv import cv2
    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(path, "image data could not be decoded (truncated or corrupt)")
    if _truncated(path, data):
        raise InputError(path, "the file is truncated: image data ends early")
    if arr.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
        arr = cv2.cvtColor(arr, code)
    return arr


def _truncated(path: str, data: np.ndarray) -> bool:
    """libpng/libjpeg often return partial images for truncated files; check the end markers."""
    low = path.lower()
    tail = data[-12:].tobytes()
    if low.endswith(".png"):
        return b"IEND" not in tail
    if low.endswith((".jpg", ".jpeg")):
        return not data[-2:].tobytes() == b"\xff\xd9" and b"\xff\xd9" not in data[-64:].tobytes()
    return False


def probe(path: str) -> Discovered:
    path = str(Path(path).resolve())
    w, h, channels, dtype = header_size(path)
    if max(w, h) > PYRAMID_SIDE or w * h > PYRAMID_PIXELS:
        info = SourceInfo(kind="pyramid", width=w, height=h, channels=min(channels, 3),
                          dtype=dtype, levels=((w, h),))
    else:
        arr = decode(path)
        h, w = arr.shape[:2]
        channels = arr.shape[2] if arr.ndim == 3 else 1
        info = SourceInfo(kind="image", width=w, height=h, channels=channels,
                          dtype=arr.dtype.name, levels=((w, h),))
    return Discovered(name=Path(path).name, info=info, locator={"reader": "raster", "path": path},
                      files=(path,))


class RasterSource(ImageSource):
    def __init__(self, path: str) -> None:
        self.path = path
        self.pixels = decode(path)
        h, w = self.pixels.shape[:2]
        channels = self.pixels.shape[2] if self.pixels.ndim == 3 else 1
        self.info = SourceInfo(kind="image", width=w, height=h, channels=channels,
                               dtype=self.pixels.dtype.name, levels=((w, h),))

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    plane: Plane = Plane()) -> np.ndarray:
        if level != 0:
            raise ValueError(f"{self.path}: an ordinary image has one level (0), not {level}")
        x0, y0, x1, y1 = clip_rect(x, y, w, h, self.info.width, self.info.height)
        return self.pixels[y0:y1, x0:x1]


def open_locator(locator: dict[str, Any]) -> RasterSource:
    return RasterSource(locator["path"])
