"""`labeldesk share …` and `labeldesk sync`: the team's shared folder (docs/sync.md)."""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable

UNSAFE = "allow a project store on a network filesystem or synced folder (risk of corruption)"


def _open(args: argparse.Namespace) -> Any:
    from labeldesk.cli import _open as open_project
    return open_project(args)


def _print_report(report: Any, as_json: bool) -> int:
    d = report.to_dict()
    if as_json:
        print(json.dumps(d, indent=2))
    else:
        got = d["received"]
        changed = ", ".join(f"{v} {k}" for k, v in d["changed"].items() if v) or "nothing"
        print(f"share     {d['state']}" + (f": {d['message']}" if d["message"] else ""))
        print(f"published {d['published_ops']} ops in {d['published_segments']} segments")
        print(f"received  {got.get('ops', 0)} ops: {got.get('applied', 0)} applied, {got.get('pending', 0)} pending, "
              f"{got.get('duplicates', 0)} duplicates, {got.get('unauthorised', 0)} unauthorised, "
              f"{got.get('unknown_type', 0)} need a newer app")
        if d["fast_forwarded"]:
            print(f"restored  {d['fast_forwarded']} own ops found on the share (store restored from a backup?)")
        if d["rekeyed_to"]:
            print(f"identity  this store now publishes as device {d['rekeyed_to'][:8]}")
        print(f"changed   {changed}")
        for n in d.get("notes", []):
            print(f"sync tool {n}")
        for p in d["problems"]:
            print(f"problem   {p}")
    return 0 if d["state"] in ("ok", "read-only", "identity") else 1


def _new_passphrase(args: argparse.Namespace) -> str | None:
    """--passphrase: protect the new private key (LABELDESK_KEY_PASSPHRASE, else asked twice)."""
    import getpass
    import os
    from labeldesk.core.errors import LabeldeskError
    if not getattr(args, "passphrase", False):
        return None
    env = os.environ.get("LABELDESK_KEY_PASSPHRASE")
    if env:
        return env
    first = getpass.getpass("passphrase for the new key: ")
    if not first or first != getpass.getpass("the same passphrase again: "):
        raise LabeldeskError("the passphrases are empty or differ; no key was made")
    return first


def _key_line(project: Any) -> str:
    from labeldesk.core.sync import keys
    mine = keys.local_keys(project.id, project.user_id) if project.user_id else []
    if not mine:
        return "key       none on this machine for this device's user"
    return f"key       {mine[0].fingerprint} ({keys.keys_dir() / (mine[0].key_id + '.key')})"


def cmd_share_init(args: argparse.Namespace) -> int:
    from labeldesk.core.sync.engine import init_share
    with _open(args) as project:
        report = init_share(project, args.folder, passphrase=_new_passphrase(args))
        if not args.json:
            print(f"project {project.name!r} ({project.id}) is shared at {args.folder}")
            print(_key_line(project) + ": pinned in the project marker as the founding admin's key")
        return _print_report(report, args.json)


def cmd_share_join(args: argparse.Namespace) -> int:
    from labeldesk.core.sync.engine import join_share
    project, report = join_share(args.folder, args.dest, user=args.user,
                                 allow_unsafe_location=args.allow_unsafe_location, passphrase=_new_passphrase(args))
    with project:
        if args.json:
            return _print_report(report, True)
        print(f"joined project {project.id} at {project.root} as device {project.device_id[:8]}"
              + (f", user {args.user}" if args.user else ""))
        from labeldesk.core.store import repo
        if repo.get_meta(project.conn, "sync.snapshot"):
            print(f"bootstrapped from snapshots/{repo.get_meta(project.conn, 'sync.snapshot')}, then the segments after it")
        if not args.user:
            print(f"no --user given: you can view; to edit, ask an admin to add you (`labeldesk user add`), then "
                  f"`labeldesk sync {project.root}` and `labeldesk share user {project.root} YOUR_NAME`")
        else:
            print(_key_line(project) + ": tell your admin this fingerprint; your changes reach the others once "
                  f"they run `labeldesk share enrol PROJECT {args.user}`")
        return _print_report(report, args.json)


