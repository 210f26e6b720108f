"""Small SQL helpers shared by the op types: fetch one row or refuse the op."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from labeldesk.core.errors import OpRejected


def fetch(conn: sqlite3.Connection, table: str, entity_id: str | None, what: str) -> sqlite3.Row:
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (entity_id,)).fetchone()
    if row is None:
        raise OpRejected(f"no {what} with id {entity_id}")
    return row


def exists(conn: sqlite3.Connection, table: str, entity_id: str | None) -> bool:
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (entity_id,)).fetchone() is not None


def loads(value: str | None, default: Any) -> Any:
    return json.loads(value) if value else default


def update_columns(conn: sqlite3.Connection, table: str, entity_id: str, values: dict[str, Any]) -> None:
    cols = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE {table} SET {cols} WHERE id = ?", (*values.values(), entity_id))
