"""A saved copy of an open document's columns, reused while nothing in the project changed.

After a document is loaded from the store, its columns (ids, bounds, codes, the vertex buffer…)
are written on a background thread (once the open's first paint is done: ``WRITE_AFTER``) to
``cache/documents/<asset id>.npz`` under a **stamp**: the
format, the schema version, the asset and the highest op-log position (``MAX(local_order)``).
Every change to an annotation is an op, local or merged by sync, that names the annotation
(``ops.entity``) and appends to the op log, so an unchanged stamp means the store holds exactly
what the snapshot holds. When ops were appended since (an edit, a sync, an import), the snapshot
is restored and **caught up**: the annotations named by those ops are read again from the store
(``Document._catch_up``, as a ChangeSet is applied; what those rows were before is kept on
``doc.caught_up_from``, so that the overlay drawn at the old stamp is patched, not drawn again:
``qt/viewer/overlay_patch.py``). The caught-up document is saved under the new stamp in the
background when the catch-up named ``SAVE_CATCH_UP_AT`` entities or more; a smaller one is saved
when the project closes (:func:`flush`; at most ``DEFER_MAX`` writes wait so, each holding its
document's copy: an older one starts at once), so that a few edits do not rewrite a snapshot of
100,000 shapes (80 MB) on every open — after the first open of an asset every open takes this path,
edits or not. More than ``CATCH_UP_AT`` entities since the snapshot (a bulk import) read the store
instead. **Ahead of the first open**: after an import or a sync that changed an asset's
annotations, :func:`write_ahead` (or :func:`write_ahead_later`, on a background thread) reads the
document of each asset of at least ``AHEAD_MIN`` shapes and writes its snapshot, so the user's
first open of it is not a cold read. Only documents whose live shapes all come from vertex arrays or bounds are saved (shapes
parsed from JSON — holes, lines, masks… — make the last saved snapshot stay the one caught up). It is a cache:
deleting the folder loses nothing. ``LABELDESK_NO_DOCUMENT_CACHE=1`` turns it off.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2
FOLDER = "documents"
CATCH_UP_AT = 20_000    # ops' entities since the snapshot above which the store is read instead
SAVE_CATCH_UP_AT = 2_000   # a catch-up naming fewer entities is saved at flush (project close), not at once
DEFER_MAX = 4           # writes kept for flush (a snapshot and an overlay per asset); older ones start now
AHEAD_MIN = 5_000       # write_ahead: assets with fewer live shapes read fast enough cold
WRITE_AFTER = 1.5       # s a writer waits before it starts (the first paint of the open goes first)
_writers: list[threading.Thread] = []
_now = threading.Event()                     # set by flush: writers waiting start at once
_deferred: dict[Path, tuple[Any, ...]] = {}  # path -> (writer, args): written by flush (project close)
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("LABELDESK_NO_DOCUMENT_CACHE", "") not in ("1", "yes", "true")


def stamp(conn: sqlite3.Connection, asset_id: str) -> str:
    """format/schema/asset/last local_order/its op id (the op id tells a log that continues the
    stamped one from another log of the same length, e.g. a restored backup edited since)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    last = conn.execute("SELECT local_order, op_id FROM ops ORDER BY local_order DESC LIMIT 1").fetchone()
    return f"{FORMAT}/{version}/{asset_id}/{last[0] if last else None}/{last[1] if last else None}"


def path_for(conn: sqlite3.Connection, asset_id: str) -> Path | None:
    from labeldesk.core.store.locators import store_root
    root = store_root(conn)
    return None if root is None else root / "cache" / FOLDER / f"{asset_id}.npz"


def _table(values: list[Any]) -> tuple[np.ndarray, str]:
    code: dict[Any, int] = {}
    for v in values:
        code.setdefault(v, len(code))
    return np.fromiter(map(code.__getitem__, values), np.int32, len(values)), json.dumps(list(code))


def save_later(doc: Any, stamp_text: str, defer: bool = False) -> None:
    """Write the live rows of ``doc`` (freshly loaded or caught up) on a background thread, which
    starts its work ``WRITE_AFTER`` seconds later (or at once when :func:`flush` is called), so
    that encoding and writing it does not compete with the open's first paint; ``defer``: not
    before :func:`flush` (the project closes). Here only what later changes to the document could
    alter is copied (numpy columns, shallow copies of the lists, the ring dict; ring arrays and
    the load buffer are never changed in place); the compaction, coding and encoding are done by
    the writer, not by the thread that opens."""
    path = path_for(doc.conn, doc.asset_id)
    state = None if path is None else _state(doc)
    if state is None:
        return
    _start_or_defer(path, _encode_and_write, (path, stamp_text, state), "document-snapshot", defer)


