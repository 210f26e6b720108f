"""Adding files and folders to a project: discover, validate, identify, build pyramids, add.

Each asset lands in its own transaction, so a bad file, a cancel or a crash never costs the assets
already added; every refusal names the file and the problem and leaves the project untouched.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from labeldesk.core import ids
from labeldesk.core.errors import Cancelled, InputError, LabeldeskError, OpRejected
from labeldesk.core.model import Asset
from labeldesk.core.ops import OpDraft
from labeldesk.core.store import repo
from labeldesk.core.tasks import NO_PROGRESS, Progress

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")
NIFTI_SUFFIXES = (".nii", ".nii.gz", ".hdr")
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


@dataclass
class ImportReport:
    added: list[Asset] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)   # (path, reason)
    skipped: list[str] = field(default_factory=list)               # system/hidden files
    cancelled: bool = False
    review: list[tuple[str, str]] = field(default_factory=list)    # (asset name, why): e.g. pixel review
    # assets that came from another device through sync and whose files were found here
    linked: list[Asset] = field(default_factory=list)

    def summary(self) -> str:
        text = f"added {len(self.added)} asset(s), refused {len(self.refused)}"
        if self.linked:
            text += f", found the files of {len(self.linked)} shared asset(s)"
        if self.skipped:
            text += f", skipped {len(self.skipped)} system file(s)"
        return text + (" (cancelled)" if self.cancelled else "")


def kind_of(path: str) -> str:
    """'raster' | 'video' | 'nifti' | 'dicom' (anything else is offered to the DICOM scan)."""
    low = path.lower()
    if low.endswith(RASTER_SUFFIXES):
        return "raster"
    if low.endswith(VIDEO_SUFFIXES):
        return "video"
    if low.endswith(NIFTI_SUFFIXES):
        return "nifti"
    return "dicom"


def expand(paths: Iterable[str | os.PathLike[str]], report: ImportReport) -> list[str]:
    files: list[str] = []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir():
            for top, dirs, names in os.walk(path):
                if "project.labeldesk" in names:       # another project (or this one): its store and cache
                    report.skipped.append(top)
                    dirs[:] = []
                    continue
                dirs.sort()
                for name in sorted(names):
                    sub = Path(top) / name
                    if name.lower() in IGNORED_NAMES or name.startswith("."):
                        report.skipped.append(str(sub))
                    else:
                        files.append(str(sub.resolve()))
        elif path.is_file():
            files.append(str(path.resolve()))
        else:
            report.refused.append((str(path), "no such file or folder"))
    return files


def file_hash(files: Iterable[str]) -> str:
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def add_paths(project: Any, paths: Iterable[str | os.PathLike[str]],
              progress: Progress = NO_PROGRESS, deidentify: bool = False) -> ImportReport:
    """Add files and folders (recursively); returns what was added and what was refused, and why.
    ``deidentify``: DICOM is de-identified into the project's cache first (labeldesk.core.deid)."""
    _check_store(project)
    report = ImportReport()
    files = expand(paths, report)
    by_kind: dict[str, list[str]] = {"raster": [], "video": [], "nifti": [], "dicom": []}
    for f in files:
        by_kind[kind_of(f)].append(f)
    session = None
    try:
        if deidentify and by_kind["dicom"]:
            from labeldesk.core.deid import Deidentifier
            session = Deidentifier(project)
            by_kind["dicom"] = session.run(by_kind["dicom"], report, progress)
        if deidentify:
            report.review += [(Path(f).name, "not DICOM: added as it is (its file name and header are not "
                               "de-identified)") for k in ("raster", "video", "nifti") for f in by_kind[k]]
        candidates = _discover(by_kind, report, progress)
        if session is not None:
            candidates = [session.describe(found, report) for found in candidates]
        for i, found in enumerate(candidates):
            progress.report(i, len(candidates), f"adding {found.name}")
            try:
                linked = _link_shared(project, found)
                if linked is not None:
                    report.linked.append(linked)
                else:
                    report.added.append(_add_one(project, found, progress))
            except (InputError, OpRejected) as exc:
                report.refused.append((found.files[0] if found.files else found.name, _reason(exc)))
        progress.report(len(candidates), len(candidates), report.summary())
    except Cancelled:
        report.cancelled = True
    if session is not None:          # name de-identified copies by their original paths (local messages)
        report.refused = [(session.original(p), r) for p, r in report.refused]
    _check_store(project)
    return report


def _check_store(project: Any) -> None:
    """The store file must still be where the project is: SQLite keeps writing to a file deleted
    under it, and nothing written there would ever be seen again."""
    path = getattr(project, "store_path", None)
    if path is not None and not Path(path).is_file():
        from labeldesk.core.errors import LabeldeskError
        raise LabeldeskError(f"{project.root}: the project folder was deleted or moved while it was open; "
                             f"nothing added is saved (open the project where it is now and add again)")


def _reason(exc: Exception) -> str:
    return exc.problem if isinstance(exc, InputError) else str(exc)


