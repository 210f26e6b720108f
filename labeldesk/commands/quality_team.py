"""`labeldesk gold`, `audit-sample`, `data-check`, `drift`, `dashboard` (registered by
:mod:`labeldesk.commands.quality`)."""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from labeldesk.commands.quality import common, emit, session, table, to_csv


def register(command: Callable[..., Any]) -> None:
    p = command("gold", cmd_gold, "gold standards: items with a known answer, seeded into annotators' queues "
                "(hidden from them) and scored per annotator; the qualification gate for new annotators")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = common(sub.add_parser("mark", help="make assets gold items: LAYER holds their answer",
                              description="make assets gold items"))
    q.add_argument("assets", metavar="ASSET", nargs="+")
    q.add_argument("--layer", required=True, metavar="LAYER", help="the layer with the known answer (name or id)")
    q = common(sub.add_parser("unmark", help="no longer gold", description="no longer gold"))
    q.add_argument("assets", metavar="ASSET", nargs="+")
    common(sub.add_parser("list", help="gold items", description="gold items"))
    q = common(sub.add_parser("seed", help="put gold items into annotators' queues", description="seed gold items"))
    q.add_argument("--to", action="append", metavar="NAME", help="these annotators (default: every annotator)")
    q.add_argument("--count", type=int, metavar="N", help="at most N new gold items each")
    q = common(sub.add_parser("scores", help="each annotator's score on each gold item", description="gold scores"))
    q.add_argument("--iou", type=float, default=0.5, help="IoU at which shapes match (default 0.5)")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("-o", "--output", metavar="FILE")
    q = common(sub.add_parser("qualify", help="the qualification gate: set it (--min-score …) or show who passes",
                              description="the qualification gate"))
    q.add_argument("--min-score", type=float, help="mean gold score needed (0-1)")
    q.add_argument("--min-items", type=int, default=3, help="gold items scored at least (default 3)")
    q.add_argument("--pilot", metavar="BATCH", help="count only the gold items of this pilot batch")

    p = command("audit-sample", cmd_audit_sample, "audits: send a share of approved items back to a second "
                "reviewer, blind; record outcomes; outcome and rate per annotator over time "
                "(`labeldesk audit` is the audit trail)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = common(sub.add_parser("sample", help="sample approved items for audit", description="sample for audit"))
    q.add_argument("--share", type=float, required=True, help="share of approved items, e.g. 0.1")
    q.add_argument("--to", action="append", metavar="NAME", help="audit reviewers (default: every reviewer)")
    q.add_argument("--seed", type=int, help="random seed (repeatable samples)")
    q = common(sub.add_parser("list", help="audits, open first", description="audits"))
    q.add_argument("--mine", action="store_true", help="only audits assigned to me")
    q = common(sub.add_parser("record", help="record an audit's outcome", description="record an outcome"))
    q.add_argument("audit", metavar="AUDIT", help="audit id (as listed)")
    q.add_argument("outcome", choices=("pass", "fail"))
    q.add_argument("--note", default="")
    q = common(sub.add_parser("report", help="outcome and fail rate per annotator and week", description="report"))
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("-o", "--output", metavar="FILE")

    p = common(command("data-check", cmd_data_check, "data checks on the assets: near-duplicate images "
                       "(perceptual hash), blur, over/under-exposure, DICOM geometry (missing slices, uneven "
                       "spacing, mixed orientation), corrupt frames"))
    p.add_argument("--only", nargs="+", metavar="CHECK", help="image_duplicate blur exposure dicom_geometry corrupt")
    p.add_argument("--where", nargs="+", metavar="TERM", help="only the assets a filter selects")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="hash_distance=4 blur=15 clipped=0.25 frames_sampled=24")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("-o", "--output", metavar="FILE")

    p = common(command("drift", cmd_drift, "drift of a batch against a baseline: intensity, image size, class "
                       "frequency and shape size, scored by population stability index (and KS)"))
    for side in ("baseline", "batch"):
        p.add_argument(f"--{side}", metavar="BATCH", help=f"the {side}: a batch name")
        p.add_argument(f"--{side}-where", nargs="+", metavar="TERM", help=f"or: the {side} as filter terms")
        p.add_argument(f"--{side}-added", metavar="FROM..TO", help=f"or: assets added in this date range")
    p.add_argument("--no-pixels", action="store_true", help="skip the intensity feature (no pixel reads)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("-o", "--output", metavar="FILE")

    p = common(command("dashboard", cmd_dashboard, "per annotator and per batch: throughput, time per item, "
                       "agreement, gold score, audit outcome, rework rate, weekly timeline, and progress "
                       "against the project's objectives"))
    p.add_argument("--objective", nargs=2, action="append", metavar=("METRIC", "TARGET"),
                   help="set an objective, e.g. gold_score '>=0.8' or rework_rate '<=0.1' (TARGET 'none' drops it)")
    p.add_argument("--no-agreement", action="store_true", help="skip the agreement column (faster)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("-o", "--output", metavar="FILE")


def _render(sections: list[tuple[str, list[dict[str, Any]], list[tuple[str, str]]]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({name: rows for name, rows, _ in sections}, indent=2, default=str) + "\n"
    if fmt == "csv":
        out = []
        for name, rows, _ in sections:
            out.append(to_csv([{"table": name, **r} for r in rows]))
        return "".join(out)
    return "\n".join(f"{name}\n{table(rows, cols) if rows else '  (none)'}" for name, rows, cols in sections)


# ---- gold ------------------------------------------------------------------------------------
def cmd_gold(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.quality import gold, records
    from labeldesk.core.review.roles import find_user
    from labeldesk.core.review.workflow import resolve_asset, resolve_layer
    project, me = session(args)
    with project:
        if args.action in ("mark", "unmark"):
            for ref in args.assets:
                aid = resolve_asset(project.conn, ref)
                if args.action == "mark":
                    lid = resolve_layer(project.conn, aid, args.layer, me)
                    if not project.annotations(aid, layer_id=lid):
                        raise LabeldeskError(f"{ref}: layer {args.layer!r} has no annotations here to be the gold")
                    gold.mark(project, aid, lid, user=me)
                else:
                    gold.unmark(project, aid, user=me)
            print(f"{len(args.assets)} gold item(s) {'marked' if args.action == 'mark' else 'unmarked'}")
        elif args.action == "list":
            recs = records.load(project.conn)
            names = {a.id: a.name for a in project.assets()}
            layers = {l.id: l.name for l in project.layers()}
            if not recs.gold:
                print("no gold items yet (`labeldesk gold mark DIR ASSET --layer LAYER`)")
            for aid, rec in recs.gold.items():
                print(f"{names.get(aid, aid)}  answer in layer {layers.get(rec.payload['layer'], rec.payload['layer'])}")
        elif args.action == "seed":
            to = [find_user(project.conn, n) for n in args.to] if args.to else None
            made = gold.seed(project, to, args.count, user=me)
            print(f"{len(made)} gold item(s) put into annotators' queues")
        elif args.action == "scores":
            rows = [s.to_dict() for s in gold.scores(project, args.iou)]
            for r in rows:
                r.pop("asset_id"), r.pop("user_id"), r.pop("layer_id")
            emit(_render([("Gold scores", rows, [(k, k) for k in ("asset_name", "user_name", "n_gold", "n_user",
                                                                  "f1", "iou", "dice", "class_accuracy",
                                                                  "attribute_accuracy", "score")])],
                         args.format), args.output)
        else:
            if args.min_score is not None:
                gold.set_gate(project, args.min_score, args.min_items, args.pilot, user=me)
            gate = gold.settings(project)
            print(f"gate: mean gold score ≥ {gate['min_score']:.2f} over ≥ {gate['min_items']} gold item(s)"
                  + (f" of batch {gate['batch']!r}" if gate.get("batch") else ""))
            for q in gold.qualification(project):
                print(f"  {q.user_name:<16} {'QUALIFIED' if q.qualified else 'not yet':<10} {q.reason}")
    return 0


# ---- audits ----------------------------------------------------------------------------------
def cmd_audit_sample(args: argparse.Namespace) -> int:
    from labeldesk.core.quality import audits
    from labeldesk.core.review.roles import find_user
    project, me = session(args)
    with project:
        if args.action == "sample":
            to = [find_user(project.conn, n) for n in args.to] if args.to else None
            made = audits.sample(project, args.share, reviewers=to, seed=args.seed, user=me)
            print(f"{len(made)} approved item(s) sent for a blind audit" if made
                  else "nothing to audit: no approved item that was not audited at its revision")
        elif args.action == "record":
            audits.record(project, args.audit, args.outcome, args.note, user=me)
            print(f"audit {args.audit}: {args.outcome}")
        elif args.action == "list":
            rows = sorted(audits.audits(project), key=lambda a: (a.outcome is not None, a.assigned))
            for a in rows:
                if args.mine and a.reviewer_id != me:
                    continue
                # blind: the list names the item and the audit reviewer, never the first decision
                print(f"{a.id}  {a.asset_name:<24} {a.reviewer_name:<12} {a.outcome or 'open'}")
        else:
            emit(_render([("Audit outcomes", audits.report(project),
                           [(k, k) for k in ("annotator", "week", "audited", "passed", "failed", "fail_rate")])],
                         args.format), args.output)
    return 0


# ---- data checks and drift ---------------------------------------------------------------------
def cmd_data_check(args: argparse.Namespace) -> int:
    from labeldesk.cli import ProgressBar
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.quality import datachecks, selection
    th = datachecks.DataThresholds()
    for item in args.set:
        k, _, v = item.partition("=")
        if not hasattr(th, k):
            raise LabeldeskError(f"unknown data-check threshold {k!r}")
        setattr(th, k, type(getattr(th, k))(v))
    bad = [c for c in (args.only or []) if c not in datachecks.DATA_CHECKS]
    if bad:
        raise LabeldeskError(f"unknown data check {bad[0]!r} (known: {', '.join(datachecks.DATA_CHECKS)})")
    project, _ = session(args)
    with project:
        ids = selection.select(project, selection.parse_terms(args.where)) if args.where else None
        found, _ = datachecks.run(project, only=args.only, th=th, asset_ids=ids, progress=ProgressBar())
        rows = [{"check": f.check, "reason": f.reason, "key": f.key} for f in found]
        text = _render([("Data checks", rows, [("check", "check"), ("reason", "why"), ("key", "waive key")])],
                       args.format)
        if args.format == "table":
            text += f"{len(found)} finding(s)\n"
        emit(text, args.output)
    return 0


def _side(project: Any, args: argparse.Namespace, side: str) -> list[str]:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.quality import drift, selection
    name, where, added = getattr(args, side), getattr(args, f"{side}_where"), getattr(args, f"{side}_added")
    if sum(x is not None for x in (name, where, added)) != 1:
        raise LabeldeskError(f"give the {side} one way: --{side} BATCH, --{side}-where TERM… or --{side}-added FROM..TO")
    if name is not None:
        return selection.select(project, {"batch": name})
    if where is not None:
        return selection.select(project, selection.parse_terms(where))
    start, sep, end = added.partition("..")
    if not sep:
        raise LabeldeskError(f"--{side}-added {added!r}: write FROM..TO, e.g. 2026-01-01..2026-02-01")
    return drift.assets_added(project, start or None, end or None)


def cmd_drift(args: argparse.Namespace) -> int:
    from labeldesk.cli import ProgressBar
    from labeldesk.core.quality import drift
    project, _ = session(args)
    with project:
        base, batch = _side(project, args, "baseline"), _side(project, args, "batch")
        feats = drift.drift(project, base, batch, pixels=not args.no_pixels, progress=ProgressBar())
    rows = [f.to_dict() for f in feats]
    if args.format == "table":
        text = table(rows, [("feature", "feature"), ("psi", "PSI"), ("ks", "KS D"), ("p_value", "p"),
                            ("n_baseline", "n base"), ("n_batch", "n batch"), ("verdict", "verdict")])
        text += f"baseline {len(base)} asset(s), batch {len(batch)} asset(s); PSI < 0.1 stable, > 0.25 major\n"
    else:
        text = _render([("Drift", rows, [])], args.format)
    emit(text, args.output)
    return 0


# ---- dashboard -------------------------------------------------------------------------------
def cmd_dashboard(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.quality import dashboard
    project, me = session(args)
    with project:
        for metric, target in args.objective or []:
            if target.lower() == "none":
                dashboard.set_objective(project, metric, None, user=me)
                continue
            direction = "<=" if target.startswith("<=") else ">="
            try:
                value = float(target.lstrip("<>="))
            except ValueError:
                raise LabeldeskError(f"objective {metric} {target!r}: write a number, e.g. '>=0.8'") from None
            dashboard.set_objective(project, metric, value, direction, user=me)
        d = dashboard.build(project, agreement=not args.no_agreement)
    cols = [(k, k) for k in ("annotator", "annotations", "items", "throughput_per_day", "time_per_item_min",
                             "agreement_f1", "gold_score", "audits", "audit_pass_rate", "rework_rate")]
    bcols = [(k, k) for k in ("batch", "assets", "annotations", "items", "time_per_item_min", "gold_score",
                              "audits", "audit_pass_rate")]
    ocols = [(k, k) for k in ("metric", "target", "value", "met", "progress", "not_meeting")]
    tcols = [(k, k) for k in ("week", "annotator", "annotations", "gold_score", "audit_pass_rate")]
    emit(_render([("Annotators", d.annotators, cols), ("Batches", d.batches, bcols),
                  ("Objectives", d.objectives, ocols), ("Timeline (weekly)", d.timeline, tcols)], args.format),
         args.output)
    return 0
