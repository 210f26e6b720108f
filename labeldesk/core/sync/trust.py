"""Who may sign for whom on the share (docs/sync.md §3 "Signing keys").

Anyone who can write the shared folder can write any file in it, so a segment proves its author
by a signature only:

* the founding admin's public key is pinned in the project marker when the share is made; every
  replica copies it into its store when it joins and refuses a marker whose key changed later;
* every other key is enrolled by a signed ``key.enrol`` op: an admin's for anyone, a member's own
  for a new key of theirs (rotation); ``key.revoke`` withdraws one with a cut per device;
* a device signs each segment it publishes with the key of the one user whose ops it carries
  (the publisher cuts segments where the user changes);
* a replica merges a segment only when its signature verifies with an enrolled key, the key is not
  revoked for that part of the device's log, and every op in it is by the key's user.

A segment signed by a key not enrolled (yet) waits, as a gap does: its user's enrolment may be
in another device's segment not merged yet. Anything else wrong is refused, with an alert naming
the device, and never stops the merge of the other devices.

Imports made by an admin into another person's layer are the admin's ops (the op's user is who
ran the import; the layer's owner and the annotation's ``author`` say whose work it is): the
admin signs them, and the roles check lets an admin write any layer.

Shares made before signing keys have a marker without a pinned key: their segments are merged
unsigned, as before, and ``share status`` says so.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.store import repo
from labeldesk.core.sync import keys
from labeldesk.core.sync.segment import Segment

ROOT_META = "sync.root_key"
OK, WAIT, REFUSE = "ok", "wait", "refuse"


# ---- the pinned founding admin key -----------------------------------------------------------
def root_key(conn: sqlite3.Connection) -> dict[str, Any] | None:
    raw = repo.get_meta(conn, ROOT_META)
    return json.loads(raw) if raw else None


def marker_key(marker: dict[str, Any]) -> dict[str, Any] | None:
    """The admin key a project marker pins (None: a share made before signing keys)."""
    k = marker.get("admin_key")
    if k is None:
        return None
    if not isinstance(k, dict) or not all(isinstance(k.get(f), str) for f in ("key_id", "public_key", "user_id")):
        raise LabeldeskError("the project marker's admin key is malformed")
    if keys.key_id_of(k["public_key"]) != k["key_id"]:
        raise LabeldeskError("the project marker's admin key id does not match its public key")
    return {"key_id": k["key_id"], "public_key": k["public_key"], "user_id": k["user_id"]}


def pin_root(conn: sqlite3.Connection, key: dict[str, Any] | None) -> None:
    """Inside a transaction: trust the marker's admin key from now on (init and join only)."""
    if key is None:
        return
    repo.set_meta(conn, ROOT_META, json.dumps(key, sort_keys=True))
    conn.execute("INSERT OR IGNORE INTO user_keys (key_id, user_id, public_key, enrolled_by_op) VALUES (?,?,?,NULL)",
                 (key["key_id"], key["user_id"], key["public_key"]))


def check_marker(pinned: dict[str, Any] | None, marker: dict[str, Any]) -> str | None:
    """Why the share's marker cannot be trusted any more (its pinned admin key changed)."""
    if pinned is None:
        return None
    try:
        now = marker_key(marker)
    except LabeldeskError as exc:
        return f"{exc}: the marker was tampered with; nothing was read or written"
    if now is None or now["key_id"] != pinned["key_id"]:
        return ("the project marker no longer pins the founding admin's key this replica trusts "
                f"({keys.fingerprint(pinned['key_id'])}): the marker was replaced; nothing was read or written")
    return None


# ---- deciding on a segment ---------------------------------------------------------------------
def _user_name(conn: sqlite3.Connection, user_id: Any) -> str:
    if not isinstance(user_id, str):          # (a hand-made line's user may be anything)
        return f"id {user_id!r}"
    row = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    return repr(row[0]) if row else f"id {user_id}"