def _discover(by_kind: dict[str, list[str]], report: ImportReport, progress: Progress) -> list[Any]:
    found: list[Any] = []
    if by_kind["dicom"]:
        from labeldesk.core.io import dicom_scan
        scan = dicom_scan.scan(by_kind["dicom"], progress)
        found.extend(scan.series)
        for err in [*scan.errors, *scan.non_images]:
            report.refused.append((err.path or "?", err.problem))
        for other in scan.other_files:
            report.refused.append((other, "not a supported image, video, DICOM or NIfTI file"))
    total = sum(len(by_kind[k]) for k in ("raster", "video", "nifti"))
    done = 0
    for kind in ("raster", "video", "nifti"):
        if not by_kind[kind]:
            continue
        module = __import__(f"labeldesk.core.io.{kind}", fromlist=["probe"])
        for f in by_kind[kind]:
            progress.report(done, total, f"checking {Path(f).name}")
            done += 1
            try:
                found.append(module.probe(f))
            except InputError as exc:
                report.refused.append((f, exc.problem))
            except Exception as exc:  # a reader bug must not abort the rest of the import
                report.refused.append((f, f"could not be read ({type(exc).__name__}: {exc})"))
    return found


def asset_key(project: Any) -> bytes:
    """The key of DICOM asset identities (HMAC of the instance UIDs): the project's own salt, or on
    a shared project the founder's (synced as the ``asset_key`` setting), so that every replica
    names the same series the same way."""
    import json
    shared = repo.get_meta(project.conn, "setting.asset_key")
    return bytes.fromhex(json.loads(shared) if shared else (repo.get_meta(project.conn, "project_salt") or ""))


def _link_shared(project: Any, found: Any) -> Asset | None:
    """An asset another device added (it arrived through sync without files): these are its files,
    so this machine can show it. Only the local locator is written (never synced); no op."""
    existing = repo.asset_by_hash(project.conn, _identity(project, found))
    if existing is None or repo.locator(project.conn, existing.id) is not None:
        return None
    locator = dict(found.locator)
    if existing.kind == "pyramid" and locator.get("reader") == "raster":
        from labeldesk.core.io.pyramid import build_pyramid
        dest = project.cache_dir / "pyramids" / existing.content_hash.split(":")[1][:24]
        locator = {"reader": "pyramid", "dir": build_pyramid(locator["path"], str(dest), NO_PROGRESS),
                   "source": locator["path"]}
    with project.transaction() as conn:
        repo.set_local(conn, existing.id, locator, _thumbnail(locator))
    return existing


def _identity(project: Any, found: Any) -> str:
    if found.uid_key:
        salt = asset_key(project)
        return "dicom:" + hmac.new(salt, found.uid_key.encode(), hashlib.sha256).hexdigest()
    return "sha256:" + file_hash(found.files)


def _add_one(project: Any, found: Any, progress: Progress) -> Asset:
    content_hash = _identity(project, found)
    existing = repo.asset_by_hash(project.conn, content_hash)
    if existing is not None:
        raise InputError(found.files[0] if found.files else None,
                         f"already in the project as {existing.name!r}")
    if found.info.kind == "volume" and found.locator.get("reader") == "dicom":
        from labeldesk.core.io import dicom
        dicom.verify_decodable(found)
    locator = dict(found.locator)
    kind = found.info.kind
    if kind == "pyramid" and locator.get("reader") == "raster":
        from labeldesk.core.io.pyramid import build_pyramid
        dest = project.cache_dir / "pyramids" / content_hash.split(":")[1][:24]
        locator = {"reader": "pyramid", "dir": build_pyramid(locator["path"], str(dest), progress),
                   "source": locator["path"]}
    info = found.info
    asset = Asset(id=ids.new_id(), kind=kind, name=found.name, content_hash=content_hash,
                  width=info.width, height=info.height, depth=info.depth, frames=info.frames,
                  channels=info.channels, dtype=info.dtype,
                  spacing=tuple(info.spacing) if info.spacing else None, meta=_asset_meta(info))
    if not found.uid_key and len(found.files) == 1:     # where a teammate's machine may find it too
        asset.meta["source_path"] = str(found.files[0])      # (never for DICOM: its folders name patients)
    thumb = _thumbnail(locator)
    try:
        project.apply(OpDraft("asset.add", asset.id, {"asset": asset.to_dict()},
                              local={"locator": locator, "thumbnail": thumb}))
    except LabeldeskError as exc:
        raise OpRejected(str(exc)) from exc
    return asset


def _asset_meta(info: Any) -> dict[str, Any]:
    meta = {k: v for k, v in dict(info.meta).items() if isinstance(v, (str, int, float, bool)) or v is None}
    if info.fps:
        meta["fps"] = info.fps
    if info.rescale != (1.0, 0.0):
        meta["rescale"] = list(info.rescale)
    if info.window:
        meta["window"] = list(info.window)
    if info.photometric:
        meta["photometric"] = info.photometric
    if info.affine is not None:
        meta["affine"] = [list(r) for r in info.affine]
    return meta


def _thumbnail(locator: dict[str, Any]) -> bytes | None:
    try:
        from labeldesk.core.thumbnail import make_thumbnail
        return make_thumbnail(locator)
    except Exception:   # a thumbnail is a nicety; never refuse an asset for it
        return None
