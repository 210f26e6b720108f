"""`labeldesk metrics`: inter-annotator agreement of a project's layers (dual labeling)."""
from __future__ import annotations

from labeldesk.core.numbering import plane_label

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Callable

FORMATS = ("table", "csv", "json")


def register(command: Callable[..., Any]) -> None:
    p = command("metrics", cmd_metrics,
                "inter-annotator agreement between layers: shapes matched at an IoU threshold "
                "(precision, recall, F1, mean IoU), mask Dice and HD95 in mm, classification "
                "agreement (percent, Cohen's and Fleiss' kappa, Krippendorff's alpha), per layer "
                "pair, class and item, and a review queue ordered lowest agreement first")
    p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("--iou", type=float, default=0.5,
                   help="IoU (points: OKS-like similarity) at which two shapes match (default 0.5)")
    p.add_argument("--tolerance", type=float, default=1.0, metavar="MM",
                   help="surface-Dice tolerance of mask comparisons in mm (pixels where the asset "
                        "has no spacing; default 1)")
    p.add_argument("--layers", nargs="+", metavar="LAYER",
                   help="layers to compare, by name or id (default: every annotator layer)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (readable, default), csv (one row per pair/class/item/volume/"
                        "track/attribute/queue entry, the first column names the table) or json (everything, nested)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--queue", action="store_true", help="only the review queue, lowest agreement first")
    p.add_argument("--asset", metavar="ASSET",
                   help="one asset (name or id): list each annotation of the two layers as matched, "
                        "class_mismatch, low_iou or unmatched, with its partner and IoU")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-unsafe-location", action="store_true",
                   help="allow a project store on a network filesystem or synced folder (risk of corruption)")


def cmd_metrics(args: argparse.Namespace) -> int:
    from labeldesk.cli import ProgressBar, _open
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review.comparison import compare_project, queue_by_agreement
    from labeldesk.core.tasks import Progress

    if args.layers is not None and len(args.layers) < 2:
        raise LabeldeskError("--layers needs at least two layers (names or ids)")
    with _open(args) as project:
        if args.asset:
            text = _asset_report(project, args)
            return _write(text, args)
        progress = Progress(None if args.quiet else ProgressBar())
        report = compare_project(project, args.iou, args.layers, progress, args.tolerance)
        queue = queue_by_agreement(project, report=report)
        if args.format == "json":
            data = {"queue": [_queue_row(report, e) for e in queue]}
            if not args.queue:
                data = {**report.to_dict(), **data}
            text = json.dumps(data, indent=2, sort_keys=False) + "\n"
        elif args.format == "csv":
            text = _csv(report, queue, args.queue)
        else:
            text = _table(report, queue, args.queue)
    return _write(text, args)


