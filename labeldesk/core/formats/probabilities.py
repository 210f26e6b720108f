"""Per-pixel probabilities of a mask annotation (a fractional DICOM SEG segment, a model's soft
output), kept beside the binary mask as the reserved attribute ``_probability``.

The mask is the support (every pixel with a probability above 0); the attribute holds the
probability of each of the mask's pixels, in the mask's row-major order, quantised to ``max``
levels (DICOM SEG's MaximumFractionalValue, 255 by default) and zlib-compressed in base64:
``{"max": 255, "values": "<base64>"}``. Like ``_group``, the key is never checked against the
class's attribute schema and formats never write it as an attribute. A mask edited after the
import no longer matches its probabilities: exports then write it as certain (1.0), with a note.
"""
from __future__ import annotations

import base64
import zlib
from typing import Any

import numpy as np

PROBABILITY_KEY = "_probability"


def encode(mask: Any, values: np.ndarray, levels: int = 255) -> dict[str, Any]:
    """The attribute value for ``mask`` (a Mask) given the probabilities (0..1) of its bounding
    box (a (height, width) array)."""
    inside = mask.to_array()
    q = np.clip(np.rint(np.asarray(values, np.float64)[inside] * levels), 0, levels).astype(np.uint8)
    return {"max": int(levels), "values": base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii")}


def check(value: Any) -> str | None:
    """The problem with a ``_probability`` value, or None."""
    if not (isinstance(value, dict) and isinstance(value.get("max"), int) and 1 <= value["max"] <= 255
            and isinstance(value.get("values"), str)):
        return f'{PROBABILITY_KEY} must be {{"max": 1..255, "values": base64 text}}'
    return None


def decode(mask: Any, value: Any) -> np.ndarray | None:
    """The (height, width) float32 probabilities in ``mask``'s bounding box (0 outside the mask), or
    None when ``value`` does not hold one per pixel of the mask (the mask was edited)."""
    if check(value) is not None:
        return None
    try:
        q = np.frombuffer(zlib.decompress(base64.b64decode(value["values"]), bufsize=1 << 16), np.uint8)
    except (ValueError, zlib.error):
        return None
    inside = mask.to_array()
    if q.size != int(inside.sum()):
        return None
    out = np.zeros(inside.shape, np.float32)
    out[inside] = q.astype(np.float32) / float(value["max"])
    return out
