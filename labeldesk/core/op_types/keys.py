"""key.enrol / key.revoke: which public keys sign for which user (labeldesk.core.sync.trust).

``key.enrol`` (entity: the user id) payload ``{"key_id", "public_key"}``: an admin enrols a
member's key, or a member enrols a new key of their own (rotation; the segment carrying it is
signed by a key of theirs already enrolled). ``key.revoke`` (entity: the user id) payload
``{"key_id", "cut": {device id: last seq}}``: segments signed by the key stay accepted up to the
cut of their device (what the revoker had merged) and are refused after it. Revoking twice keeps
the lower cut of each device, whatever order the two revocations arrive in.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.op_types.rows import fetch
from labeldesk.core.ops import ChangeSet, Op, OpDraft, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS

FREE_TEXT_OPS.add("key.revoke")             # the reason for revoking (typed)


@op_type("key.enrol")
class EnrolKey:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None        # a key is withdrawn by key.revoke, never by undo

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        from labeldesk.core.sync.keys import key_id_of
        fetch(conn, "users", op.entity, "user")
        public, key_id = op.payload.get("public_key"), op.payload.get("key_id")
        require(isinstance(public, str) and isinstance(key_id, str), "key.enrol: needs key_id and public_key")
        try:
            require(key_id_of(public) == key_id, f"key.enrol: key id {key_id} does not match the public key")
        except LabeldeskError as exc:
            require(False, f"key.enrol: {exc}")
        row = conn.execute("SELECT user_id FROM user_keys WHERE key_id = ?", (key_id,)).fetchone()
        require(row is None or row[0] == op.entity, f"key {key_id[:16]} is enrolled for another user")
        if row is None:
            conn.execute("INSERT INTO user_keys (key_id, user_id, public_key, enrolled_by_op) VALUES (?,?,?,?)",
                         (key_id, op.entity, public, op.op_id))
        return ChangeSet(users={str(op.entity)})


@op_type("key.revoke")
class RevokeKey:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        key_id, cut = op.payload.get("key_id"), op.payload.get("cut", {})
        require(isinstance(key_id, str), "key.revoke: needs key_id")
        require(isinstance(cut, dict) and all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                              for k, v in cut.items()), "key.revoke: cut must map device ids to seqs")
        row = conn.execute("SELECT user_id, revoked_cut FROM user_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            require(False, f"no key with id {key_id}")       # may still arrive: pending
        require(row[0] == op.entity, f"key {key_id[:16]} is not a key of user {op.entity}")
        merged = dict(cut)
        if row[1]:                        # a device missing from either cut keeps nothing
            old = json.loads(row[1])
            merged = {d: min(old[d], s) for d, s in cut.items() if d in old}
        conn.execute("UPDATE user_keys SET revoked_by_op = MIN(COALESCE(revoked_by_op, ?), ?), revoked_cut = ? WHERE key_id = ?",
                     (op.op_id, op.op_id, json.dumps(merged, sort_keys=True), key_id))
        return ChangeSet(users={str(op.entity)})
