"""NIfTI-1/2 volumes (.nii, .nii.gz; 3-D and 4-D) as VolumeSource, in the stored dtype.

nibabel arrays are (X, Y, Z[, T]); labeldesk volumes are (T, Z, Y, X), obtained as a transposed
*view* (no copy). Scaling (scl_slope/scl_inter) is kept as metadata, never applied to the pixels,
so a 512³ int16 volume stays 268 MB instead of 2.1 GB of float64. The affine comes from the sform
when its code is set, else the qform, and is converted from NIfTI's RAS+ to DICOM's LPS.
"""
from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import Discovered, SourceInfo
from labeldesk.core.io.volume import VolumeSource
from labeldesk.core.tasks import NO_PROGRESS, Progress

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
CHUNK = 2 * 1024 * 1024


def _load(path: str) -> Any:
    import nibabel as nib
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "no such file")
    if p.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    try:
        img = nib.load(path, mmap=True)
    except FileNotFoundError as exc:
        raise InputError(path, f"the header's data file is missing ({Path(exc.filename or '').name or 'image file'})") from None
    except Exception as exc:
        raise InputError(path, f"not a readable NIfTI file ({_short(exc)})") from None
    if not isinstance(img, (nib.Nifti1Pair, nib.Nifti2Pair)):
        raise InputError(path, f"{type(img).__name__} is not NIfTI-1/2")
    if len(img.shape) not in (2, 3, 4):
        raise InputError(path, f"{len(img.shape)}-D data is not supported (3-D and 4-D are)")
    return img


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _affine_lps(img: Any) -> np.ndarray:
    sform, scode = img.get_sform(coded=True)
    affine = sform if scode and sform is not None else img.get_qform()
    return RAS_TO_LPS @ np.asarray(affine, dtype=float)


def _info(path: str, img: Any) -> SourceInfo:
    shape = tuple(int(s) for s in img.shape) + (1,) * (4 - len(img.shape))
    x, y, z, t = shape
    zooms = tuple(float(v) for v in img.header.get_zooms()[:3]) + (1.0,) * max(0, 3 - len(img.header.get_zooms()))
    # nibabel moves the scaling from the header into the data proxy when it loads
    slope, inter = getattr(img.dataobj, "slope", None), getattr(img.dataobj, "inter", None)
    slope = 1.0 if slope is None or not math.isfinite(slope) or slope == 0 else float(slope)
    inter = 0.0 if inter is None or not math.isfinite(inter) else float(inter)
    dtype = np.dtype(img.get_data_dtype())
    aff = _affine_lps(img)
    return SourceInfo(kind="volume", width=x, height=y, depth=z, frames=t, channels=1,
                      dtype=dtype.name, levels=((x, y),), spacing=(zooms[0], zooms[1], zooms[2]),
                      affine=tuple(tuple(float(v) for v in r) for r in aff), rescale=(slope, inter),
                      meta={"format": f"NIfTI-{2 if img.header.sizeof_hdr == 540 else 1}",
                            "qform_code": int(img.header["qform_code"]),
                            "sform_code": int(img.header["sform_code"])})


def probe(path: str) -> Discovered:
    path = str(Path(path).resolve())
    img = _load(path)
    info = _info(path, img)
    _read_voxels(path, img, probe_only=True)
    files = tuple(str(Path(f).resolve()) for f in dict.fromkeys(fm.filename for fm in img.file_map.values())
                  if f)
    return Discovered(name=Path(path).name, info=info, locator={"reader": "nifti", "path": path},
                      files=files or (path,))


def _read_voxels(path: str, img: Any, probe_only: bool = False) -> np.ndarray:
    """Unscaled voxels in the stored dtype; for .nii this is a memory map (instant)."""
    try:
        proxy = img.dataobj
        if probe_only and not path.endswith(".gz"):
            data = proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else np.asanyarray(proxy)
            _ = data.reshape(-1)[-1]          # touch the last voxel: catches short files
            return data
        data = proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else np.asanyarray(proxy)
    except FileNotFoundError as exc:
        raise InputError(path, f"header without data: the data file {Path(exc.filename or '?').name} "
                               "is missing") from None
    except (EOFError, OSError, ValueError, zlib.error) as exc:
        raise InputError(path, f"the voxel data is truncated or corrupt ({_short(exc)})") from None
    return np.asarray(data)