def cmd_share_user(args: argparse.Namespace) -> int:
    from labeldesk.core.review.roles import find_user
    from labeldesk.core.store import repo
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.sync import enrolment, keys
    with _open(args) as project:
        uid = find_user(project.conn, args.name)
        enrolled = [r[0] for r in project.conn.execute(
            "SELECT key_id FROM user_keys WHERE user_id = ? AND revoked_by_op IS NULL", (uid,))]
        if enrolled and not any(keys.has_private(k) for k in enrolled):
            raise LabeldeskError(f"user {args.name!r} has an enrolled key, and its private half is not on this "
                                 f"machine: acting as them needs it (nothing changed)")
        with project.transaction() as conn:
            repo.set_meta(conn, "user_id", uid)
        project.user_id = uid
        info, made = enrolment.ensure_own_key(project, _new_passphrase(args))
        print(f"on this device you now act as {args.name} ({uid})")
        if made and info is not None:
            print(f"key       {info.fingerprint}: made now; an admin enrols it with "
                  f"`labeldesk share enrol PROJECT {args.name}` (compare the fingerprint)")
        return 0


def cmd_share_enrol(args: argparse.Namespace) -> int:
    from labeldesk.core.sync import enrolment, keys
    with _open(args) as project:
        key_id = enrolment.enrol(project, args.name, public_key=args.key, fingerprint=args.fingerprint,
                                 reason=args.reason)
        print(f"enrolled  key {keys.fingerprint(key_id)} of {args.name}; run `labeldesk sync` to share the enrolment")
        return 0


def cmd_share_revoke(args: argparse.Namespace) -> int:
    from labeldesk.core.sync import enrolment, keys
    with _open(args) as project:
        done = enrolment.revoke(project, args.name, fingerprint=args.fingerprint, reason=args.reason)
        for k in done:
            print(f"revoked   key {keys.fingerprint(k)} of {args.name}: its segments after what this replica has "
                  f"merged are refused everywhere; run `labeldesk sync`")
        return 0


def cmd_share_key(args: argparse.Namespace) -> int:
    from labeldesk.core.review.roles import find_user
    from labeldesk.core.sync import enrolment, keys
    with _open(args) as project:
        if args.key_command == "new":
            uid = find_user(project.conn, args.user) if args.user else project.user_id
            info = enrolment.make_key(project, uid, _new_passphrase(args))
            print(f"key       {info.fingerprint} made for {info.user_name} ({keys.keys_dir() / (info.key_id + '.key')})")
            print(f"public    {info.public_key}")
            print(f"next      an admin runs `labeldesk share enrol PROJECT {info.user_name}` (after a sync, or with "
                  f"--key {info.public_key})")
            return 0
        if args.key_command == "rotate":
            new, old = enrolment.rotate(project, _new_passphrase(args))
            print(f"rotated   new key {keys.fingerprint(new)}; revoked {', '.join(keys.fingerprint(k) for k in old)} "
                  f"from this change on; run `labeldesk sync`")
            return 0
        rows = enrolment.key_list(project)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for r in rows:
            print(f"{r['fingerprint']}  {str(r['user']):<12} {r['state']:<30} "
                  f"{'private key on this machine' if r['here'] else ''}")
        if not rows:
            print("no keys")
        return 0


def cmd_share_snapshot(args: argparse.Namespace) -> int:
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review.roles import _has_admin, user_roles
    from labeldesk.core.sync import snapshot
    from labeldesk.core.sync.engine import sync_round
    with _open(args) as project:
        if _has_admin(project.conn) and "admin" not in user_roles(project.conn, project.user_id):
            raise LabeldeskError(f"{project.root}: only an admin writes snapshots of the share")
        report = sync_round(project)          # publish first, so the snapshot covers this device's work
        if report.state not in ("ok", "identity"):
            raise LabeldeskError(f"{project.root}: no snapshot written: the share is {report.state}"
                                 + (f" ({report.message})" if report.message else ""))
        name, manifest = snapshot.write(project)
        if args.json:
            print(json.dumps({"snapshot": name, "vector": manifest["vector"],
                              "state_digest": manifest["state_digest"]}, indent=2))
        else:
            ops = sum(manifest["vector"].values())
            print(f"snapshot  snapshots/{name}: {ops} ops of {len(manifest['vector'])} devices")
            if manifest["state_digest"] is None:
                print("note      this store holds ops not yet on the share; joiners check the ops, not the state")
        return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from labeldesk.core.sync.engine import sync_round
    from labeldesk.core.ontology_codes import collision_text, value_collisions
    from labeldesk.core import document_snapshot
    with _open(args) as project:
        mark = document_snapshot.high_water(project.conn)
        code = _print_report(sync_round(project, verify=args.verify), args.json)
        document_snapshot.write_ahead_since(project.conn, mark)    # assets the pull changed: no cold first open
        if not args.json:       # classes made apart on two devices with one label value: named, not renumbered
            for value, classes in value_collisions(project.classes()):
                print(f"ontology  {collision_text(value, classes)}")
        return code


