"""A saved copy of an open document's columns, reused while nothing in the project changed.

After a document is loaded from the store, its columns (ids, bounds, codes, the vertex buffer…)
are written on a background thread to ``cache/documents/<asset id>.npz`` under a **stamp**: the
format, the schema version, the asset and the highest op-log position (``MAX(local_order)``).
Every change to an annotation is an op, local or merged by sync, and appends to the op log, so an
unchanged stamp means the store holds exactly what the snapshot holds; any op anywhere in the
project makes the snapshot stale, and the next open reads the store (and saves a new one).
Only documents whose shapes all come from vertex arrays or bounds are saved (shapes parsed from
JSON — holes, lines, masks… — are read from the store every time). It is a cache: deleting the
folder loses nothing. ``LABELDESK_NO_DOCUMENT_CACHE=1`` turns it off.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
FOLDER = "documents"
_writers: list[threading.Thread] = []


def enabled() -> bool:
    return os.environ.get("LABELDESK_NO_DOCUMENT_CACHE", "") not in ("1", "yes", "true")


def stamp(conn: sqlite3.Connection, asset_id: str) -> str:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    last = conn.execute("SELECT MAX(local_order) FROM ops").fetchone()[0]
    return f"{FORMAT}/{version}/{asset_id}/{last}"


def path_for(conn: sqlite3.Connection, asset_id: str) -> Path | None:
    from labeldesk.core.store.locators import store_root
    root = store_root(conn)
    return None if root is None else root / "cache" / FOLDER / f"{asset_id}.npz"


def _table(values: list[Any]) -> tuple[np.ndarray, str]:
    code: dict[Any, int] = {}
    for v in values:
        code.setdefault(v, len(code))
    return np.fromiter(map(code.__getitem__, values), np.int32, len(values)), json.dumps(list(code))


def save_later(doc: Any, stamp_text: str) -> None:
    """Write the freshly loaded ``doc`` on a background thread (its columns copied first, so later
    changes to the document do not reach the file)."""
    path = path_for(doc.conn, doc.asset_id)
    if path is None or doc.version != 0 or doc._geoms:
        return
    n = len(doc.ids)
    kinds, kind_table = _table(doc.kinds)
    authors, author_table = _table(doc.authors)
    data = {
        "stamp": np.array(stamp_text), "ids": np.array(doc.ids, dtype=str) if n else np.zeros(0, "U1"),
        "bounds": doc.bounds[:n].copy(), "z_order": doc.z_order[:n].copy(),
        "plane_code": doc.plane_code[:n].copy(), "layer_code": doc.layer_code[:n].copy(),
        "class_code": doc.class_code[:n].copy(), "onto_version": doc.onto_version[:n].copy(),
        "start": doc._start[:n].copy(), "len": doc._len[:n].copy(), "buf": doc._buf,
        "kinds": kinds, "authors": authors, "keyframes": np.array(doc.keyframes, bool),
        "tables": np.array(json.dumps({"planes": doc.planes.values, "layers": doc.layers.values,
                                       "classes": doc.classes.values, "kinds": json.loads(kind_table),
                                       "authors": json.loads(author_table),
                                       "attributes": doc.attributes_json, "tracks": doc.tracks})),
    }
    thread = threading.Thread(target=_write, args=(path, data), name="document-snapshot", daemon=True)
    _writers.append(thread)
    thread.start()


def _write(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        with open(tmp, "wb") as fh:
            np.savez(fh, **data)
        os.replace(tmp, path)
    except OSError:
        pass                  # a cache: when it cannot be written, the next open reads the store


def flush() -> None:
    """Wait for snapshots being written (the project is closing)."""
    while _writers:
        _writers.pop().join()


def restore(doc: Any, stamp_text: str) -> bool:
    """Fill ``doc`` from its snapshot when the stamp still holds; False when there is none."""
    path = path_for(doc.conn, doc.asset_id)
    if path is None or not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["stamp"]) != stamp_text:
                return False
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError):
        return False
    tables = json.loads(str(data["tables"]))
    n = len(data["ids"])
    doc._allocate(n)
    doc.ids = data["ids"].tolist()
    doc.row_of = {a: i for i, a in enumerate(doc.ids)}
    doc.alive[:n] = True
    for name in ("bounds", "z_order", "plane_code", "layer_code", "class_code", "onto_version"):
        getattr(doc, name)[:n] = data[name]
    doc._start[:n], doc._len[:n], doc._buf = data["start"], data["len"], data["buf"]
    doc.ringed[:n] = data["start"] >= 0
    doc.planes.encode([tuple(p) for p in tables["planes"]])
    doc.layers.encode(tables["layers"])
    doc.classes.encode(tables["classes"])
    kinds, authors = tables["kinds"], tables["authors"]
    doc.kinds = [kinds[k] for k in data["kinds"].tolist()]
    doc.authors = [authors[k] for k in data["authors"].tolist()]
    doc.attributes_json, doc.tracks = tables["attributes"], tables["tracks"]
    doc.keyframes, doc.revisions = data["keyframes"].tolist(), [None] * n
    for r in np.flatnonzero(data["start"] < 0).tolist():      # boxes: drawn from their bounds
        doc._set_ring_from_json(r, doc.kinds[r], None)
    doc._index_sets()
    return True
