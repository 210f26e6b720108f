"""`labeldesk model …`, `labeldesk predict`, `labeldesk learn`, `labeldesk evaluate`: model assistance,
offline (ONNX Runtime and scikit-learn on this machine; nothing is ever downloaded).

Ctrl+C during `predict` or `learn` stops after the current plane; the planes done are kept.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

UNSAFE_HELP = "allow a project store on a network filesystem or synced folder (risk of corruption)"


def _common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("project", metavar="PROJECT", help="project folder")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE_HELP)
    return p


def _targets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assets", nargs="+", metavar="ASSET", help="only these assets (names or ids; default: all)")
    p.add_argument("--slices", metavar="A:B", help="only slices/frames A to B-1 of volumes and videos")
    p.add_argument("--every", type=int, default=1, metavar="N", help="every Nth slice/frame (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def register(command: Callable[..., Any]) -> None:
    model = command("model", lambda a: (model.print_help(), 2)[1],
                    "the project's model registry: add ONNX models with their manifest, list, retire; "
                    "active-learning queues")
    sub = model.add_subparsers(dest="model_command", metavar="ACTION")
    q = _common(sub.add_parser("add", help="add a model from its manifest (JSON) and ONNX file(s); a model that "
                                           "does not match its manifest is refused with the reason",
                               description="add a model from its manifest and file(s), copied into the project"))
    q.add_argument("manifest", metavar="MANIFEST", help="the manifest JSON (see README: Model assistance)")
    q.add_argument("--file", action="append", default=[], metavar="ROLE=PATH",
                   help="a file where the manifest's path is not (roles: model, or encoder and decoder); repeatable")
    q.set_defaults(func=cmd_model_add)
    q = _common(sub.add_parser("list", help="list the registered models", description="list the registered models"))
    q.add_argument("--all", action="store_true", help="include retired models")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_model_list)
    q = _common(sub.add_parser("retire", help="hide a model from the pickers (its record and predictions stay)",
                               description="hide a model from the pickers"))
    q.add_argument("model", metavar="MODEL", help="name, name@version or id")
    q.set_defaults(func=cmd_model_retire)
    q = _common(sub.add_parser("queue", help="order assets/slices to label next and save the order as a queue "
                                             "shared with the team", description="build and save an active-learning queue"))
    q.add_argument("--by", choices=("least-confident", "margin", "entropy", "disagreement", "diversity"),
                   help="model uncertainty, disagreement between two predictions layers, or diversity of the images")
    q.add_argument("--layers", nargs="+", metavar="LAYER", help="predictions layers (disagreement: exactly two)")
    q.add_argument("--save", metavar="NAME", help="save the order as the queue NAME")
    q.add_argument("--show", metavar="NAME", help="print the saved queue NAME instead")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_model_queue)

    p = _common(command("predict", cmd_predict, "pre-label assets, slices or frames with a registered detector or "
                                                "segmenter into its predictions layer (accept/reject as usual)"))
    p.add_argument("model", metavar="MODEL", help="name, name@version or id (see `labeldesk model list`)")
    _targets_args(p)
    p.add_argument("--layer", metavar="NAME", help="predictions layer (default: '<model> <version>')")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = _common(command("learn", cmd_learn, "train the pixel classifier on your labels (and the final layer), save "
                                            "it as a new version and propose masks on the unlabelled slices/images"))
    p.add_argument("--assets", nargs="+", metavar="ASSET", help="learn from these assets (default: all)")
    p.add_argument("--propose-on", nargs="+", metavar="ASSET", help="propose on these assets (default: the same)")
    p.add_argument("--no-propose", action="store_true", help="only train and save")
    p.add_argument("--name", default="pixels", help="model name (versions count up; default 'pixels')")
    p.add_argument("--trees", type=int, default=40, help="random forest size (default 40)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = _common(command("evaluate", cmd_evaluate, "precision, recall, F1 and AP per class of a model version's "
                                                  "predictions against the reviewed (approved/final) labels"))
    p.add_argument("model", metavar="MODEL", help="model name or name@version (as in the predictions' provenance)")
    p.add_argument("--truth", metavar="LAYER", help="compare with this layer instead of the approved and final ones")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    p.add_argument("--min-score", type=float, default=0.0, help="leave out predictions scored below this")
    p.add_argument("--csv", metavar="FILE", help="write the per-class table as CSV ('-' for stdout)")
    p.add_argument("--json", action="store_true", help="print everything (PR curves, confusion matrix) as JSON")


def _progress(args: argparse.Namespace) -> Any:
    from labeldesk.cli import ProgressBar
    from labeldesk.core.tasks import Progress
    return Progress(None if getattr(args, "quiet", False) else ProgressBar())


def _open(args: argparse.Namespace) -> Any:
    from labeldesk.cli import _open as open_project
    return open_project(args)


def cmd_model_add(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.models import registry
    files = {}
    for pair in args.file:
        role, sep, path = pair.partition("=")
        if not sep:
            raise LabeldeskError(f"--file {pair!r}: expected ROLE=PATH (roles: model, encoder, decoder)")
        files[role.strip()] = path
    with _open(args) as project:
        rec = registry.add(project, Path(args.manifest), files)
        print(f"added {rec.task} {rec.name} {rec.version} (id {rec.id}, licence {rec.manifest.licence})")
        for role, f in rec.manifest.files.items():
            print(f"  {role:<8} models/{f['path']}")
    return 0


def _record_dict(r: Any) -> dict[str, Any]:
    d = {"id": r.id, "name": r.name, "version": r.version, "task": r.task, "licence": r.manifest.licence,
         "classes": r.manifest.classes, "input_size": list(r.manifest.input_size), "retired": r.retired,
         "added": r.record.get("wall")}
    if r.record.get("training"):
        t = r.record["training"]
        d["training"] = {k: t.get(k) for k in ("labelled_pixels", "pixels_per_class", "trees")}
        d["training"]["planes"] = len(t.get("planes") or [])
    return d


def cmd_model_list(args: argparse.Namespace) -> int:
    from labeldesk.core.models import registry
    with _open(args) as project:
        recs = registry.list_models(project, include_retired=args.all)
        if args.json:
            print(json.dumps([_record_dict(r) for r in recs], indent=2))
            return 0
        if not recs:
            print("no models; add one with `labeldesk model add PROJECT MANIFEST` or train one with `labeldesk learn`")
        for r in recs:
            extra = ""
            if r.record.get("training"):
                t = r.record["training"]
                extra = f"  trained on {t.get('labelled_pixels')} pixels of {len(t.get('planes') or [])} plane(s)"
            classes = ", ".join(f"{k}->{v}" if k != v else k for k, v in r.manifest.classes.items())
            print(f"{r.name:<20} {r.version:<10} {r.task:<16} {r.manifest.licence:<22} "
                  f"{'[retired] ' if r.retired else ''}{classes}{extra}")
    return 0


def cmd_model_retire(args: argparse.Namespace) -> int:
    from labeldesk.core.models import registry
    from labeldesk.core.ops import OpDraft
    with _open(args) as project:
        rec = registry.find(project, args.model)
        project.apply(OpDraft("model.retire", rec.id, {"retired": True}))
        print(f"retired {rec.label}")
    return 0


def _resolve_assets(project: Any, wanted: list[str] | None) -> list[Any]:
    from labeldesk.core.predictions import find_asset
    return [find_asset(project, w) for w in wanted] if wanted else project.assets()


def _slices(text: str | None) -> range | None:
    from labeldesk.core.errors import LabeldeskError
    if not text:
        return None
    a, sep, b = text.partition(":")
    try:
        return range(int(a or 0), int(b)) if sep else range(int(a), int(a) + 1)
    except ValueError:
        raise LabeldeskError(f"--slices {text!r}: expected A:B (e.g. 10:20) or one number") from None


def cmd_predict(args: argparse.Namespace) -> int:
    from labeldesk.commands.interchange import _cancel_on_interrupt
    from labeldesk.core.models import registry
    from labeldesk.core.models.prelabel import planes_of, prelabel
    progress = _progress(args)
    with _open(args) as project:
        rec = registry.find(project, args.model)
        sl = _slices(args.slices)
        targets = [(a.id, p) for a in _resolve_assets(project, args.assets)
                   for p in planes_of(a, sl, args.every)]
        with _cancel_on_interrupt(progress):
            report = prelabel(project, rec, targets, progress, args.layer)
        layer = next(l.name for l in project.layers() if l.id == report.layer_id)
        if args.json:
            print(json.dumps({"model": rec.name, "version": rec.version, "layer": layer,
                              "planes": len(report.planes_done), "of": len(targets), "predictions": report.predictions,
                              "cancelled": report.cancelled,
                              "skipped": [{"asset": a, "reason": r} for a, r in report.skipped]}, indent=2))
        else:
            for name, why in report.skipped:
                print(f"skipped  {name}: {why}")
            state = "cancelled after" if report.cancelled else "ran on"
            print(f"{rec.label} {state} {len(report.planes_done)} of {len(targets)} plane(s): "
                  f"{report.predictions} prediction(s) in layer {layer!r}; review them with `labeldesk predictions`")
    return 130 if report.cancelled else 0


def cmd_learn(args: argparse.Namespace) -> int:
    from labeldesk.commands.interchange import _cancel_on_interrupt
    from labeldesk.core.models import pixel_classifier as PC
    progress = _progress(args)
    with _open(args) as project:
        assets = [a.id for a in _resolve_assets(project, args.assets)]
        propose_on = [] if args.no_propose else (
            [a.id for a in _resolve_assets(project, args.propose_on)] if args.propose_on else None)
        with _cancel_on_interrupt(progress):
            rec, report = PC.learn(project, assets, args.name, propose_on=propose_on, progress=progress,
                                   trees=args.trees)
        t = rec.record.get("training") or {}
        names = {a.id: a.name for a in project.assets()}
        worst = sorted((report.uncertainty.items() if report else []), key=lambda kv: -kv[1])[:10]
        if args.json:
            print(json.dumps({"model": rec.name, "version": rec.version, "labelled_pixels": t.get("labelled_pixels"),
                              "planes": len(t.get("planes") or []), "predictions": report.predictions if report else 0,
                              "cancelled": bool(report and report.cancelled),
                              "most_uncertain": [{"asset": names.get(a), "plane": p.to_dict(), "uncertainty": round(u, 4)}
                                                 for (a, p), u in worst]}, indent=2))
            return 0
        print(f"trained {rec.name} version {rec.version} on {t.get('labelled_pixels')} labelled pixels of "
              f"{len(t.get('planes') or [])} plane(s) ({', '.join(f'{k}: {v}' for k, v in (t.get('pixels_per_class') or {}).items())})")
        if report is not None:
            print(f"proposed {report.predictions} mask(s) on {len(report.uncertainty)} plane(s)"
                  + (" (cancelled)" if report.cancelled else "") + "; most uncertain first:")
            for (a, p), u in worst:
                print(f"  {names.get(a, a)} {p.axis} z={p.z} t={p.t}  uncertainty {u:.3f}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from labeldesk.core.models.evaluation import evaluate
    name, _, version = args.model.partition("@")
    with _open(args) as project:
        ev = evaluate(project, name, version or None, truth_layer=args.truth, iou=args.iou, min_score=args.min_score)
    if args.csv:
        text = ev.to_csv()
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            Path(args.csv).write_text(text, encoding="utf-8")
            print(f"wrote {args.csv}", file=sys.stderr)
    if args.json:
        print(json.dumps(ev.to_dict(), indent=2))
    if args.json or args.csv == "-":
        return 0

    def f(v: float | None) -> str:
        return "   -  " if v is None else f"{v:6.3f}"
    print(f"{ev.model} {ev.version} against the reviewed labels of {ev.assets} asset(s), IoU >= {ev.iou}")
    print(f"{'class':<20} {'truth':>6} {'pred':>6} {'TP':>5} {'prec':>6} {'recall':>6} {'F1':>6} {'AP':>6}")
    for c in ev.classes:
        print(f"{c.name:<20} {c.truth:>6} {c.predictions:>6} {c.tp:>5} {f(c.precision)} {f(c.recall)} {f(c.f1)} {f(c.ap)}")
    print(f"mAP {f(ev.map).strip()}")
    return 0


def cmd_model_queue(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.models import learning_queue as Q
    with _open(args) as project:
        if args.show:
            items = Q.load(project, args.show)
        elif not args.by:
            raise LabeldeskError("say how to order the queue with --by (or print a saved one with --show NAME)")
        else:
            items = Q.build(project, args.by, layers=args.layers or (), progress=_progress(args))
            if args.save:
                Q.save(project, args.save, args.by, items)
        names = {a.id: a.name for a in project.assets(include_removed=True)}
        if args.json:
            print(json.dumps([dict(it.to_dict(), asset=names.get(it.asset_id)) for it in items], indent=2))
        else:
            for rank, it in enumerate(items, 1):
                plane = "" if it.plane is None else f" {it.plane.axis} z={it.plane.z} t={it.plane.t}"
                value = "-" if it.value is None else f"{it.value:.4f}"
                print(f"{rank:>4}  {names.get(it.asset_id, it.asset_id)}{plane}  {value}")
            if args.save:
                print(f"saved as queue {args.save!r} ({len(items)} item(s)); the team sees it after the next sync")
    return 0
