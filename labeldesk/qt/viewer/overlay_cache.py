"""The zoomed-out raster overlay of an unchanged project, kept next to its document snapshot.

Drawing the overlay of 100,000 shapes costs about half a second of OpenCV fills. When a document
was read at a stamp (``core/document_snapshot.py``: the op log's high-water mark) and nothing has
changed it since, the overlay drawn for a given plane, layers, size, zoom, colours and opacity is
the same every time: it is written on a background thread to
``cache/documents/<asset id>.overlay-<key>.npy`` and read back by the next open (a few
milliseconds). The key hashes everything the pixels depend on, the stamp and the shown rows
included, so any op anywhere in the project, another plane, zoom, window size or colour draws it
again. One overlay is kept per asset, and only for planes of at least ``MIN_SHAPES`` shapes
(about 4 MB at a full-HD fit, at most 64 MB). A cache: deleting it loses nothing, and
``LABELDESK_NO_DOCUMENT_CACHE=1`` turns it off with the document snapshots.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
MIN_SHAPES = 20_000     # fewer shapes draw in under ≈ 0.1 s: not worth a file
PREPARE_MIN_SHAPES = 5_000   # drawn on the worker that read the document from this many shapes


def key(doc: Any, rows: np.ndarray, width: int, height: int, scale: float, opacity: float,
        colours: dict, hidden: bool) -> str | None:
    """The key of the overlay of ``rows`` of ``doc``; None when it must not be cached (the
    document changed since its read, shapes are hidden or selected, caching is off)."""
    from labeldesk.core import document_snapshot as snapshot
    if doc is None or len(rows) < MIN_SHAPES or not snapshot.enabled():
        return None
    return fingerprint(doc, rows, width, height, scale, opacity, colours, hidden)


def fingerprint(doc: Any, rows: np.ndarray, width: int, height: int, scale: float, opacity: float,
                colours: dict, hidden: bool) -> str | None:
    """What the overlay's pixels depend on, hashed; None when the document changed since it was
    read or shapes are hidden or selected (they are left out of the overlay)."""
    stamp = getattr(doc, "stamp", None)
    if doc is None or stamp is None or doc.version != 0 or hidden:
        return None
    h = hashlib.sha256(repr((FORMAT, stamp, width, height, float(scale), float(opacity),
                             sorted(colours.items(), key=str), list(doc.classes.values))).encode())
    h.update(np.ascontiguousarray(rows, np.int64).tobytes())
    return h.hexdigest()[:24]


def prepare(doc: Any, spec: dict[str, Any]) -> None:
    """On the worker that read ``doc``, before the GUI thread has it: draw (or read from the
    cache) the overlay of the plane a view is about to show — ``spec``: plane, layers, width,
    height, scale, opacity, colours, as that view's painter will ask — and leave it on the document
    (``doc.prepared_overlay``: fingerprint and buffer). The painter takes it when its own
    fingerprint matches; otherwise it draws as before. Keeps 0.5 s of fills (100,000 stars) off
    the GUI thread."""
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    rows = doc.rows_on(spec["plane"], spec["layers"])
    if len(rows) < PREPARE_MIN_SHAPES:
        return
    w, h, scale = spec["width"], spec["height"], spec["scale"]
    mark = fingerprint(doc, rows, w, h, scale, spec["opacity"], spec["colours"], False)
    if mark is None:
        return
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    cache_key = key(doc, rows, w, h, scale, spec["opacity"], spec["colours"], False)
    buf = load(doc, cache_key, shape) if cache_key else None
    if buf is None:
        painter = AnnotationPainter()
        painter.colours, painter.opacity = dict(spec["colours"]), spec["opacity"]
        painter.show(doc, rows)
        buf = painter.render_raster(w, h, scale)[1]
        if cache_key:
            save_later(doc, cache_key, buf)
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
    except (OSError, ValueError):
        return None
    if buf.dtype != np.uint8 or buf.shape != (shape[0], shape[1], 4) or not buf.flags.c_contiguous:
        return None
    return buf


def save_later(doc: Any, key_text: str, buf: np.ndarray) -> None:
    """Write a copy of ``buf`` on a background thread (joined by ``document_snapshot.flush``);
    the asset's other overlays are removed."""
    from labeldesk.core import document_snapshot as snapshot
    path = _path(doc, key_text)
    if path is None:
        return
    thread = threading.Thread(target=_write, args=(path, buf.copy(), doc.asset_id), name="overlay-cache",
                              daemon=True)
    snapshot._writers.append(thread)
    thread.start()


def _write(path: Path, buf: np.ndarray, asset_id: str) -> None:
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
