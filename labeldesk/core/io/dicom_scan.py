"""Header-only index of DICOM files and folders: series, stacks, geometry. Never decodes pixels.

Files are grouped by SeriesInstanceUID, then split into stacks by orientation and frame size (a
localiser with three orientations becomes three stacks). Slices are sorted by their position
along the slice normal (ImagePositionPatient · (row × column cosines)), never by InstanceNumber;
InstanceNumber is only a fallback for images without patient geometry. Many files are scanned
across processes (threads would be slower: parsing holds the GIL).
"""
from __future__ import annotations

import os
from collections import defaultdict

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from labeldesk.core.errors import InputError, UnsupportedInput
from labeldesk.core.io.base import Discovered
from labeldesk.core.tasks import NO_PROGRESS, Progress

PARALLEL_MIN_FILES = 256
CHUNK = 64
NON_IMAGE_MODALITIES = {"RTDOSE": "RT Dose grid", "SEG": "segmentation", "RTSTRUCT": "RT Structure Set",
                        "RTPLAN": "RT Plan", "SR": "structured report", "PR": "presentation state",
                        "KO": "key object selection", "REG": "registration"}
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}


@dataclass
class DicomScan:
    series: list[Discovered] = field(default_factory=list)
    non_images: list[UnsupportedInput] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)


def _floats(value: Any, n: int) -> list[float] | None:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def _first(value: Any, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value[0]) if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else float(value)
    except (TypeError, ValueError, IndexError):
        return default


def _enhanced_geometry(ds: Any) -> tuple[list[list[float]] | None, list[float] | None, list[float] | None]:
    """Per-frame positions, orientation and pixel spacing of an enhanced multi-frame object."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if not per:
        return None, None, None
    iop = spacing = None

    def pick(item: Any) -> None:
        nonlocal iop, spacing
        if item is None:
            return
        if "PlaneOrientationSequence" in item:
            iop = _floats(item.PlaneOrientationSequence[0].get("ImageOrientationPatient"), 6) or iop
        if "PixelMeasuresSequence" in item:
            spacing = _floats(item.PixelMeasuresSequence[0].get("PixelSpacing"), 2) or spacing
    pick(shared[0] if shared else None)
    positions = []
    for item in per:
        if "PlanePositionSequence" not in item:
            return None, iop, spacing
        positions.append(_floats(item.PlanePositionSequence[0].get("ImagePositionPatient"), 3))
        if iop is None:
            pick(item)
    return (positions if all(p is not None for p in positions) else None), iop, spacing


def read_header(path: str) -> dict[str, Any]:
    """One file's header as a plain dict (picklable). ``kind`` is image | non_image | other | error."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
            if not head:
                return {"path": path, "kind": "error", "problem": "the file is empty (0 bytes)"}
            fh.seek(0)
            has_magic = head[128:132] == b"DICM"
            try:
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=not has_magic)
            except InvalidDicomError:
                return {"path": path, "kind": "other"}
            pixel_pos = fh.tell()
            pixel_head = fh.read(12)
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
    except Exception as exc:  # noqa: BLE001 - any parser failure is reported, never raised
        return {"path": path, "kind": "error", "problem": _problem(exc)}
    if not has_magic and "SOPClassUID" not in ds and "Modality" not in ds:
        return {"path": path, "kind": "other"}
    try:
        return _record(path, ds, pixel_pos, size, pixel_head)
    except Exception as exc:  # noqa: BLE001
        return {"path": path, "kind": "error", "problem": _problem(exc)}


