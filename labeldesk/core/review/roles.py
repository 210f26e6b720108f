"""Who may apply which op: roles (annotator, reviewer, adjudicator, admin) and layer ownership.

:func:`authorisation_problem` is evaluated against the ``roles`` table at apply time: locally by
``Project.apply_all`` (an unauthorised op is refused) and by the sync merge for ops from other
devices (recorded, not applied). Rules:

* annotators edit annotations and classifications only in annotator layers they own, and submit them;
* reviewers decide (approve / fix-and-approve / return), never on a layer they own; a reviewer's
  fix goes into a *final* layer, which reviewers and adjudicators write;
* adjudicators adjudicate and write the final layer;
* admins add users, grant and revoke roles, change the ontology, the project settings and the
  assets, and may write any layer (an import into a named layer, a correction — all audited);
* an admin holds every role unless an admin removed one explicitly: revoking a role an admin holds
  only through being admin leaves a ``waived:<role>`` row in the ``roles`` table (granting it again
  removes the row); :func:`effective_roles` turns the rows into the roles a user has;
* bootstrap: while the project has no admin, ``user.add`` and ``role.grant`` pass (Project.create).

Every op type declares its roles in :data:`REQUIRED_ROLES` (the op type modules add their own);
an op type may also have an ``authorise(conn, op, roles)`` method returning why its author may
not write that op (None = may), e.g. "may not resolve a conflict on a layer they may not write".
An op type not listed needs only a user who is a member of the project
(tests/core/sync/adversarial/test_adv_roles.py checks that every built-in type is listed).
"""
from __future__ import annotations

import os
import sqlite3
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OP_TYPES, Op

ANY_ROLE = ("annotator", "reviewer", "adjudicator", "admin")
EDITORS = ANY_ROLE          # annotation edits: the layer rule below decides
ADMIN = ("admin",)

REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "user.add": ADMIN, "role.grant": ADMIN, "role.revoke": ADMIN,
    "project.settings": ADMIN,
    "ontology.class.create": ADMIN, "ontology.class.update": ADMIN, "ontology.class.merge": ADMIN,
    "asset.add": ADMIN, "asset.remove": ADMIN, "asset.restore": ADMIN, "asset.rename": ADMIN,
    "layer.create": ANY_ROLE, "layer.remove": ADMIN, "layer.restore": ADMIN,
    "annotation.create": EDITORS, "annotation.update": EDITORS, "annotation.delete": EDITORS,
    "annotation.restore": EDITORS, "classification.add": EDITORS, "classification.remove": EDITORS,
    "task.assign": ("admin", "reviewer"), "task.unassign": ("admin", "reviewer"),
    "review.submit": ("annotator", "admin"),
    "review.decide": ("reviewer", "adjudicator"),
    "review.adjudicate": ("adjudicator",),
    "issue.open": ANY_ROLE, "issue.comment": ANY_ROLE, "issue.resolve": ANY_ROLE, "issue.reopen": ANY_ROLE,
    # signing keys: an admin enrols or revokes anyone's; a member rotates or revokes their own
    "key.enrol": ANY_ROLE, "key.revoke": ANY_ROLE,
}

# Which roles may write annotations into a layer of each kind (admins may write any layer).
LAYER_WRITERS = {"final": ("reviewer", "adjudicator"), "predictions": ("annotator",)}


WAIVED = "waived:"

# What each op type does, in the words a refusal uses ("bob may not approve or return a layer").
OP_WORDS: dict[str, str] = {
    "user.add": "add a member", "role.grant": "give a role", "role.revoke": "remove a role",
    "project.settings": "change the project settings", "ontology.class.create": "add a class",
    "ontology.class.update": "change a class", "ontology.class.merge": "merge classes",
    "asset.add": "add assets", "asset.remove": "remove an asset", "asset.restore": "restore an asset",
    "asset.rename": "rename an asset", "layer.create": "make a layer", "layer.remove": "remove a layer",
    "layer.restore": "restore a layer", "annotation.create": "draw", "annotation.update": "change an annotation",
    "annotation.delete": "delete an annotation", "annotation.restore": "restore an annotation",
    "classification.add": "classify", "classification.remove": "remove a classification",
    "task.assign": "assign work", "task.unassign": "take work back", "review.submit": "submit a layer",
    "review.decide": "approve or return a layer", "review.adjudicate": "adjudicate",
    "issue.open": "open an issue", "issue.comment": "comment", "issue.resolve": "resolve an issue",
    "issue.reopen": "reopen an issue",
}


