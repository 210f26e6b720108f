"""NIfTI-1/2 volumes (.nii, .nii.gz, .hdr/.img pairs; 3-D and 4-D) as VolumeSource, in the stored dtype.

nibabel arrays are (X, Y, Z[, T]) in Fortran order; labeldesk volumes are (T, Z, Y, X), which is
the same memory in C order, so:

* ``.nii`` is memory-mapped and transposed as a *view*: opening is instant, nothing is copied
  (big-endian files are the exception: they are byte-swapped once into native order);
* ``.nii.gz`` is inflated straight into one preallocated (T, Z, Y, X) array (memory 1.0x the
  voxels, no intermediate ``bytes``), with the gzip CRC checked at the end.

Scaling (scl_slope/scl_inter) is kept as ``SourceInfo.rescale``, never applied to the pixels, and
``get_fdata()`` is never called: a 512³ int16 volume stays 268 MB instead of 2.1 GB of float64.
RGB24/RGBA32 voxels become a trailing channel axis (uint8).

Orientation: the affine is the sform when ``sform_code > 0``, else the qform when
``qform_code > 0``, else (NIfTI "method 1") a diagonal of the voxel sizes. NIfTI world space is
RAS+, labeldesk's patient space is DICOM's LPS+, so the first two rows change sign
(``diag(-1, -1, 1, 1) @ affine``); ``meta["affine_from"]`` says which one was used.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
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
IN_CHUNK = 256 * 1024          # compressed bytes read at a time
OUT_CHUNK = 2 * 1024 * 1024     # most inflated bytes per zlib call (bounds the temporary)
SUFFIXES = (".nii", ".nii.gz", ".hdr", ".img", ".hdr.gz", ".img.gz")


def _name_ok(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


def _load(path: str) -> Any:
    import nibabel as nib
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "no such file")
    if p.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    if not _name_ok(path):
        raise InputError(path, "not a NIfTI file name (expected .nii, .nii.gz or a .hdr/.img pair)")
    try:
        img = nib.load(path, mmap=True)
    except FileNotFoundError as exc:
        raise InputError(path, f"the data file {Path(exc.filename or '?').name} is missing") from None
    except Exception as exc:  # noqa: BLE001 - nibabel raises many kinds for a bad header
        raise InputError(path, f"not a readable NIfTI file ({_short(exc)})") from None
    if not isinstance(img, (nib.Nifti1Pair, nib.Nifti2Pair)) or type(img).__name__.startswith("Cifti"):
        kind = {"AnalyzeImage": "an Analyze 7.5", "Spm2AnalyzeImage": "an Analyze 7.5 (SPM2)",
                "Spm99AnalyzeImage": "an Analyze 7.5 (SPM99)", "Cifti2Image": "a CIFTI-2"
                }.get(type(img).__name__, f"a {type(img).__name__}")
        raise InputError(path, f"{kind} file, not NIfTI-1/2 (labeldesk opens NIfTI volumes only)")
    shape = tuple(int(s) for s in img.shape)
    if not 2 <= len(shape) <= 4 and not (len(shape) > 4 and all(s == 1 for s in shape[4:])):
        raise InputError(path, f"{len(shape)}-D data of shape {shape} is not supported (3-D and 4-D are)")
    dtype = np.dtype(img.get_data_dtype())
    if dtype.kind == "c" or (dtype.fields is not None and not _rgb_channels(dtype)):
        raise InputError(path, f"voxel type {dtype} is not supported (integer, float and RGB are)")
    return img


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _rgb_channels(dtype: np.dtype) -> int:
    """3 or 4 for NIfTI RGB24/RGBA32 (structured uint8 fields), else 0."""
    if dtype.fields is None or len(dtype.fields) not in (3, 4):
        return 0
    return len(dtype.fields) if all(f[0] == np.uint8 for f in dtype.fields.values()) else 0


def _shape4(img: Any) -> tuple[int, int, int, int]:
    """(X, Y, Z, T) with 2-D and 3-D padded and trailing singleton dimensions dropped."""
    shape = tuple(int(s) for s in img.shape)[:4]
    return shape + (1,) * (4 - len(shape))  # type: ignore[return-value]


def _affine_lps(img: Any) -> tuple[np.ndarray, str]:
    hdr = img.header
    sform, scode = img.get_sform(coded=True)
    qform, qcode = img.get_qform(coded=True)
    if scode and sform is not None:
        aff, source = sform, "sform"
    elif qcode and qform is not None:
        aff, source = qform, "qform"
    else:
        aff, source = np.diag(list(_spacing(hdr)) + [1.0]), "pixdim"
    return RAS_TO_LPS @ np.asarray(aff, dtype=float), source


def _spacing(hdr: Any) -> tuple[float, float, float]:
    zooms = [float(v) for v in hdr.get_zooms()[:3]] + [1.0] * 3
    return tuple(z if math.isfinite(z) and z > 0 else 1.0 for z in zooms[:3])  # type: ignore[return-value]


def _info(path: str, img: Any) -> SourceInfo:
    x, y, z, t = _shape4(img)
    hdr = img.header
    # nibabel moves the scaling from the header into the data proxy when it loads
    slope, inter = getattr(img.dataobj, "slope", None), getattr(img.dataobj, "inter", None)
    slope = 1.0 if slope is None or not math.isfinite(slope) or slope == 0 else float(slope)
    inter = 0.0 if inter is None or not math.isfinite(inter) else float(inter)
    dtype = np.dtype(img.get_data_dtype())
    channels = _rgb_channels(dtype) or 1
    aff, source = _affine_lps(img)
    zooms = hdr.get_zooms()
    meta: dict[str, Any] = {"format": f"NIfTI-{2 if int(hdr.sizeof_hdr) == 540 else 1}",
                            "qform_code": int(hdr["qform_code"]), "sform_code": int(hdr["sform_code"]),
                            "affine_from": source, "byte_order": "big" if hdr.endianness == ">" else "little"}
    if t > 1 and len(zooms) > 3:
        meta["time_step"] = float(zooms[3])
        meta["time_unit"] = hdr.get_xyzt_units()[1]
    return SourceInfo(kind="volume", width=x, height=y, depth=z, frames=t, channels=channels,
                      dtype="uint8" if channels > 1 else dtype.newbyteorder("=").name, levels=((x, y),),
                      spacing=_spacing(hdr), affine=tuple(tuple(float(v) for v in r) for r in aff),
                      rescale=(slope, inter), meta=meta)


def _is_gz(path: str) -> bool:
    return path.lower().endswith(".gz")


def _data_path(img: Any, path: str) -> str:
    fm = img.file_map.get("image")
    return str(fm.filename) if fm is not None and fm.filename else path


def _voxel_bytes(img: Any) -> tuple[int, int]:
    """(offset of the voxels in the uncompressed data file, their byte count)."""
    offset = int(getattr(img.dataobj, "offset", None) or img.header.get_data_offset())
    return offset, int(np.prod(_shape4(img))) * np.dtype(img.get_data_dtype()).itemsize


def probe(path: str) -> Discovered:
    """Header, geometry and a cheap completeness check (no inflate for an intact .nii.gz)."""
    path = str(Path(path).resolve())
    img = _load(path)
    info = _info(path, img)
    _check_fits(path, img)
    _check_complete(path, img)
    files = tuple(str(Path(f).resolve()) for f in dict.fromkeys(fm.filename for fm in img.file_map.values())
                  if f)
    return Discovered(name=Path(path).name, info=info, locator={"reader": "nifti", "path": path},
                      files=files or (path,))


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (Linux: MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _check_fits(path: str, img: Any) -> None:
    """A volume is held in memory as one array: refuse, from its header, one that cannot fit
    (an 18 MB .nii.gz of zeros can claim 4 GiB) instead of inflating it."""
    _, nbytes = _voxel_bytes(img)
    avail = available_memory()
    if avail is not None and nbytes > avail * 0.8:
        x, y, z, t = _shape4(img)
        raise InputError(path, f"the volume needs {nbytes / 2 ** 30:.1f} GiB in memory ({x}x{y}x{z}"
                               f"{f'x{t}' if t > 1 else ''} of {img.get_data_dtype()}), more than this machine "
                               f"has free ({avail / 2 ** 30:.1f} GiB); not added")


def _check_complete(path: str, img: Any) -> None:
    data = _data_path(img, path)
    if not Path(data).is_file():
        raise InputError(path, f"header without data: the data file {Path(data).name} is missing")
    offset, nbytes = _voxel_bytes(img)
    if not _is_gz(data):
        size = Path(data).stat().st_size
        if size < offset + nbytes:
            raise InputError(path, f"the voxel data is truncated ({max(0, size - offset)} of {nbytes} bytes)")
        return
    # gzip keeps the uncompressed length (mod 2^32) in its last 4 bytes: a truncated file ends in
    # arbitrary bytes there. Only when it does not match is the stream inflated (and discarded).
    with open(data, "rb") as fh:
        fh.seek(-4, 2)
        if struct.unpack("<I", fh.read(4))[0] == (offset + nbytes) % 2 ** 32:
            return
    total = 0
    try:
        with gzip.open(data, "rb") as fh:
            while chunk := fh.read(CHUNK):
                total += len(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(path, f"the compressed data is truncated or corrupt ({_short(exc)})") from None
    if total < offset + nbytes:
        raise InputError(path, f"the voxel data is truncated ({max(0, total - offset)} of {nbytes} bytes)")


def _allocate(img: Any, zeroed: bool = False) -> np.ndarray:
    x, y, z, t = _shape4(img)
    try:
        return (np.zeros if zeroed else np.empty)((t, z, y, x), dtype=img.get_data_dtype())
    except MemoryError:
        name = Path(img.file_map["image"].filename or "volume").name if "image" in img.file_map else "volume"
        raise InputError(name, f"not enough memory for the volume ({x}x{y}x{z}x{t} of {img.get_data_dtype()})") from None


def _inflate_into(path: str, img: Any, out: np.ndarray | None = None, on_chunk: Any = None) -> np.ndarray:
    """A .nii.gz straight into one (T, Z, Y, X) array: NIfTI's Fortran order (x fastest) is that
    array's C order, so no transpose and no intermediate bytes object (memory 1.0x, not 2x).
    zlib does the gzip framing and the CRC check in C (``GzipFile`` adds a Python-level CRC pass
    and small reads: 1.35x slower at 512³). ``on_chunk(bytes_done, total)`` follows the inflate
    (slices arrive in z order)."""
    out = _allocate(img) if out is None else out
    skip, _ = _voxel_bytes(img)
    view = memoryview(out.reshape(-1).view(np.uint8))
    total, got = len(view), 0
    d = zlib.decompressobj(wbits=31)
    try:
        with open(_data_path(img, path), "rb") as fh:
            while True:
                if d.eof:                               # end of a gzip member: another may follow
                    if got >= total:
                        break
                    rest = d.unused_data
                    d = zlib.decompressobj(wbits=31)
                    buf = rest or fh.read(IN_CHUNK)
                else:
                    buf = d.unconsumed_tail or fh.read(IN_CHUNK)
                if not buf:
                    break
                piece = d.decompress(buf, OUT_CHUNK)
                if skip:
                    cut = min(skip, len(piece))
                    piece, skip = piece[cut:], skip - cut
                n = min(len(piece), total - got)
                if n:
                    view[got:got + n] = piece[:n]
                    got += n
                    if on_chunk is not None:
                        on_chunk(got, total)
    except zlib.error as exc:
        raise InputError(path, f"the voxel data is truncated or corrupt ({_short(exc)})") from None
    if got != total or not d.eof:
        raise InputError(path, f"the voxel data is truncated ({got} of {total} bytes, "
                               f"{'stream complete' if d.eof else 'compressed stream cut short'})")
    return _native(out)


def _native(voxels: np.ndarray) -> np.ndarray:
    """Native byte order (in place when the array is ours) and RGB as a trailing uint8 axis."""
    if voxels.dtype.fields is None and not voxels.dtype.isnative:
        if voxels.flags.writeable and voxels.flags.owndata:
            voxels.byteswap(inplace=True)
            voxels = voxels.view(voxels.dtype.newbyteorder("="))
        else:
            voxels = voxels.astype(voxels.dtype.newbyteorder("="))
    channels = _rgb_channels(voxels.dtype)
    if channels:
        voxels = np.ascontiguousarray(voxels).view(np.uint8).reshape(voxels.shape + (channels,))
    return voxels


def _mapped(path: str, img: Any) -> np.ndarray:
    """Unscaled voxels of an uncompressed file as a (T, Z, Y, X) view of a memory map."""
    try:
        proxy = img.dataobj
        data = proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else np.asanyarray(proxy)
    except FileNotFoundError as exc:
        raise InputError(path, f"header without data: the data file {Path(exc.filename or '?').name} "
                               "is missing") from None
    except (EOFError, OSError, ValueError) as exc:
        raise InputError(path, f"the voxel data is truncated or corrupt ({_short(exc)})") from None
    x, y, z, t = _shape4(img)
    data = np.asarray(data).reshape((x, y, z, t), order="F")   # a view: trailing 1s only
    return data.transpose(3, 2, 1, 0)                             # (X, Y, Z, T) -> (T, Z, Y, X), a view


def open_locator(locator: dict[str, Any]) -> VolumeSource:
    path = locator["path"]
    img = _load(path)
    info = _info(path, img)
    if _is_gz(_data_path(img, path)):
        return VolumeSource(path, _inflate_into(path, img), info)
    _check_complete(path, img)
    return VolumeSource(path, _native(_mapped(path, img)), info)


def open_progressive(locator: dict[str, Any]) -> tuple[VolumeSource, Any]:
    """A .nii.gz whose slices appear as they are inflated: the source is returned at once (zeros)
    and ``fill(progress)`` (on a worker) streams the data in; ``source.filled`` counts the bytes
    in place, so a viewer can show a slice as soon as it has arrived."""
    path = locator["path"]
    img = _load(path)
    info = _info(path, img)
    if not _is_gz(_data_path(img, path)) or _rgb_channels(np.dtype(img.get_data_dtype())):
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
        source.voxels = _inflate_into(path, img, out, on_chunk)
        source.complete = True
        return source
    return source, fill


def slice_ready(source: VolumeSource, z: int, t: int = 0) -> bool:
    """Whether axial slice ``z`` of time point ``t`` has been inflated (progressive sources)."""
    if getattr(source, "complete", True):
        return True
    _, depth, rows, cols = source.voxels.shape[:4]
    return getattr(source, "filled", 0) >= ((t * depth + z + 1) * rows * cols) * source.voxels.dtype.itemsize