def cmd_share_status(args: argparse.Namespace) -> int:
    from labeldesk.core.sync.status import status
    with _open(args) as project:
        s = status(project)
        if args.json:
            print(json.dumps(s, indent=2))
            return 0
        last = s["last_round"] or {}
        print(f"share     {s['share'] or '(not shared)'}  last round {last.get('wall', 'never')}: "
              f"{last.get('state', '-')} {last.get('message', '')}")
        print(f"this      device {s['device_id'][:8]}, user {s['user']}; outbox {s['outbox']} ops; "
              f"pending {s['pending']}; open conflicts {s['open_conflicts']}; unauthorised {s['unauthorised']}; "
              f"need newer app {s['unknown_type']}")
        if s["held_from_previous_identity"]:
            print(f"held      {s['held_from_previous_identity']} ops of this store's previous device id")
        if s["identity_alert"]:
            print(f"ALERT     {s['identity_alert']}")
        for p in last.get("problems", []):
            print(f"{'note' if p.startswith(('incomplete', 'waiting')) else 'ALERT':<9} {p}")
        print(f"signing   {s['signing']}")
        if s.get("publish_blocked"):
            print(f"BLOCKED   {s['publish_blocked']}")
        from labeldesk.core.sync_tools import report_once
        new_files, known = report_once(project, s["share_artefacts"] + [a for d in s["devices"] for a in d["artefacts"]])
        for a in new_files:
            print(f"ignored   sync-tool file {a} (not data; listed once)")
        if known:
            print(f"ignored   {known} sync-tool files listed before (`share status --json` lists them all)")
        for d in s["devices"]:
            wait = f", WAITING for seq {d['waiting_for_seq']} since {d['waiting_since']}" if d["waiting_for_seq"] else ""
            clock = f", CLOCK {d['clock_ahead_s']} s ahead" if d["clock_ahead_s"] else ""
            print(f"device    {d['device_id'][:8]}  user {d['user']}  last seq {d['last_seq']} "
                  f"({d['last_segment'] or '-'}){wait}; pending {d['pending']}, conflicts {d['conflicts']}, "
                  f"unauthorised {d['unauthorised']}{clock}")
            for p in d["problems"]:
                print(f"          {'ALERT' if p['alert'] else 'note'}: {p['text']} (since {p['since']})")
        print(f"digest    {s['state_digest'][:16]} (equal on replicas that have merged the same ops)")
        return 0


def cmd_share_conflicts(args: argparse.Namespace) -> int:
    from labeldesk.core.sync.status import conflicts
    with _open(args) as project:
        rows = conflicts(project, include_resolved=args.all)
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            print("no open conflicts")
        for c in rows:
            print(f"{c['id'][:12]}  {c['status']:<8} {c['entity_kind']} {c['entity']} field {c['field']}"
                  f" ({c['kind']}); shown: {c['winner']}")
            for cand in c["candidates"]:
                value = json.dumps(cand.get("value"))
                print(f"    {cand['op_id']}  by {cand.get('user_name')}  {cand.get('wall')}  "
                      f"{value[:70] + ('…' if len(value) > 70 else '')}")
        return 0


def cmd_share_resolve(args: argparse.Namespace) -> int:
    from labeldesk.core.sync.status import resolve
    with _open(args) as project:
        applied = resolve(project, args.conflict, args.choice, args.reason)
        print(f"resolved conflict {applied.op.payload['conflict'][:12]}: kept {applied.op.payload['choice']} "
              f"(op {applied.op.op_id}); run `labeldesk sync` to share the decision")
        return 0