def check(conn: sqlite3.Connection, seg: Segment, *, signed_share: bool | None = None) -> tuple[str, str]:
    """(OK | WAIT | REFUSE, why) for merging ``seg`` into this store."""
    if signed_share is None:
        signed_share = root_key(conn) is not None
    where = f"device {seg.dev[:8]}: segment {seg.name}"
    if seg.key_id is None:
        if not signed_share:
            return OK, ""
        return REFUSE, f"{where} is not signed: refused (every segment of this share must be signed)"
    row = conn.execute("SELECT user_id, public_key, revoked_by_op, revoked_cut FROM user_keys WHERE key_id = ?",
                       (seg.key_id,)).fetchone()
    fp = keys.fingerprint(seg.key_id)
    if row is None:
        return WAIT, (f"waiting: {where} is signed by key {fp}, which is not enrolled here (yet); an admin "
                      f"enrols it with `labeldesk share enrol`")
    user_id, public, revoked_by, cut = row
    if not keys.verify(public, seg.sig, keys.SEGMENT_CONTEXT, seg.body_sha):
        return REFUSE, f"{where}: forged: its signature does not verify with key {fp} of user " \
                       f"{_user_name(conn, user_id)}; refused"
    if revoked_by:
        kept = json.loads(cut or "{}").get(seg.dev, 0)
        if seg.last > kept:
            return REFUSE, (f"{where} is signed by key {fp} of user {_user_name(conn, user_id)}, revoked by op "
                            f"{revoked_by} (this device's segments are accepted up to seq {kept}); refused")
    for line in seg.lines:
        if line.get("user") != user_id:
            return REFUSE, (f"{where}: op {line.get('op_id')} claims to be by user {_user_name(conn, line.get('user'))}"
                            f" but the segment is signed by key {fp} of user {_user_name(conn, user_id)}: "
                            f"impersonation; refused")
    return OK, ""


def own_key_ids(project_id: str, user_ids: set[str]) -> set[str]:
    return {k.key_id for u in user_ids for k in keys.local_keys(project_id, u)}


def verify_own(seg: Segment, local: dict[str, str]) -> bool:
    """A segment in our own folder is ours only if signed by one of this machine's keys
    (``local``: key id -> public key)."""
    public = local.get(seg.key_id or "")
    return public is not None and keys.verify(public, seg.sig, keys.SEGMENT_CONTEXT, seg.body_sha)


# ---- signing what this device publishes --------------------------------------------------------
class Signer:
    """Which key of this machine signs a user's op at a seq of this device: an enrolled key whose
    range covers the seq -- from after its own enrolment op, if this device published that op
    (rotation: the segment that enrols a new key is signed by the old one), up to the cut of its
    revocation -- else the newest local key not enrolled yet (readers wait for its enrolment)."""

    def __init__(self, project: Any) -> None:
        self.project = project
        self.signed_share = root_key(project.conn) is not None
        self._ranges: dict[tuple[str | None, str], list[tuple[int, float, str]]] = {}

    def _candidates(self, user_id: str | None, dev: str) -> list[tuple[int, float, str]]:
        if (user_id, dev) in self._ranges:
            return self._ranges[(user_id, dev)]
        out: list[tuple[int, float, str]] = []
        if user_id is not None:
            local = keys.local_keys(self.project.id, user_id)
            table = {r[0]: (r[1], r[2], r[3]) for r in self.project.conn.execute(
                "SELECT key_id, enrolled_by_op, revoked_by_op, revoked_cut FROM user_keys WHERE user_id = ?", (user_id,))}
            for k in local:
                if k.key_id not in table:
                    continue
                enrolled, revoked, cut = table[k.key_id]
                lo = 1
                if enrolled and enrolled.rsplit(":", 1)[0] == dev:
                    lo = int(enrolled.rsplit(":", 1)[1]) + 1
                hi = float(json.loads(cut or "{}").get(dev, 0)) if revoked else float("inf")
                out.append((lo, hi, k.key_id))
            out.sort()
            fresh = [k for k in local if k.key_id not in table]
            if fresh:                 # newest not enrolled: waits at the readers until it is
                out.append((1, float("inf"), fresh[0].key_id))
        self._ranges[(user_id, dev)] = out
        return out

    def key_for(self, user_id: str | None, dev: str, seq: int) -> str | None:
        for lo, hi, key in self._candidates(user_id, dev):
            if lo <= seq <= hi:
                return key
        return None

    def problem(self, user_id: str | None, dev: str, seq: int) -> str | None:
        """Why this op cannot be published from this machine (None: it can)."""
        key = self.key_for(user_id, dev, seq)
        if key is None:
            if not self.signed_share:
                return None
            return (f"no usable private key of user {_user_name(self.project.conn, user_id)} on this machine: "
                    f"their ops cannot be signed (make one with `labeldesk share key new`)")
        try:
            keys.private(key)
        except LabeldeskError as exc:
            return str(exc)
        return None

    @staticmethod
    def signer(key: str | None) -> Any:
        if key is None:
            return None
        return lambda digest: keys.sign(key, keys.SEGMENT_CONTEXT, digest)


