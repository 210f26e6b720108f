"""release.create: the record of a named, immutable snapshot of the final labels.

The payload names the release, the layers it took, the SHA-256 of every label file and the counts;
the files themselves are in ``releases/<name>/`` (see :mod:`labeldesk.core.releases`). A device uses
a name once: a release is never overwritten, renamed or removed, so the op has no inverse.
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any

from labeldesk.core.op_types.rows import exists
from labeldesk.core.ops import ChangeSet, Op, OpDraft, canonical_json, op_type, require
from labeldesk.core.review.roles import OP_WORDS, REQUIRED_ROLES

# A release is what the team hands on: cut by a reviewer or an admin, never by an annotator.
REQUIRED_ROLES["release.create"] = ("reviewer", "admin")
OP_WORDS["release.create"] = "make a release"

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        return (f"release name {name!r} is not allowed: use 1-80 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit")
    return None


@op_type("release.create")
class CreateRelease:
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> None:
        return None         # releases are immutable: there is nothing to undo into

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        d = op.payload.get("release") or {}
        name = d.get("name")
        problem = name_problem(name)
        require(problem is None, f"release.create: {problem}")
        require(op.entity is not None and not exists(conn, "releases", op.entity),
                f"release {op.entity} exists already")
        # a device never reuses a name (its ops arrive in seq order everywhere, so every replica
        # refuses the same one); concurrent picks of one name on two devices are both kept
        require(conn.execute("SELECT 1 FROM releases WHERE name = ? AND dev = ?", (name, op.dev)).fetchone() is None,
                f"release.create: a release named {name!r} exists already (releases are never overwritten)")
        files = d.get("files")
        require(isinstance(files, dict) and bool(files), "release.create: no files")
        for path, entry in files.items():
            require(isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                    and bool(SHA256_RE.match(entry["sha256"])) and isinstance(entry.get("bytes"), int),
                    f"release.create: bad hash entry for {path!r}")
        layers = d.get("layers")
        require(isinstance(layers, list) and bool(layers), "release.create: no layers")
        counts = d.get("counts")
        require(isinstance(counts, dict), "release.create: no counts")
        previous = d.get("previous")
        require(previous is None or isinstance(previous, str), "release.create: previous must be a name")
        conn.execute("INSERT INTO releases (id, name, op_id, dev, hlc_ms, hlc_ctr, wall, user, layers, files, counts,"
                     " previous, ontology_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (op.entity, name, op.op_id, op.dev, op.hlc[0], op.hlc[1], op.wall, op.user, canonical_json(layers),
                      canonical_json(files), canonical_json(counts), previous, int(d.get("ontology_version", 0))))
        return ChangeSet(releases={str(op.entity)})
