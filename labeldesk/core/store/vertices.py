"""Binary vertex arrays of polygons, stored next to their JSON geometry.

``annotations.verts`` holds the shell of a polygon without holes as little-endian float64
``x, y`` pairs (NULL for every other shape). The JSON geometry stays the source of truth (it is
what ops carry and what is hashed); ``verts`` lets an open document read 100,000 shells with one
``SELECT`` and one ``numpy.frombuffer`` instead of parsing JSON text row by row. Written by the
annotation op types in the same statement as the geometry; step 6 -> 7 of the schema adds the
column and fills it for existing rows.
"""
from __future__ import annotations

import json
import sqlite3
import sys
from array import array
from itertools import chain
from typing import Any

_SWAP = sys.byteorder != "little"


def shell_bytes(geometry: dict[str, Any]) -> bytes | None:
    """The shell of a hole-free polygon as float64 LE bytes; None for any other shape."""
    if geometry.get("kind") != "polygon" or geometry.get("holes"):
        return None
    a = array("d", chain.from_iterable(geometry["shell"]))
    if _SWAP:
        a.byteswap()
    return a.tobytes()


def add_column(conn: sqlite3.Connection) -> None:
    """Schema step 6 -> 7: the ``verts`` column, filled for the polygons already stored; and an
    index of ops by type (an open document finds the ontology's changes without a scan)."""
    conn.execute("ALTER TABLE annotations ADD COLUMN verts BLOB")
    conn.execute("CREATE INDEX ops_by_type ON ops(type, local_order)")
    rows = conn.execute("SELECT id, geometry FROM annotations WHERE kind = 'polygon'").fetchall()
    conn.executemany("UPDATE annotations SET verts = ? WHERE id = ?",
                     [(shell_bytes(json.loads(g)), i) for i, g in rows])