def register(command: Callable[..., Any]) -> None:
    share = command("share", lambda a: (share.print_help(), 2)[1],
                    "work with the team's shared folder: init, join, status, conflicts, resolve, user, enrol, revoke, "
                    "key, snapshot")
    sub = share.add_subparsers(dest="share_command", metavar="SUBCOMMAND")

    def sub_command(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = sub_command("init", cmd_share_init, "share a project through a folder (network share or synced folder): "
                    "writes the project marker and this device's segments; the store stays local")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("folder", metavar="FOLDER", help="empty shared folder")
    p.add_argument("--passphrase", action="store_true", help="protect your new private key with a passphrase")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("join", cmd_share_join, "make a new local replica of a shared project (new device id) and "
                    "bootstrap it from the newest valid snapshot (if any) and every device's segments after it")
    p.add_argument("folder", metavar="FOLDER", help="the shared folder (holds labeldesk-project.json)")
    p.add_argument("dest", metavar="DEST", help="new local project folder (on a local disk)")
    p.add_argument("--user", help="your user name in the project (an admin adds users); your key pair is made "
                   "on this machine and waits on the share for an admin to enrol it")
    p.add_argument("--passphrase", action="store_true", help="protect your new private key with a passphrase")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("status", cmd_share_status, "per device: user, last segment, waiting for a gap, pending ops, "
                    "conflicts, clock warnings, sync-tool files seen")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("conflicts", cmd_share_conflicts, "list sync conflicts (same field edited concurrently, "
                    "edit concurrent with a delete) with every candidate value")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("--all", action="store_true", help="include resolved conflicts")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("resolve", cmd_share_resolve, "decide a conflict: keep one candidate's value (a conflict.resolve op)")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("conflict", metavar="CONFLICT", help="conflict id (or a unique prefix)")
    p.add_argument("choice", metavar="OP_ID", help="op id of the candidate to keep (or a unique suffix)")
    p.add_argument("--reason", help="why (kept in the audit trail)")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("snapshot", cmd_share_snapshot, "admin: sync, then write an immutable snapshot of every op this "
                    "store has merged or published (snapshots/snap-*); new devices joining load the newest valid "
                    "snapshot and read only the segments after it")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("user", cmd_share_user, "choose who you are on this device: a project member (an admin adds "
                    "members with `labeldesk user add`; sync first so that this replica knows them)")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("name", metavar="NAME", help="your user name (or id) in the project")
    p.add_argument("--passphrase", action="store_true", help="protect a new private key with a passphrase")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("enrol", cmd_share_enrol, "admin: enrol a member's public key (a signed op) so that the "
                    "segments they sign are merged; compare its fingerprint with them first")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("name", metavar="NAME", help="the member's user name (or id)")
    p.add_argument("--key", metavar="PUBLIC_KEY", help="the public key (base64) if it is not on the share")
    p.add_argument("--fingerprint", metavar="FP", help="enrol only the key with this fingerprint (16 hex digits)")
    p.add_argument("--reason", help="why (kept in the audit trail)")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = sub_command("revoke", cmd_share_revoke, "admin (or the member, for their own): revoke a member's keys; "
                    "segments they sign after what this replica has merged are refused, earlier ones kept")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("name", metavar="NAME", help="the member's user name (or id)")
    p.add_argument("--fingerprint", metavar="FP", help="revoke only the key with this fingerprint")
    p.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    key = sub.add_parser("key", help="your signing keys: new, rotate, list",
                         description="your signing keys: new, rotate, list")
    key.set_defaults(func=lambda a: (key.print_help(), 2)[1])
    key_sub = key.add_subparsers(dest="key_command", metavar="SUBCOMMAND")
    for name, help_ in (("new", "make a key pair on this machine (for you, or --user NAME working here) and leave "
                                "its public half on the share for an admin to enrol"),
                        ("rotate", "make a new key pair, enrol it and revoke your old keys (one signed change)"),
                        ("list", "keys this replica knows: enrolled, revoked, pinned, and requests on the share")):
        p = key_sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=cmd_share_key)
        p.add_argument("project", metavar="PROJECT", help="local project folder")
        if name == "new":
            p.add_argument("--user", metavar="NAME", help="the member the key is for (default: this device's user)")
        if name in ("new", "rotate"):
            p.add_argument("--passphrase", action="store_true", help="protect the private key with a passphrase "
                           "(asked twice, or LABELDESK_KEY_PASSPHRASE)")
        if name == "list":
            p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)

    p = command("sync", cmd_sync, "one sync round: publish this device's changes to the shared folder, "
                "merge the other devices' changes, print a summary")
    p.add_argument("project", metavar="PROJECT", help="local project folder")
    p.add_argument("--verify", action="store_true", help="also re-hash this device's published segments")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=UNSAFE)
