"""Reading a large image as horizontal bands, so memory stays at a band, not the whole image.

Tiled and striped TIFF stream through tifffile's segment decoder; other formats OpenCV can decode
in one piece (under its 2^30-pixel limit) are decoded whole and then served band by band.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from labeldesk.core.errors import InputError

WHOLE_DECODE_LIMIT = 2**30


def iter_bands(path: str, band_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(y0, rows) pairs covering the image top to bottom; rows are (h, W[, C]) RGB or grey."""
    if path.lower().endswith((".tif", ".tiff")):
        yield from _tiff_bands(path, band_rows)
    else:
        yield from _whole_bands(path, band_rows)


def _whole_bands(path: str, band_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    from labeldesk.core.io.raster import decode, header_size
    w, h, _, _ = header_size(path)
    if w * h >= WHOLE_DECODE_LIMIT:
        raise InputError(path, f"{w:,} x {h:,} pixels is too large to decode in one piece; "
                               "convert it to a tiled TIFF (e.g. with vips or gdal) and add that")
    arr = decode(path)
    for y0 in range(0, arr.shape[0], band_rows):
        yield y0, arr[y0:y0 + band_rows]


def _tiff_bands(path: str, band_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    import tifffile
    try:
        tf = tifffile.TiffFile(path)
    except Exception as exc:
        raise InputError(path, f"not a readable TIFF ({exc})") from None
    with tf:
        page = tf.pages[0]
        h, w = page.shape[:2]
        channels = page.shape[2] if len(page.shape) > 2 and page.planarconfig == 1 else 1
        if len(page.shape) > 2 and page.planarconfig != 1:
            raise InputError(path, "planar-separated TIFF is not supported for large images")
        dtype = np.dtype(page.dtype)
        fh = tf.filehandle
        shape = (band_rows, w, channels) if channels > 1 else (band_rows, w)
        if page.is_tiled:
            th, tw = page.tilelength, page.tilewidth
            across = math.ceil(w / tw)
            band_rows_eff = th
        else:
            rps = min(page.rowsperstrip or h, h)
            band_rows_eff = rps
        buf = np.zeros((band_rows + band_rows_eff,) + shape[1:], dtype=dtype)
        filled = 0
        y_out = 0
        n_segments = len(page.dataoffsets)
        seg = 0
        while seg < n_segments:
            y_seg = (seg // across) * th if page.is_tiled else seg * band_rows_eff
            rows_here = min(band_rows_eff, h - y_seg)
            segs = range(seg, seg + across) if page.is_tiled else range(seg, seg + 1)
            for s in segs:
                fh.seek(page.dataoffsets[s])
                data = fh.read(page.databytecounts[s])
                try:
                    tile, index, _ = page.decode(data, s)
                except Exception as exc:
                    raise InputError(path, f"segment {s} could not be decoded ({exc})") from None
                if tile is None:
                    raise InputError(path, f"segment {s} is missing or truncated")
                tile = tile.reshape(tile.shape[-3:]) if tile.ndim > 3 else tile
                x0 = (s % across) * tw if page.is_tiled else 0
                part = tile[:rows_here, : max(0, min(tile.shape[1], w - x0))]
                if channels == 1 and part.ndim == 3:
                    part = part[..., 0]
                buf[filled:filled + rows_here, x0:x0 + part.shape[1]] = part
            seg += across if page.is_tiled else 1
            filled += rows_here
            while filled >= band_rows or (filled > 0 and y_out + filled >= h):
                take = min(band_rows, filled)
                yield y_out, buf[:take].copy()
                buf[:filled - take] = buf[take:filled]
                filled -= take
                y_out += take
