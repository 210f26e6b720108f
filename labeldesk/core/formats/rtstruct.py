"""DICOM RTSTRUCT (radiotherapy structure sets), written with pydicom (highdicom has no RTSTRUCT
writer; rt-utils needs the non-headless OpenCV and is unmaintained).

Export: one ``<series>.rtstruct.dcm`` per DICOM volume asset. One ROI per exported class: ROI
Number = the class's stable label value, ROI Name = class name, display colour = class colour,
generation algorithm MANUAL (AUTOMATIC when every shape of the class came from a model), and the
class's coded type (own or the default SNOMED CT table) as RT ROI Identification Code. Shapes on
axial slices are turned into pixels (masks exactly; other shapes as for NIfTI label maps) and each
slice's pixels into CLOSED_PLANAR contours in patient coordinates (mm, LPS) through the slice's
Image Position, Image Orientation and Pixel Spacing. Contours run a quarter pixel inside the
boundary of the region, holes as their own contours, so that the usual reading (a voxel belongs
to the ROI when its centre is inside an odd number of the slice's contours) gives back exactly
the pixels. Shapes on coronal and sagittal planes are not written (listed).

Import: each ROI's contours are matched to the asset's slices by position (within half a slice
spacing) and turned back into pixels by that even-odd rule at the pixel centres; each ROI on each
slice becomes one mask annotation of the class named by the ROI Name (a class the import creates
takes the ROI Number as its label value and the ROI's SNOMED CT code).
"""
from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np

from labeldesk import __version__
from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree, OutputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.nifti_labels import plane_mask, safe_name
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Asset, Plane

RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY_COMPONENT = "1.2.840.10008.3.1.2.3.1"        # Detached Study Management (as TPSs write it)
PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                 "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


