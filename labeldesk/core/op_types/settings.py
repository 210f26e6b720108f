"""project.settings: project-wide key/values kept in ``meta`` under ``setting.<key>``."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, op_type, require
from labeldesk.core.privacy import FREE_TEXT_OPS

FREE_TEXT_OPS.add("project.settings")       # values a person typed (descriptions, instructions)

PREFIX = "setting."


@op_type("project.settings")
class ProjectSettings:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft:
        old = {}
        for key in (draft.payload.get("set") or {}):
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (PREFIX + key,)).fetchone()
            old[key] = json.loads(row[0]) if row else None
        return OpDraft("project.settings", None, {"set": old})

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        values = op.payload.get("set")
        require(isinstance(values, dict) and bool(values), "project.settings: nothing to set")
        for key, value in values.items():
            require(isinstance(key, str) and key.isidentifier(), f"project.settings: bad key {key!r}")
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (PREFIX + key,))
            else:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (PREFIX + key, canonical_json(value)))
        return ChangeSet(settings=set(values))