def _start_or_defer(path: Path, target: Any, args: tuple[Any, ...], name: str, defer: bool) -> None:
    """Start a writer thread for ``path`` (it waits WRITE_AFTER, or for flush), or keep it for
    flush; a later write of the same path replaces one kept (the newer state wins)."""
    start = []
    with _lock:
        _deferred.pop(path, None)
        if defer:
            _deferred[path] = (target, args, name)
            while len(_deferred) > DEFER_MAX:        # (each holds its document's copy: not many)
                start.append(_deferred.pop(next(iter(_deferred))))
        else:
            start.append((target, args, name))
    for target_, args_, name_ in start:
        thread = threading.Thread(target=target_, args=args_, name=name_, daemon=True)
        _writers.append(thread)
        thread.start()


def _state(doc: Any) -> dict[str, Any] | None:
    """What a snapshot of ``doc`` is written from (None when a live shape was parsed from JSON)."""
    n = len(doc.ids)
    if any(doc.alive[r] for r in doc._geoms if r < n):
        return None
    state = {name: getattr(doc, name)[:n].copy() for name in (
        "alive", "bounds", "z_order", "plane_code", "layer_code", "class_code", "onto_version", "_start", "_len")}
    state.update({name: list(getattr(doc, name)) for name in (
        "ids", "kinds", "authors", "attributes_json", "tracks", "keyframes")})
    state.update(_buf=doc._buf, _ring_new=dict(doc._ring_new), planes=list(doc.planes.values),
                 layers=list(doc.layers.values), classes=list(doc.classes.values))
    return state


def write_now(doc: Any) -> bool:
    """Write the snapshot of ``doc`` at its stamp on this thread (False when it cannot have one)."""
    path = path_for(doc.conn, doc.asset_id)
    state = None if path is None else _state(doc)
    if state is None:
        return False
    with _lock:
        _deferred.pop(path, None)
    _encode_and_write(path, doc.stamp, state, wait=False)
    return True


def _encode_and_write(path: Path, stamp_text: str, st: dict[str, Any], wait: bool = True) -> None:
    if wait:
        _now.wait(WRITE_AFTER)
    n = len(st["ids"])
    live = np.flatnonzero(st["alive"])
    compact = len(live) != n or any(st["kinds"][r] != "box" for r in st["_ring_new"])
    rows = live.tolist()
    pick = (lambda lst: [lst[r] for r in rows]) if compact else (lambda lst: lst)
    kinds, kind_table = _table(pick(st["kinds"]))
    authors, author_table = _table(pick(st["authors"]))
    start, lens, buf = _rings(st, live) if compact else (st["_start"], st["_len"], st["_buf"])
    ids = pick(st["ids"])
    data = {
        "stamp": np.array(stamp_text), "ids": np.array(ids, dtype=str) if ids else np.zeros(0, "U1"),
        "bounds": st["bounds"][live], "z_order": st["z_order"][live],
        "plane_code": st["plane_code"][live], "layer_code": st["layer_code"][live],
        "class_code": st["class_code"][live], "onto_version": st["onto_version"][live],
        "start": start, "len": lens, "buf": buf,
        "kinds": kinds, "authors": authors, "keyframes": np.array(pick(st["keyframes"]), bool),
        "tables": np.array(json.dumps({"planes": st["planes"], "layers": st["layers"],
                                       "classes": st["classes"], "kinds": json.loads(kind_table),
                                       "authors": json.loads(author_table),
                                       "attributes": pick(st["attributes_json"]), "tracks": pick(st["tracks"])})),
    }
    _write(path, data)


