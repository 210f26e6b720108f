"""user.add / role.grant / role.revoke."""
from __future__ import annotations

import sqlite3
from typing import Any

from labeldesk.core.op_types.rows import exists, fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require

WAIVED = "waived:"          # see labeldesk.core.review.roles.effective_roles

ROLES = ("annotator", "reviewer", "adjudicator", "admin")


@op_type("user.add")
class AddUser:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None      # users are never removed; revoke their roles instead

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        name = str(op.payload.get("name", "")).strip()
        require(bool(name), "user.add: the name is empty")
        require(not exists(conn, "users", op.entity), f"user {op.entity} exists already")
        conn.execute("INSERT INTO users (id, name, revision) VALUES (?,?,?)", (op.entity, name, op.op_id))
        return ChangeSet(users={str(op.entity)})


class _Role:
    grant = True

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        fetch(conn, "users", op.entity, "user")
        role = op.payload.get("role")
        require(role in ROLES, f"unknown role {role!r}; expected one of {ROLES}")
        waiver = WAIVED + str(role)
        if self.grant:
            conn.execute("DELETE FROM roles WHERE user_id = ? AND role = ?", (op.entity, waiver))
            conn.execute("INSERT OR IGNORE INTO roles (user_id, role) VALUES (?,?)", (op.entity, role))
        else:
            conn.execute("DELETE FROM roles WHERE user_id = ? AND role = ?", (op.entity, role))
            admin = conn.execute("SELECT 1 FROM roles WHERE user_id = ? AND role = 'admin'", (op.entity,)).fetchone()
            if admin and role != "admin":           # an admin holds every role unless removed explicitly
                conn.execute("INSERT OR IGNORE INTO roles (user_id, role) VALUES (?,?)", (op.entity, waiver))
        return ChangeSet(users={str(op.entity)})

    def _had(self, conn: sqlite3.Connection, draft: OpDraft) -> bool:
        from labeldesk.core.review.roles import user_roles
        return draft.payload.get("role") in user_roles(conn, draft.entity)


@op_type("role.grant")
class GrantRole(_Role):
    grant = True

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft | None:
        return None if self._had(conn, draft) else OpDraft("role.revoke", draft.entity, dict(draft.payload))


@op_type("role.revoke")
class RevokeRole(_Role):
    grant = False

    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft | None:
        return OpDraft("role.grant", draft.entity, dict(draft.payload)) if self._had(conn, draft) else None
