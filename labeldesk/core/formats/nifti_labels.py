"""NIfTI label maps on the source volume's grid, with an ITK-SNAP label description file.

Export: each volume asset gives ``<name>.labels.nii.gz`` - one integer voxel per source voxel,
shape (X, Y, Z[, T]), value = the class's stable label value (0 is background; set when the class
is made, kept from imported maps, never renumbered, so Slicer, nnU-Net and TotalSegmentator label
tables keep working), uint8 (uint16 for values above 255), intent ``label`` - and ``<name>.labels.txt``
(ITK-SNAP: index, RGB, alpha, visibility, mesh visibility, "class name"). The affine is the
source's: labeldesk keeps volumes in DICOM patient space (LPS) and NIfTI is RAS, so the first
two rows change sign (``diag(-1, -1, 1, 1) @ affine_lps``), written as sform and qform. Masks are
copied pixel for pixel; polygons, boxes, rotated boxes and ellipses are rasterised (OpenCV fill of
the pixel centres, the convention of labeldesk's mask tools); points and polylines are refused.
Shapes on coronal and sagittal planes go into the same grid. Where shapes overlap, the one drawn
later (higher z-order) wins, with a note.

Import: the map must be on the asset's grid - the same affine, or the same grid with its axes
flipped or reordered (as DICOM to NIfTI converters write them), which is undone exactly, without
resampling; anything else is refused and nothing changes. Each axial slice gives one mask
annotation per label value present. The label table is
the ``labels`` option, else a ``.txt`` beside the map (or in the same folder/zip); a value
that a class carries already (its label value) is that class; other values without a name become
classes ``label <n>``, and a class the import creates keeps the map's value as its label value
(unless another class has it: then it gets the next free one, with a note).
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.formats.archive import InputTree, OutputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.selection import ExportContext
from labeldesk.core.geometry import Ellipse, GeometryError, Mask, Polygon, RotatedBox
from labeldesk.core.model import Asset, Plane

RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
SUFFIX = ".labels.nii.gz"
TABLE_SUFFIX = ".labels.txt"
TABLE_RE = re.compile(r'^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+(\d+)\s+(\d+)\s+"(.*)"\s*$')
AFFINE_ATOL = 1e-3      # mm: NIfTI stores the affine as float32


# ---- shapes to pixels (shared with DICOM SEG) --------------------------------------------------
def plane_mask(geometry: Any, width: int, height: int) -> np.ndarray | None:
    """The pixels of an area shape on a (height, width) plane; None for points and polylines."""
    if isinstance(geometry, Mask):
        return geometry.paste(width, height)
    if geometry.kind == "box":
        x0, y0, x1, y1 = geometry.bounds()
        polygon = Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1)))
    elif isinstance(geometry, RotatedBox):
        polygon = Polygon(geometry.corners())
    elif isinstance(geometry, Ellipse):
        polygon = Polygon(geometry.outline(128))
    elif isinstance(geometry, Polygon):
        polygon = geometry
    else:
        return None
    from labeldesk.core.assist.contours import polygon_to_mask
    try:
        return polygon_to_mask(polygon, width, height).paste(width, height)
    except GeometryError:
        return np.zeros((height, width), bool)


def plane_target(vol: np.ndarray, plane: Plane) -> np.ndarray:
    """The view of a (Z, Y, X) grid that a plane's pixels (rows, columns) map onto."""
    if plane.axis == "axial":
        return vol[plane.z]
    if plane.axis == "coronal":
        return vol[:, plane.z]
    return vol[:, :, plane.z]


def affine_lps(asset: Asset) -> np.ndarray | None:
    aff = asset.meta.get("affine")
    return np.asarray(aff, float) if aff else None


def safe_name(asset: Asset, taken: Any = (), suffix: str = "") -> str:
    """A file stem for the asset's output; the asset id is appended if ``stem + suffix`` is taken."""
    from labeldesk.core.formats.matching import strip_suffix
    name = strip_suffix(asset.name).replace("/", "_").replace("\\", "_").strip(". ") or asset.id
    return f"{name}-{asset.id[-8:]}" if name + suffix in taken else name


# ---- export ------------------------------------------------------------------------------------
def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    try:
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    except (ValueError, IndexError):
        return 255, 0, 0