def op_words(op_type: str) -> str:
    return OP_WORDS.get(op_type, op_type.replace(".", " "))


def effective_roles(rows: set[str] | frozenset[str]) -> set[str]:
    """The roles a user holds given their rows in the ``roles`` table: an admin holds every role
    except those waived explicitly."""
    explicit = {r for r in rows if not r.startswith(WAIVED)}
    if "admin" not in explicit:
        return explicit
    waived = {r[len(WAIVED):] for r in rows if r.startswith(WAIVED)}
    return set(ANY_ROLE) - (waived - {"admin"})


def user_roles(conn: sqlite3.Connection, user_id: str | None) -> set[str]:
    return effective_roles({r[0] for r in conn.execute("SELECT role FROM roles WHERE user_id = ?", (user_id,))})


def roles_in_words(roles: set[str] | frozenset[str]) -> str:
    return ", ".join(r for r in ("admin", "annotator", "reviewer", "adjudicator") if r in roles) or "no role"


def user_name(conn: sqlite3.Connection, user_id: str | None) -> str:
    row = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else str(user_id)


def _has_admin(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM roles WHERE role = 'admin' LIMIT 1").fetchone() is not None


def _either(roles: tuple[str, ...]) -> str:
    return "role " + " or ".join(roles)


def missing_role(conn: sqlite3.Connection, user_id: str | None, op_type: str) -> str | None:
    """For the window: why ``user_id`` cannot take actions of ``op_type`` at all (None = may),
    e.g. "needs role reviewer or adjudicator (you have annotator)". Layer rules are not judged."""
    wanted = REQUIRED_ROLES.get(op_type)
    if wanted is None:
        return None
    roles = user_roles(conn, user_id)
    if roles & set(wanted):
        return None
    return f"needs {_either(wanted)} (you have {roles_in_words(roles)})"


def layer_write_problem(conn: sqlite3.Connection, user_id: str | None, roles: set[str],
                        layer: dict[str, Any] | sqlite3.Row) -> str | None:
    """Why ``user_id`` may not write annotations into ``layer`` (None = allowed)."""
    if "admin" in roles:
        return None
    kind, owner, name = layer["kind"], layer["owner"], layer["name"]
    if kind == "annotator":
        if owner != user_id:
            return f"layer {name!r} belongs to {user_name(conn, owner) if owner else 'nobody'} (needs role admin)"
        return None if "annotator" in roles else f"needs role annotator to edit own layer {name!r}"
    wanted = LAYER_WRITERS.get(kind, ADMIN)
    return None if roles & set(wanted) else f"needs {_either(wanted)} to write the {kind} layer {name!r}"


def _layer(conn: sqlite3.Connection, layer_id: Any) -> sqlite3.Row | None:
    return conn.execute("SELECT id, name, kind, owner FROM layers WHERE id = ?", (layer_id,)).fetchone()


def _row_layer(conn: sqlite3.Connection, table: str, entity: str | None) -> sqlite3.Row | None:
    """The layer of the ``table`` row ``entity`` (one statement: the check runs on every edit)."""
    return conn.execute(f"SELECT l.id, l.name, l.kind, l.owner FROM {table} AS t JOIN layers AS l"
                        " ON l.id = t.layer_id WHERE t.id = ?", (entity,)).fetchone()


def _touched_layers(conn: sqlite3.Connection, op: Op) -> list[sqlite3.Row | dict[str, Any]]:
    """The layers an annotation/classification/layer op writes (those that exist yet)."""
    p = op.payload
    out: list[Any] = []
    if op.type == "annotation.create":
        out.append(_layer(conn, (p.get("annotation") or {}).get("layer_id")))
    elif op.type == "annotation.update":
        out.append(_row_layer(conn, "annotations", op.entity))
        if "layer_id" in (p.get("set") or {}):
            out.append(_layer(conn, p["set"]["layer_id"]))
    elif op.type in ("annotation.delete", "annotation.restore"):
        out.append(_row_layer(conn, "annotations", op.entity))
    elif op.type == "classification.add":
        out.append(_row_layer(conn, "classifications", op.entity) if p.get("restore") else _layer(conn, p.get("layer_id")))
    elif op.type == "classification.remove":
        out.append(_row_layer(conn, "classifications", op.entity))
    elif op.type == "layer.create":
        d = p.get("layer") or {}
        out.append({"kind": d.get("kind", "annotator"), "owner": d.get("owner"), "name": d.get("name")})
    elif op.type == "review.submit":
        out.append(_layer(conn, p.get("layer_id")))
    elif op.type == "segment.create":                   # segments follow the annotation layer rule
        out.append(_layer(conn, (p.get("segment") or {}).get("layer_id")))
    elif op.type.startswith("segment."):
        out.append(_row_layer(conn, "segments", op.entity))
    return [x for x in out if x is not None]


def _op_problem(conn: sqlite3.Connection, op: Op, roles: set[str]) -> str | None:
    rule = getattr(OP_TYPES.get(op.type), "authorise", None)
    if rule is not None:              # the op type's own rule (labeldesk.core.op_types), then the layer rule
        problem = rule(conn, op, roles)
        if problem:
            return str(problem)
    if op.type in ("key.enrol", "key.revoke"):
        if op.entity == op.user or "admin" in roles:
            return None
        return f"needs role admin to {'enrol' if op.type == 'key.enrol' else 'revoke'} another user's key"
    if op.type == "layer.create":
        d = op.payload.get("layer") or {}
        kind, owner = d.get("kind", "annotator"), d.get("owner")
        if "admin" in roles:
            return None
        if kind == "annotator" and owner != op.user:
            return None if "reviewer" in roles else "needs role admin or reviewer to make a layer for another user"
        if kind == "annotator":
            return None       # one's own layer: harmless; writing into it needs the annotator role
        wanted = LAYER_WRITERS.get(kind, ADMIN)
        return None if roles & set(wanted) else f"needs {_either(wanted)} to make a {kind} layer"
    if op.type == "review.submit":
        for layer in _touched_layers(conn, op):
            if "admin" not in roles and layer["owner"] != op.user:
                return f"layer {layer['name']!r} is not theirs to submit"
        return None
    if op.type == "review.decide":
        layer = _layer(conn, op.payload.get("layer_id"))
        if layer is not None and layer["owner"] == op.user:
            return f"may not review their own layer {layer['name']!r}"
        return None
    for layer in _touched_layers(conn, op):
        problem = layer_write_problem(conn, op.user, roles, layer)
        if problem:
            return problem
    return None


def authorisation_problem(conn: sqlite3.Connection, op: Op, roles: set[str] | None = None) -> str | None:
    """Why ``op`` may not be applied by its user given the roles now in the store, or ``roles``
    (the sync merge passes the roles its author held when making it) (None = allowed).

    The text names the user, the action and the missing role in words (never an op id)."""
    if op.type in ("user.add", "role.grant") and not _has_admin(conn):
        return None                                   # bootstrap: the project's first admin
    member = conn.execute("SELECT name FROM users WHERE id = ?", (op.user,)).fetchone()
    who = f"user {member[0] if member else str(op.user)!r}"        # (as user_name; and a member?)
    what = op_words(op.type)
    if op.user is None or member is None:
        return f"{who} is not a member of this project, so may not {what}"
    roles = user_roles(conn, op.user) if roles is None else roles
    wanted = REQUIRED_ROLES.get(op.type)
    if wanted is not None and not roles & set(wanted):
        return f"{who} may not {what}: needs {_either(wanted)} (has {roles_in_words(roles)})"
    problem = _op_problem(conn, op, roles)
    return f"{who} may not {what}: {problem}" if problem else None


MEMO_TYPES = frozenset({"annotation.create", "annotation.update", "annotation.delete", "annotation.restore"})


class AuthorisationMemo:
    """Within one batch (a bulk apply, or one merged segment): an allowed annotation op is not
    re-checked for the same (type, user, layer) until an op of another type -- which may change
    users, roles or layers -- is seen. ``check`` is :func:`authorisation_problem` by default."""

    def __init__(self, check: Any = None) -> None:
        self._check = check or authorisation_problem
        self._allowed: set[tuple[Any, ...]] = set()

    def key(self, conn: sqlite3.Connection, op: Op) -> tuple[Any, ...] | None:
        if op.type not in MEMO_TYPES:
            return None
        p = op.payload
        if op.type == "annotation.create":
            return (op.type, op.user, (p.get("annotation") or {}).get("layer_id"))
        if "layer_id" in (p.get("set") or {}):
            return None                                   # moves between layers: always checked
        row = conn.execute("SELECT layer_id FROM annotations WHERE id = ?", (op.entity,)).fetchone()
        return (op.type, op.user, row[0] if row else None)

    def known(self, key: tuple[Any, ...] | None) -> bool:
        return key is not None and key in self._allowed

    def problem(self, conn: sqlite3.Connection, op: Op, key: tuple[Any, ...] | None) -> str | None:
        if self.known(key):
            return None
        problem = self._check(conn, op)
        if problem is None and key is not None:
            self._allowed.add(key)
        return problem

    def allow(self, key: tuple[Any, ...]) -> None:
        """Remember ``key`` as allowed (a check made by the caller, forgotten as the others are)."""
        self._allowed.add(key)

    def seen(self, op_type: str) -> None:
        if op_type not in MEMO_TYPES:
            self._allowed.clear()


# ---- acting as a user (CLI --as NAME, or LABELDESK_USER) --------------------------------------
def find_user(conn: sqlite3.Connection, ref: str) -> str:
    """A user id from a user name or id; an unknown or ambiguous name is an error."""
    rows = conn.execute("SELECT id, name FROM users WHERE id = ? OR name = ?", (ref, ref)).fetchall()
    if not rows:
        rows = conn.execute("SELECT id, name FROM users WHERE lower(name) = lower(?)", (ref,)).fetchall()
    if not rows:
        names = ", ".join(r[0] for r in conn.execute("SELECT name FROM users ORDER BY name"))
        raise LabeldeskError(f"no user {ref!r} in this project (users: {names}); add one with `labeldesk user add`")
    if len(rows) > 1:
        raise LabeldeskError(f"the user name {ref!r} is ambiguous; use the user id ({', '.join(r[0] for r in rows)})")
    return str(rows[0][0])


def acting_user(project: Any, name: str | None = None) -> str:
    """Who acts: ``name`` if given, else the LABELDESK_USER environment variable when it names a
    member of the project, else the project's own user (the one who created or opened it here).

    Acting as anyone but this device's own user needs that user's private key on this machine,
    enrolled in the project (``labeldesk.core.sync.trust``): a name proves nothing."""
    uid = None
    if name:
        uid = find_user(project.conn, name)
    else:
        env = os.environ.get("LABELDESK_USER")
        if env:
            try:
                uid = find_user(project.conn, env)
            except LabeldeskError as exc:
                raise LabeldeskError(f"LABELDESK_USER={env}: {exc}") from None
    if uid is None or uid == project.user_id:
        return str(project.user_id)
    from labeldesk.core.sync.trust import require_private_key
    require_private_key(project, uid)
    return uid


# ---- membership changes (a role change always carries a reason) ------------------------------
def _check_role(role: str) -> None:
    if role not in ANY_ROLE:
        raise LabeldeskError(f"unknown role {role!r}; expected one of {', '.join(ANY_ROLE)}")


def add_user(project: Any, name: str, roles: list[str] | tuple[str, ...] = (), *, reason: str | None = None,
             user: str | None = None) -> str:
    """Add a member (with roles: a reason is needed); returns the new user id."""
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    name = name.strip()
    if not name:
        raise LabeldeskError("a user needs a name")
    if project.conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
        raise LabeldeskError(f"there is a user named {name!r} already")
    for role in roles:
        _check_role(role)
    if roles and not (reason or "").strip():
        raise LabeldeskError("giving roles needs a reason (--reason)")
    uid = ids.new_id()
    drafts = [OpDraft("user.add", uid, {"name": name})]
    drafts += [OpDraft("role.grant", uid, {"role": r}, reason=reason) for r in dict.fromkeys(roles)]
    project.apply_all(drafts, user=user)
    return uid


def change_role(project: Any, user_ref: str, role: str, grant: bool, *, reason: str | None,
                user: str | None = None) -> bool:
    """Grant or revoke a role with a mandatory reason; False when nothing changes."""
    from labeldesk.core.ops import OpDraft
    _check_role(role)
    if not (reason or "").strip():
        raise LabeldeskError(f"{'granting' if grant else 'revoking'} a role needs a reason (--reason)")
    uid = find_user(project.conn, user_ref)
    if (role in user_roles(project.conn, uid)) == grant:
        return False
    if not grant and role == "admin":
        others = project.conn.execute("SELECT COUNT(*) FROM roles WHERE role = 'admin' AND user_id != ?",
                                      (uid,)).fetchone()[0]
        if not others:
            raise LabeldeskError("refused: that would leave the project without an admin")
    project.apply(OpDraft("role.grant" if grant else "role.revoke", uid, {"role": role}, reason=reason), user=user)
    return True
