"""`labeldesk import`, `labeldesk export` and `labeldesk formats`: annotation files in and out.

Ctrl+C during an import or export cancels it cleanly: an import changes nothing (it is one
transaction), an export leaves no half-written output.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from typing import Any, Callable, Iterator

UNSAFE_HELP = "allow a project store on a network filesystem or synced folder (risk of corruption)"


def register(command: Callable[..., Any]) -> None:
    p = command("import", cmd_import, "import annotations from COCO, YOLO, VOC, CVAT, labelme, Label Studio, "
                                      "MOT, CSV, NIfTI, DICOM SEG or RTSTRUCT files into a project (refused items "
                                      "are reported; then the document snapshot of each image of 5,000+ shapes it "
                                      "changed is written, so that its first open in the app is quick)")
    p.add_argument("project", metavar="PROJECT", help="project folder")
    p.add_argument("file", metavar="FILE", help="annotation file, folder or .zip archive")
    p.add_argument("--format", default="auto", metavar="F",
                   help="format name (see `labeldesk formats`; default: detected from the file)")
    p.add_argument("--create-classes", action="store_true",
                   help="add classes the ontology lacks (default: refuse their annotations)")
    p.add_argument("--layer", metavar="NAME", help="layer to import into, by name or id; created if missing "
                   "(default: your own layer; a predictions layer for COCO results)")
    p.add_argument("--model", metavar="NAME", help="model that made these predictions (kept with each annotation)")
    p.add_argument("--model-version", metavar="V", help="version of that model")
    p.add_argument("--gt", metavar="FILE", help="COCO results: the ground-truth COCO file that defines "
                   "image ids and category ids")
    p.add_argument("--min-score", type=float, metavar="S", help="COCO results: leave out detections scored below S")
    p.add_argument("--threshold", type=float, metavar="P",
                   help="DICOM SEG: make fractional segments binary masks of the pixels at or above probability P "
                        "(default: keep the probabilities beside the masks)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a format option (e.g. asset=ct.nii.gz for NIfTI or DICOM SEG); repeatable")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE_HELP)

    p = command("export", cmd_export, "export annotations to COCO, YOLO, VOC, CVAT, labelme, Label Studio, "
                                      "MOT, CSV, NIfTI, DICOM SEG or RTSTRUCT (what a format cannot hold is "
                                      "reported)")
    p.add_argument("project", metavar="PROJECT", help="project folder")
    p.add_argument("fmt", metavar="FORMAT", help="format name (see `labeldesk formats`)")
    p.add_argument("dest", metavar="DEST", help="output file, folder, or a .zip archive")
    p.add_argument("--layer", metavar="final|mine|NAME",
                   help="final (the adjudicated layer), mine (your own layer), or a layer name, id or "
                        "annotator user name (default: final if the project has one, else mine)")
    p.add_argument("--classes", metavar="A,B", help="only these classes (comma-separated names)")
    p.add_argument("--since", metavar="T", help="only annotations made or changed at or after T "
                   "(e.g. 2026-03-01 or 2026-03-01T14:30, local time unless a zone is given)")
    p.add_argument("--until", metavar="T", help="only annotations made or changed before T")
    p.add_argument("--assets", nargs="+", metavar="ASSET", help="only these assets (names or ids)")
    p.add_argument("--overwrite", action="store_true", help="replace DEST if it exists")
    p.add_argument("--polygon-holes", choices=("rle", "rings"),
                   help="COCO: write polygons with holes as RLE masks (default; what COCO readers read "
                        "correctly) or as extra rings (COCO readers fill the holes)")
    p.add_argument("--images", nargs="?", const="copy", choices=("copy", "png", "raw16"),
                   help="COCO/YOLO/VOC: write the image files too (copy originals; planes of videos and "
                        "volumes rendered to PNG), every plane as PNG, or volume slices as raw 16-bit PNG")
    p.add_argument("--window", metavar="C,W|PRESET",
                   help="window for rendered slices: center,width (e.g. 40,400) or abdomen, lung, bone, "
                        "brain, soft tissue (default: the series' own window)")
    p.add_argument("--split", metavar="train=0.8,val=0.2|classification",
                   help="COCO/YOLO/VOC subsets: fractions by a seeded hash of each asset (stable across "
                        "exports), or by the asset's classification named train/val/test")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed of --split (default 0)")
    p.add_argument("--with-predictions", action="store_true",
                   help="Label Studio: also write the project's predictions layers as the tasks' predictions "
                        "(model version and score)")
    p.add_argument("--segmentation-type", choices=("auto", "binary", "fractional"), default=None,
                   help="DICOM SEG: FRACTIONAL when a mask carries probabilities (auto, the default), or always "
                        "binary (probabilities thresholded at 0.5) or fractional")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a format option; repeatable")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE_HELP)

    command("formats", cmd_formats, "list the annotation formats import and export understand")

    p = command("classes", cmd_classes, "list the classes with their stable label values, codes, coded concepts "
                                        "and keypoints, or change them for one class (--set)")
    p.add_argument("project", metavar="PROJECT", help="project folder")
    p.add_argument("--set", metavar="CLASS", dest="target", help="the class to change (name or id)")
    p.add_argument("--value", type=int, metavar="N", help="its label value (NIfTI voxel value, COCO category id, "
                   "YOLO index + 1); must be free")
    p.add_argument("--code", metavar="TEXT", help="its short code ('' clears it)")
    p.add_argument("--type", dest="concept_type", metavar="SCHEME:CODE:MEANING",
                   help="coded type for DICOM SEG, e.g. SCT:10200004:Liver ('' clears it)")
    p.add_argument("--category", dest="concept_category", metavar="SCHEME:CODE:MEANING",
                   help="coded category, e.g. SCT:123037004:Anatomical Structure")
    p.add_argument("--keypoints", metavar="A,B,C", help="keypoint names in order ('' clears them)")
    p.add_argument("--skeleton", metavar="1-2,2-3", help="keypoint skeleton edges (1-based)")
    p.add_argument("--json", action="store_true", help="print the classes as JSON")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE_HELP)


def _options(pairs: list[str]) -> dict[str, Any]:
    from labeldesk.core.errors import LabeldeskError
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise LabeldeskError(f"--option {pair!r}: expected KEY=VALUE")
        out[key.strip().replace("-", "_")] = value
    return out


@contextlib.contextmanager
def _cancel_on_interrupt(progress: Any) -> Iterator[None]:
    """Ctrl+C asks the running core function to stop at its next check (a clean cancel)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        progress.cancel()

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _progress(args: argparse.Namespace) -> Any:
    from labeldesk.cli import ProgressBar
    from labeldesk.core.tasks import Progress
    return Progress(None if args.quiet else ProgressBar())


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    if report.refused:
        common = report.reasons().most_common(5)
        if len(report.refused) > 10:
            print("refused by reason: " + "; ".join(f"{n} x {r}" for r, n in common))
    for line in report.lines(limit=50)[1:]:
        print(line)
    print(report.summary())