def label_table(ctx: ExportContext) -> str:
    lines = ["################################################", "# ITK-SnAP Label Description File",
             "# written by labeldesk", "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
             "################################################",
             '    0     0    0    0        0  0  0    "Clear Label"']
    for e in ctx.classes:
        r, g, b = _rgb(e.color)
        name = e.name.replace('"', "'")
        lines.append(f'{e.value:5d} {r:5d} {g:4d} {b:4d}        1  1  1    "{name}"')
    return "\n".join(lines) + "\n"


def rasterised(ctx: ExportContext, asset: Asset, vol: np.ndarray, what: str) -> Any:
    """(annotation, class entry, the (rows, cols) view of ``vol`` on its plane, its pixels) for each
    selected annotation of ``asset`` that has pixels; the others are reported as skipped. The
    asset's 3-D segments follow, one mask item per painted axial slice (``segments.export_items``:
    the one seam between volume exports and segments)."""
    for ann in ctx.annotations(asset):
        entry = ctx.entry(asset, ann)
        if entry is None:
            continue
        target = plane_target(vol[ann.plane.t], ann.plane)
        pixels = plane_mask(ann.geometry, target.shape[1], target.shape[0])
        if pixels is None:
            ctx.skip(asset, ann, f"a {ann.geometry.kind} has no pixels for {what}")
            continue
        yield ann, entry, target, pixels
    from labeldesk.core.segments import export_items     # segments (3-D label maps), slice by slice
    for item, entry, pixels in export_items(ctx, asset):
        yield item, entry, plane_target(vol[item.plane.t], item.plane), pixels


def label_volume(ctx: ExportContext, asset: Asset) -> tuple[np.ndarray, int]:
    """(T, Z, Y, X) label values of the selected annotations of ``asset``; the count exported."""
    dtype = np.uint8 if max((e.value for e in ctx.classes), default=0) < 256 else np.uint16
    vol = np.zeros((asset.frames, asset.depth, asset.height, asset.width), dtype)
    n = 0
    for ann, entry, target, pixels in rasterised(ctx, asset, vol, "a label map"):
        taken = target[pixels]
        if taken.any():
            ctx.converted(asset, ann, f"overlaps {int(np.count_nonzero(taken))} labelled voxel(s): drawn over them")
        target[pixels] = entry.value
        if ann.geometry.kind != "mask":
            ctx.converted(asset, ann, f"{ann.geometry.kind} rasterised to voxels")
        ctx.report.count(ann.geometry.kind)
        n += 1
    return vol, n


def nifti_image(vol: np.ndarray, affine: np.ndarray) -> Any:
    import nibabel as nib
    data = vol.transpose(3, 2, 1, 0) if vol.shape[0] > 1 else vol[0].transpose(2, 1, 0)
    ras = RAS_FROM_LPS @ affine
    img = nib.Nifti1Image(np.asfortranarray(data), ras)
    img.set_sform(ras, code=1)
    img.set_qform(ras, code=1)
    img.header.set_data_dtype(vol.dtype)
    img.header.set_intent("label")
    img.header["descrip"] = b"labeldesk label map"
    return img


def export_nifti(ctx: ExportContext, out: OutputTree) -> None:
    import nibabel as nib
    table = label_table(ctx)
    for asset in ctx.each_asset():
        if asset.kind != "volume":
            if ctx.annotations(asset):
                ctx.report.note(asset.name, "not a volume: no label map written")
            continue
        vol, n = label_volume(ctx, asset)
        if n == 0:
            continue
        affine = affine_lps(asset)
        if affine is None:
            sp = asset.spacing or (1.0, 1.0, 1.0)
            affine = np.diag([*sp[:3], 1.0])
            ctx.report.note(asset.name, "the volume has no patient geometry: the map's affine is its voxel spacing")
        stem = safe_name(asset, out.members, SUFFIX)
        nib.save(nifti_image(vol, affine), str(out.path_for(stem + SUFFIX)))
        out.write(stem + TABLE_SUFFIX, table)


