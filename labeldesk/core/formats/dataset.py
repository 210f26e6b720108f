"""What makes an export a dataset that trains as it is: subsets, stable image ids, image files.

* **Subsets** (option ``split``): ``train=0.8,val=0.2`` (any names and fractions) assigns each
  asset to a subset by a seeded hash of its id (option ``seed``, default 0) - the same asset lands
  in the same subset on every export and every machine, and adding assets never moves others;
  ``split=classification`` puts an asset in the subset named by its asset classification (a class
  called ``train``, ``val`` or ``test``, or any name listed in option ``subsets``); assets without
  one go to ``train``. Without ``split`` there is one subset, ``default``.
* **Image ids** (COCO): a stable number per plane of an asset, from its id (31 bits, so every
  reader's int32 holds it); a rare collision takes the next free number in asset-id order.
* **Image files** (option ``images``): ``copy`` (the default when asked for: original image files
  byte for byte; planes of videos and volumes rendered to PNG), ``png`` (every plane rendered), or
  ``raw16`` (volume slices as 16-bit PNG of the stored values, no window; signed
  values + 32768). Slices are rendered
  with the window of option ``window`` (``center,width`` in HU, or a preset name such as
  ``abdomen``), else the series' own window.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.formats.matching import flat_item_name, item_name
from labeldesk.core.model import Asset, Plane

DEFAULT_SUBSET = "default"
MAX_RENDER_PIXELS = 1 << 28         # a plane rendered to PNG (whole-slide images: copy the original)
IMAGE_MODES = ("copy", "png", "raw16")


def _hash01(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64


def parse_split(text: str) -> list[tuple[str, float]]:
    parts = []
    for item in str(text).split(","):
        if not item.strip():
            continue
        name, sep, frac = item.partition("=") if "=" in item else item.partition(":")
        try:
            value = float(frac)
        except ValueError:
            raise LabeldeskError(f"split {text!r}: {item.strip()!r} is not name=fraction (e.g. train=0.8,val=0.2)") from None
        name = name.strip()
        if not name or not name.replace("-", "").replace("_", "").isalnum() or value < 0:
            raise LabeldeskError(f"split {text!r}: {item.strip()!r} needs a plain subset name and a fraction >= 0")
        parts.append((name, value))
    total = sum(v for _, v in parts)
    if not parts or total <= 0:
        raise LabeldeskError(f"split {text!r}: give subsets with fractions, e.g. train=0.8,val=0.2")
    return [(n, v / total) for n, v in parts]


def subsets(ctx: Any) -> dict[str, str]:
    """Asset id -> subset name for the export's assets."""
    split = ctx.options.get("split")
    if not split:
        return {a.id: DEFAULT_SUBSET for a in ctx.assets}
    if str(split).strip().lower() in ("classification", "classifications", "tag", "tags"):
        names = {s.strip() for s in str(ctx.options.get("subsets") or "train,val,test").split(",") if s.strip()}
        by_id = {e.id: e.name for e in ctx.classes}
        out = {}
        for a in ctx.assets:
            tags = [by_id.get(c["class_id"]) for c in ctx.classifications(a) if c["scope"] == "asset"]
            hits = sorted(t for t in tags if t in names)
            if len(hits) > 1:
                ctx.report.note(a.name, f"classified as {', '.join(hits)}: put in {hits[0]}")
            out[a.id] = hits[0] if hits else "train"
        return out
    parts = parse_split(str(split))
    seed = str(ctx.options.get("seed", 0))
    out = {}
    for a in ctx.assets:
        x, acc = _hash01(f"{seed}:{a.id}"), 0.0
        out[a.id] = parts[-1][0]
        for name, frac in parts:
            acc += frac
            if x < acc:
                out[a.id] = name
                break
    return out


class ImageIds:
    """Stable COCO image ids: from the asset id and plane, 1..2^31-1, collisions resolved in order."""

    def __init__(self) -> None:
        self._taken: dict[int, str] = {}

    def id_for(self, asset: Asset, plane: Plane) -> int:
        key = f"{asset.id}:{plane.axis}:{plane.z}:{plane.t}"
        n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") & 0x7FFFFFFF or 1
        while self._taken.get(n, key) != key:
            n = n % 0x7FFFFFFF + 1
        self._taken[n] = key
        return n