def _rings(st: dict[str, Any], live: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ring starts, lengths and one buffer of the ``live`` rows end to end: the load buffer's
    rings copied in runs of consecutive rings (one slice each), rings written since
    (``_ring_new``, not boxes) one by one; boxes keep start -1 (drawn from their bounds when
    restored)."""
    starts, lens = st["_start"][live], st["_len"][live].copy()
    lens[starts < 0] = 0
    newer = {}
    ring_new, kinds = st["_ring_new"], st["kinds"]
    if ring_new:
        at = np.searchsorted(live, np.fromiter(ring_new, np.int64, len(ring_new)))
        for i, r in zip(at.tolist(), ring_new):
            if i < len(live) and live[i] == r and kinds[r] != "box":
                newer[i] = ring_new[r]
                lens[i] = len(newer[i])
    offsets = np.cumsum(lens) - lens
    buf = np.empty((int(lens.sum()), 2))
    old = np.flatnonzero(starts >= 0)
    if len(old):
        s, length, o = starts[old], lens[old], offsets[old]
        cut = np.flatnonzero((s[1:] != s[:-1] + length[:-1]) | (o[1:] != o[:-1] + length[:-1])) + 1
        edges = [0, *cut.tolist(), len(old)]
        src = st["_buf"]
        for a, b in zip(edges[:-1], edges[1:]):
            end = int(length[b - 1])
            buf[o[a]:o[b - 1] + end] = src[s[a]:s[b - 1] + end]
    for i, ring in newer.items():
        buf[offsets[i]:offsets[i] + lens[i]] = ring
    return np.where(lens > 0, offsets, -1), lens, buf


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
    """Write the snapshots (and overlays) waiting to be written, those kept for this moment too,
    and wait for them (the project is closing)."""
    _now.set()
    try:
        with _lock:
            kept = list(_deferred.values())
            _deferred.clear()
        for target, args, name in kept:
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            _writers.append(thread)
            thread.start()
        while _writers:
            _writers.pop().join()
    finally:
        _now.clear()


def restore(doc: Any, stamp_text: str) -> bool:
    """Fill ``doc`` from its snapshot when the stamp still holds, or from an older snapshot of the
    same asset and schema caught up with the ops appended since; False when there is none (or too
    many ops came since)."""
    doc.caught_up_from = None
    path = path_for(doc.conn, doc.asset_id)
    if path is None or not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as f:
            saved = str(f["stamp"])
            since = _since(doc.conn, saved, stamp_text)
            if since is None:
                return False
            data = {k: f[k] for k in f.files}
        tables = json.loads(str(data["tables"]))
        _check(data, tables)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError, zipfile.BadZipFile):
        return False          # half there (a sync tool, a full disk) or damaged: the store is read
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
    if saved != stamp_text:
        doc.caught_up_from = CaughtUp(saved, len(doc.classes.values))
        doc._catch_up(since)
    return True


def _check(data: dict[str, np.ndarray], tables: dict[str, Any]) -> None:
    """ValueError unless every column has a row per id and every code and ring is in range (the
    zip's CRCs vouch for the bytes; this, for a file whose parts do not belong together)."""
    n = len(data["ids"])
    if data["bounds"].shape != (n, 4):
        raise ValueError("bounds")
    for name, table in (("z_order", None), ("onto_version", None), ("start", None), ("len", None),
                        ("keyframes", None), ("plane_code", "planes"), ("layer_code", "layers"),
                        ("class_code", "classes"), ("kinds", "kinds"), ("authors", "authors")):
        column = data[name]
        if column.shape != (n,):
            raise ValueError(name)
        if table is not None and n and (column.min() < 0 or column.max() >= len(tables[table])):
            raise ValueError(name)
    start, lens, buf = data["start"], data["len"], data["buf"]
    ringed = start >= 0
    if n and ((lens < 0).any() or (start[ringed] + lens[ringed] > len(buf)).any()):
        raise ValueError("rings")
    for key in ("attributes", "tracks"):                 # a value per row
        if not isinstance(tables[key], list) or len(tables[key]) != n:
            raise ValueError(key)


class CaughtUp:
    """What a document caught up from an older snapshot was before (for caches of things drawn
    from it, e.g. the overlay, to be patched instead of drawn again): the snapshot's ``stamp``,
    how many classes its class table held, and ``old[row]`` for every row the catch-up added,
    changed or removed: (bounds, plane code, layer code) before, or None for a row it added."""

    def __init__(self, stamp_text: str, classes: int) -> None:
        self.stamp = stamp_text
        self.classes = classes
        self.old: dict[int, tuple[tuple[float, float, float, float], int, int] | None] = {}


def _since(conn: sqlite3.Connection, saved: str, current: str) -> list[str] | None:
    """The entities of the ops appended since a snapshot stamped ``saved`` ([] when it is
    current); None when it cannot be caught up (another format, schema or asset, a log that is
    not a continuation of it, or more than CATCH_UP_AT entities)."""
    if saved == current:
        return []
    head, last, last_op = (saved.rsplit("/", 2) + ["", ""])[:3]
    now_head, now_last, _now_op = (current.rsplit("/", 2) + ["", ""])[:3]
    if head != now_head or now_last == "None":
        return None
    after = 0
    if last != "None":
        after = int(last)
        found = conn.execute("SELECT op_id FROM ops WHERE local_order = ?", (after,)).fetchone()
        if found is None or found[0] != last_op:          # not a continuation of the stamped log
            return None
    entities = [e for (e,) in conn.execute(
        "SELECT DISTINCT entity FROM ops WHERE local_order > ? AND entity IS NOT NULL LIMIT ?",
        (after, CATCH_UP_AT + 1))]
    return None if len(entities) > CATCH_UP_AT else entities


# ---- ahead of the first open (after an import or a sync) --------------------------------------------
def high_water(conn: sqlite3.Connection) -> int:
    """The op log's last position (0 when empty): what :func:`changed_assets` counts from."""
    return int(conn.execute("SELECT COALESCE(MAX(local_order), 0) FROM ops").fetchone()[0])


def changed_assets(conn: sqlite3.Connection, since: int) -> list[str]:
    """Assets holding annotations named by the ops appended after position ``since`` (an import,
    a sync pull) that have at least ``AHEAD_MIN`` live annotations."""
    found = [a for (a,) in conn.execute(
        "SELECT DISTINCT a.asset_id FROM ops o JOIN annotations a ON a.id = o.entity WHERE o.local_order > ?",
        (since,))]
    return large(conn, found)


def large(conn: sqlite3.Connection, asset_ids: list[str]) -> list[str]:
    """Those of ``asset_ids`` with at least ``AHEAD_MIN`` live annotations."""
    return [a for a in asset_ids if conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM annotations WHERE asset_id = ? AND deleted = 0 LIMIT ?)",
        (a, AHEAD_MIN)).fetchone()[0] >= AHEAD_MIN]