def _write(text: str, args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    if args.output:
        out = Path(args.output)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise LabeldeskError(f"{out}: cannot write the metrics ({exc.strerror or exc})") from exc
        print(f"wrote {args.format} metrics to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _asset_report(project: Any, args: argparse.Namespace) -> str:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review.comparison import compare_layers, select_layers
    found = [a for a in project.assets() if a.id == args.asset] or \
        [a for a in project.assets() if a.name == args.asset]
    if len(found) != 1:
        raise LabeldeskError(f"{project.root}: {'no' if not found else 'more than one'} asset named "
                             f"or with id {args.asset!r}" + ("; give its id" if found else ""))
    asset = found[0]
    layers = select_layers(project, args.layers)
    if len(layers) != 2:
        raise LabeldeskError(f"--asset compares two layers; the project has {len(layers)} annotator "
                             "layers: choose two with --layers A B")
    la, lb = layers
    cmp = compare_layers(project, asset.id, la.id, lb.id, iou=args.iou)
    partner: dict[str, tuple[str, float]] = {}
    for m in cmp.pairs:
        partner[m.a] = (m.b, m.iou)
        partner[m.b] = (m.a, m.iou)
    names = {c.id: c.name for c in project.classes()}
    status = cmp.status
    rows = []
    for layer in (la, lb):
        for ann in project.annotations(asset.id, layer_id=layer.id):
            other, iou = partner.get(ann.id, (None, None))
            rows.append({"annotation_id": ann.id, "layer": layer.name, "plane": plane_label(ann.plane),
                         "kind": ann.geometry.kind, "class": names.get(ann.class_id, "(none)"),
                         "status": status.get(ann.id, "unmatched"), "partner": other,
                         "iou": None if iou is None else round(iou, 6)})
    if args.format == "json":
        return json.dumps({"asset": asset.name, "asset_id": asset.id, "iou_threshold": args.iou,
                           "layer_a": la.name, "layer_b": lb.name, "annotations": rows}, indent=2) + "\n"
    if args.format == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, list(rows[0]) if rows else ["annotation_id"], lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return buf.getvalue()
    counts = {s: sum(r["status"] == s for r in rows) for s in ("matched", "class_mismatch", "low_iou", "unmatched")}
    title = (f"{asset.name}: {la.name} vs {lb.name} at IoU {args.iou} - "
             + "annotations " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return _grid(title, rows, [("layer", "layer"), ("plane", "plane"), ("kind", "kind"), ("class", "class"),
                               ("status", "status"), ("iou", "IoU"), ("annotation_id", "annotation"),
                               ("partner", "partner")])


def _queue_row(report: Any, e: Any) -> dict[str, Any]:
    return {"asset_id": e.asset_id, "asset": e.asset_name, "plane": plane_label(e.plane) if e.plane else "asset",
            "score": round(e.score, 6), "layer_a": report.layer_name(e.layer_a),
            "layer_b": report.layer_name(e.layer_b), "reason": e.reason}


def _rows(report: Any, queue: list[Any], only_queue: bool) -> list[tuple[str, list[dict[str, Any]]]]:
    q = [_queue_row(report, e) for e in queue]
    if only_queue:
        return [("queue", q)]
    items = [{k: v for k, v in r.items() if k != "masks"} for r in report.item_rows()]
    return [("pair", report.pair_rows()), ("class", report.class_rows()), ("item", items),
            ("volume", report.volume_rows()), ("track", report.track_rows()),
            ("attribute", report.attribute_rows()), ("queue", q)]


def _csv(report: Any, queue: list[Any], only_queue: bool) -> str:
    tables = _rows(report, queue, only_queue)
    columns: list[str] = []
    for _, rows in tables:
        for r in rows:
            columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["table"] + columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for name, rows in tables:
        for r in rows:
            w.writerow({"table": name, **{k: ("" if v is None else v) for k, v in r.items()}})
    return buf.getvalue()


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _grid(title: str, rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> str:
    if not rows:
        return f"{title}: none\n"
    cells = [[h for _, h in cols]] + [[_fmt(r.get(k)) for k, _ in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = [title]
    for n, c in enumerate(cells):
        lines.append("  " + "  ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _table(report: Any, queue: list[Any], only_queue: bool) -> str:
    out = []
    shape_cols = [("n_a", "A"), ("n_b", "B"), ("matched", "match"), ("class_mismatch", "cls diff"),
                  ("unmatched_a", "only A"), ("unmatched_b", "only B"), ("precision", "prec"),
                  ("recall", "recall"), ("f1", "F1"), ("mean_iou", "mIoU"), ("mask_dice", "mask Dice")]
    if not only_queue:
        out.append(f"IoU threshold {report.threshold}; layers: "
                   + ", ".join(l.name for l in report.layers) + "\n")
        out.append(_grid("Layer pairs", report.pair_rows(),
                         [("layer_a", "layer A"), ("layer_b", "layer B"), ("assets_compared", "assets")]
                         + shape_cols + [("class_percent", "cls %agree"), ("class_kappa", "cls kappa")]))
        out.append(_grid("Classes", report.class_rows(),
                         [("class", "class"), ("layer_a", "layer A"), ("layer_b", "layer B"),
                          ("n_a", "A"), ("n_b", "B"), ("matched", "match"), ("class_mismatch", "cls diff"),
                          ("f1", "F1"), ("mean_iou", "mIoU"), ("mask_dice", "mask Dice")]))
        out.append(_grid("Items (asset + plane)", report.item_rows(),
                         [("asset", "asset"), ("plane", "plane"), ("layer_a", "layer A"),
                          ("layer_b", "layer B")] + shape_cols + [("mask_hd95_mm", "HD95 mm"),
                                                                  ("score", "score")]))
        if report.volumes:
            out.append(_grid("Volumes (3-D masks)", report.volume_rows(),
                             [("asset", "asset"), ("class", "class"), ("layer_a", "layer A"),
                              ("layer_b", "layer B"), ("dice", "Dice"), ("hd95", "HD95 mm"),
                              ("assd", "ASSD mm"), ("surface_dice", f"sDice@{report.tolerance:g}mm"),
                              ("volume_a", "vol A mm3"), ("volume_b", "vol B mm3")]))
        if report.tracks:
            out.append(_grid("Video tracks", report.track_rows(),
                             [("asset", "asset"), ("layer_a", "layer A"), ("layer_b", "layer B"),
                              ("frames_compared", "frames"), ("tracks_a", "tracks A"), ("tracks_b", "tracks B"),
                              ("id_switches", "ID switches"), ("mean_f1", "mean F1"), ("mean_iou", "mIoU")]))
        attrs = report.attribute_rows()
        if attrs:
            out.append(_grid("Attributes on matched shapes", attrs,
                             [("class", "class"), ("attribute", "attribute"), ("type", "type"),
                              ("layer_a", "layer A"), ("layer_b", "layer B"), ("n", "pairs"),
                              ("percent", "%agree"), ("statistic", "statistic"), ("value", "value")]))
        stats = report.classification_stats()
        lines = [f"Classifications: {stats['units']} unit(s)"]
        for key in ("percent", "fleiss", "alpha"):
            s = stats[key]
            lines.append(f"  {s.name}: {s.text()} (n={s.n})" + (f"  [{s.reason}]" if s.reason else ""))
        for pc in stats["pairs"]:
            lines.append(f"  {report.layer_name(pc.layer_a)} vs {report.layer_name(pc.layer_b)}: "
                         f"agreement {pc.percent.text()}, Cohen's kappa {pc.kappa.text()} (n={pc.kappa.n})"
                         + (f"  [{pc.kappa.reason}]" if pc.kappa.reason else ""))
        out.append("\n".join(lines) + "\n")
    out.append(_grid("Review queue (lowest agreement first)", [_queue_row(report, e) for e in queue],
                     [("score", "score"), ("asset", "asset"), ("plane", "plane"), ("layer_a", "layer A"),
                      ("layer_b", "layer B"), ("reason", "why")]))
    return "\n".join(out)
