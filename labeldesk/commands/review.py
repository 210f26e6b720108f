"""`labeldesk` sub-commands: users and roles, assignment, submit/review/adjudicate, the review
queue, issues and the audit export.

Who acts: ``--as NAME`` on each command, else the ``LABELDESK_USER`` environment variable when it
names a member of the project, else the project's own user (who created it on this machine).
Every command checks the acting user's roles exactly as the app does.
"""
from __future__ import annotations

from labeldesk.core.numbering import index_from_number, plane_label

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

UNSAFE = "allow a project store on a network filesystem or synced folder (risk of corruption)"
ROLES = ("annotator", "reviewer", "adjudicator", "admin")


def _common(p: argparse.ArgumentParser, project: bool = True) -> argparse.ArgumentParser:
    if project:
        p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("--as", dest="as_user", metavar="NAME",
                   help="act as this project member (default: $LABELDESK_USER, else the project's own user)")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)
    return p


def register(command: Callable[..., Any]) -> None:
    p = command("user", cmd_user, "project members and their roles (annotator, reviewer, adjudicator, admin)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = _common(sub.add_parser("add", help="add a member", description="add a member (admins only)"))
    q.add_argument("name", metavar="NAME", help="the new member's user name")
    q.add_argument("--role", action="append", choices=ROLES, default=[], help="give this role (repeatable)")
    q.add_argument("--reason", help="why (required with --role)")
    for action, verb in (("grant", "give a member a role"), ("revoke", "take a role from a member")):
        q = _common(sub.add_parser(action, help=verb, description=verb + " (admins only; a reason is required)"))
        q.add_argument("name", metavar="NAME", help="user name or id")
        q.add_argument("role", choices=ROLES, help="the role")
        q.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    q = _common(sub.add_parser("list", help="list members and roles", description="list members and roles"))
    q.add_argument("--json", action="store_true", help="machine-readable output")

    p = _common(command("assign", cmd_assign, "assign assets to annotators: by hand (--to), round-robin, "
                        "or N annotators per asset for dual/blind labeling (--per-asset N); each annotator "
                        "labels in their own layer"))
    p.add_argument("assets", metavar="ASSET", nargs="*",
                   help="asset ids or names (default with --round-robin/--per-asset: every unassigned asset)")
    p.add_argument("--to", action="append", metavar="NAME", help="assign to this member (repeatable)")
    p.add_argument("--round-robin", action="store_true", help="spread the assets over all annotators in turn")
    p.add_argument("--per-asset", type=int, default=1, metavar="N",
                   help="distinct annotators per asset (round-robin; 2 or more = dual/blind labeling)")
    p = _common(command("unassign", cmd_unassign, "take an asset back from a member"))
    p.add_argument("asset", metavar="ASSET", help="asset id or name")
    p.add_argument("--from", dest="from_user", required=True, metavar="NAME", help="the member")

    p = _common(command("tasks", cmd_tasks, "review state of every asset and annotator layer (or one member's)"))
    p.add_argument("--user", metavar="NAME", help="only this member's layers")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = _common(command("visible", cmd_visible, "the layers a member may see on an asset (blind labeling: an "
                        "annotator sees only their own layer and predictions until their layer is reviewed)"))
    p.add_argument("asset", metavar="ASSET", help="asset id or name")

    p = _common(command("submit", cmd_submit, "submit your layer on an asset for review"))
    p.add_argument("asset", metavar="ASSET", help="asset id or name")
    p.add_argument("--layer", help="layer id, name or owner (default: your assigned layer)")
    p.add_argument("--note", help="a note for the reviewer")

    p = _common(command("review", cmd_review, "decide on a submitted layer: approve, return with a reason, "
                        "or fix-and-approve (copies it into the final layer to fix there)"))
    p.add_argument("asset", metavar="ASSET", help="asset id or name")
    p.add_argument("--layer", help="layer id, name or owner (default: the only layer awaiting review)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--approve", action="store_true", help="approve the layer as it is now")
    g.add_argument("--return", dest="return_reason", metavar="REASON", help="return it to the annotator, saying why")
    g.add_argument("--fix-approve", action="store_true", help="copy it into the final layer and approve")
    p.add_argument("--reason", help="an optional note with an approval")

    p = _common(command("adjudicate", cmd_adjudicate, "close a dispute or a dual-labeled asset (adjudicators): "
                        "the final layer becomes one layer (--from-layer) or chosen annotations (--annotation)"))
    p.add_argument("asset", metavar="ASSET", help="asset id or name")
    p.add_argument("--reason", required=True, help="why (required; recorded in the audit trail)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--from-layer", metavar="LAYER", help="per item: copy this layer (id, name or owner)")
    g.add_argument("--annotation", action="append", metavar="ID", help="per object: copy this annotation (repeatable)")
    g.add_argument("--return", dest="return_item", action="store_true", help="close the dispute by returning the item")

    p = _common(command("queue", cmd_queue, "items needing review: submitted, stale approvals, disputes, "
                        "dual-labeled assets ready for adjudication"))
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("issue", cmd_issue, "issues pinned to a point on a plane of an asset, with comment threads")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = _common(sub.add_parser("open", help="open an issue at a point", description="open an issue at a point"))
    q.add_argument("asset", metavar="ASSET", help="asset id or name")
    q.add_argument("text", metavar="TEXT", help="what is wrong")
    q.add_argument("--at", required=True, metavar="X,Y", help="the point, image_xy pixels on the plane")
    q.add_argument("--slice", type=int, default=1, metavar="N", help="slice number, from 1 as the viewer shows it")
    q.add_argument("--frame", type=int, default=1, metavar="N", help="frame / time point number, from 1")
    q.add_argument("--z", type=int, default=None, help=argparse.SUPPRESS)     # 0-based, kept for scripts
    q.add_argument("--t", type=int, default=None, help=argparse.SUPPRESS)
    q.add_argument("--axis", default="axial", choices=("axial", "coronal", "sagittal"), help="view axis")
    q.add_argument("--annotation", metavar="ID", help="the annotation it is about")
    q = _common(sub.add_parser("comment", help="add a comment", description="add a comment to an issue"))
    q.add_argument("issue", metavar="ISSUE", help="issue id (or its first characters)")
    q.add_argument("text", metavar="TEXT", help="the comment")
    for action in ("resolve", "reopen"):
        q = _common(sub.add_parser(action, help=f"{action} an issue", description=f"{action} an issue"))
        q.add_argument("issue", metavar="ISSUE", help="issue id (or its first characters)")
        q.add_argument("--note", help="why")
    q = _common(sub.add_parser("list", help="list issues and their threads", description="list issues"))
    q.add_argument("--asset", help="only this asset")
    q.add_argument("--status", choices=("open", "resolved"), help="only open or resolved issues")
    q.add_argument("--json", action="store_true", help="machine-readable output")

    p = _common(command("audit", cmd_audit, "export the audit trail (who, what, when, why) with its hash "
                        "chain verified (exit status 3 when the chain does not verify)"))
    p.add_argument("--asset", help="only ops on this asset (id or name)")
    p.add_argument("--user", help="only ops by this member (name or id)")
    p.add_argument("--since", metavar="T", help="from this UTC date or time (ISO 8601, inclusive)")
    p.add_argument("--until", metavar="T", help="up to this UTC date or time (ISO 8601, inclusive)")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")


# ---- helpers ---------------------------------------------------------------------------------
def _session(args: argparse.Namespace) -> tuple[Any, str]:
    from labeldesk.cli import _open
    from labeldesk.core.review.roles import acting_user
    project = _open(args)
    try:
        return project, acting_user(project, args.as_user)
    except BaseException:
        project.close()
        raise


def _emit(text: str, output: str | None) -> None:
    from labeldesk.core.errors import LabeldeskError
    if not output:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LabeldeskError(f"{output}: cannot write ({exc.strerror or exc})") from None


def _assets(project: Any, refs: list[str]) -> list[str]:
    from labeldesk.core.review.workflow import resolve_asset
    return [resolve_asset(project.conn, r) for r in refs]


# ---- commands --------------------------------------------------------------------------------
def cmd_user(args: argparse.Namespace) -> int:
    from labeldesk.core.review import roles
    project, me = _session(args)
    with project:
        if args.action == "add":
            roles.add_user(project, args.name, args.role, reason=args.reason, user=me)
            print(f"added {args.name}" + (f" ({', '.join(args.role)})" if args.role else " (no roles yet)"))
        elif args.action in ("grant", "revoke"):
            changed = roles.change_role(project, args.name, args.role, args.action == "grant", reason=args.reason, user=me)
            verb = "granted" if args.action == "grant" else "revoked"
            print(f"{verb} {args.role} {'to' if verb == 'granted' else 'from'} {args.name}" if changed
                  else f"{args.name} {'has' if args.action == 'grant' else 'does not have'} {args.role} already")
        else:
            users = project.users()
            if args.json:
                print(json.dumps([{"id": u.id, "name": u.name, "roles": sorted(u.roles)} for u in users], indent=2))
            for u in users if not args.json else ():
                mark = " (this project's own user)" if u.id == project.user_id else ""
                print(f"{u.name:<20} {', '.join(sorted(u.roles)) or '-':<40} {u.id}{mark}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review import assignment
    from labeldesk.core.review.roles import find_user
    if bool(args.to) == bool(args.round_robin or args.per_asset > 1):
        raise LabeldeskError("say whom: --to NAME (by hand) or --round-robin / --per-asset N (over all annotators)")
    project, me = _session(args)
    with project:
        if args.assets:
            asset_ids = _assets(project, args.assets)
        elif args.to:
            raise LabeldeskError("name the assets to assign --to a member")
        else:
            asset_ids = assignment.unassigned_assets(project.conn)
        to = [find_user(project.conn, n) for n in args.to] if args.to else None
        made = assignment.assign(project, asset_ids, to=to, per_asset=args.per_asset, user=me)
        names = {a.id: a.name for a in project.assets()}
        for a in made:
            print(f"assigned {names.get(a.asset_id, a.asset_id)} to {a.user_name}")
        print(f"{len(made)} new assignments" + ("" if made else " (everything asked for was assigned already)"))
    return 0


def cmd_unassign(args: argparse.Namespace) -> int:
    from labeldesk.core.review import assignment
    from labeldesk.core.review.roles import find_user
    project, me = _session(args)
    with project:
        [asset_id] = _assets(project, [args.asset])
        n = assignment.unassign(project, asset_id, find_user(project.conn, args.from_user), user=me)
        print(f"removed {n} assignment(s)")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from labeldesk.core.review import workflow
    from labeldesk.core.review.roles import find_user
    project, _ = _session(args)
    with project:
        items = workflow.item_states(project.conn)
        if args.user:
            uid = find_user(project.conn, args.user)
            items = [i for i in items if i.owner_id == uid]
        if args.json:
            print(json.dumps([i.to_dict() for i in items], indent=2))
            return 0
        for i in items:
            print(f"{i.state:<12} {i.asset_name:<30} layer {i.layer_name:<16} {i.note}".rstrip())
        if not items:
            print("no assigned or annotated items")
    return 0


def cmd_visible(args: argparse.Namespace) -> int:
    from labeldesk.core.review import assignment
    project, me = _session(args)
    with project:
        [asset_id] = _assets(project, [args.asset])
        visible = set(assignment.visible_layers(project, me, asset_id))
        users = {u.id: u.name for u in project.users()}
        for layer in project.layers():
            if layer.id in visible:
                print(f"{layer.name:<20} {layer.kind:<12} {users.get(layer.owner, '-')}")
        hidden = len(project.layers()) - len(visible)
        if hidden:
            print(f"({hidden} other layer(s) hidden from {users.get(me, me)} until review)")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from labeldesk.core.review import workflow
    project, me = _session(args)
    with project:
        [asset_id] = _assets(project, [args.asset])
        layer_id = workflow.resolve_layer(project.conn, asset_id, args.layer, me)
        workflow.submit(project, asset_id, layer_id, user=me, note=args.note)
        item = workflow.item_state(project.conn, asset_id, layer_id)
        print(f"submitted layer {item.layer_name} on {item.asset_name} (revision {item.revision}): {item.state}")
    return 0


def _awaiting(project: Any, asset_id: str) -> str:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review import workflow
    waiting = [i for i in workflow.item_states(project.conn, asset_id) if i.state in ("submitted", "disputed")]
    if len(waiting) != 1:
        names = ", ".join(i.layer_name for i in waiting) or "none"
        raise LabeldeskError(f"name the layer with --layer (layers awaiting review on this asset: {names})")
    return waiting[0].layer_id


def cmd_review(args: argparse.Namespace) -> int:
    from labeldesk.core.review import workflow
    project, me = _session(args)
    with project:
        [asset_id] = _assets(project, [args.asset])
        layer_id = (workflow.resolve_layer(project.conn, asset_id, args.layer, None) if args.layer
                    else _awaiting(project, asset_id))
        if args.return_reason is not None:
            decision, reason = "return", args.return_reason
        else:
            decision, reason = ("fix_approve" if args.fix_approve else "approve"), args.reason
        workflow.decide(project, asset_id, layer_id, decision, user=me, reason=reason)
        item = workflow.item_state(project.conn, asset_id, layer_id)
        print(f"{decision.replace('_', '-')}: layer {item.layer_name} on {item.asset_name} is now {item.state}"
              + (f" ({item.note})" if item.note else ""))
    return 0


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from labeldesk.core.review import adjudication, workflow
    project, me = _session(args)
    with project:
        [asset_id] = _assets(project, [args.asset])
        from_layer = workflow.resolve_layer(project.conn, asset_id, args.from_layer, None) if args.from_layer else None
        applied = adjudication.adjudicate(project, asset_id, reason=args.reason, user=me, from_layer=from_layer,
                                          annotation_ids=args.annotation or (),
                                          outcome="return" if args.return_item else "accept")
        copied = sum(1 for a in applied if a.op.type == "annotation.create")
        summary = workflow.asset_state(project.conn, asset_id)
        print(f"adjudicated {summary.asset_name}: {copied} annotation(s) copied into the final layer; "
              f"asset is now {summary.state}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from labeldesk.core.review import workflow
    project, _ = _session(args)
    with project:
        entries = workflow.review_queue(project.conn)
        if args.json:
            print(json.dumps([e.to_dict() for e in entries], indent=2))
            return 0
        for e in entries:
            print(f"{e.state:<18} {e.asset_name:<30} {e.layer_name:<16} {e.note}".rstrip())
        print(f"{len(entries)} item(s) need review" if entries else "nothing needs review")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.model import Plane
    from labeldesk.core.review import issues
    project, me = _session(args)
    with project:
        if args.action == "open":
            [asset_id] = _assets(project, [args.asset])
            try:
                x, y = (float(v) for v in args.at.split(","))
            except ValueError:
                raise LabeldeskError(f"--at {args.at!r}: give the point as X,Y (image pixels)") from None
            try:
                z = args.z if args.z is not None else index_from_number(args.slice, "--slice")
                t = args.t if args.t is not None else index_from_number(args.frame, "--frame")
            except ValueError as exc:
                raise LabeldeskError(str(exc)) from None
            iid = issues.open_issue(project, asset_id, Plane(z, t, args.axis), (x, y), args.text,
                                    user=me, annotation_id=args.annotation)
            print(f"opened issue {iid}")
        elif args.action == "comment":
            issue = issues.issue(project.conn, args.issue)
            issues.comment(project, issue.id, args.text, user=me)
            print(f"commented on issue {issue.id}")
        elif args.action in ("resolve", "reopen"):
            issue = issues.issue(project.conn, args.issue)
            issues.set_status(project, issue.id, args.action == "resolve", user=me, text=args.note)
            print(f"{'resolved' if args.action == 'resolve' else 'reopened'} issue {issue.id}")
        else:
            asset_id = _assets(project, [args.asset])[0] if args.asset else None
            found = issues.issues(project.conn, asset_id, args.status)
            if args.json:
                print(json.dumps([i.to_dict() for i in found], indent=2))
                return 0
            for i in found:
                print(f"[{i.status}] {i.id}  {i.asset_name} {plane_label(i.plane)} "
                      f"at ({i.image_xy[0]:g}, {i.image_xy[1]:g})  {i.user_name}: {i.text}")
                for e in i.events:
                    print(f"    {e.user_name} {e.kind}" + (f": {e.text}" if e.text else ""))
            if not found:
                print("no issues")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from labeldesk.core.review import audit
    project, _ = _session(args)
    with project:
        report = audit.audit(project, asset=args.asset, user=args.user, since=args.since, until=args.until)
    text = audit.to_csv(report) if args.format == "csv" else audit.to_json(report) + "\n"
    _emit(text, args.output)
    print(f"{len(report.rows)} ops; {report.chain_text()}" + (f"; written to {args.output}" if args.output else ""),
          file=sys.stderr)
    return 0 if report.chain_ok else 3