def _allocate(img: Any, zeroed: bool = False) -> np.ndarray:
    shape = tuple(int(s) for s in img.shape) + (1,) * (4 - len(img.shape))
    return (np.zeros if zeroed else np.empty)(shape[::-1], dtype=img.get_data_dtype())


def _inflate_into(path: str, img: Any, out: np.ndarray | None = None, on_chunk: Any = None) -> np.ndarray:
    """A .nii.gz straight into one (T, Z, Y, X) array: NIfTI's Fortran order (x fastest) is that
    array's C order, so no transpose and no intermediate bytes object (memory 1.0x, not 2x).
    ``on_chunk(bytes_done, total)`` follows the inflate (slices arrive in z order)."""
    import gzip
    out = _allocate(img) if out is None else out
    try:
        with gzip.open(path, "rb") as fh:
            fh.seek(int(getattr(img.dataobj, "offset", None) or img.header["vox_offset"]))
            view = memoryview(out.reshape(-1).view(np.uint8))
            got = 0
            while got < len(view):     # chunks: GzipFile.readinto copies through a temporary
                n = fh.readinto(view[got:got + CHUNK])
                if not n:
                    break
                got += n
                if on_chunk is not None:
                    on_chunk(got, len(view))
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(path, f"the voxel data is truncated or corrupt ({_short(exc)})") from None
    if got != out.nbytes:
        raise InputError(path, f"the voxel data is truncated ({got} of {out.nbytes} bytes)")
    if not out.dtype.isnative:
        out.byteswap(inplace=True)
        out.dtype = out.dtype.newbyteorder("=")
    return out


def open_progressive(locator: dict[str, Any]) -> tuple[VolumeSource, Any]:
    """A .nii.gz whose slices appear as they are inflated: the source is returned at once (zeros)
    and ``fill(progress)`` (on a worker) streams the data in; ``source.filled`` counts the bytes
    in place, so a viewer can show a slice as soon as it has arrived."""
    path = locator["path"]
    img = _load(path)
    info = _info(path, img)
    if not path.endswith(".nii.gz"):
        source = open_locator(locator)
        source.complete, source.filled = True, source.voxels.nbytes
        return source, lambda progress=NO_PROGRESS: source
    out = _allocate(img, zeroed=True)
    source = VolumeSource(path, out, info)
    source.complete, source.filled = False, 0

    def fill(progress: Progress = NO_PROGRESS) -> VolumeSource:
        def on_chunk(done: int, total: int) -> None:
            source.filled = done
            progress.report(done, total, "inflating")
        _inflate_into(path, img, out, on_chunk)
        source.complete = True
        return source
    return source, fill


def slice_ready(source: VolumeSource, z: int, t: int = 0) -> bool:
    """Whether axial slice ``z`` of time point ``t`` has been inflated (progressive sources)."""
    if getattr(source, "complete", True):
        return True
    _, depth, rows, cols = source.voxels.shape[:4]
    return getattr(source, "filled", 0) >= ((t * depth + z + 1) * rows * cols) * source.voxels.dtype.itemsize


def open_locator(locator: dict[str, Any]) -> VolumeSource:
    path = locator["path"]
    img = _load(path)
    info = _info(path, img)
    if path.endswith(".nii.gz"):
        return VolumeSource(path, _inflate_into(path, img), info)
    data = _read_voxels(path, img)
    if data.dtype.byteorder == ">" or (data.dtype.byteorder == "=" and not np.little_endian):
        data = data.astype(data.dtype.newbyteorder("<"))
    while data.ndim < 4:
        data = data[..., np.newaxis]
    voxels = data.transpose(3, 2, 1, 0)         # (X, Y, Z, T) -> (T, Z, Y, X), a view
    return VolumeSource(path, voxels, info)