# ---- import ------------------------------------------------------------------------------------
def parse_table(text: str, where: str) -> dict[int, tuple[str, str]]:
    """ITK-SNAP label description: value -> (name, colour)."""
    out: dict[int, tuple[str, str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = TABLE_RE.match(line)
        if m is None:
            raise InputError(where, f"line {n} is not an ITK-SNAP label line (IDX R G B A VIS MSH \"name\")")
        value = int(m.group(1))
        if value:
            r, g, b = (min(255, int(m.group(i))) for i in (2, 3, 4))
            out[value] = (m.group(8), f"#{r:02x}{g:02x}{b:02x}")
    return out


def _load_bytes(data: bytes, where: str) -> Any:
    import nibabel as nib
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return nib.Nifti1Image.from_bytes(data) if len(data) < 540 or data[:4] != b"\x1c\x02\x00\x00" \
            else nib.Nifti2Image.from_bytes(data)
    except Exception as exc:  # noqa: BLE001 - nibabel raises many kinds for a bad header
        why = str(exc).splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(where, f"not a readable NIfTI file ({why})") from None


def _find_asset(ctx: ImportContext, name: str, shape: tuple[int, ...], aff: np.ndarray, where: str) -> Asset:
    wanted = ctx.options.get("asset")
    if wanted:
        try:
            return ctx.index.find(str(wanted))[0]
        except LookupError as exc:
            raise InputError(where, str(exc.args[0])) from None
    stem = name.rsplit("/", 1)[-1]
    for suffix in (SUFFIX, ".nii.gz", ".nii"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for ref in (stem, stem.removesuffix(".labels"), stem.removesuffix("_seg"), stem.removesuffix("_labels")):
        try:
            return ctx.index.find(ref, ignore_suffix=True)[0]
        except LookupError:
            continue
    fits = [a for a in ctx.index.assets.values() if a.kind == "volume" and _grid_problem(a, shape, aff) is None]
    if len(fits) == 1:
        ctx.report.note(where, f"matched to {fits[0].name!r}, the only volume with this grid")
        return fits[0]
    raise InputError(where, f"no volume named {stem!r} in the project"
                            + (f" ({len(fits)} have this grid)" if fits else "") + "; name it with the asset option")


def _reorientation(asset: Asset, shape: tuple[int, ...], aff_lps: np.ndarray
                   ) -> tuple[tuple[int, int, int], tuple[bool, bool, bool]] | None:
    """How the map's voxel axes become the asset's: (source axis of each asset axis, flipped?),
    when both are the same grid up to axis order and direction (e.g. a map written by a DICOM to
    NIfTI converter that flipped the rows); None when they are different grids."""
    dims = (asset.width, asset.height, asset.depth)
    mine = affine_lps(asset)
    if mine is None:
        return ((0, 1, 2), (False, False, False)) if tuple(shape[:3]) == dims else None
    m = np.linalg.inv(mine) @ aff_lps                    # map ijk -> asset ijk
    rot, shift = m[:3, :3], m[:3, 3]
    p = np.round(rot)
    if not np.allclose(rot, p, atol=1e-3) or not np.allclose(shift, np.round(shift), atol=1e-2):
        return None
    if not (np.abs(p).sum(axis=0) == 1).all() or not (np.abs(p).sum(axis=1) == 1).all():
        return None
    perm = tuple(int(np.flatnonzero(p[r])[0]) for r in range(3))
    flips = []
    for r, c in enumerate(perm):
        n, t = shape[c], int(round(shift[r]))
        if n != dims[r] or t != (0 if p[r, c] > 0 else n - 1):
            return None
        flips.append(bool(p[r, c] < 0))
    return perm, (flips[0], flips[1], flips[2])  # type: ignore[return-value]


def _grid_problem(asset: Asset, shape: tuple[int, ...], aff_lps: np.ndarray) -> str | None:
    want = (asset.width, asset.height, asset.depth) + ((asset.frames,) if asset.frames > 1 else ())
    got = tuple(shape[:3]) + tuple(s for s in shape[3:] if s != 1)
    if sorted(got[:3]) != sorted(want[:3]) or got[3:] != want[3:]:
        return f"the label map is {'x'.join(map(str, got))} voxels but {asset.name} is {'x'.join(map(str, want))}"
    if _reorientation(asset, shape, aff_lps) is None:
        mine = affine_lps(asset)
        diff = float(np.max(np.abs(aff_lps - mine))) if mine is not None else float("nan")
        return (f"the label map's affine does not match {asset.name} (largest difference {diff:.4g} mm): "
                "it is on another grid (labeldesk does not resample label maps)")
    return None


def _read_map(ctx: ImportContext, img: Any, name: str, where: str, table: dict[int, tuple[str, str]]) -> None:
    from labeldesk.core.io.nifti import _affine_lps
    shape = tuple(int(s) for s in img.shape)
    if len(shape) < 3:
        shape = shape + (1,) * (3 - len(shape))
    aff, _ = _affine_lps(img)
    asset = _find_asset(ctx, name, shape, aff, where)
    if asset.kind != "volume":
        raise InputError(where, f"{asset.name} is not a volume")
    problem = _grid_problem(asset, shape, aff)
    if problem:
        raise InputError(where, problem + "; nothing imported")
    data = np.asanyarray(img.dataobj)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise InputError(where, "not a label map: the voxels are not whole numbers")
        data = data.astype(np.int64)
    elif data.dtype.kind not in "iub":
        raise InputError(where, f"not a label map: voxel type {data.dtype}")
    if data.min(initial=0) < 0:
        raise InputError(where, "not a label map: negative voxel values")
    data = data.reshape(shape[:3] + (-1,))                       # (X, Y, Z, T)
    perm, flips = _reorientation(asset, shape, aff) or ((0, 1, 2), (False, False, False))
    if perm != (0, 1, 2) or any(flips):
        data = data.transpose(*perm, 3)
        for axis, flip in enumerate(flips):
            if flip:
                data = np.flip(data, axis)
        ctx.report.note(where, "the map's voxel axes are flipped or reordered relative to "
                               f"{asset.name}: reoriented to its grid (no resampling)")
    classes: dict[int, Any] = {}
    for t in range(data.shape[3]):
        for z in range(data.shape[2]):
            ctx.progress.check()
            sl = data[:, :, z, t].T                              # (Y, X): rows j, columns i
            for value in np.unique(sl):
                value = int(value)
                if value == 0:
                    continue
                loc = f"{where}: slice {z}" + (f" time {t}" if data.shape[3] > 1 else "") + f" label {value}"
                if value not in classes:
                    classes[value] = _class_of_value(ctx, value, table, loc)
                cls = classes[value]
                if cls is None:
                    continue
                mask = Mask.from_array(sl == value)
                ctx.annotation(loc, asset, Plane(z=z, t=t), mask.to_dict(), cls)


def _class_of_value(ctx: ImportContext, value: int, table: dict[int, tuple[str, str]], loc: str) -> Any:
    """The class of a label value: by the table's name, else the class whose label value it is."""
    if value in table:
        label, colour = table[value]
        return ctx.class_for(label, loc, None, colour, value=value)
    owner = ctx.class_with_value(value)
    if owner is not None:
        return owner
    return ctx.class_for(f"label {value}", loc, None, None, value=value)


def import_nifti(ctx: ImportContext, path: Any) -> None:
    path = Path(path)
    labels = ctx.options.get("labels")
    table: dict[int, tuple[str, str]] = {}
    if labels:
        lp = Path(str(labels)).expanduser()
        try:
            table = parse_table(lp.read_text(encoding="utf-8-sig"), str(lp))
        except OSError as exc:
            raise InputError(lp, f"cannot be read ({exc.strerror or exc})") from None
    if path.is_file() and path.name.lower().endswith((".nii", ".nii.gz")):
        if not table:
            for cand in (path.parent / (path.name.split(".")[0] + TABLE_SUFFIX),
                         path.with_name(path.name.removesuffix(".gz").removesuffix(".nii") + ".txt")):
                if cand.is_file():
                    table = parse_table(cand.read_text(encoding="utf-8-sig"), str(cand))
                    break
        _read_map(ctx, _load_bytes(path.read_bytes(), path.name), path.name, path.name, table)
        return
    with InputTree(path, ctx.report) as tree:
        maps = tree.names((".nii", ".nii.gz"))
        if not maps:
            raise InputError(path, "no .nii or .nii.gz label map in it")
        texts = tree.names(".txt")
        if not table and texts:
            stems = {t.rsplit("/", 1)[-1].split(".")[0]: t for t in texts}
            for m in maps:
                key = m.rsplit("/", 1)[-1].split(".")[0]
                if key in stems or len(texts) == 1:
                    table = parse_table(tree.text(stems.get(key, texts[0])), tree.location(stems.get(key, texts[0])))
                    break
        for name in maps:
            where = tree.location(name)
            try:
                _read_map(ctx, _load_bytes(tree.read(name), where), name, where, table)
            except InputError as exc:
                if len(maps) == 1:
                    raise
                ctx.report.refuse(where, exc.problem)
