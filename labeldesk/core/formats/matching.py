"""Which asset (and plane) a name in an annotation file refers to, and the names we write.

Files name images by file name or by a path relative to some dataset root
(``images/train/0001.jpg``). An asset matches on its name or on the tail of the path it was added
from: the longest matching tail wins, so ``train/0001.jpg`` and ``val/0001.jpg`` stay apart, and a
bare ``0001.jpg`` that fits two assets is refused as ambiguous rather than guessed.

Planes other than an image's only plane are written as a sub-item of the asset:
``clip.mp4/frame_000012`` (a video frame), ``ct.nii.gz/axial_0040`` (a slice; ``_t0003`` for a
time point of a 4-D volume). Readers of those files see one image per plane; we read the names
back to the same plane.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from labeldesk.core.model import Asset, Plane

FRAME_RE = re.compile(r"^frame_(\d+)$")
SLICE_RE = re.compile(r"^(axial|coronal|sagittal)_(\d+)(?:_t(\d+))?$")
DEPTH = 4      # path components of an asset's source path that a reference may give


def item_name(asset: Asset, plane: Plane) -> str:
    """The name of one plane of an asset as an image in exported files."""
    if asset.kind == "volume":
        name = f"{asset.name}/{plane.axis}_{plane.z:04d}"
        return name + (f"_t{plane.t:04d}" if asset.frames > 1 else "")
    if asset.kind == "video" or asset.frames > 1:
        return f"{asset.name}/frame_{plane.t:06d}"
    return asset.name


def flat_item_name(asset: Asset, plane: Plane) -> str:
    """:func:`item_name` without folders (``clip.mp4__frame_000012``): for layouts whose readers
    take every image straight under its subset folder (datumaro's YOLO); ``AssetIndex.find`` reads
    it back."""
    name = item_name(asset, plane)
    return name if name == asset.name else name.replace("/", "__")


def strip_suffix(name: str) -> str:
    """``a/b.png`` -> ``a/b``; ``ct.nii.gz`` -> ``ct``."""
    head, _, last = name.rpartition("/")
    for double in (".nii.gz", ".hdr.gz", ".img.gz"):
        if last.lower().endswith(double):
            last = last[: -len(double)]
            break
    else:
        stem = PurePosixPath(last).stem if "." in last.lstrip(".") else last
        last = stem
    return f"{head}/{last}" if head else last


def normalise(ref: str) -> str:
    parts = [p for p in str(ref).replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def extent(asset: Asset, plane: Plane) -> tuple[int, int, int]:
    """(width, height, slices along the axis) of a plane of ``asset``."""
    w, h, d = asset.width, asset.height, asset.depth
    if plane.axis == "coronal":
        return w, d, h
    if plane.axis == "sagittal":
        return h, d, w
    return w, h, d


def plane_problem(asset: Asset, plane: Plane) -> str | None:
    _, _, n = extent(asset, plane)
    if plane.z >= n:
        return f"slice {plane.z} is outside {asset.name} (0..{n - 1})"
    if plane.t >= asset.frames:
        return f"frame {plane.t} is outside {asset.name} (0..{asset.frames - 1})"
    return None


def _source_path(locator: dict[str, Any] | None) -> str | None:
    if not locator:
        return None
    if locator.get("files"):
        return str(PurePosixPath(str(locator["files"][0]).replace("\\", "/")).parent)
    for key in ("source", "path"):
        if locator.get(key):
            return str(locator[key]).replace("\\", "/")
    return None


class AssetIndex:
    """Asset lookup by name or relative path (``find``), built once per import."""

    def __init__(self, project: Any) -> None:
        self.assets: dict[str, Asset] = {a.id: a for a in project.assets()}
        self._tables: dict[tuple[bool, bool], dict[str, set[str]]] = {
            (s, f): {} for s in (False, True) for f in (False, True)}
        for a in self.assets.values():
            keys = {normalise(a.name)}
            src = _source_path(project.locator(a.id))
            if src:
                parts = [p for p in src.split("/") if p]
                keys.update("/".join(parts[-n:]) for n in range(1, min(DEPTH, len(parts)) + 1))
            for key in keys:
                for stem in (False, True):
                    k = strip_suffix(key) if stem else key
                    for fold in (False, True):
                        self._tables[(stem, fold)].setdefault(k.casefold() if fold else k, set()).add(a.id)

    def find(self, ref: str, ignore_suffix: bool = False) -> tuple[Asset, Plane]:
        """The asset and plane ``ref`` names; LookupError says why not (missing or ambiguous)."""
        ref = normalise(ref)
        if not ref:
            raise LookupError("no image name given")
        hit = self._lookup(ref, ignore_suffix)
        if hit is not None:
            return hit, Plane()
        parts = ref.split("/")
        if len(parts) >= 2:
            leaf = strip_suffix(parts[-1])
            plane = _plane_from(leaf)
            if plane is not None:
                asset = self._lookup("/".join(parts[:-1]), False)
                if asset is not None:
                    problem = plane_problem(asset, plane)
                    if problem:
                        raise LookupError(problem)
                    return asset, plane
        head, sep, tail = parts[-1].rpartition("__")
        if sep and head and _plane_from(strip_suffix(tail)) is not None:      # flat_item_name's plane names
            try:
                return self.find("/".join([*parts[:-1], head, tail]), ignore_suffix)
            except LookupError:
                pass
        raise LookupError(f"no asset named {ref!r} in the project (matched by file name or relative path)")

    def _lookup(self, ref: str, stem: bool) -> Asset | None:
        parts = ref.split("/")
        for fold in (False, True):
            table = self._tables[(stem, fold)]
            for n in range(min(DEPTH, len(parts)), 0, -1):
                key = "/".join(parts[-n:])
                ids = table.get(key.casefold() if fold else key)
                if not ids:
                    continue
                if len(ids) == 1:
                    return self.assets[next(iter(ids))]
                names = sorted(self.assets[i].name for i in ids)[:3]
                raise LookupError(f"{ref!r} matches {len(ids)} assets ({', '.join(names)}, ...); "
                                  "give a longer relative path")
        return None


def _plane_from(leaf: str) -> Plane | None:
    m = FRAME_RE.match(leaf)
    if m:
        return Plane(t=int(m.group(1)))
    m = SLICE_RE.match(leaf)
    if m:
        return Plane(z=int(m.group(2)), t=int(m.group(3) or 0), axis=m.group(1))
    return None
