"""Loading a DICOM stack into one preallocated array in its stored dtype.

Uncompressed little-endian files take the fast path: the header scan recorded where each file's
pixel bytes start, so loading is one ``readinto`` per slice straight into the volume (no per-slice
``pixel_array``, no copies). Compressed transfer syntaxes decode through pydicom with *our* plugin
order, chosen by measured speed (BENCHMARKS.md, DCM-4), across processes when there are many frames.
Pixels keep their stored values; slope/intercept and MONOCHROME1 are metadata for the display.
"""
from __future__ import annotations

import os

from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import Discovered, SourceInfo
from labeldesk.core.io.volume import VolumeSource
from labeldesk.core.tasks import NO_PROGRESS, Progress

# Fastest first, per transfer syntax (pydicom's default order puts GDCM first, which is slower).
PLUGIN_ORDER = {
    "1.2.840.10008.1.2.5": ("pylibjpeg", "pydicom"),                      # RLE
    "1.2.840.10008.1.2.4.80": ("pyjpegls", "pylibjpeg"),                  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81": ("pyjpegls", "pylibjpeg"),                  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90": ("pylibjpeg", "pillow"),                    # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91": ("pylibjpeg", "pillow"),                    # JPEG 2000
    "1.2.840.10008.1.2.4.50": ("pillow", "pylibjpeg"),                    # JPEG baseline
    "1.2.840.10008.1.2.4.51": ("pylibjpeg", "pillow"),                    # JPEG extended
    "1.2.840.10008.1.2.4.57": ("pylibjpeg",),                             # JPEG lossless
    "1.2.840.10008.1.2.4.70": ("pylibjpeg",),                             # JPEG lossless SV1
    "1.2.840.10008.1.2.4.201": ("pylibjpeg",), "1.2.840.10008.1.2.4.202": ("pylibjpeg",),
    "1.2.840.10008.1.2.4.203": ("pylibjpeg",),                            # HTJ2K
}
PARALLEL_MIN_FRAMES = 24
# Codecs fast enough that starting worker processes costs more than it saves (RLE ~0.7 ms/frame).
SERIAL_SYNTAXES = {"1.2.840.10008.1.2.5", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}


def _shape(loc: dict[str, Any]) -> tuple[int, ...]:
    rows, cols, samples = loc["rows"], loc["cols"], loc["samples"]
    return (rows, cols, samples) if samples > 1 else (rows, cols)


def _fast_path_ok(loc: dict[str, Any]) -> bool:
    return bool(loc.get("offsets")) and loc["ts"] in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1") \
        and loc["bits"] in (8, 16, 32) and not loc.get("slopes") \
        and (loc["samples"] == 1 or (loc["photometric"] == "RGB" and loc["planar"] == 0))


def _read_raw(loc: dict[str, Any], out: np.ndarray, progress: Progress) -> None:
    frame_bytes = out[0].nbytes
    flat = out.reshape(len(out), -1).view(np.uint8)
    for i, (path, frame, offset) in enumerate(zip(loc["files"], loc["frames"], loc["offsets"])):
        if i % 32 == 0:
            progress.report(i, len(out), "reading slices")
        try:
            with open(path, "rb", buffering=0) as fh:
                fh.seek(offset + frame * frame_bytes)
                got = fh.readinto(memoryview(flat[i]))
        except OSError as exc:
            raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
        if got != frame_bytes:
            raise InputError(path, f"the pixel data is truncated ({got} of {frame_bytes} bytes)")


