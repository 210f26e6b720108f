"""Label Studio's brush RLE: the bit-packed run-length code of thi.ng/rle-pack that Label Studio
stores in ``brushlabels`` regions (``value.format == "rle"``, ``value.rle`` a list of bytes).

The stream: 32 bits item count, 5 bits word size - 1, four 4-bit run-length sizes - 1; then chunks
of 1 bit "repeat", 2 bits size index, ``size`` bits run length - 1, and one word (repeat) or
``length`` words (literal). The items are the RGBA bytes of the image (width x height x 4); a
brush mask is the alpha channel (255 where painted). Written from that description; readers
(Label Studio, label-studio-converter's ``decode_rle``) decode both chunk kinds.
"""
from __future__ import annotations

import numpy as np

SIZES = (3, 4, 8, 16)


def _bits(data: bytes | list[int]) -> str:
    try:
        raw = bytes(int(b) for b in data) if not isinstance(data, (bytes, bytearray)) else bytes(data)
    except (TypeError, ValueError):
        raise ValueError("the brush RLE is not a list of bytes (0..255)") from None
    return "".join(f"{b:08b}" for b in raw)


def decode(data: bytes | list[int]) -> np.ndarray:
    """The uint8 items of a Label Studio RLE; ValueError when it is malformed or truncated."""
    bits = _bits(data)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > len(bits):
            raise ValueError("the brush RLE ends early")
        v = int(bits[pos:pos + n], 2) if n else 0
        pos += n
        return v

    num = read(32)
    word = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    if num > 400_000_000:
        raise ValueError(f"the brush RLE claims {num} items")
    if word > 8:
        raise ValueError(f"brush RLE words of {word} bits are not 8-bit image bytes")
    out = np.zeros(num, np.uint8)
    i = 0
    while i < num:
        repeat = read(1)
        j = min(num, i + 1 + read(sizes[read(2)]))
        if repeat:
            out[i:j] = read(word)
            i = j
        else:
            while i < j:
                out[i] = read(word)
                i += 1
    return out


def encode(items: np.ndarray) -> list[int]:
    """The Label Studio RLE of uint8 ``items`` (repeat chunks only), as a list of bytes."""
    flat = np.asarray(items, np.uint8).ravel()
    n = flat.size
    parts = [f"{n:032b}", f"{8 - 1:05b}", "".join(f"{s - 1:04b}" for s in SIZES)]
    if n:
        starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
        ends = np.concatenate((starts[1:], [n]))
        limit = 1 << SIZES[-1]
        for s, e in zip(starts.tolist(), ends.tolist()):
            value = f"{int(flat[s]):08b}"
            while s < e:
                length = min(e - s, limit)
                k = next(k for k, size in enumerate(SIZES) if length <= 1 << size)
                parts.append(f"1{k:02b}{length - 1:0{SIZES[k]}b}{value}")
                s += length
    bits = "".join(parts)
    bits += "0" * (-len(bits) % 8)
    return list(int(bits, 2).to_bytes(len(bits) // 8, "big")) if bits else []


def mask_from_rle(data: bytes | list[int], width: int, height: int) -> np.ndarray:
    """The (height, width) bool mask of a brush region (alpha > 0)."""
    items = decode(data)
    if items.size != width * height * 4:
        raise ValueError(f"the brush RLE holds {items.size} bytes, not the {width}x{height}x4 of the image")
    return items.reshape(height, width, 4)[:, :, 3] > 0


def rle_from_mask(mask: np.ndarray) -> list[int]:
    """The brush RLE of a (height, width) bool mask (RGBA 255 where painted, as Label Studio paints)."""
    return encode(np.repeat(np.asarray(mask, bool).astype(np.uint8) * 255, 4))