def _problem(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    low = text.lower()
    if "end of file" in low or "truncat" in low or isinstance(exc, EOFError):
        return f"the file is truncated ({text})"
    return f"not a valid DICOM file ({type(exc).__name__}: {text})"


def _record(path: str, ds: Any, pixel_pos: int, size: int, pixel_head: bytes) -> dict[str, Any]:
    from pydicom.uid import UID
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == "1.2.840.10008.1.3.10":
        return {"path": path, "kind": "dicomdir"}
    sop_class = str(ds.get("SOPClassUID", ""))
    modality = str(ds.get("Modality", ""))
    has_pixels = pixel_pos < size and "Rows" in ds
    if not has_pixels or modality in NON_IMAGE_MODALITIES:
        what = NON_IMAGE_MODALITIES.get(modality) or (UID(sop_class).name if sop_class else "object")
        if not sop_class and not modality:
            return {"path": path, "kind": "error",
                    "problem": "no SOP class, modality or pixel data: truncated or not an image object"}
        if modality not in NON_IMAGE_MODALITIES and "Image" in what:
            return {"path": path, "kind": "error",
                    "problem": f"{what} object without pixel data (truncated or stripped); not added"}
        return {"path": path, "kind": "non_image", "what": what}
    if not ts:
        ts = "1.2.840.10008.1.2"     # no file meta: implicit VR little endian by default
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    positions, e_iop, e_spacing = _enhanced_geometry(ds) if frames > 1 else (None, None, None)
    rec = {
        "path": path, "kind": "image", "ts": ts, "sop_class": sop_class,
        "sop_uid": str(ds.get("SOPInstanceUID", path)),
        "series_uid": str(ds.get("SeriesInstanceUID", "") or f"no-series:{Path(path).parent}"),
        "modality": modality, "rows": int(ds.Rows), "cols": int(ds.Columns), "frames": frames,
        "samples": int(ds.get("SamplesPerPixel", 1) or 1), "bits": int(ds.get("BitsAllocated", 16) or 16),
        "pixrep": int(ds.get("PixelRepresentation", 0) or 0),
        "photometric": str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
        "planar": int(ds.get("PlanarConfiguration", 0) or 0),
        "iop": _floats(ds.get("ImageOrientationPatient"), 6) or e_iop,
        "ipp": _floats(ds.get("ImagePositionPatient"), 3),
        "frame_ipp": positions,
        "spacing": _floats(ds.get("PixelSpacing"), 2) or e_spacing,
        "thickness": _first(ds.get("SliceThickness")),
        "slope": _first(ds.get("RescaleSlope"), 1.0), "intercept": _first(ds.get("RescaleIntercept"), 0.0),
        "wc": _first(ds.get("WindowCenter")), "ww": _first(ds.get("WindowWidth")),
        "series_number": str(ds.get("SeriesNumber", "") or ""),
        "series_desc": str(ds.get("SeriesDescription", "") or ""),
        "instance": int(ds.get("InstanceNumber", 0) or 0),
        "pixel_offset": None, "pixel_length": None,
    }
    if ts in UNCOMPRESSED:
        rec["pixel_offset"], rec["pixel_length"] = _pixel_value_offset(pixel_head, pixel_pos, ts)
    return rec


def _pixel_value_offset(head: bytes, pos: int, ts: str) -> tuple[int | None, int | None]:
    """Where the pixel bytes start, from the 12 bytes at the Pixel Data element."""
    if head[:4] != b"\xe0\x7f\x10\x00":
        return None, None
    if ts == "1.2.840.10008.1.2.1" and head[4:6] in (b"OW", b"OB"):
        return pos + 12, int.from_bytes(head[8:12], "little")
    return pos + 8, int.from_bytes(head[4:8], "little")


def _expand(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += [str(f) for f in sorted(path.rglob("*")) if f.is_file() and not f.name.startswith(".")]
        else:
            files.append(str(path))
    return list(dict.fromkeys(files))


def _dicomdir_files(path: str) -> list[str]:
    """Files referenced by a DICOMDIR (resolved beside it); unreadable entries are skipped."""
    try:
        from pydicom.fileset import FileSet
        fs = FileSet(path)
        return [str(Path(inst.path).resolve()) for inst in fs if Path(inst.path).is_file()]
    except Exception:  # noqa: BLE001 - a broken DICOMDIR still lets the folder scan go on
        return []


def _read_chunk(paths: list[str]) -> list[dict[str, Any]]:
    return [read_header(p) for p in paths]


def read_headers(files: list[str], progress: Progress = NO_PROGRESS) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_MIN_FILES or workers < 2:
        for i, f in enumerate(files):
            if i % 64 == 0:
                progress.report(i, len(files), "reading DICOM headers")
            out.append(read_header(f))
        return out
    import pydicom  # noqa: F401  (imported once here, inherited by forked workers)
    chunks = [files[i:i + CHUNK] for i in range(0, len(files), CHUNK)]
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, recs in enumerate(pool.map(_read_chunk, chunks)):
            out += recs
            progress.report(min(len(files), (i + 1) * CHUNK), len(files), "reading DICOM headers")
    return out


def scan(paths: list[str], progress: Progress = NO_PROGRESS) -> DicomScan:
    """Index files/folders (and DICOMDIR) into image stacks, non-image objects and errors."""
    from labeldesk.core.io.dicom_stack import build_stacks
    result = DicomScan()
    records = read_headers(_expand(paths), progress)
    listed = [p for rec in records if rec["kind"] == "dicomdir" for p in _dicomdir_files(rec["path"])]
    known = {rec["path"] for rec in records}
    extra = [p for p in listed if p not in known]
    if extra:   # a DICOMDIR given on its own: scan the files it lists
        records += read_headers(extra, progress)
    images = []
    for rec in records:
        kind = rec["kind"]
        if kind == "image":
            images.append(rec)
        elif kind == "error":
            result.errors.append(InputError(rec["path"], rec["problem"]))
        elif kind == "non_image":
            result.non_images.append(UnsupportedInput(rec["path"], f"DICOM {rec['what']}, not an image; not added"))
        elif kind == "other":
            result.other_files.append(rec["path"])
        # a DICOMDIR is an index: the files it lists are in the folder and are scanned themselves
    progress.check()
    by_series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in images:
        by_series[rec["series_uid"]].append(rec)
    for recs in by_series.values():
        stacks, errors = build_stacks(recs)
        result.series += stacks
        result.errors += errors
    return result
