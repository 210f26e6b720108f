"""The zoomed-out raster overlay of a project, kept next to its document snapshot.

Drawing the overlay of 100,000 shapes costs about half a second of OpenCV fills. When a document
was read at a stamp (``core/document_snapshot.py``: the op log's high-water mark) and nothing has
changed it since, the overlay drawn for a given plane, layers, size, zoom, colours and opacity is
the same every time: it is written on a background thread to
``cache/documents/<asset id>.overlay-<key>.npy`` and read back by the next open (a few
milliseconds). The key hashes everything the pixels depend on — the stamp, plane and layers (the
rows shown must be exactly ``rows_on(plane, layers)``, else nothing is cached), class table, size,
zoom, colours, opacity — so any op anywhere in the project, another plane, zoom, window size or
colour misses it. After ops since (an edit, a sync), the document is the older snapshot caught
up, and the overlay cached under the older stamp (same everything else) is **patched** where the
rows the catch-up touched were and are (``overlay_patch.py``: pixel-identical to drawing it all)
and cached under the new stamp. One overlay is kept per asset, and only for planes of at least
``MIN_SHAPES`` shapes (about 4 MB at a full-HD fit, at most 64 MB). A cache: deleting it loses
nothing, and ``LABELDESK_NO_DOCUMENT_CACHE=1`` turns it off with the document snapshots.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2
MIN_SHAPES = 5_000      # below this a drawing costs less than reading a file; 10k stars draw in ≈ 0.2 s
PREPARE_MIN_SHAPES = 5_000   # drawn on the worker that read the document from this many shapes


def source_of(doc: Any, rows: np.ndarray, source: Any = None) -> tuple[Any, list | None] | None:
    """(plane, sorted layer ids or None) whose ``doc.rows_on`` are exactly ``rows`` — what the
    overlay shows, told by the caller (``source``) or, without one, the plane of the first row
    with every layer; None when the rows are something else (then nothing is cached)."""
    if source is None:
        if not len(rows):
            return None
        source = (doc.plane_of(int(rows[0])), None)
    plane, layers = source
    if plane is None or not np.array_equal(rows, doc.rows_on(plane, layers)):
        return None
    return plane, (None if layers is None else sorted(set(layers), key=str))


def _digest(stamp: str, classes: list, source: tuple[Any, list | None], width: int, height: int, scale: float,
            opacity: float, colours: dict) -> str:
    """Everything the pixels depend on: the document's state (its stamp: the op log's high-water
    mark; the rows follow from it and the plane and layers), the class table (the order in which
    outlines are drawn), plane, layers, size, zoom, opacity and colours."""
    plane, layers = source
    h = hashlib.sha256(repr((FORMAT, stamp, (plane.axis, plane.z, plane.t), layers, width, height, float(scale),
                             float(opacity), sorted(colours.items(), key=str), classes)).encode())
    return h.hexdigest()[:24]


def key(doc: Any, rows: np.ndarray, width: int, height: int, scale: float, opacity: float,
        colours: dict, hidden: bool, source: Any = None) -> str | None:
    """The key of the overlay of ``rows`` of ``doc``; None when it must not be cached (the
    document changed since its read, shapes are hidden or selected, caching is off)."""
    from labeldesk.core import document_snapshot as snapshot
    if doc is None or len(rows) < MIN_SHAPES or not snapshot.enabled():
        return None
    return fingerprint(doc, rows, width, height, scale, opacity, colours, hidden, source)


def fingerprint(doc: Any, rows: np.ndarray, width: int, height: int, scale: float, opacity: float,
                colours: dict, hidden: bool, source: Any = None) -> str | None:
    """What the overlay's pixels depend on, hashed; None when the document changed since it was
    read, shapes are hidden or selected (they are left out of the overlay), or ``rows`` are not
    the rows of a plane (and layers: ``source``)."""
    stamp = getattr(doc, "stamp", None)
    if doc is None or stamp is None or doc.version != 0 or hidden:
        return None
    src = source_of(doc, rows, source)
    if src is None:
        return None
    return _digest(stamp, list(doc.classes.values), src, width, height, scale, opacity, colours)


def previous_key(doc: Any, rows: np.ndarray, width: int, height: int, scale: float, opacity: float,
                 colours: dict, hidden: bool, source: Any = None) -> str | None:
    """The key the same overlay had at the stamp of the older snapshot ``doc`` was caught up from
    (``document_snapshot.CaughtUp``: its class table was the first ``classes`` of today's); None
    when it was not caught up."""
    memo = getattr(doc, "caught_up_from", None)
    if memo is None or key(doc, rows, width, height, scale, opacity, colours, hidden, source) is None:
        return None
    src = source_of(doc, rows, source)
    return _digest(memo.stamp, list(doc.classes.values[:memo.classes]), src, width, height, scale, opacity, colours)


def obtain(painter: Any, width: int, height: int, scale: float) -> tuple[np.ndarray, str]:
    """The overlay ``painter`` shows (its document, rows, ``source``, colours and opacity) at
    ``scale``, and how it was made: ``"cache"`` (read: the project is unchanged since it was
    drawn), ``"patched"`` (the overlay of the older snapshot the document was caught up from,
    drawn again only where the rows changed since: ``overlay_patch.py``) or ``"drawn"`` (in
    full). What was drawn or patched is cached for the next open."""
    from labeldesk.qt.viewer import overlay_patch
    doc, rows, source = painter.doc, painter.rows, getattr(painter, "source", None)
    hidden = bool(painter.selected or painter.hidden)
    args = (doc, rows, width, height, scale, painter.opacity, painter.colours, hidden, source)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    cache_key = key(*args)
    if cache_key:
        buf = load(doc, cache_key, shape)
        if buf is not None:
            return buf, "cache"
        before = previous_key(*args)
        old = load(doc, before, shape) if before else None
        if old is not None and overlay_patch.patch(painter, old, scale, source_of(doc, rows, source)):
            # (with the document's snapshot: at once, or when the project closes for a small catch-up)
            save_later(doc, cache_key, old, defer=bool(getattr(doc, "snapshot_deferred", False)))
            return old, "patched"
    buf = painter.render_raster(width, height, scale)[1]
    if cache_key:
        save_later(doc, cache_key, buf, defer=bool(getattr(doc, "snapshot_deferred", False)))
    return buf, "drawn"


def prepare(doc: Any, spec: dict[str, Any]) -> None:
    """On the worker that read ``doc``, before the GUI thread has it: draw (or read from the
    cache, or patch the cached overlay of the snapshot it was caught up from) the overlay of the
    plane a view is about to show — ``spec``: plane, layers, width, height, scale, opacity,
    colours, as that view's painter will ask — and leave it on the document
    (``doc.prepared_overlay``: fingerprint and buffer). The painter takes it when its own
    fingerprint matches; otherwise it draws as before. Keeps 0.5 s of fills (100,000 stars) off
    the GUI thread."""
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    source = (spec["plane"], spec["layers"])
    rows = doc.rows_on(*source)
    if len(rows) < PREPARE_MIN_SHAPES:
        return
    w, h, scale = spec["width"], spec["height"], spec["scale"]
    mark = fingerprint(doc, rows, w, h, scale, spec["opacity"], spec["colours"], False, source)
    if mark is None:
        return
    painter = AnnotationPainter()
    painter.colours, painter.opacity = dict(spec["colours"]), spec["opacity"]
    painter.show(doc, rows, source=source)
    buf, _how = obtain(painter, w, h, scale)
    doc.prepared_overlay = (mark, buf)


def _path(doc: Any, key_text: str) -> Path | None:
    from labeldesk.core import document_snapshot as snapshot
    base = snapshot.path_for(doc.conn, doc.asset_id)
    return None if base is None else base.with_name(f"{doc.asset_id}.overlay-{key_text}.npy")


def load(doc: Any, key_text: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The cached overlay (a writable H x W x 4 uint8 buffer), or None."""
    path = _path(doc, key_text)
    if path is None or not path.exists():
        return None
    try:
        buf = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError):    # half there (a sync tool, a full disk): drawn again
        return None
    if buf.dtype != np.uint8 or buf.shape != (shape[0], shape[1], 4) or not buf.flags.c_contiguous:
        return None
    return buf


def save_later(doc: Any, key_text: str, buf: np.ndarray, defer: bool = False) -> None:
    """Write a copy of ``buf`` on a background thread (joined by ``document_snapshot.flush``;
    ``defer``: started by it, as the document's snapshot is); the asset's other overlays are
    removed."""
    from labeldesk.core import document_snapshot as snapshot
    path = _path(doc, key_text)
    if path is None:
        return
    # (one file per asset: keyed on the asset, so that a newer overlay kept for flush replaces an older one)
    snapshot._start_or_defer(path.with_name(f"{doc.asset_id}.overlay"), _write, (path, buf.copy(), doc.asset_id),
                             "overlay-cache", defer)


def _write(path: Path, buf: np.ndarray, asset_id: str) -> None:
    from labeldesk.core import document_snapshot as snapshot
    snapshot._now.wait(snapshot.WRITE_AFTER)          # after the first paint, or at flush
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npy")
        with open(tmp, "wb") as fh:
            np.save(fh, buf, allow_pickle=False)
        os.replace(tmp, path)
        for old in path.parent.glob(f"{asset_id}.overlay-*.npy"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass                  # a cache: when it cannot be written, the next open draws the overlay
