"""DICOM SEG (binary and fractional segments) through highdicom, referencing the source DICOM series.

Export: one ``<series name>.seg.dcm`` per DICOM volume asset with annotations, built by highdicom
from the asset's own source files (the de-identified copies if it was de-identified, so the SEG
references the new UIDs). One segment per exported class (label = class name, recommended
display colour = class colour; category and type = the class's coded concepts, else the default
SNOMED CT table of common anatomy and findings, else a private scheme with the class's code).
Algorithm type from the annotations' provenance: all made by a model -> AUTOMATIC with the model's
name and version; partly -> SEMIAUTOMATIC; else MANUAL (a predictions layer without provenance:
AUTOMATIC named after the layer). A radiology *segment* (3-D label map of one structure) becomes
one SEG segment through the same per-class rasterising loop. Masks are copied pixel for pixel; polygons, boxes, rotated boxes
and ellipses are rasterised as for NIfTI label maps; shapes on coronal and sagittal planes land
on the source slices they cross. Empty frames are omitted (highdicom's default). When any exported
mask carries probabilities (a fractional SEG imported, a model's soft output), or option
``segmentation_type=fractional`` asks for it, the SEG is FRACTIONAL (probabilities 0..1 in 255
steps; every other annotation is 1.0 where it lies); otherwise BINARY.

Import: ``segread`` and ``get_pixels_by_source_instance`` (``..._by_source_frame`` for a
multi-frame source); the asset is the one whose files are the SEG's referenced instances (or the
``asset`` option); a SEG made on the original series of a de-identified asset is matched through
the local re-identification map. Each segment on each source slice becomes one mask annotation of the class
named by the segment label (a class the import creates keeps the segment's SNOMED CT codes);
fractional segments keep their probabilities (the mask of every pixel above 0 with the per-pixel
values beside it, :mod:`labeldesk.core.formats.probabilities`), or become binary masks of the pixels
at or above option ``threshold`` when the user asks for one. Segments made by an
algorithm (AUTOMATIC/SEMIAUTOMATIC) keep its name and version as the annotations' model
provenance (``--model`` overrides it).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk import __version__
from labeldesk.core.errors import InputError, LabeldeskError
from labeldesk.core.formats.archive import InputTree, OutputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.probabilities import decode as decode_probability, encode as encode_probability
from labeldesk.core.formats.nifti_labels import plane_target, rasterised, safe_name
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Mask
from labeldesk.core.model import Asset, Plane

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
         "ReferringPhysicianName", "StudyID", "AccessionNumber")


def _require_highdicom() -> None:
    try:
        import highdicom  # noqa: F401
    except ImportError:
        raise LabeldeskError("DICOM SEG needs highdicom, which is not installed "
                             "(pip install 'labeldesk[medical]')") from None


# ---- export ------------------------------------------------------------------------------------
def _segments(ctx: ExportContext, asset: Asset, counts: dict[str, int],
              members: dict[str, list[str]] | None = None,
              fractional: bool = False, binary: bool = False) -> tuple[list[Any], np.ndarray]:
    """The exported classes (segment n = entries[n - 1]) and their voxels: a (T, Z, Y, X) label
    volume of segment numbers while classes do not overlap (one byte per voxel, whatever the
    number of classes), a (S, T, Z, Y, X) bool stack once two classes share a voxel, and a
    (S, T, Z, Y, X) float32 stack of probabilities when a mask carries probabilities or
    ``fractional`` asks for one."""
    entries: list[Any] = []
    number: dict[str, int] = {}
    shape = (asset.frames, asset.depth, asset.height, asset.width)
    labels = np.zeros(shape, np.uint16 if len(ctx.classes) > 255 else np.uint8)
    stack: np.ndarray | None = None
    soft: list[tuple[int, Any, np.ndarray, np.ndarray]] = []     # (segment, plane, pixels, values)
    for ann, entry, target, pixels in rasterised(ctx, asset, labels, "a segmentation"):
        if ann.geometry.kind != "mask":
            ctx.converted(asset, ann, f"{ann.geometry.kind} rasterised to pixels")
        counts[ann.geometry.kind] = counts.get(ann.geometry.kind, 0) + 1
        if not pixels.any():
            continue
        if entry.id not in number:
            entries.append(entry)
            number[entry.id] = len(entries)
        n = number[entry.id]
        if members is not None:
            members.setdefault(entry.id, []).append(ann.id)
        prob = ctx.probability(ann) if hasattr(ctx, "probability") else None
        if prob is not None:
            values = decode_probability(ann.geometry, prob)
            if values is None:
                ctx.converted(asset, ann, "its probabilities no longer match the edited mask: written as certain (1.0)")
            else:
                full = np.zeros(pixels.shape, np.float32)
                g = ann.geometry
                full[g.y:g.y + g.height, g.x:g.x + g.width] = values[:full.shape[0] - g.y, :full.shape[1] - g.x]
                if not binary:
                    soft.append((n, ann.plane, pixels, full))
                    continue
                pixels = pixels & (full >= 0.5)
                ctx.converted(asset, ann, "probabilities thresholded at 0.5 (segmentation_type=binary)")
                if not pixels.any():
                    continue
        if stack is None:
            under = target[pixels]
            if np.any((under != 0) & (under != n)):
                stack = np.stack([labels == i for i in range(1, len(entries) + 1)])
        if stack is None:
            target[pixels] = n
            continue
        if stack.shape[0] < len(entries):
            stack = np.concatenate([stack, np.zeros((len(entries) - stack.shape[0], *shape), bool)])
        plane_target(stack[n - 1][ann.plane.t], ann.plane)[pixels] = True
    if not soft and not fractional:
        return entries, labels if stack is None else stack
    probs = np.zeros((len(entries), *shape), np.float32)
    for i in range(len(entries)):
        probs[i] = stack[i] if stack is not None and i < stack.shape[0] else (labels == i + 1)
    for n, plane, pixels, full in soft:
        there = plane_target(probs[n - 1][plane.t], plane)
        there[pixels] = np.maximum(there[pixels], full[pixels])
    return entries, probs


def _algorithm_of(ctx: ExportContext, ann_ids: list[str], layer_automatic: str | None) -> tuple[str, Any]:
    """(algorithm type, (name, version) or None) of one segment from its annotations' provenance:
    all made by a model -> AUTOMATIC; some made by a model or accepted from a prediction ->
    SEMIAUTOMATIC; else MANUAL (a layer of predictions without provenance: AUTOMATIC, named
    after the layer)."""
    from labeldesk.core.predictions import provenances
    prov = provenances(ctx.project.conn, ann_ids)
    models = [p for p in prov.values() if p.model and not p.prediction_id]
    if models:
        counts: dict[tuple[str, str], int] = {}
        for p in models:
            key = (str(p.model), str(p.version or ""))
            counts[key] = counts.get(key, 0) + 1
        name = max(counts, key=counts.get)                       # type: ignore[arg-type]
        kind = "AUTOMATIC" if len(models) == len(ann_ids) else "SEMIAUTOMATIC"
        return kind, name
    if layer_automatic:
        return "AUTOMATIC", (layer_automatic, "")
    if any(p.prediction_id for p in prov.values()):
        return "SEMIAUTOMATIC", ("model prediction reviewed by a person", "")
    return "MANUAL", None


def _description(number: int, entry: Any, algorithm: tuple[str, Any]) -> Any:
    import highdicom as hd
    from highdicom.sr.coding import CodedConcept
    from labeldesk.core.ontology_codes import concept_of
    c = entry.color.lstrip("#")
    rgb = (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16))
    kind, named = algorithm
    ident = None
    if named is not None:
        ident = hd.AlgorithmIdentificationSequence(
            name=str(named[0])[:64] or "unnamed", version=str(named[1])[:64] or "unknown",
            family=CodedConcept("123110", "DCM", "Artificial Intelligence"))
    concept, _ = concept_of(entry.name, entry.concept, entry.code, entry.value)

    def coded(d: dict[str, Any]) -> Any:
        return CodedConcept(str(d["value"]), str(d["scheme"]), str(d["meaning"])[:64])
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=entry.name[:64],
        segmented_property_category=coded(concept["category"]), segmented_property_type=coded(concept["type"]),
        algorithm_type=kind, algorithm_identification=ident,
        display_color=hd.color.CIELabColor.from_rgb(*rgb))


def _sources(ctx: ExportContext, asset: Asset) -> tuple[list[Any], list[tuple[int, int]]] | None:
    """The source datasets (file order) and, per plane index t*Z+z, (dataset index, frame)."""
    import pydicom
    loc = ctx.project.locator(asset.id) or {}
    if loc.get("reader") != "dicom":
        what = "RTSTRUCT" if ctx.report.fmt == "rtstruct" else "DICOM SEG"
        ctx.report.note(asset.name, f"not a DICOM series: {what} needs DICOM source images; not exported")
        return None
    files = [str(f) for f in loc.get("files") or []]
    missing = [f for f in dict.fromkeys(files) if not Path(f).is_file()]
    if missing:
        ctx.report.refuse(asset.name, f"its DICOM files are not on this machine ({missing[0]}); not exported")
        return None
    order = list(dict.fromkeys(files))
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in order]
    for ds in datasets:              # type 2 attributes highdicom copies: empty where the source lacks them
        for kw in TYPE2:
            if kw not in ds:
                setattr(ds, kw, "")
    frames = [int(f) for f in loc.get("frames") or [0] * len(files)]
    return datasets, [(order.index(f), fr) for f, fr in zip(files, frames)]


def export_seg(ctx: ExportContext, out: OutputTree) -> None:
    _require_highdicom()
    import highdicom as hd
    layers = {l.id: l for l in ctx.layers}
    wanted = str(ctx.options.get("segmentation_type") or "auto").lower()
    if wanted not in ("auto", "binary", "fractional"):
        raise LabeldeskError(f"segmentation_type={wanted!r}: choose auto, binary or fractional")
    automatic = next((l.name for l in ctx.layers if l.kind == "predictions"), None) if \
        all(l.kind == "predictions" for l in layers.values()) else None
    for asset in ctx.each_asset():
        if asset.kind != "volume":
            continue
        counts: dict[str, int] = {}
        members: dict[str, list[str]] = {}
        entries, voxels = _segments(ctx, asset, counts, members, fractional=wanted == "fractional",
                                    binary=wanted == "binary")
        if not entries:
            continue
        found = _sources(ctx, asset)
        if found is None:
            continue
        datasets, planes = found
        multiframe = len(datasets) == 1 and len(planes) > 1
        n_frames = int(datasets[0].get("NumberOfFrames", 1) or 1) if multiframe else len(datasets)
        label_map = voxels.ndim == 4          # segment numbers per pixel (no overlaps)
        soft = voxels.dtype == np.float32     # probabilities: a FRACTIONAL SEG
        pixels = np.zeros((n_frames, asset.height, asset.width) + (() if label_map else (len(entries),)),
                          voxels.dtype if label_map or soft else np.uint8)
        for k, (ds_index, frame) in enumerate(planes):
            t, z = divmod(k, asset.depth)
            row = frame if multiframe else ds_index
            pixels[row] = voxels[t, z] if label_map else np.moveaxis(voxels[:, t, z], 0, -1)
        first = datasets[0]
        try:
            seg = hd.seg.Segmentation(
                source_images=datasets, pixel_array=pixels, segmentation_type="FRACTIONAL" if soft else "BINARY",
                segment_descriptions=[_description(i + 1, e, _algorithm_of(ctx, members.get(e.id, []), automatic))
                                      for i, e in enumerate(entries)],
                series_instance_uid=hd.UID(), series_number=int(first.get("SeriesNumber", 0) or 0) + 1000,
                sop_instance_uid=hd.UID(), instance_number=1, manufacturer="labeldesk",
                manufacturer_model_name="labeldesk", software_versions=__version__,
                device_serial_number=str(ctx.project.device_id)[:64],
                content_label="LABELDESK", content_description=f"labeldesk annotations ({len(entries)} classes)"[:64],
                omit_empty_frames=True)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            ctx.report.refuse(asset.name, "no SEG could be built from its source images ("
                              + " ".join(str(exc).split())[:200] + "); not exported")
            continue
        buf = io.BytesIO()
        seg.save_as(buf)
        out.write(safe_name(asset, out.members, ".seg.dcm") + ".seg.dcm", buf.getvalue())
        for kind, n in counts.items():
            ctx.report.count(kind, n)


# ---- import ------------------------------------------------------------------------------------
def _read(data: bytes, where: str) -> Any:
    import highdicom as hd
    import pydicom
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise InputError(where, f"not a readable DICOM file ({type(exc).__name__}: {str(exc)[:160]})") from None
    if str(ds.get("SOPClassUID", "")) != SEG_CLASS:
        raise InputError(where, f"not a DICOM SEG (modality {ds.get('Modality', '?')}, "
                                f"SOP class {ds.get('SOPClassUID', '?')})")
    try:
        return hd.seg.Segmentation.from_dataset(ds, copy=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(where, f"a DICOM SEG that highdicom cannot read ({type(exc).__name__}: "
                                f"{str(exc)[:160]})") from None


def _instance_index(ctx: ImportContext) -> tuple[dict[str, tuple[Asset, list[tuple[str, int]]]], list[str]]:
    """SOP Instance UID -> (asset, [(uid, frame) per plane index]) for the project's DICOM volumes,
    and the names of the DICOM volumes whose files are not on this machine."""
    import pydicom
    out: dict[str, tuple[Asset, list[tuple[str, int]]]] = {}
    elsewhere: list[str] = []
    for asset in ctx.index.assets.values():
        loc = ctx.project.locator(asset.id) or {}
        if asset.kind != "volume" or loc.get("reader") != "dicom":
            continue
        uids: dict[str, str] = {}
        planes = []
        for f, frame in zip(loc.get("files") or [], loc.get("frames") or []):
            if f not in uids:
                try:
                    uids[f] = str(pydicom.dcmread(f, stop_before_pixels=True,
                                                  specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
                except Exception:  # noqa: BLE001 - files not on this machine: not matchable
                    elsewhere.append(asset.name)
                    break
            planes.append((uids[f], int(frame)))
        else:
            for uid, _ in planes:
                out[uid] = (asset, planes)
    return out, elsewhere


def _colour(desc: Any) -> str | None:
    value = desc.get("RecommendedDisplayCIELabValue")
    if value is None:
        return None
    import highdicom as hd
    try:
        r, g, b = hd.color.CIELabColor.from_dicom_value(list(value)).to_rgb()
    except Exception:  # noqa: BLE001 - a colour is a nicety
        return None
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


def _concept(desc: Any) -> dict[str, Any] | None:
    """The segment's coded category and type (kept on a class the import creates; the private
    scheme labeldesk writes for uncoded classes is not kept)."""
    from labeldesk.core.ontology_codes import PRIVATE_SCHEME
    out: dict[str, Any] = {}
    for key, seq in (("category", "SegmentedPropertyCategoryCodeSequence"),
                     ("type", "SegmentedPropertyTypeCodeSequence")):
        items = desc.get(seq) or []
        if not items:
            return None
        item = items[0]
        value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue")
        if not value:
            return None
        out[key] = {"value": str(value), "scheme": str(item.get("CodingSchemeDesignator", "")),
                    "meaning": str(item.get("CodeMeaning", "")) or str(value)}
    if out["type"]["scheme"] == PRIVATE_SCHEME:
        return None
    return out


def _algorithm(desc: Any) -> dict[str, Any] | None:
    """Model provenance of an AUTOMATIC/SEMIAUTOMATIC segment (its algorithm's name and version)."""
    if str(desc.get("SegmentAlgorithmType", "MANUAL")) == "MANUAL":
        return None
    ident = desc.get("SegmentationAlgorithmIdentificationSequence") or [None]
    item = ident[0]
    name = str(item.get("AlgorithmName", "")) if item is not None else ""
    name = name or str(desc.get("SegmentAlgorithmName", "")) or "unnamed algorithm"
    version = str(item.get("AlgorithmVersion", "")) if item is not None else ""
    return {"model": name, "version": version, "score": None}


def _segment(ctx: ImportContext, seg: Any, where: str, index: dict[str, Any],
             alias: dict[str, str], elsewhere: list[str]) -> None:
    theirs = [uid for _, _, uid in seg.get_source_image_uids()]
    # a SEG made on the original series of a de-identified asset: its UIDs through the local map
    as_ours = {alias.get(u, u): u for u in theirs}
    if any(u in alias and alias[u] in index for u in theirs):
        ctx.report.note(where, "it references the original series of a de-identified asset: matched "
                               "through the local re-identification map")
    refs = list(as_ours)
    wanted = ctx.options.get("asset")
    if wanted:
        try:
            target = ctx.index.find(str(wanted))[0]
        except LookupError as exc:
            raise InputError(where, str(exc.args[0])) from None
        hits = [index[u] for u in refs if u in index and index[u][0].id == target.id]
    else:
        hits = [index[u] for u in refs if u in index]
    if not hits:
        series = ", ".join(sorted({str(s.SeriesInstanceUID) for s in seg.get("ReferencedSeriesSequence", [])}))
        hint = (f"; the files of {len(elsewhere)} DICOM asset(s) are not on this machine "
                f"({', '.join(elsewhere[:3])})" if elsewhere else "")
        raise InputError(where, f"none of the {len(refs)} images it segments is in the project (referenced series "
                                f"{series or '?'}); add that series first{hint}")
    asset, planes = hits[0]
    ours = {uid for uid, _ in planes}
    if any(u not in ours for u in refs):
        ctx.report.note(where, f"{sum(u not in ours for u in refs)} referenced image(s) are not part of {asset.name}")
    classes = {}
    sources: dict[int, dict[str, Any] | None] = {}
    for number in seg.segment_numbers:
        desc = seg.get_segment_description(number)
        classes[number] = ctx.class_for(desc.segment_label, f"{where}: segment {number}", None, _colour(desc),
                                        extra={"concept": _concept(desc)})
        sources[number] = None if ctx.options.get("model") else _algorithm(desc)
    numbers = [n for n in seg.segment_numbers if classes[n] is not None]
    if not numbers:
        return
    fractional = str(seg.segmentation_type.value) == "FRACTIONAL"
    cut = _threshold(ctx)
    levels = int(seg.get("MaximumFractionalValue", 255) or 255) if fractional else 255
    if fractional and cut is not None:
        ctx.report.note(where, f"fractional segments (probabilities) thresholded at {cut} as asked (option "
                               "threshold): binary masks without probabilities")
    multiframe = len(ours) == 1 and len(planes) > 1
    present = [p for p in planes if p[0] in set(refs)]
    try:                 # frames highdicom omitted as empty are empty
        if multiframe:
            arr = seg.get_pixels_by_source_frame(as_ours[planes[0][0]], [f + 1 for _, f in present],
                                                 segment_numbers=numbers, assert_missing_frames_are_empty=True)
        else:
            arr = seg.get_pixels_by_source_instance([as_ours[u] for u, _ in present], segment_numbers=numbers,
                                                    assert_missing_frames_are_empty=True)
    except (ValueError, KeyError, IndexError) as exc:
        raise InputError(where, "its frames cannot be matched to the source images ("
                                + " ".join(str(exc).split())[:200] + ")") from None
    for row, p in enumerate(present):
        k = planes.index(p)
        t, z = divmod(k, asset.depth)
        for s, number in enumerate(numbers):
            ctx.progress.check()
            values = arr[row, :, :, s]
            m = values >= cut if (fractional and cut is not None) else values > 0
            if m.any():
                loc = f"{where}: segment {number} slice {z}" + (f" time {t}" if asset.frames > 1 else "")
                mask = Mask.from_array(m)
                prob = None
                if fractional and cut is None:      # the probabilities kept beside the mask
                    box = values[mask.y:mask.y + mask.height, mask.x:mask.x + mask.width]
                    prob = encode_probability(mask, box, min(levels, 255))
                ctx.annotation(loc, asset, Plane(z=z, t=t), mask.to_dict(), classes[number],
                               source=sources[number], probability=prob)


def _threshold(ctx: ImportContext) -> float | None:
    """The probability cut the user asked for (option ``threshold``), or None (keep probabilities)."""
    raw = ctx.options.get("threshold")
    if raw in (None, ""):
        return None
    try:
        cut = float(raw)
    except (TypeError, ValueError):
        raise LabeldeskError(f"threshold={raw!r}: give a probability between 0 and 1") from None
    if not 0 < cut <= 1:
        raise LabeldeskError(f"threshold={raw!r}: give a probability above 0 and at most 1")
    return cut


def import_seg(ctx: ImportContext, path: Any) -> None:
    _require_highdicom()
    with InputTree(path, ctx.report) as tree:
        names = [n for n in tree.names() if not n.lower().endswith((".txt", ".json", ".xml", ".csv"))]
        if not names:
            raise InputError(path, "no DICOM SEG file in it")
        from labeldesk.core.deid import read_maps
        index, elsewhere = _instance_index(ctx)
        alias = {old: new for m in read_maps(ctx.project.cache_dir) for old, new in (m.get("uids") or {}).items()}
        for name in names:
            where = tree.location(name)
            try:
                _segment(ctx, _read(tree.read(name), where), where, index, alias, elsewhere)
            except InputError as exc:
                if len(names) == 1:
                    raise
                ctx.report.refuse(where, exc.problem)
