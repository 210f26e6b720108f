"""`labeldesk` sub-commands: model predictions (list, accept, reject), queue order, releases."""
from __future__ import annotations

from labeldesk.core.numbering import plane_dict_label, plane_label

import argparse
import json
import sys
from typing import Any, Callable

PREDICTIONS_USAGE = """\
labeldesk predictions PROJECT [--asset A] [--layer L] [--status S] [--json]
labeldesk predictions accept PROJECT [ID ...] [--asset A] [--layer L] [--min-score S] [--max-score S] [--into LAYER] [--all]
labeldesk predictions reject PROJECT [ID ...] [--asset A] [--layer L] [--min-score S] [--max-score S] [--reason TEXT] [--all]"""


def register(command: Callable[..., Any]) -> None:
    p = command("predictions", cmd_predictions,
                "list model predictions with score, model and status (pending/accepted/edited/rejected); "
                "accept them into your layer or reject them")
    p.usage = PREDICTIONS_USAGE
    p.add_argument("words", nargs="+", metavar="[accept|reject] PROJECT [ID ...]",
                   help="without a verb: list the predictions of PROJECT; 'accept' copies predictions into "
                        "your annotator layer (linked to the prediction); 'reject' marks them rejected. "
                        "IDs choose predictions by annotation id; otherwise the filters choose")
    p.add_argument("--asset", help="only this asset (name or id)")
    p.add_argument("--layer", help="only this predictions layer (name or id)")
    p.add_argument("--status", choices=("pending", "accepted", "edited", "rejected"), help="list: only this status")
    p.add_argument("--min-score", type=float, help="only predictions with score >= S (bulk accept above a threshold)")
    p.add_argument("--max-score", type=float, help="only predictions with score <= S (e.g. bulk reject below one)")
    p.add_argument("--into", metavar="LAYER", help="accept: the layer to copy into (default: your annotator layer)")
    p.add_argument("--reason", help="reject/accept: why (kept with the decision)")
    p.add_argument("--all", action="store_true", help="accept/reject: every pending prediction that passes the filters")
    p.add_argument("--json", action="store_true", help="list: machine-readable output")

    p = command("queue-order", cmd_queue_order,
                "print the to-do queue ordered by model uncertainty (least confident, margin, entropy) or by "
                "disagreement between two predictions layers, most uncertain first")
    p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("--by", required=True, choices=("least-confident", "margin", "entropy", "disagreement"),
                   help="least-confident: 1 - max score; margin: top-two class score difference (small first); "
                        "entropy: of the class scores (or of score vs 1 - score); disagreement: 1 - IoU agreement "
                        "of two predictions layers after greedy one-to-one IoU matching")
    p.add_argument("--layers", nargs="+", metavar="LAYER",
                   help="predictions layers to use (names or ids); disagreement needs exactly two "
                        "(default: all predictions layers)")
    p.add_argument("--planes", action="store_true", help="order asset planes (slices, frames) instead of assets")
    p.add_argument("--aggregate", choices=("max", "mean"), default="max",
                   help="how an asset's predictions combine: the most uncertain one (max, default) or the mean")
    p.add_argument("--iou", type=float, default=0.5,
                   help="disagreement: IoU at which two predictions match (default 0.5); margin: at which they overlap")
    p.add_argument("--pending", action="store_true", help="count only predictions nobody has accepted or rejected")
    p.add_argument("--todo", action="store_true",
                   help="leave out assets your layer has submitted for review or that are approved or adjudicated")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("release", cmd_release,
                "immutable, named snapshots of the final labels: create, list, diff, verify")
    sub = p.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="snapshot the final layer(s) into releases/NAME/ with a manifest",
                       description="snapshot the final layer(s) (or --layer) into PROJECT/releases/NAME/: "
                                   "labels.json, coco.json (when the COCO exporter is available) and manifest.json "
                                   "(counts per class and kind, ontology version, release op id, SHA-256 of every file). "
                                   "A name is used once; a release is never overwritten.")
    c.add_argument("project", metavar="DIR", help="project folder")
    c.add_argument("name", metavar="NAME", help="release name (letters, digits, '.', '_', '-')")
    c.add_argument("--layer", help="the layer to release (name, id or annotator's user name; default: final)")
    c.add_argument("--no-coco", action="store_true", help="do not write coco.json")
    c = sub.add_parser("list", help="list the releases in the order they were made")
    c.add_argument("project", metavar="DIR", help="project folder")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c = sub.add_parser("diff", help="annotations added, removed and changed between two releases, and per class counts",
                       description="compare release OLD with NEW (default: OLD with the release before it)")
    c.add_argument("project", metavar="DIR", help="project folder")
    c.add_argument("old", metavar="A", help="a release name")
    c.add_argument("new", metavar="B", nargs="?", help="a later release (default: compare A with the one before A)")
    c.add_argument("--ids", action="store_true", help="list every added, removed and changed annotation id")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c = sub.add_parser("verify", help="recompute the SHA-256 of every file of a release and compare with the manifest "
                                      "and the project's record")
    c.add_argument("project", metavar="DIR", help="project folder")
    c.add_argument("name", metavar="NAME", help="release name")