def decode_frame(path: str, frame: int, ts: str) -> np.ndarray:
    """One frame through pydicom, trying the plugins in our order."""
    from pydicom.pixels import pixel_array
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import UID
    try:
        available = set(get_decoder(UID(ts))._available) if ts not in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99") else None
    except NotImplementedError:
        raise InputError(path, f"transfer syntax {UID(ts).name} ({ts}) is not supported") from None
    if available is not None and not available:
        raise InputError(path, f"no decoder for {UID(ts).name} is installed (it needs GDCM: "
                               "pip install python-gdcm)")
    problems = []
    order = [p for p in PLUGIN_ORDER.get(ts, ("",)) if available is None or p in available or not p]
    order += [p for p in (available or ()) if p not in order]
    for plugin in order or [""]:
        try:
            return pixel_array(path, index=frame, decoding_plugin=plugin)
        except Exception as exc:  # noqa: BLE001 - try the next plugin, report all if none works
            problems.append(f"{plugin or 'default'}: {' '.join(str(exc).split())[:120]}")
    raise InputError(path, f"frame {frame} could not be decoded ({'; '.join(problems)})")


def _decode_chunk(items: list[tuple[str, int, str]]) -> list[np.ndarray]:
    return [decode_frame(p, f, ts) for p, f, ts in items]


JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


def _jpeg_cine(loc: dict[str, Any], out: np.ndarray, progress: Progress) -> bool:
    """Multi-frame JPEG baseline (ultrasound cine): parse the file once and let libjpeg-turbo
    decode each encapsulated frame (4x faster than per-frame pydicom). Only for YBR photometrics:
    OpenCV always converts YCbCr to RGB, which is wrong for JPEGs stored without a colour
    transform (PhotometricInterpretation RGB), so those take the pydicom path."""
    if loc["ts"] != JPEG_BASELINE or len(set(loc["files"])) != 1 or loc["samples"] != 3 \
            or not str(loc["photometric"]).startswith("YBR_FULL"):
        return False
    import pydicom
    from pydicom.encaps import generate_frames

    from labeldesk.core.io.opencv import cv2
    path = loc["files"][0]
    ds = pydicom.dcmread(path)
    frames = list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))
    for i, f in enumerate(loc["frames"]):
        if i % 16 == 0:
            progress.report(i, len(loc["frames"]), "decoding frames")
        bgr = cv2.imdecode(np.frombuffer(frames[f], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None or bgr.shape[:2] != out.shape[1:3]:
            return False                     # anything unusual: the general path decides
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=out[i])
    return True


def _decode_all(loc: dict[str, Any], out: np.ndarray, progress: Progress) -> None:
    if _jpeg_cine(loc, out, progress):
        return
    items = [(p, f, loc["ts"]) for p, f in zip(loc["files"], loc["frames"])]
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_MIN_FRAMES or workers < 2 or loc["ts"] in SERIAL_SYNTAXES:
        for i, item in enumerate(items):
            if i % 8 == 0:
                progress.report(i, len(items), "decoding slices")
            out[i] = _as_slice(decode_frame(*item), loc, i, out.dtype)
        return
    import pydicom.pixels  # noqa: F401  (imported once here, inherited by forked workers)
    size = max(4, len(items) // (workers * 4))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    done = 0
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_decode_chunk, c) for c in chunks]
        try:
            for fut, start in zip(futures, range(0, len(items), size)):
                for j, arr in enumerate(fut.result()):
                    out[start + j] = _as_slice(arr, loc, start + j, out.dtype)
                done += size
                progress.report(min(done, len(items)), len(items), "decoding slices")
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _as_slice(arr: np.ndarray, loc: dict[str, Any], i: int, dtype: np.dtype) -> np.ndarray:
    if loc.get("slopes"):
        return arr.astype(np.float32) * np.float32(loc["slopes"][i]) + np.float32(loc["intercepts"][i])
    if arr.shape != tuple(_shape(loc)):
        raise InputError(loc["files"][i], f"frame shape {arr.shape} differs from the series {_shape(loc)}")
    return arr


def _allocate(loc: dict[str, Any], zeroed: bool = False) -> np.ndarray:
    dtype = np.float32 if loc.get("slopes") else np.dtype(loc["stored_dtype"])
    return (np.zeros if zeroed else np.empty)((len(loc["files"]), *_shape(loc)), dtype=dtype)


