"""Making, enrolling, rotating and revoking users' signing keys (`labeldesk share key …`,
`labeldesk share enrol`, `labeldesk share revoke`).

A member makes a key pair on their own machine (``share join --user``, ``share user`` or ``share
key new``); its public half is left on the share as an *enrolment request*
(``devices/<device>/key-<key id>.json``) and shown with its fingerprint. An admin enrols it with a
signed ``key.enrol`` op after comparing the fingerprint with the member (out of band: the request
file proves nothing, anyone can write it). Rotation: the member makes a new key and, in one
change signed by the old key, enrols the new one and revokes the old one from the next op on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OpDraft
from labeldesk.core.store import repo
from labeldesk.core.sync import keys
from labeldesk.core.sync.layout import DEVICE_RE, ShareLayout, read_capped, write_once
from labeldesk.core.sync import share_json

REQUEST_MAX = 4096


def _share(project: Any) -> Path | None:
    value = repo.get_meta(project.conn, "sync.share")
    return Path(value) if value else None


def _name(project: Any, user_id: str | None) -> str:
    row = project.conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else "(no user)"


def make_key(project: Any, user_id: str | None = None, passphrase: str | None = None) -> keys.KeyInfo:
    """A new key pair for ``user_id`` (default: this device's user) in this machine's keyring; on
    a shared project its public half is left on the share as an enrolment request."""
    uid = user_id or project.user_id
    info = keys.generate(project.id, uid, _name(project, uid), passphrase)
    publish_request(project, info)
    return info


def ensure_own_key(project: Any, passphrase: str | None = None) -> tuple[keys.KeyInfo | None, bool]:
    """This device's user's key on this machine, made now if there is none: (key, made now)."""
    if project.user_id is None:
        return None, False
    mine = keys.local_keys(project.id, project.user_id)
    if mine:
        publish_request(project, mine[0])
        return mine[0], False
    return make_key(project, project.user_id, passphrase), True


def publish_request(project: Any, info: keys.KeyInfo) -> None:
    share = _share(project)
    if share is None or info.user_id is None:
        return
    layout = ShareLayout(share)
    d = layout.device_dir(project.device_id)
    path = d / f"key-{info.key_id}.json"
    body = {"key_id": info.key_id, "public_key": info.public_key, "user_id": info.user_id,
            "user_name": info.user_name, "device_id": project.device_id}
    try:
        layout.real_dir(d, create=True)
        if not path.exists():
            write_once(path, (json.dumps(body, sort_keys=True) + "\n").encode())
    except OSError:
        pass        # read-only or offline share: the admin can enrol the key from --key too


def requests(project: Any) -> list[dict[str, Any]]:
    """Enrolment requests on the share (unverified claims: the admin checks the fingerprint)."""
    share = _share(project)
    out: list[dict[str, Any]] = []
    if share is None:
        return out
    layout = ShareLayout(share)
    try:
        devs = sorted(n for n in layout.list_dir(layout.devices) if DEVICE_RE.match(n))
    except OSError:
        return out
    for dev in devs:
        try:
            names = layout.list_dir(layout.device_dir(dev))
        except OSError:
            continue
        for name in names:
            if not (name.startswith("key-") and name.endswith(".json")):
                continue
            try:
                d = share_json.loads(read_capped(layout.device_dir(dev) / name, REQUEST_MAX))
                if keys.key_id_of(d["public_key"]) != d["key_id"] or name != f"key-{d['key_id']}.json":
                    continue
            except (OSError, ValueError, KeyError, TypeError, LabeldeskError):
                continue
            out.append({"key_id": d["key_id"], "public_key": d["public_key"], "user_id": d.get("user_id"),
                        "user_name": d.get("user_name"), "device_id": dev})
    return out


def key_list(project: Any) -> list[dict[str, Any]]:
    """Every key this replica knows (enrolled, revoked, pinned) and the requests on the share."""
    conn = project.conn
    out = []
    known = set()
    for r in conn.execute("SELECT k.key_id, k.user_id, u.name, k.enrolled_by_op, k.revoked_by_op, k.revoked_cut "
                          "FROM user_keys k LEFT JOIN users u ON u.id = k.user_id ORDER BY u.name, k.key_id"):
        known.add(r[0])
        out.append({"key_id": r[0], "fingerprint": keys.fingerprint(r[0]), "user_id": r[1], "user": r[2],
                    "state": "revoked" if r[4] else ("pinned in the project marker" if r[3] is None else "enrolled"),
                    "enrolled_by_op": r[3], "revoked_by_op": r[4], "here": keys.has_private(r[0])})
    for q in requests(project):
        if q["key_id"] not in known:
            known.add(q["key_id"])
            out.append({"key_id": q["key_id"], "fingerprint": keys.fingerprint(q["key_id"]), "user_id": q["user_id"],
                        "user": q["user_name"], "state": "requested", "device_id": q["device_id"],
                        "here": keys.has_private(q["key_id"])})
    return out


def enrol(project: Any, user_ref: str, *, public_key: str | None = None, fingerprint: str | None = None,
          reason: str | None = None, user: str | None = None) -> str:
    """An admin enrols a member's public key (a signed key.enrol op); returns the key id.

    Without ``public_key`` the key is taken from the member's enrolment request on the share (or
    from this machine's keyring); with several candidates ``fingerprint`` chooses."""
    from labeldesk.core.review.roles import find_user
    uid = find_user(project.conn, user_ref)
    enrolled = {r[0] for r in project.conn.execute("SELECT key_id FROM user_keys")}
    if public_key:
        cands = {keys.key_id_of(public_key): public_key}
    else:
        cands = {q["key_id"]: q["public_key"] for q in requests(project) if q["user_id"] == uid}
        cands.update({k.key_id: k.public_key for k in keys.local_keys(project.id, uid)})
        cands = {k: v for k, v in cands.items() if k not in enrolled}
    if fingerprint:
        cands = {k: v for k, v in cands.items() if keys.same_fingerprint(k, fingerprint)}
    name = _name(project, uid)
    if not cands:
        raise LabeldeskError(f"no key of user {name!r} to enrol" + (f" with fingerprint {fingerprint}" if fingerprint else "")
                             + ": they make one with `labeldesk share key new` (or join the share with --user), "
                               "then sync; or give the public key with --key")
    if len(cands) > 1:
        raise LabeldeskError(f"user {name!r} has several keys waiting ({', '.join(keys.fingerprint(k) for k in cands)}): "
                             f"choose one with --fingerprint")
    key_id, public = next(iter(cands.items()))
    if key_id in enrolled:
        raise LabeldeskError(f"key {keys.fingerprint(key_id)} is enrolled already")
    project.apply(OpDraft("key.enrol", uid, {"key_id": key_id, "public_key": public},
                          reason=reason or "key enrolled"), user=user)
    return key_id


def _cut(project: Any) -> dict[str, int]:
    """What this replica has merged or published of every device: the revocation cut."""
    conn = project.conn
    cut = {r[0]: int(r[1]) for r in conn.execute("SELECT dev, last_seq FROM sync_cursors")}
    for r in conn.execute("SELECT dev, MAX(last_seq) FROM sync_published GROUP BY dev"):
        cut[r[0]] = max(cut.get(r[0], 0), int(r[1]))
    return cut


def revoke(project: Any, user_ref: str, *, fingerprint: str | None = None, reason: str | None = None,
           user: str | None = None) -> list[str]:
    """Revoke a user's keys (all, or the one with ``fingerprint``): segments they sign after what
    this replica has merged of each device are refused everywhere. Returns the key ids."""
    from labeldesk.core.review.roles import find_user
    if not (reason or "").strip():
        raise LabeldeskError("revoking a key needs a reason (--reason)")
    uid = find_user(project.conn, user_ref)
    rows = [r[0] for r in project.conn.execute(
        "SELECT key_id FROM user_keys WHERE user_id = ? AND revoked_by_op IS NULL ORDER BY key_id", (uid,))]
    if fingerprint:
        rows = [k for k in rows if keys.same_fingerprint(k, fingerprint)]
    if not rows:
        raise LabeldeskError(f"user {_name(project, uid)!r} has no enrolled key to revoke"
                             + (f" with fingerprint {fingerprint}" if fingerprint else ""))
    cut = _cut(project)
    project.apply_all([OpDraft("key.revoke", uid, {"key_id": k, "cut": cut}, reason=reason) for k in rows], user=user)
    return rows


def rotate(project: Any, passphrase: str | None = None) -> tuple[str, list[str]]:
    """This device's user: a new key pair; enrol it and revoke the old keys in one change signed by
    an old key (their segments stay valid up to that change). Returns (new key id, old key ids)."""
    uid = project.user_id
    if uid is None:
        raise LabeldeskError("this device acts as no user: choose one with `labeldesk share user` first")
    old = [r[0] for r in project.conn.execute(
        "SELECT key_id FROM user_keys WHERE user_id = ? AND revoked_by_op IS NULL", (uid,))]
    if not old:
        raise LabeldeskError("you have no enrolled key to rotate: ask an admin to enrol yours (`labeldesk share enrol`)")
    info = keys.generate(project.id, uid, _name(project, uid), passphrase)
    next_seq = repo.next_seq(project.conn, project.device_id)
    cut = {**_cut(project), project.device_id: next_seq + len(old)}     # the enrol and revoke ops themselves
    project.apply_all([OpDraft("key.enrol", uid, {"key_id": info.key_id, "public_key": info.public_key},
                               reason="key rotated")]
                      + [OpDraft("key.revoke", uid, {"key_id": k, "cut": cut}, reason="key rotated") for k in old])
    publish_request(project, info)
    return info.key_id, old