# ---- predictions -------------------------------------------------------------------------------------
def _parse_words(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    from labeldesk.core.errors import LabeldeskError
    words = list(args.words)
    verb = "list"
    if words[0] in ("accept", "reject", "list"):
        verb = words.pop(0)
    if not words:
        raise LabeldeskError(f"predictions {verb}: name the project folder")
    project, ids = words[0], words[1:]
    if verb == "list" and ids:
        raise LabeldeskError(f"predictions: unexpected {' '.join(ids)!r} after the project (did you mean "
                             f"`predictions accept {project} ...`?)")
    return verb, project, ids


def cmd_predictions(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core import predictions as P
    from labeldesk.core.errors import LabeldeskError
    verb, args.project, ids = _parse_words(args)
    with _open(args) as project:
        asset_id = P.find_asset(project, args.asset).id if args.asset else None
        states = P.predictions(project, asset_id, args.layer)
        if verb == "list":
            chosen = P.select(states, min_score=args.min_score, max_score=args.max_score, status=args.status)
            _print_predictions(project, chosen, args.json)
            return 0
        if not ids and not (args.all or args.min_score is not None or args.max_score is not None or args.asset):
            raise LabeldeskError(f"predictions {verb}: name predictions by id, or choose them with --min-score, "
                                 "--max-score, --asset or --all")
        known = {s.prediction.id for s in states}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise LabeldeskError(f"not predictions of this project (or outside --asset/--layer): {', '.join(unknown)}")
        chosen = P.select(states, ids_=ids, min_score=args.min_score, max_score=args.max_score)
        if not ids:
            chosen = [s for s in chosen if s.status == "pending"]
        into = None
        if verb == "accept" and args.into:
            layer = next((l for l in project.layers() if args.into in (l.id, l.name)), None)
            if layer is None:
                raise LabeldeskError(f"no layer {args.into!r}")
            into = layer.id
        report = P.decide(project, chosen, verb, layer_id=into, reason=args.reason)
        for pid, why in report.skipped:
            print(f"skipped  {pid}: {why}")
        print(f"{verb}ed {len(report.decided)} prediction(s)" + (f", skipped {len(report.skipped)}" if report.skipped else ""))
        return 0


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _print_predictions(project: Any, states: list[Any], as_json: bool) -> None:
    classes = {c.id: c.name for c in project.classes()}
    assets = {a.id: a.name for a in project.assets(include_removed=True)}
    layers = {l.id: l.name for l in project.layers()}
    rows = []
    for s in states:
        a, p = s.prediction, s.provenance
        rows.append({
            "id": a.id, "asset": assets.get(a.asset_id, a.asset_id), "plane": a.plane.to_dict(),
            "layer": layers.get(a.layer_id, a.layer_id), "class": classes.get(a.class_id or "", None),
            "kind": a.geometry.kind, "score": s.score, "model": p.model if p else None,
            "version": p.version if p else None, "status": s.status,
            "copies": [{"id": c.id, "layer": layers.get(c.layer_id, c.layer_id), "iou": ch.iou,
                        "geometry_changed": ch.geometry_changed, "class_changed": ch.class_changed,
                        "attributes_changed": ch.attributes_changed} for c, ch in s.copies],
            "reasons": [r for r in s.reasons if r]})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no predictions")
        return
    for r in rows:
        model = (r["model"] or r["layer"]) + (f" {r['version']}" if r["version"] else "")
        plane = r["plane"]
        where = r["asset"] + ("" if plane == {"z": 0, "t": 0, "axis": "axial"}
                              else f" {plane_dict_label(plane)}")
        line = f"{r['id']}  {where}  {r['class'] or '(no class)'} {r['kind']}  score {_fmt(r['score'])}  " \
               f"{model}  {r['status']}"
        for c in r["copies"]:
            changed = [k for k in ("geometry", "class", "attributes") if c[f"{k}_changed"]]
            line += f"  [copy in {c['layer']}: IoU {_fmt(c['iou'])}" + \
                    (f", changed {'/'.join(changed)}" if changed else "") + "]"
        if r["reasons"]:
            line += "  (" + "; ".join(r["reasons"]) + ")"
        print(line)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"{len(rows)} prediction(s): " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))


