"""Import and export of annotation files: the entry points the CLI and the GUI call.

``import_file`` parses a file (or folder, or zip) with the format's adapter into OpDrafts and
applies them with ``Project.apply_all`` in ONE transaction: a cancelled or failed import changes
nothing, and the report's ``undo`` drafts take a finished one back in one step. Items that cannot
be imported (unknown class, image not in the project, shape wholly outside the image, mask of the
wrong shape, hostile archive member, ...) are refused with their location and reason and the rest
is imported. A file that cannot be read at all raises :class:`InputError` naming it and the problem.

``export`` writes the selected annotations (see :mod:`labeldesk.core.formats.selection`) to a
temporary name and moves it into place when complete. Annotations a format cannot hold are
reported, never dropped silently.

Options (``options`` dict; the CLI passes ``--option key=value``):

* import: ``create_classes`` (bool), ``layer`` (name or id; created if missing), ``gt`` (COCO
  results: the ground-truth file for image ids and categories), ``min_score`` (COCO results),
  ``asset`` (NIfTI/DICOM SEG/CVAT video: the asset to attach to), ``labels`` (NIfTI label table);
* export: ``overwrite`` (bool), ``polygon_holes`` (COCO: ``rle`` (default) or ``rings``); dataset
  exports (COCO, YOLO, VOC): ``images`` (``copy``, ``png``, ``raw16``), ``window``, ``split``,
  ``seed`` (see :mod:`labeldesk.core.formats.dataset`); DICOM SEG export: ``segmentation_type``
  (``auto``: FRACTIONAL when a mask carries probabilities, ``binary``, ``fractional``);
  Label Studio export: ``with_predictions`` (predictions layers as the tasks' predictions);
* DICOM SEG import: ``threshold`` (make fractional segments binary; default: keep probabilities).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from labeldesk.core.errors import Cancelled, InputError, LabeldeskError, OpRejected
from labeldesk.core.formats import registry
from labeldesk.core.formats.archive import OutputTree
from labeldesk.core.formats.context import ImportContext
from labeldesk.core.formats.report import InterchangeReport
from labeldesk.core.formats.selection import ExportContext, Selection
from labeldesk.core.ontology_codes import collision_text
from labeldesk.core.ops import OpDraft
from labeldesk.core.tasks import NO_PROGRESS, Progress
from labeldesk.core.gc_pause import no_cyclic_gc

__all__ = ["import_file", "export", "Selection", "InterchangeReport", "formats"]
GROUP_FORMATS = ("coco", "cvat", "labelme", "voc")       # formats that write instance groups (VOC: object + parts)


def formats() -> list[registry.FormatInfo]:
    return list(registry.FORMATS.values())


_bulk = no_cyclic_gc          # (labeldesk.core.gc_pause)


def _reporting(drafts: list[OpDraft], progress: Progress) -> Iterator[OpDraft]:
    n = len(drafts)
    for i, d in enumerate(drafts):
        if i % 500 == 0:
            progress.report(i, n, "writing annotations")
        yield d
    progress.report(n, n, "committing")


def import_file(project: Any, fmt: str | None, path: str | Path, progress: Progress = NO_PROGRESS,
                options: dict[str, Any] | None = None) -> InterchangeReport:
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(path, "no such file or folder")
    fmt = registry.sniff(path) if fmt in (None, "", "auto") else fmt
    info = registry.get(str(fmt))
    read = registry.importer(info.name)
    report = InterchangeReport("import", info.name, str(path))
    layer_name = f"predictions: {path.name}" if info.layer_kind == "predictions" else None
    ctx = ImportContext(project, report, options, progress, layer_kind=info.layer_kind, layer_name=layer_name)
    try:
        with _bulk():
            read(ctx, path)
            progress.check()
            applied = _apply(project, ctx, progress)
            for kind, n in sorted(ctx.counts().items()):
                report.count(kind, n)
            if applied is not None:
                report.undo = applied.undo()
            # Free the drafts and ops (reference counting) while the collector is still off: left
            # alive, the first collection after it is back on walks all of them (~10 % of an import).
            del applied, ctx
    except Cancelled:
        report.cancelled = True
        report.created_classes.clear()
        report.created_layers.clear()
        return report
    return report


def _apply(project: Any, ctx: ImportContext, progress: Progress) -> Any:
    """``Project.apply_bulk`` of the import's drafts (a BulkResult), None when there are none."""
    for attempt in (1, 2):
        drafts = ctx.drafts()
        if not drafts:
            return None
        try:
            return project.apply_bulk(_reporting(drafts, progress))
        except OpRejected as exc:
            if attempt == 2:
                raise LabeldeskError(f"{ctx.report.path}: the import was refused and nothing was changed: {exc}") from exc
            progress.report(0, 1, "checking every shape")
            ctx.revalidate()        # refuse or repair what the ops refused, then try once more
    return None


def export(project: Any, fmt: str, dest: str | Path, selection: Selection | None = None,
           progress: Progress = NO_PROGRESS, options: dict[str, Any] | None = None) -> InterchangeReport:
    info = registry.get(fmt)
    write = registry.exporter(info.name)
    options = dict(options or {})
    report = InterchangeReport("export", info.name, str(dest))
    ctx = ExportContext(project, selection, report, options, progress)
    if info.values and ctx.classes.collisions:
        raise LabeldeskError(f"{info.name} writes label values and nothing was exported: "
                             + "; ".join(collision_text(v, cs) for v, cs in ctx.classes.collisions))
    try:
        with _bulk(), OutputTree(dest, overwrite=bool(options.get("overwrite"))) as out:
            write(ctx, out)
            progress.check()
            if not info.classifications:
                _unwritten_classifications(ctx, info.name)
            if info.name not in GROUP_FORMATS and ctx.group_count():
                report.note("", f"{ctx.group_count()} instance group(s) not kept: {info.name} has no instance groups "
                                "(their parts are written as separate objects; coco, cvat, labelme and voc keep them)")
            if info.name != "dicom-seg" and ctx.probability_count():
                report.note("", f"per-pixel probabilities of {ctx.probability_count()} mask(s) not written: {info.name} "
                                "holds binary masks (their pixels above 0 are written; DICOM SEG keeps probabilities)")
            report.files = out.commit()
    except Cancelled:
        report.cancelled = True
        report.exported = 0
        report.by_kind.clear()
    return report


def _unwritten_classifications(ctx: ExportContext, fmt: str) -> None:
    """Asset and frame classifications a format has no place for: listed, never dropped silently."""
    n = sum(len(ctx.classifications(a)) for a in ctx.assets)
    if n:
        ctx.report.note("", f"{n} classification(s) of assets or frames not written: {fmt} has no image-level "
                            "labels (export them as csv, cvat or label-studio)")


def undo_import(project: Any, report: InterchangeReport) -> None:
    """Take a finished import back (one transaction)."""
    drafts: Iterable[OpDraft] = report.undo
    if drafts:
        project.apply_all(drafts)
        report.undo = []
