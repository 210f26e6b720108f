"""Finding the files of assets that are not on this machine (a joiner's copy of a shared project,
or a project whose files moved): a file is linked to an asset only when its content is the
asset's (content hash; DICOM: the keyed hash of its UIDs). Nothing is added and no op is written:
only this machine's locator (local, never synced) is set.

* :func:`auto_link`: the files at the path recorded when the asset was added (``meta.source_path``),
  when they exist here -- a teammate on the same machine, or the same mount on every machine;
* :func:`locate`: every file under folders the user names (File ▸ Locate files…,
  ``labeldesk locate``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from labeldesk.core.errors import Cancelled, InputError
from labeldesk.core.model import Asset
from labeldesk.core.tasks import NO_PROGRESS, Progress


@dataclass
class LocateReport:
    linked: list[Asset] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)          # names of assets still without files
    looked_at: int = 0
    cancelled: bool = False

    def summary(self) -> str:
        text = f"found the files of {len(self.linked)} asset(s)"
        if self.missing:
            text += f"; {len(self.missing)} still not on this machine"
        return text + (" (cancelled)" if self.cancelled else "")


def missing_assets(project: Any) -> list[Asset]:
    """Assets whose files this machine does not know."""
    return [a for a in project.assets() if project.locator(a.id) is None]


def source_path(asset: Asset) -> str | None:
    path = (asset.meta or {}).get("source_path")
    return str(path) if path else None


def _shape(asset_or_info: Any) -> tuple[int, int, int, int]:
    a = asset_or_info
    return (int(a.width), int(a.height), int(getattr(a, "depth", 1) or 1), int(getattr(a, "frames", 1) or 1))


def _link(project: Any, paths: Iterable[str], wanted: list[Asset], report: LocateReport,
          progress: Progress) -> None:
    from labeldesk.core import importer
    scratch = importer.ImportReport()
    files = importer.expand(paths, scratch)
    report.looked_at += len(files)
    by_kind: dict[str, list[str]] = {"raster": [], "video": [], "nifti": [], "dicom": []}
    for f in files:
        by_kind[importer.kind_of(f)].append(f)
    candidates = importer._discover(by_kind, scratch, progress)
    # only content that could be one of the wanted assets is hashed (same size, slices, frames)
    shapes = {_shape(a) for a in wanted}
    pyramid_shapes = {(a.width, a.height) for a in wanted if a.kind == "pyramid"}
    for i, found in enumerate(candidates):
        progress.report(i, len(candidates), f"comparing {found.name}")
        info = found.info
        if _shape(info) not in shapes and (info.width, info.height) not in pyramid_shapes:
            continue
        try:
            linked = importer._link_shared(project, found)
        except (InputError, OSError):
            continue
        if linked is not None and all(a.id != linked.id for a in report.linked):
            report.linked.append(linked)


def locate(project: Any, folders: Iterable[str | Path], progress: Progress = NO_PROGRESS) -> LocateReport:
    """Link the assets without files to files of the same content under ``folders``."""
    report = LocateReport()
    wanted = missing_assets(project)
    if wanted:
        try:
            _link(project, [str(f) for f in folders], wanted, report, progress)
        except Cancelled:
            report.cancelled = True
    linked = {a.id for a in report.linked}
    report.missing = [a.name for a in wanted if a.id not in linked]
    return report


def auto_link(project: Any, progress: Progress = NO_PROGRESS) -> LocateReport:
    """Link assets without files to the files at their recorded path, when the content matches."""
    report = LocateReport()
    wanted = missing_assets(project)
    paths = [p for a in wanted if (p := source_path(a)) and Path(p).exists()]
    if paths:
        try:
            _link(project, paths, wanted, report, progress)
        except Cancelled:
            report.cancelled = True
    linked = {a.id for a in report.linked}
    report.missing = [a.name for a in wanted if a.id not in linked]
    return report
