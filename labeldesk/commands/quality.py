"""`labeldesk check`, `tag`, `batch`, `filter`, `backup`, `restore`: label quality and data
organisation. Gold, audits, drift and dashboards are in :mod:`labeldesk.commands.quality_team`."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from typing import Any, Callable

UNSAFE = "allow a project store on a network filesystem or synced folder (risk of corruption)"


def common(p: argparse.ArgumentParser, project: bool = True) -> argparse.ArgumentParser:
    """The project argument, --as and --allow-unsafe-location, as every team command has them."""
    from labeldesk.commands.review import _common
    return _common(p, project)


def session(args: argparse.Namespace) -> tuple[Any, str]:
    from labeldesk.commands.review import _session
    return _session(args)


def emit(text: str, output: str | None) -> None:
    from labeldesk.commands.review import _emit
    _emit(text, output)


def table(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "n/a"
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    cells = [[h for _, h in cols]] + [[fmt(r.get(k)) for k, _ in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else v)
                        for k, v in r.items()})
    return buf.getvalue()


def register(command: Callable[..., Any]) -> None:
    from labeldesk.commands import quality_team
    from labeldesk.core.quality.checks import CHECKS
    p = common(command("check", cmd_check,
                       "label-quality checks: duplicates, tiny shapes, size/aspect outliers per class, shapes "
                       "outside the image, overlapping classes that must not overlap, missing required "
                       "attributes, class imbalance, broken tracks, classes inconsistent across slices, "
                       "disagreement with a confident model; waive a finding with --waive"))
    p.add_argument("--only", nargs="+", choices=list(CHECKS), metavar="CHECK",
                   help=f"run only these checks ({', '.join(CHECKS)})")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a threshold for this run, e.g. tiny_px=4 outlier_z=3 confidence=0.95 (repeatable)")
    p.add_argument("--exclusive", action="append", default=[], metavar="CLASS_A,CLASS_B",
                   help="two classes that must not overlap (repeatable)")
    p.add_argument("--save", action="store_true",
                   help="save the thresholds given with --set/--exclusive as the project's (an op, shared)")
    p.add_argument("--layers", nargs="+", metavar="LAYER", help="only these layers (names or ids)")
    p.add_argument("--include-waived", action="store_true", help="also list findings marked not a problem")
    p.add_argument("--waive", metavar="KEY", action="append",
                   help="mark the finding with this key (check:subject, as listed) not a problem (repeatable)")
    p.add_argument("--note", default="", help="why the waived finding is not a problem")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--strict", action="store_true", help="exit with status 3 when any finding remains")

    p = command("tag", cmd_tag, "tags on assets (source, site, complexity, any key=value); shared through sync")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = common(sub.add_parser("set", help="set tags on assets", description="set tags on assets"))
    q.add_argument("tags", metavar="KEY=VALUE", nargs="+")
    q.add_argument("--assets", nargs="+", metavar="ASSET", help="asset ids or names")
    q.add_argument("--where", nargs="+", metavar="TERM", help="or: every asset a filter selects (tag:site=A batch:x …)")
    q = common(sub.add_parser("remove", help="remove tags from assets", description="remove tags from assets"))
    q.add_argument("keys", metavar="KEY", nargs="+")
    q.add_argument("--assets", nargs="+", metavar="ASSET")
    q.add_argument("--where", nargs="+", metavar="TERM")
    q = common(sub.add_parser("list", help="tag keys and values with their asset counts, or the assets a "
                              "filter selects with their tags", description="list tags"))
    q.add_argument("--where", nargs="+", metavar="TERM")

    p = command("batch", cmd_batch, "named batches of assets (pilot, import of May, site B …)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = common(sub.add_parser("create", help="create or replace a batch", description="create or replace a batch"))
    q.add_argument("name", metavar="NAME")
    q.add_argument("--assets", nargs="+", metavar="ASSET")
    q.add_argument("--where", nargs="+", metavar="TERM", help="every asset a filter selects")
    q.add_argument("--note", default="")
    common(sub.add_parser("list", help="list batches", description="list batches"))
    q = common(sub.add_parser("show", help="the assets of a batch", description="the assets of a batch"))
    q.add_argument("name", metavar="NAME")
    q = common(sub.add_parser("remove", help="withdraw a batch (its assets stay)", description="withdraw a batch"))
    q.add_argument("name", metavar="NAME")

    p = command("filter", cmd_filter, "saved filters and queues shared with the team; assignment by filter. "
                "Terms: tag:KEY[=VALUE] batch:NAME kind:KIND name:GLOB state:STATE class:NAME gold:yes|no "
                "order:name|added|least_annotated")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = common(sub.add_parser("save", help="save a filter (or --queue) under a name", description="save a filter"))
    q.add_argument("name", metavar="NAME")
    q.add_argument("terms", metavar="TERM", nargs="+")
    q.add_argument("--queue", action="store_true", help="save it as a work queue")
    common(sub.add_parser("list", help="saved filters and queues", description="saved filters and queues"))
    q = common(sub.add_parser("show", help="the assets a saved filter (or terms) selects", description="select"))
    q.add_argument("name", metavar="NAME_OR_TERM", nargs="+")
    q = common(sub.add_parser("remove", help="withdraw a saved filter", description="withdraw a saved filter"))
    q.add_argument("name", metavar="NAME")
    q = common(sub.add_parser("assign", help="assign what a filter selects", description="assign by filter"))
    q.add_argument("name", metavar="NAME_OR_TERM", nargs="+")
    q.add_argument("--to", action="append", metavar="NAME", help="to this member (default: round-robin)")
    q.add_argument("--per-asset", type=int, default=1, metavar="N")
    q.add_argument("--qualified", action="store_true", help="only annotators who passed the qualification gate")

    p = command("backup", cmd_backup, "a verified backup of the project store (SQLite backup API, integrity "
                "check, op-log hash chain re-verified); in the app: File ▸ Back up")
    p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("dest", metavar="DEST", nargs="?", help="backup file or folder (default: DIR/backups/)")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)
    p = command("restore", cmd_restore, "restore a project from a backup, after verifying it")
    p.add_argument("backup", metavar="BACKUP", help="a file written by `labeldesk backup`")
    p.add_argument("project", metavar="DIR", help="folder to restore into (new, or --replace)")
    p.add_argument("--replace", action="store_true",
                   help="DIR holds a project: put its store aside (renamed, not deleted) and restore over it")
    p.add_argument("--verify-only", action="store_true", help="only check the backup")
    quality_team.register(command)


# ---- check ---------------------------------------------------------------------------------
def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_check(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.ops import OpDraft
    from labeldesk.core.quality import checks
    overrides: dict[str, Any] = {}
    for item in args.set:
        k, eq, v = item.partition("=")
        if not eq:
            raise LabeldeskError(f"--set {item!r}: write NAME=VALUE, e.g. tiny_px=4")
        overrides[k.strip()] = _value(v)
    if args.exclusive:
        pairs = [[c.strip() for c in e.split(",")] for e in args.exclusive]
        if any(len(p) != 2 for p in pairs):
            raise LabeldeskError("--exclusive takes two class names separated by a comma")
        overrides["exclusive"] = pairs
    project, me = session(args)
    with project:
        if args.waive:
            found = {f.key: f for f in checks.run(project, include_waived=True)}
            drafts = []
            for key in args.waive:
                f = found.get(key)
                if f is None:
                    raise LabeldeskError(f"no current finding {key!r} (run `labeldesk check` to list the keys)")
                drafts.append(OpDraft("quality.waive", key, {"check": f.check, "subject": f.subject, "note": args.note}))
            project.apply_all(drafts, user=me)
            print(f"marked {len(drafts)} finding(s) not a problem")
            return 0
        th = checks.thresholds_of(project, overrides)
        if args.save:
            if not overrides:
                raise LabeldeskError("--save needs thresholds to save (--set NAME=VALUE or --exclusive A,B)")
            project.apply(OpDraft("project.settings", None, {"set": {checks.SETTING: {
                **json.loads(json.dumps(th.__dict__))}}}), user=me)
            print("saved the check thresholds for this project", file=sys.stderr)
        layers = None
        if args.layers:
            from labeldesk.core.review.comparison import select_layers
            layers = [l.id for l in select_layers(project, args.layers)]
        found = checks.run(project, only=args.only, thresholds=th, layers=layers,
                           include_waived=args.include_waived)
        names = {a.id: a.name for a in project.assets(include_removed=True)}
        rows = [{"key": f.key, "check": f.check, "asset": names.get(f.asset_id or "", f.asset_id),
                 "plane": "" if not f.plane else f"z{f.plane['z']} t{f.plane['t']}", "layer": f.layer,
                 "annotation": f.annotation_id, "value": f.value, "threshold": f.threshold, "reason": f.reason}
                for f in found]
        if args.format == "json":
            text = json.dumps({"thresholds": th.__dict__, "findings": [f.to_dict() for f in found]}, indent=2) + "\n"
        elif args.format == "csv":
            text = to_csv(rows)
        else:
            counts: dict[str, int] = {}
            for f in found:
                counts[f.check] = counts.get(f.check, 0) + 1
            text = (table(rows, [("check", "check"), ("asset", "asset"), ("plane", "plane"), ("layer", "layer"),
                                 ("reason", "why"), ("key", "waive with --waive")]) if rows else "")
            text += (f"{len(found)} finding(s): " + ", ".join(f"{k} {v}" for k, v in counts.items())
                     if found else "no findings") + "\n"
        emit(text, args.output)
        return 3 if args.strict and found else 0


# ---- organisation --------------------------------------------------------------------------
def _assets(project: Any, args: argparse.Namespace) -> list[str]:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.quality import selection
    from labeldesk.core.review.workflow import resolve_asset
    if bool(getattr(args, "assets", None)) == bool(getattr(args, "where", None)):
        raise LabeldeskError("say which assets: --assets ASSET… or --where TERM…")
    if args.assets:
        return [resolve_asset(project.conn, r) for r in args.assets]
    return selection.select(project, selection.parse_terms(args.where))


def cmd_tag(args: argparse.Namespace) -> int:
    from labeldesk.core.quality import organisation, records, selection
    project, me = session(args)
    with project:
        if args.action == "list":
            recs = records.load(project.conn)
            if args.where:
                names = {a.id: a.name for a in project.assets()}
                for a in selection.select(project, selection.parse_terms(args.where), recs):
                    tags = recs.tags.get(a, {})
                    print(f"{names[a]}  " + "  ".join(f"{k}={v}" for k, v in sorted(tags.items())))
                return 0
            counts = organisation.tag_counts(project, recs)
            if not counts:
                print("no tags yet (`labeldesk tag set DIR KEY=VALUE --assets …`)")
            for k in sorted(counts):
                print(f"{k}: " + ", ".join(f"{v} ({n})" for v, n in sorted(counts[k].items())))
            return 0
        asset_ids = _assets(project, args)
        values: dict[str, Any] = (organisation.parse_tags(args.tags) if args.action == "set"
                                  else {k: None for k in args.keys})
        organisation.set_tags(project, asset_ids, values, user=me)
        print(f"{'tagged' if args.action == 'set' else 'untagged'} {len(asset_ids)} asset(s)")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from labeldesk.core.quality import organisation, records
    project, me = session(args)
    with project:
        if args.action == "create":
            ids = _assets(project, args)
            organisation.save_batch(project, args.name, ids, args.note, user=me)
            print(f"batch {args.name!r}: {len(ids)} asset(s)")
        elif args.action == "remove":
            organisation.remove_batch(project, args.name, user=me)
            print(f"batch {args.name!r} withdrawn (its assets stay in the project)")
        elif args.action == "list":
            recs = records.load(project.conn)
            if not recs.batches:
                print("no batches yet (`labeldesk batch create DIR NAME --where …`)")
            for b in recs.batches.values():
                print(f"{b.payload['name']}: {len(b.payload['assets'])} asset(s), since {b.wall[:10]}"
                      + (f" — {b.payload['note']}" if b.payload.get("note") else ""))
        else:
            from labeldesk.core.quality.selection import select
            names = {a.id: a.name for a in project.assets()}
            for a in select(project, {"batch": args.name}):
                print(names[a])
    return 0


def _flt(project: Any, words: list[str]) -> dict[str, Any]:
    from labeldesk.core.quality import organisation, selection
    if len(words) == 1 and ":" not in words[0]:
        return organisation.view_filter(project, words[0])
    return selection.parse_terms(words)


def cmd_filter(args: argparse.Namespace) -> int:
    from labeldesk.core.quality import organisation, records, selection
    project, me = session(args)
    with project:
        if args.action == "save":
            flt = selection.parse_terms(args.terms)
            organisation.save_view(project, args.name, flt, "queue" if args.queue else "filter", user=me)
            print(f"saved {'queue' if args.queue else 'filter'} {args.name!r}: {selection.describe(flt)}")
        elif args.action == "remove":
            organisation.remove_view(project, args.name, user=me)
            print(f"withdrew {args.name!r}")
        elif args.action == "list":
            views = records.load(project.conn).views.values()
            if not views:
                print("no saved filters or queues yet (`labeldesk filter save DIR NAME TERM…`)")
            for v in views:
                n = len(selection.select(project, v.payload["filter"]))
                print(f"{v.payload['kind']:<6} {v.payload['name']}: {selection.describe(v.payload['filter'])} "
                      f"({n} asset(s))")
        elif args.action == "show":
            names = {a.id: a.name for a in project.assets()}
            for a in selection.select(project, _flt(project, args.name)):
                print(names[a])
        else:
            from labeldesk.core.review.roles import find_user
            to = [find_user(project.conn, n) for n in args.to] if args.to else None
            made = organisation.assign_by_filter(project, _flt(project, args.name), to=to,
                                                 per_asset=args.per_asset, only_qualified=args.qualified, user=me)
            for a in made:
                print(f"assigned {a.asset_id} to {a.user_name}")
            print(f"{len(made)} new assignment(s)")
    return 0


# ---- backup --------------------------------------------------------------------------------
def cmd_backup(args: argparse.Namespace) -> int:
    from labeldesk.cli import _open
    from labeldesk.core.quality import backup
    with _open(args) as project:
        report = backup.backup(project, args.dest)
    print(f"backed up to {report.text()}")
    print(f"restore with: labeldesk restore {report.path} NEW_FOLDER")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from labeldesk.core.quality import backup
    report = backup.verify(args.backup)
    if args.verify_only:
        print(f"ok: {report.text()}")
        return 0
    store = backup.restore(args.backup, args.project, replace=args.replace)
    print(f"restored {report.ops} ops, {report.annotations} annotations into {store.parent}")
    print("this copy gets a new device id when opened; asset files are found where they were")
    return 0