# ---- queue order ---------------------------------------------------------------------------------------
def cmd_queue_order(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core.assist.prioritisation import order_queue
    with _open(args) as project:
        items = order_queue(project, args.by, args.layers or (), planes=args.planes, aggregate=args.aggregate,
                            threshold=args.iou, overlap=args.iou, pending_only=args.pending,
                            todo_only=args.todo)
        if args.json:
            print(json.dumps([{"asset_id": it.asset_id, "asset": it.asset_name,
                               "plane": it.plane.to_dict() if it.plane else None, args.by: it.value,
                               "predictions": it.predictions} for it in items], indent=2))
            return 0
        for rank, it in enumerate(items, 1):
            plane = "" if it.plane is None else f" {plane_label(it.plane)}"
            if it.value is None:
                value, extra = ("no scores" if it.predictions else "no predictions"), ""
            else:
                value, extra = f"{args.by} {it.value:.4f}", (f" ({it.detail})" if it.detail else "")
            print(f"{rank:>4}  {it.asset_name}{plane}  {value}  {it.predictions} prediction(s){extra}")
        return 0


# ---- releases ------------------------------------------------------------------------------------------
def cmd_release(args: argparse.Namespace) -> int:
    from labeldesk.cli import ProgressBar, _open
    from labeldesk.core import releases as R
    from labeldesk.core.tasks import Progress
    with _open(args) as project:
        action = args.release_command
        if action == "create":
            rel = R.create(project, args.name, args.layer, Progress(ProgressBar()), coco=not args.no_coco)
            c = rel.counts
            print(f"release {rel.name!r} created in {rel.path} (op {rel.op_id})")
            print(f"  {c['annotations']} annotations on {c['assets_with_labels']} of {c['assets']} assets, "
                  f"{c['classifications']} classifications; files: {', '.join(sorted(rel.files))}, manifest.json")
            for name, n in sorted(c["by_class"].items()):
                print(f"  {name:<24} {n}")
            return 0
        if action == "list":
            rels = R.releases(project)
            if args.json:
                print(json.dumps([{"name": r.name, "id": r.id, "op_id": r.op_id, "created": r.wall,
                                   "layers": [l["name"] for l in r.layers], "counts": r.counts,
                                   "previous": r.previous, "path": str(r.path), "here": r.here,
                                   "shadowed": r.shadowed} for r in rels], indent=2))
                return 0
            if not rels:
                print("no releases yet")
            for r in rels:
                missing = "" if r.here else "  (folder not on this machine)"
                if r.shadowed:
                    missing += "  (another device made a release of this name first)"
                print(f"{r.name:<20} {r.wall}  {r.counts['annotations']} annotations  layers "
                      f"{', '.join(l['name'] for l in r.layers)}{missing}")
            return 0
        if action == "diff":
            return _print_diff(R.diff(project, args.old, args.new), args.ids, args.json)
        if action == "verify":
            v = R.verify(project, args.name)
            for problem in v.problems:
                print(f"FAILED  {problem}")
            if v.ok:
                print(f"release {v.name!r}: {v.checked} file(s) verified, manifest matches the project's record")
                return 0
            print(f"release {v.name!r}: {len(v.problems)} problem(s)", file=sys.stderr)
            return 1
    return 2


def _print_diff(d: Any, ids: bool, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"old": d.old, "new": d.new, "added": d.added, "removed": d.removed,
                          "changed": [{"id": i, "fields": f} for i, f in d.changed],
                          "by_class": {k: {"old": a, "new": b} for k, (a, b) in d.by_class.items()},
                          "classifications_added": d.classifications_added,
                          "classifications_removed": d.classifications_removed}, indent=2))
        return 0
    print(f"{d.old} -> {d.new}: {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed annotations; "
          f"{len(d.classifications_added)} classifications added, {len(d.classifications_removed)} removed")
    for name, (a, b) in d.by_class.items():
        delta = b - a
        print(f"  {name:<24} {a:>6} -> {b:<6} ({'+' if delta >= 0 else ''}{delta})")
    if ids:
        for i in d.added:
            print(f"added    {i}")
        for i in d.removed:
            print(f"removed  {i}")
        for i, fields in d.changed:
            print(f"changed  {i}  ({', '.join(fields)})")
    return 0