def _fill(loc: dict[str, Any], out: np.ndarray, progress: Progress) -> None:
    if _fast_path_ok(loc):
        _read_raw(loc, out, progress)
    else:
        _decode_all(loc, out, progress)
    progress.report(len(out), len(out), "loaded")


def load_series(loc: dict[str, Any] | Discovered, progress: Progress = NO_PROGRESS,
                info: SourceInfo | None = None) -> np.ndarray:
    """Voxels as (T, Z, Y, X[, 3]) in the stored dtype (float32 only if slopes vary per slice)."""
    if isinstance(loc, Discovered):
        loc = loc.locator
    out = _allocate(loc)
    _fill(loc, out, progress)
    t = int(loc.get("t", 1))
    return out.reshape(t, len(out) // t, *out.shape[1:])


def open_progressive(locator: dict[str, Any]) -> tuple[VolumeSource, Any]:
    """A volume whose middle slice is readable now and whose other slices arrive when the returned
    ``fill(progress)`` runs (on a worker thread): the first image is on screen in milliseconds
    whatever the series length. Slices not yet read are zero; ``source.complete`` says when done."""
    out = _allocate(locator, zeroed=True)            # untouched pages cost nothing until read
    n = len(out)
    mid = n // 2
    one = {**locator, "files": [locator["files"][mid]], "frames": [locator["frames"][mid]],
           "offsets": [locator["offsets"][mid]] if locator.get("offsets") else None,
           "slopes": [locator["slopes"][mid]] if locator.get("slopes") else None,
           "intercepts": [locator["intercepts"][mid]] if locator.get("intercepts") else None}
    _fill(one, out[mid:mid + 1], NO_PROGRESS)
    t = int(locator.get("t", 1))
    source = _volume(locator, out.reshape(t, n // t, *out.shape[1:]))
    source.complete = False

    def fill(progress: Progress = NO_PROGRESS) -> VolumeSource:
        _fill(locator, out, progress)
        source.complete = True
        return source
    return source, fill


def verify_decodable(found: Discovered) -> None:
    """Prove the pixels can be read here (raises InputError naming the file): every file is long
    enough for the uncompressed fast path; otherwise the middle frame decodes."""
    loc = found.locator
    if _fast_path_ok(loc):
        frame_bytes = int(np.prod(_shape(loc))) * np.dtype(loc["stored_dtype"]).itemsize
        for path, frame, offset in zip(loc["files"], loc["frames"], loc["offsets"]):
            need = offset + (frame + 1) * frame_bytes
            if os.path.getsize(path) < need:
                raise InputError(path, f"the pixel data is truncated ({os.path.getsize(path) - offset - frame * frame_bytes}"
                                       f" of {frame_bytes} bytes)")
        return
    mid = len(loc["files"]) // 2
    decode_frame(loc["files"][mid], loc["frames"][mid], loc["ts"])


def open_locator(locator: dict[str, Any], progress: Progress = NO_PROGRESS) -> VolumeSource:
    return _volume(locator, load_series(locator, progress))


def _volume(locator: dict[str, Any], voxels: np.ndarray) -> VolumeSource:
    geo = locator.get("geometry") or {}
    t, z, rows, cols = voxels.shape[:4]
    info = SourceInfo(
        kind="volume", width=cols, height=rows, depth=z, frames=t, channels=locator["samples"],
        dtype=voxels.dtype.name, levels=((cols, rows),),
        spacing=tuple(geo["spacing"]) if geo.get("spacing") else None,
        affine=tuple(tuple(r) for r in geo["affine"]) if geo.get("affine") else None,
        rescale=tuple(geo.get("rescale") or (1.0, 0.0)), photometric=locator["photometric"],
        window=tuple(geo["window"]) if geo.get("window") else None,
        meta={"modality": geo.get("modality", "")})
    return VolumeSource(locator["files"][0], voxels, info)