# ---- geometry --------------------------------------------------------------------------------
def _frame(ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
    iop = [float(v) for v in ds.ImageOrientationPatient]
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    return ipp, np.asarray(iop[:3]), np.asarray(iop[3:]), col_spacing, row_spacing


def mask_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Contours (N, 2) in pixel-index coordinates (pixel centres at integers), a quarter pixel
    inside the region's boundary; holes are contours of their own (even-odd)."""
    from labeldesk.core.io.opencv import cv2
    big = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    found, _ = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in found:
        pts = c.reshape(-1, 2).astype(float) / 2.0 - 0.25
        if len(pts) < 3:                                    # a lone pixel or a one-pixel line: keep area
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            pts = np.array([[x0, y0], [x1 + 1e-3, y0], [x1 + 1e-3, y1 + 1e-3], [x0, y1 + 1e-3]])
        out.append(pts)
    return out


def fill_even_odd(contours: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """Pixels whose centre (integer index coordinates) is inside an odd number of ``contours``."""
    out = np.zeros((height, width), bool)
    cols = np.arange(width, dtype=float)
    for pts in contours:
        x0, y0 = pts[:, 0], pts[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        inside = np.zeros((height, width), bool)
        lo, hi = max(0, int(np.floor(y0.min()))), min(height - 1, int(np.ceil(y0.max())))
        for j in range(lo, hi + 1):
            crosses = (y0 <= j) != (y1 <= j)
            if not crosses.any():
                continue
            xa, ya, xb, yb = x0[crosses], y0[crosses], x1[crosses], y1[crosses]
            xs = np.sort(xa + (j - ya) * (xb - xa) / (yb - ya))
            row = np.zeros(width, bool)
            for a, b in zip(xs[0::2], xs[1::2]):
                row |= (cols > a) & (cols < b)
            inside[j] = row
        out ^= inside
    return out


# ---- export ------------------------------------------------------------------------------------
def _seq(*items: Any) -> Any:
    from pydicom.sequence import Sequence
    return Sequence(list(items))


def _item(**values: Any) -> Any:
    from pydicom.dataset import Dataset
    ds = Dataset()
    for k, v in values.items():
        setattr(ds, k, v)
    return ds


def _ds_text(v: float) -> str:
    text = f"{v:.10g}"
    return text if len(text) <= 16 else f"{v:.6g}"


def export_rtstruct(ctx: ExportContext, out: OutputTree) -> None:
    from labeldesk.core.formats.dicom_seg import _algorithm_of, _sources
    for asset in ctx.each_asset():
        if asset.kind != "volume":
            continue
        per_class: dict[str, dict[int, np.ndarray]] = {}
        members: dict[str, list[str]] = {}
        entries: dict[str, Any] = {}
        for ann in ctx.annotations(asset):
            entry = ctx.entry(asset, ann)
            if entry is None:
                continue
            if ann.plane.axis != "axial" or ann.plane.t:
                ctx.skip(asset, ann, "RTSTRUCT contours are written for axial slices of the first time point")
                continue
            pixels = plane_mask(ann.geometry, asset.width, asset.height)
            if pixels is None:
                ctx.skip(asset, ann, f"a {ann.geometry.kind} has no area for an RTSTRUCT contour")
                continue
            if not pixels.any():
                continue
            slices = per_class.setdefault(entry.id, {})
            slices[ann.plane.z] = slices.get(ann.plane.z, np.zeros_like(pixels)) | pixels
            members.setdefault(entry.id, []).append(ann.id)
            entries[entry.id] = entry
            if ann.geometry.kind != "mask":
                ctx.converted(asset, ann, f"{ann.geometry.kind} written as the contours of its pixels")
            ctx.report.count(ann.geometry.kind)
        from labeldesk.core.segments import export_items        # 3-D segments, one mask per painted slice
        for item, entry, pixels in export_items(ctx, asset):
            if item.plane.t:
                ctx.skip(asset, item, "RTSTRUCT holds the first time point only")
                continue
            slices = per_class.setdefault(entry.id, {})
            slices[item.plane.z] = slices.get(item.plane.z, np.zeros_like(pixels)) | pixels
            members.setdefault(entry.id, [])
            entries[entry.id] = entry
            ctx.report.count("mask")
        if not per_class:
            continue
        found = _sources(ctx, asset)
        if found is None:
            continue
        datasets, planes = found
        if len(datasets) == 1 and len(planes) > 1:
            ctx.report.refuse(asset.name, "a multi-frame source: RTSTRUCT export needs one file per slice; not exported")
            continue
        try:
            ds = _structure_set(ctx, asset, datasets, planes, per_class, entries, members, _algorithm_of)
        except (KeyError, AttributeError, ValueError) as exc:
            ctx.report.refuse(asset.name, f"no RTSTRUCT could be built from its source images ({exc}); not exported")
            continue
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.write(safe_name(asset, out.members, ".rtstruct.dcm") + ".rtstruct.dcm", buf.getvalue())


def _structure_set(ctx: ExportContext, asset: Asset, datasets: list[Any], planes: list[tuple[int, int]],
                   per_class: dict[str, dict[int, np.ndarray]], entries: dict[str, Any],
                   members: dict[str, list[str]], algorithm_of: Any) -> Any:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    from labeldesk.core.ontology_codes import concept_of
    first = datasets[0]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTSTRUCT_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    now = dt.datetime.now()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_CLASS, meta.MediaStorageSOPInstanceUID
    for kw in PATIENT_STUDY:
        setattr(ds, kw, first.get(kw, ""))
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = int(first.get("SeriesNumber", 0) or 0) + 2000
    ds.SeriesDescription = "labeldesk structures"
    ds.OperatorsName = ""
    ds.FrameOfReferenceUID = first.FrameOfReferenceUID             # Frame of Reference module (2019+)
    ds.PositionReferenceIndicator = first.get("PositionReferenceIndicator", "")
    ds.Manufacturer, ds.ManufacturerModelName, ds.SoftwareVersions = "labeldesk", "labeldesk", __version__
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "LABELDESK"
    ds.StructureSetDate, ds.StructureSetTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.StructureSetDate, ds.StructureSetTime
    frame_uid = str(first.FrameOfReferenceUID)
    images = [_item(ReferencedSOPClassUID=d.SOPClassUID, ReferencedSOPInstanceUID=d.SOPInstanceUID) for d in datasets]
    ds.ReferencedFrameOfReferenceSequence = _seq(_item(
        FrameOfReferenceUID=frame_uid,
        RTReferencedStudySequence=_seq(_item(
            ReferencedSOPClassUID=STUDY_COMPONENT, ReferencedSOPInstanceUID=first.StudyInstanceUID,
            RTReferencedSeriesSequence=_seq(_item(SeriesInstanceUID=first.SeriesInstanceUID,
                                                  ContourImageSequence=_seq(*images)))))))
    rois, contours, observations = [], [], []
    for n, (cid, slices) in enumerate(per_class.items(), 1):
        entry = entries[cid]
        kind, named = algorithm_of(ctx, members[cid], None)
        rois.append(_item(ROINumber=entry.value, ReferencedFrameOfReferenceUID=frame_uid, ROIName=entry.name[:64],
                          ROIGenerationAlgorithm="AUTOMATIC" if kind == "AUTOMATIC" else "MANUAL",
                          **({"ROIGenerationDescription": f"{named[0]} {named[1]}".strip()[:64]} if named else {})))
        items = []
        for z in sorted(slices):
            src = datasets[planes[z][0]]
            ipp, xdir, ydir, dc, dr = _frame(src)
            for pts in mask_contours(slices[z]):
                xyz = ipp + np.outer(pts[:, 0] * dc, xdir) + np.outer(pts[:, 1] * dr, ydir)
                items.append(_item(
                    ContourImageSequence=_seq(_item(ReferencedSOPClassUID=src.SOPClassUID,
                                                    ReferencedSOPInstanceUID=src.SOPInstanceUID)),
                    ContourGeometricType="CLOSED_PLANAR", NumberOfContourPoints=len(xyz),
                    ContourData=[_ds_text(v) for v in xyz.ravel()]))
        c = entry.color.lstrip("#")
        contours.append(_item(ROIDisplayColor=[int(c[i:i + 2], 16) for i in (0, 2, 4)],
                              ReferencedROINumber=entry.value, ContourSequence=_seq(*items)))
        concept, standard = concept_of(entry.name, entry.concept, entry.code, entry.value)
        obs = _item(ObservationNumber=n, ReferencedROINumber=entry.value, RTROIInterpretedType="", ROIInterpreter="")
        if standard:
            t = concept["type"]
            obs.RTROIIdentificationCodeSequence = _seq(_item(CodeValue=t["value"], CodingSchemeDesignator=t["scheme"],
                                                             CodeMeaning=t["meaning"][:64]))
        observations.append(obs)
    ds.StructureSetROISequence = _seq(*rois)
    ds.ROIContourSequence = _seq(*contours)
    ds.RTROIObservationsSequence = _seq(*observations)
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


# ---- import ------------------------------------------------------------------------------------
def _slices(ctx: ImportContext, asset: Asset) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float]]:
    import pydicom
    loc = ctx.project.locator(asset.id) or {}
    files = list(dict.fromkeys(str(f) for f in loc.get("files") or []))
    if len(files) != asset.depth:
        raise InputError(asset.name, "RTSTRUCT import needs the asset's slice files (one per slice) on this machine")
    return [_frame(pydicom.dcmread(f, stop_before_pixels=True)) for f in files]


def import_rtstruct(ctx: ImportContext, path: Any) -> None:
    import pydicom
    with InputTree(path, ctx.report) as tree:
        names = [n for n in tree.names() if not n.lower().endswith((".txt", ".json", ".xml", ".csv"))]
        if not names:
            raise InputError(path, "no RTSTRUCT file in it")
        for name in names:
            where = tree.location(name)
            data = tree.read(name)
            try:
                try:
                    ds = pydicom.dcmread(io.BytesIO(data))
                except pydicom.errors.InvalidDicomError:     # no preamble / file meta: older writers
                    ds = pydicom.dcmread(io.BytesIO(data), force=True)
                    ds.ROIContourSequence                     # noqa: B018 - a DICOM it must be, not any bytes
            except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
                if len(names) == 1:
                    raise InputError(where, f"not a readable DICOM file ({type(exc).__name__})") from None
                ctx.report.refuse(where, "not a readable DICOM file")
                continue
            if str(ds.get("SOPClassUID", "")) != RTSTRUCT_CLASS:
                if len(names) == 1:
                    raise InputError(where, f"not an RTSTRUCT (modality {ds.get('Modality', '?')})")
                continue
            _read(ctx, ds, where)


def _target(ctx: ImportContext, ds: Any, where: str) -> Asset:
    wanted = ctx.options.get("asset")
    if wanted:
        try:
            return ctx.index.find(str(wanted))[0]
        except LookupError as exc:
            raise InputError(where, str(exc.args[0])) from None
    from labeldesk.core.formats.dicom_seg import _instance_index
    index, elsewhere = _instance_index(ctx)
    refs = [str(img.ReferencedSOPInstanceUID) for f in ds.get("ReferencedFrameOfReferenceSequence", [])
            for st in f.get("RTReferencedStudySequence", []) for se in st.get("RTReferencedSeriesSequence", [])
            for img in se.get("ContourImageSequence", [])]
    refs += [str(img.ReferencedSOPInstanceUID) for rc in ds.get("ROIContourSequence", [])
             for c in rc.get("ContourSequence", []) for img in c.get("ContourImageSequence", [])]
    for uid in refs:
        if uid in index:
            return index[uid][0]
    raise InputError(where, "none of the images its contours reference is in the project (add that series "
                            "first, or name the asset with the asset option)")


def _read(ctx: ImportContext, ds: Any, where: str) -> None:
    asset = _target(ctx, ds, where)
    frames = _slices(ctx, asset)
    normal = np.cross(frames[0][1], frames[0][2])
    positions = np.array([float(f[0] @ normal) for f in frames])
    spacing = float(np.median(np.abs(np.diff(positions)))) if len(positions) > 1 else 1.0
    names = {int(r.ROINumber): (str(r.get("ROIName", "")) or f"ROI {r.ROINumber}") for r in
             ds.get("StructureSetROISequence", [])}
    codes = {}
    for o in ds.get("RTROIObservationsSequence", []):
        seq = o.get("RTROIIdentificationCodeSequence") or []
        if seq and seq[0].get("CodeValue"):
            codes[int(o.ReferencedROINumber)] = {"type": {"value": str(seq[0].CodeValue),
                                                          "scheme": str(seq[0].CodingSchemeDesignator),
                                                          "meaning": str(seq[0].get("CodeMeaning", seq[0].CodeValue))}}
    for rc in ds.get("ROIContourSequence", []):
        number = int(rc.ReferencedROINumber)
        loc = f"{where}: ROI {number} ({names.get(number, '?')})"
        colour = rc.get("ROIDisplayColor")
        hexcol = "#%02x%02x%02x" % tuple(int(v) for v in colour) if colour is not None and len(colour) == 3 else None
        by_slice: dict[int, list[np.ndarray]] = {}
        for k, c in enumerate(rc.get("ContourSequence", [])):
            kind = str(c.get("ContourGeometricType", ""))
            if kind != "CLOSED_PLANAR":
                ctx.report.refuse(f"{loc} contour {k}", f"a {kind or 'typeless'} contour (labeldesk reads closed "
                                                        "planar contours: areas)")
                continue
            xyz = np.asarray([float(v) for v in c.ContourData]).reshape(-1, 3)
            pos = float(np.mean(xyz @ normal))
            z = int(np.argmin(np.abs(positions - pos)))
            if abs(positions[z] - pos) > spacing / 2 + 1e-3:
                ctx.report.refuse(f"{loc} contour {k}", f"lies between slices (at {pos:.2f} mm along the normal)")
                continue
            ipp, xdir, ydir, dc, dr = frames[z]
            rel = xyz - ipp
            by_slice.setdefault(z, []).append(np.stack([rel @ xdir / dc, rel @ ydir / dr], axis=1))
        if not by_slice:
            continue
        cls = ctx.class_for(names.get(number, f"ROI {number}"), loc, None, hexcol, value=number,
                            extra={"concept": codes.get(number)})
        if cls is None:
            continue
        for z, contours in sorted(by_slice.items()):
            ctx.progress.check()
            m = fill_even_odd(contours, asset.width, asset.height)
            if m.any():
                ctx.annotation(f"{loc} slice {z}", asset, Plane(z=z), Mask.from_array(m).to_dict(), cls)
            else:
                ctx.report.refuse(f"{loc} slice {z}", "its contours cover no pixel centre")