def store_file(conn: sqlite3.Connection) -> str | None:
    """The store's file (None for an in-memory store)."""
    main = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
    return main[0] if main and main[0] else None


def write_ahead_since(conn: sqlite3.Connection, since: int, background: bool = False) -> list[str]:
    """Snapshots of the assets whose annotations the ops after position ``since`` changed (see
    :func:`changed_assets`), written now (returns the assets written) or, with ``background``, on
    a thread joined by :func:`flush` (returns the assets it will read)."""
    db = store_file(conn)
    if db is None or not enabled():
        return []
    assets = changed_assets(conn, since)
    if background:
        write_ahead_later(db, assets)
        return assets
    return write_ahead(db, assets)


def write_ahead(db_path: Any, asset_ids: list[str], each: Any = None) -> list[str]:
    """Read each asset's document (on a read-only connection of its own: a consistent read while
    others write) and write its snapshot now, unless the one on disk is current; returns the
    assets whose snapshot was written. ``each(doc)`` is then called with every document read (the
    app draws and caches its zoomed-out overlay there). Caching is off
    (``LABELDESK_NO_DOCUMENT_CACHE``): nothing."""
    from labeldesk.core.document import Document
    from labeldesk.core.store import connection
    if not enabled():
        return []
    written = []
    for asset_id in asset_ids:
        conn = connection.connect(db_path, read_only=True)
        try:
            doc = Document(conn, asset_id, own_connection=True, save_snapshot=False)
            if not (doc.from_snapshot and doc.caught_up is None) and write_now(doc):
                written.append(asset_id)
                doc.snapshot_deferred = False      # (written: what is cached with it is written at once too)
            if each is not None:
                each(doc)
        except Exception:  # noqa: BLE001 - a cache: the first open reads the store (and draws) instead
            pass
        finally:
            conn.close()
    return written


def write_ahead_later(db_path: Any, asset_ids: list[str], then: Any = None, each: Any = None) -> threading.Thread | None:
    """:func:`write_ahead` on a background thread (joined by :func:`flush`), which starts
    ``WRITE_AFTER`` seconds later (or at once when :func:`flush` is called: the window's refresh
    after an import goes first); ``then(written)`` runs on that thread when it is done."""
    if not asset_ids or not enabled():
        return None

    def work() -> None:
        _now.wait(WRITE_AFTER)
        written = write_ahead(db_path, asset_ids, each)
        if then is not None:
            then(written)
    thread = threading.Thread(target=work, name="document-snapshot-ahead", daemon=True)
    _writers.append(thread)
    thread.start()
    return thread
