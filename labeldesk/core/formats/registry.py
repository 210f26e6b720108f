"""Format names -> importer/exporter, and telling a format from a path (suffix and a peek inside).

An importer is ``f(ctx: ImportContext, path: Path) -> None``; an exporter is
``f(ctx: ExportContext, out: OutputTree) -> None``. Modules load lazily (pydicom, highdicom and
nibabel only when their formats are used).
"""
from __future__ import annotations

import importlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from labeldesk.core.errors import InputError, LabeldeskError


@dataclass(frozen=True)
class FormatInfo:
    name: str
    title: str
    module: str
    reader: str | None
    writer: str | None
    layer_kind: str = "annotator"       # kind of a layer an import creates
    classifications: bool = False       # holds asset/frame classifications (others list them as not written)
    values: bool = False                # writes the classes' label values (category ids, indices, voxels)

    @property
    def can_import(self) -> bool:
        return self.reader is not None

    @property
    def can_export(self) -> bool:
        return self.writer is not None


FORMATS: dict[str, FormatInfo] = {f.name: f for f in (
    FormatInfo("coco", "COCO JSON: boxes, polygons (holes as RLE), RLE masks, keypoints; a folder gets "
               "annotations/instances_<subset>.json (+ images/<subset>/)",
               "coco", "import_coco", "export_coco", values=True),
    FormatInfo("coco-results", "COCO results JSON (model detections with scores); import only",
               "coco", "import_results", None, layer_kind="predictions"),
    FormatInfo("yolo", "YOLO detection: labels/*.txt with class cx cy w h (normalised)",
               "yolo", "import_yolo", "export_detect", values=True),
    FormatInfo("yolo-seg", "YOLO segmentation: labels/*.txt with class x1 y1 x2 y2 ... (normalised)",
               "yolo", "import_yolo", "export_segment", values=True),
    FormatInfo("yolo-obb", "YOLO oriented boxes: labels/*.txt with class and 4 corners (normalised)",
               "yolo", "import_obb", "export_obb", values=True),
    FormatInfo("voc", "Pascal VOC XML: one file per image, boxes (1-based pixel coordinates)",
               "voc", "import_voc", "export_voc"),
    FormatInfo("cvat", "CVAT XML 1.1: images (shapes, tags) and videos (tracks with keyframes, outside)",
               "cvat", "import_cvat", "export_cvat", classifications=True),
    FormatInfo("labelme", "labelme JSON: one file per image (polygon, rectangle, circle, line, point, mask, group_id)",
               "labelme", "import_labelme", "export_labelme"),
    FormatInfo("label-studio", "Label Studio JSON tasks: rectangles (rotated too), polygons, ellipses, keypoints, "
               "brush masks, choices, predictions", "labelstudio", "import_labelstudio", "export_labelstudio", classifications=True),
    FormatInfo("rtstruct", "DICOM RTSTRUCT: ROI contours (mm, patient space) on the source series; one ROI per class",
               "rtstruct", "import_rtstruct", "export_rtstruct"),
    FormatInfo("mot", "MOT Challenge tracks: <video>/gt/gt.txt (frame,id,box,conf,class,visibility) + seqinfo.ini",
               "mot", "import_mot", "export_mot", values=True),
    FormatInfo("csv", "CSV of asset and frame/slice classifications (asset,frame,slice,axis,class)",
               "csv_classes", "import_csv", "export_csv", classifications=True),
    FormatInfo("nifti", "NIfTI label map on the source volume's grid (+ ITK-SNAP label table)",
               "nifti_labels", "import_nifti", "export_nifti", values=True),
    FormatInfo("dicom-seg", "DICOM SEG (binary, or fractional with probabilities) referencing the source series",
               "dicom_seg", "import_seg", "export_seg", values=True),
)}


def get(name: str) -> FormatInfo:
    info = FORMATS.get(str(name).lower())
    if info is None:
        raise LabeldeskError(f"unknown format {name!r}; formats are: {', '.join(FORMATS)}")
    return info


def _function(info: FormatInfo, attr: str | None, what: str) -> Callable[..., Any]:
    if attr is None:
        raise LabeldeskError(f"format {info.name!r} cannot be {what}ed")
    module = importlib.import_module(f"labeldesk.core.formats.{info.module}")
    return getattr(module, attr)


def importer(name: str) -> Callable[..., Any]:
    info = get(name)
    return _function(info, info.reader, "import")


def exporter(name: str) -> Callable[..., Any]:
    info = get(name)
    return _function(info, info.writer, "export")


def _peek(data: bytes) -> str | None:
    text = data.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        if '"data"' in text and ('"annotations"' in text or '"predictions"' in text or '"result"' in text):
            return "label-studio"
        return "coco-results"
    if text.startswith("{"):
        if '"shapes"' in text and '"imagePath"' in text or '"shapes"' in text and '"images"' not in text:
            return "labelme"
        if '"annotations"' in text or '"images"' in text:
            return "coco"
    if text.startswith("<"):
        if "<annotations" in text:
            return "cvat"
        if "<annotation" in text:
            return "voc"
    return None


def _sniff_names(names: list[str], read: Callable[[str], bytes]) -> str | None:
    low = [n.lower() for n in names]
    if any(n.endswith(("gt/gt.txt", "seqinfo.ini")) for n in low):
        return "mot"
    if any(n.endswith(("data.yaml", "classes.txt", "obj.names")) for n in low) or \
            any(n.startswith("labels/") and n.endswith(".txt") for n in low):
        return "yolo"
    for suffix in (".xml", ".json"):
        for n, l in zip(names, low):
            if l.endswith(suffix):
                found = _peek(read(n)[:65536])
                if found:
                    return found
    if any(n.endswith(".csv") for n in low):
        return "csv"
    return None


def sniff(path: str | Path) -> str:
    """The format of ``path`` from its suffix and first bytes; InputError if it cannot tell."""
    p = Path(path)
    low = p.name.lower()
    found: str | None = None
    if p.is_dir():
        names = sorted(str(f.relative_to(p).as_posix()) for f in p.rglob("*") if f.is_file())[:5000]
        found = _sniff_names(names, lambda n: (p / n).read_bytes()[:65536])
    elif low.endswith((".nii", ".nii.gz")):
        found = "nifti"
    elif low.endswith(".dcm"):
        found = "dicom-seg"
    elif low.endswith(".csv"):
        found = "csv"
    elif low.endswith(".zip") and zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            found = _sniff_names(names, lambda n: zf.open(n).read(65536))
    elif p.is_file():
        with open(p, "rb") as fh:
            found = _peek(fh.read(65536))
    if found is None:
        raise InputError(p, "cannot tell the annotation format; name it (one of: " + ", ".join(FORMATS) + ")")
    return found