def cmd_import(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.interchange import import_file
    options = _options(args.option)
    options["create_classes"] = bool(args.create_classes)
    for key in ("layer", "model", "model_version", "gt", "min_score", "threshold"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if args.model_version and not args.model:
        raise LabeldeskError("--model-version needs --model NAME")
    from labeldesk.core import document_snapshot
    progress = _progress(args)
    with _open(args) as project:
        mark = document_snapshot.high_water(project.conn)
        with _cancel_on_interrupt(progress):
            try:
                report = import_file(project, args.format, args.file, progress, options)
            except KeyboardInterrupt:
                print("cancelled: nothing was changed", file=sys.stderr)
                return 130
        _print_report(report, args.json)
        if report.cancelled:
            return 130
        if report.imported:
            # the document of each large asset it changed, saved now: its first open in the app is not a cold read
            document_snapshot.write_ahead_since(project.conn, mark)
        return 1 if report.refused and not report.imported else 0


def cmd_export(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core.interchange import Selection, export
    from labeldesk.core.formats.selection import parse_time
    options = _options(args.option)
    options["overwrite"] = bool(args.overwrite)
    if args.with_predictions:
        options["with_predictions"] = True
    for key in ("polygon_holes", "images", "window", "split", "seed", "segmentation_type"):
        if getattr(args, key, None) is not None:
            options[key] = getattr(args, key)
    selection = Selection(
        layer=args.layer,
        classes=tuple(c.strip() for c in (args.classes or "").split(",") if c.strip()),
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        assets=tuple(args.assets or ()))
    progress = _progress(args)
    with _open(args) as project:
        with _cancel_on_interrupt(progress):
            try:
                report = export(project, args.fmt, args.dest, selection, progress, options)
            except KeyboardInterrupt:
                print("cancelled: nothing was written", file=sys.stderr)
                return 130
        _print_report(report, args.json)
        return 130 if report.cancelled else 0


def cmd_formats(args: argparse.Namespace) -> int:
    from labeldesk.core.interchange import formats
    print(f"{'format':<13} {'import':<7} {'export':<7} description")
    for f in formats():
        print(f"{f.name:<13} {'yes' if f.can_import else '-':<7} {'yes' if f.can_export else '-':<7} {f.title}")
    return 0


def cmd_classes(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.ontology_codes import collision_text, concept_of, identity_changes, value_collisions
    from labeldesk.core.ops import OpDraft
    with _open(args) as project:
        classes = project.classes()
        if args.target:
            found = [c for c in classes if args.target in (c.id, c.name)]
            if len(found) != 1:
                raise LabeldeskError(f"no class {args.target!r}" if not found else f"{args.target!r} names "
                                     f"{len(found)} classes; give its id")
            try:
                changes = identity_changes(found[0], value=args.value, code=args.code, concept_type=args.concept_type,
                                           concept_category=args.concept_category, keypoints=args.keypoints,
                                           skeleton=args.skeleton)
            except ValueError as exc:
                raise LabeldeskError(str(exc)) from None
            if changes:
                project.apply(OpDraft("ontology.class.update", found[0].id, {"set": changes},
                                      reason="class identity edited"))
            classes = project.classes()
        rows = []
        for c in classes:
            concept, standard = concept_of(c.name, c.concept, c.code, c.value or 0)
            rows.append({"id": c.id, "name": c.name, "value": c.value, "code": c.code,
                         "type": concept["type"] if standard else None, "own_concept": bool(c.concept),
                         "keypoints": c.keypoints or None, "merged": bool(c.merged_into), "deprecated": c.deprecated})
        collisions = value_collisions(classes)
        for r in rows:
            r["shares_value_with"] = [c.name for v, cs in collisions if v == r["value"] for c in cs
                                      if c.id != r["id"]]
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return 1 if collisions else 0
        print(f"{'value':>5}  {'code':<10} {'class':<24} coded type (DICOM SEG)")
        for r in sorted(rows, key=lambda r: (r["value"] is None, r["value"] or 0)):
            t = r["type"]
            coded = f"{t['scheme']} {t['value']} {t['meaning']}" + ("" if r["own_concept"] else " (default table)") \
                if t else "-"
            state = " [merged]" if r["merged"] else " [deprecated]" if r["deprecated"] else ""
            kp = f"  keypoints: {', '.join(r['keypoints'].get('names', []))}" if r["keypoints"] else ""
            clash = f"  ⚠ value shared with {', '.join(r['shares_value_with'])}" if r["shares_value_with"] else ""
            print(f"{r['value'] if r['value'] is not None else '-':>5}  {r['code'] or '-':<10} "
                  f"{r['name'] + state:<24} {coded}{kp}{clash}")
        for v, cs in collisions:
            print(f"problem: {collision_text(v, cs)}", file=sys.stderr)
        return 1 if collisions else 0