def usable_key(project: Any, user_id: str) -> str | None:
    """An enrolled, unrevoked key of ``user_id`` whose private half is on this machine."""
    state = {r[0]: r[1] for r in project.conn.execute(
        "SELECT key_id, revoked_by_op FROM user_keys WHERE user_id = ?", (user_id,))}
    for k in keys.local_keys(project.id, user_id):
        if k.key_id in state and state[k.key_id] is None:
            return k.key_id
    return None


def require_private_key(project: Any, user_id: str) -> None:
    """Acting as ``user_id`` (CLI ``--as``) needs that user's private key on this machine."""
    key = usable_key(project, user_id)
    name = _user_name(project.conn, user_id)
    if key is None:
        raise LabeldeskError(
            f"acting as user {name} needs their private key on this machine, and none is enrolled here: "
            f"{name} makes one with `labeldesk share key new PROJECT --user NAME`, an admin enrols it with "
            f"`labeldesk share enrol PROJECT NAME`")
    keys.private(key)       # unlock (passphrase) now: a wrong one is refused before anything is done


# ---- a revocation that arrives after segments it cuts off were merged ------------------------------
def retract_revoked(conn: sqlite3.Connection, reducer: Any, now: str) -> tuple[Any, int]:
    """Inside a transaction: ops merged here from segments that a revocation (merged later) cuts
    off are set aside (state ``revoked``: kept in the audit log, not applied) and their entities
    replayed without them, so that every replica ends with the same state whatever order the
    revocation and the segments arrived in. Returns (changes, ops set aside)."""
    from labeldesk.core.ops import ChangeSet
    from labeldesk.core.sync.history import REF_COLUMNS, ref_from_row
    from labeldesk.core.sync.layout import SegmentName
    from labeldesk.core.sync.reducer import group_of
    from labeldesk.core.sync.withdraw import withdraw_records
    changes, n = ChangeSet(), 0
    groups: set[tuple[str, str | None]] = set()
    set_aside: list[str] = []
    rows = conn.execute("SELECT s.dev, s.name, k.revoked_cut, k.revoked_by_op FROM sync_segments s JOIN user_keys k "
                        "ON k.key_id = s.key_id WHERE k.revoked_by_op IS NOT NULL").fetchall()
    for dev, name, cut, by in rows:
        sn = SegmentName.parse(name)
        kept = json.loads(cut or "{}").get(dev, 0)
        if sn is None or sn.last <= kept:
            continue
        for row in conn.execute(f"SELECT {REF_COLUMNS} FROM ops o WHERE o.dev = ? AND o.seq BETWEEN ? AND ?",
                                (dev, max(sn.first, kept + 1), sn.last)).fetchall():
            ref = ref_from_row(tuple(row))
            conn.execute("INSERT OR REPLACE INTO sync_op_state (op_id, state, reason, since) VALUES (?,?,?,?)",
                         (ref.op_id, "revoked", f"signed by a key revoked by op {by} (merged here before the "
                                                f"revocation arrived)", now))
            n += 1
            set_aside.append(ref.op_id)
            if (g := group_of(ref)) is not None:
                groups.add(g)
        conn.execute("DELETE FROM sync_segments WHERE dev = ? AND name = ?", (dev, name))
    changes.update(withdraw_records(conn, set_aside))      # reviews, issues, releases… made by them
    for g in sorted(groups, key=lambda g: (g[0], g[1] or "")):
        changes.update(reducer.reduce(g))
    return changes, n