def image_mode(ctx: Any) -> str | None:
    value = ctx.options.get("images")
    if value in (None, False, "", "no", "none", "false", "0"):
        return None
    mode = "copy" if value in (True, "yes", "true", "1", "copy") else str(value).lower()
    if mode not in IMAGE_MODES:
        raise LabeldeskError(f"images={value!r}: choose one of {', '.join(IMAGE_MODES)}")
    return mode


def file_name(asset: Asset, plane: Plane, mode: str | None, flat: bool = False) -> str:
    """The image file name of a plane in an export (with an image suffix when files are written);
    ``flat``: planes of videos and volumes without a folder (``clip.mp4__frame_000001``)."""
    name = flat_item_name(asset, plane) if flat else item_name(asset, plane)
    if mode is None:
        return name
    if name == asset.name and asset.kind in ("image", "pyramid") and mode == "copy":
        return name
    if name == asset.name:
        return name.rsplit(".", 1)[0] + ".png" if "." in name else name + ".png"
    return name + ".png"


def _window(ctx: Any, source: Any, pixels: np.ndarray) -> tuple[float, float]:
    from labeldesk.core.display import CT_PRESETS, default_window
    wanted = ctx.options.get("window")
    if wanted:
        text = str(wanted).strip().lower()
        if text in CT_PRESETS:
            return CT_PRESETS[text]
        try:
            c, w = (float(v) for v in text.split(","))
            return c, w
        except ValueError:
            raise LabeldeskError(f"window={wanted!r}: give center,width (e.g. 40,400) or one of "
                                 + ", ".join(CT_PRESETS)) from None
    return default_window(source.info, pixels)


def write_image(ctx: Any, out: Any, asset: Asset, plane: Plane, folder: str, name: str, mode: str,
                sources: dict[Any, Any]) -> bool:
    """Write the pixels of one plane to ``folder/name``; False (and a refusal) when they cannot be read."""
    loc = ctx.project.locator(asset.id) or {}
    original = loc.get("path") or loc.get("source")
    member = f"{folder}/{name}" if folder else name
    if mode == "copy" and asset.kind in ("image", "pyramid") and original and Path(str(original)).is_file() \
            and name == asset.name:
        out.write(member, Path(str(original)).read_bytes())
        return True
    if asset.width * asset.height > MAX_RENDER_PIXELS:
        ctx.report.refuse(item_name(asset, plane), f"{asset.width}x{asset.height} is too large to render as one PNG "
                                                  "(images=copy writes the original file); labels written without it")
        return False
    try:
        source = sources.get(asset.id)
        if source is None:
            source = sources[asset.id] = ctx.project.open_source(asset.id)
        pixels = source.read_plane(plane)
    except Exception as exc:  # noqa: BLE001 - any reader failure is one refused image
        ctx.report.refuse(item_name(asset, plane), f"its pixels cannot be read for the image file "
                                                  f"({' '.join(str(exc).split())[:160]}); labels written without it")
        return False
    from labeldesk.core.io.opencv import cv2
    if mode == "raw16" and asset.kind == "volume":
        if pixels.dtype.kind == "i":                  # PNG is unsigned: one fixed offset for the series
            key = ("raw16-shift", asset.id)
            if key not in sources:
                sources[key] = None
                ctx.report.note(asset.name, "16-bit PNG slices hold the stored value + 32768 (PNG is unsigned)")
            img = np.clip(pixels.astype(np.int64) + 32768, 0, 65535).astype(np.uint16)
        else:
            img = np.clip(pixels, 0, 65535).astype(np.uint16)
    elif pixels.dtype == np.uint8:
        img = pixels
    else:
        from labeldesk.core.display import window_level
        c, w = _window(ctx, source, pixels)
        slope, intercept = getattr(source.info, "rescale", (1.0, 0.0))
        img = window_level(pixels, c, w, slope=slope, intercept=intercept)
    if img.ndim == 3 and img.shape[2] == 3:
        img = img[:, :, ::-1]                     # RGB -> OpenCV's BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img))
    if not ok:
        ctx.report.refuse(item_name(asset, plane), "could not be encoded as PNG; labels written without it")
        return False
    out.write(member, buf.tobytes())
    return True


def close_sources(sources: dict[str, Any]) -> None:
    for s in sources.values():
        try:
            if s is not None:
                s.close()
        except Exception:  # noqa: BLE001
            pass
