"""Opening an asset reads its annotations once, after the window is up; the canvas paints them
(checked on pixels, zoomed out through the raster overlay and zoomed in as vectors) and follows
edits without reloading; the Annotations panel's rows are virtual."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project

SIDE, PITCH, CELL = 512, 11, 8
N = 2000


def _centre(i: int) -> tuple[float, float]:
    return (6 + (i % 45) * PITCH + CELL / 2, 6 + (i // 45) * PITCH + CELL / 2)


@pytest.fixture
def many(tmp_path):
    """A 512² grey image with 2,000 red 8x8 squares (more than the vector limit at fit)."""
    import cv2

    from labeldesk.core.importer import add_paths
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((SIDE, SIDE), 128, np.uint8))
    root = tmp_path / "p"
    p = Project.create(root, user_name="ann")
    add_paths(p, [tmp_path / "grey.png"])
    asset = p.assets()[0].id
    cls = ids.new_id()
    drafts = [OpDraft("ontology.class.create", cls, {"class": {"name": "cell", "color": "#ff0000"}})]
    for i in range(N):
        x, y = _centre(i)
        h = CELL / 2
        drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": p.my_layer_id, "class_id": cls,
            "geometry": {"kind": "polygon", "shell": [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h]]}}}))
    p.apply_all(drafts)
    p.close()
    return root


def _reads(monkeypatch):
    """Every SQL statement that reads the annotations of an asset, and whether the window was
    visible when it ran."""
    from labeldesk.core.store import connection
    seen: list[tuple[str, bool]] = []
    real = connection.connect
    state = {"window": None}

    def connect(*a, **k):
        conn = real(*a, **k)
        conn.set_trace_callback(lambda sql: seen.append((sql, bool(state["window"] and state["window"].isVisible())))
                                if "FROM annotations WHERE asset_id" in sql else None)
        return conn
    monkeypatch.setattr(connection, "connect", connect)
    import labeldesk.core.project as project_module
    monkeypatch.setattr(project_module, "connect", connect)
    return seen, state


def _open(qtbot, w, root):
    with qtbot.waitSignal(w.sig_asset_shown, timeout=30000):
        w.open_project(root)
        if not w.isVisible():
            w.show()
    qtbot.waitUntil(lambda: bool(w.session.documents), timeout=10000)


def _red(view, x: float, y: float) -> bool:
    image = view.grab().toImage()
    p = view.image_to_view(x, y).toPoint()
    c = image.pixelColor(p)
    return c.red() > c.green() + 25


def test_open_reads_annotations_once_after_the_window_shows(qtbot, win, many, monkeypatch):
    seen, state = _reads(monkeypatch)
    state["window"] = win
    _open(qtbot, win, many)
    assert len(seen) == 1 and seen[0][1], seen             # one read, and the window was up
    doc = next(iter(win.session.documents.values()))
    assert doc.count == N
    assert not doc.from_snapshot
    seen.clear()
    _open(qtbot, win, many)                                   # reopen: nothing changed, the snapshot
    doc = next(iter(win.session.documents.values()))
    assert seen == [] and doc.from_snapshot and doc.count == N
    win.session.refresh()                                     # what panels and signals used to trigger
    win._on_session_annotations_changed()
    win.viewport.set_plane(win.viewport.plane)
    assert seen == [] and doc.loads == 1
    assert _red(win.viewport, *_centre(0))
    win.session.delete([doc.ids[0]], "Delete")               # a change: the next open catches the
    _open(qtbot, win, many)                                   # snapshot up (reads that one row again)
    doc = next(iter(win.session.documents.values()))
    assert seen == [] and doc.from_snapshot and doc.caught_up == 1 and doc.count == N - 1
    qtbot.waitUntil(lambda: _red(win.viewport, *_centre(1)), timeout=5000)
    assert not _red(win.viewport, *_centre(0))                # the deleted one is not painted
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")   # without the cache: the store
    _open(qtbot, win, many)
    assert len(seen) == 1 and next(iter(win.session.documents.values())).count == N - 1


def test_polygons_are_painted_and_follow_edits(qtbot, win, many):
    _open(qtbot, win, many)
    view = win.viewport
    painter = view.overlay
    qtbot.waitUntil(lambda: _red(view, *_centre(0)), timeout=5000)
    tl, br = view.view_to_image(QtCore.QPointF(0, 0)), view.view_to_image(QtCore.QPointF(view.width(), view.height()))
    assert len(painter.visible_indices(tl[0], tl[1], br[0], br[1])) > 1500     # zoomed out: the raster overlay
    assert _red(view, *_centre(N - 1)) and not _red(view, 3, 3)
    doc = painter.doc
    victim = doc.ids[int(painter.rows[100])]
    x, y = _centre(100)
    assert _red(view, x, y)
    win.session.delete([victim], "Delete")                   # the overlay is redrawn where it was
    assert not _red(view, x, y)
    win.session.undo_stack.undo()
    assert _red(view, x, y)
    win.session.create({"kind": "box", "xyxy": [500, 500, 510, 510]}, "Box")
    assert not _red(view, 495, 495)
    view.zoom *= 8                                            # zoomed in: the vector layer
    view.center = _centre(0)
    view.update()
    tl, br = view.view_to_image(QtCore.QPointF(0, 0)), view.view_to_image(QtCore.QPointF(view.width(), view.height()))
    assert len(painter.visible_indices(tl[0], tl[1], br[0], br[1])) < 1500
    assert _red(view, *_centre(0)) and _red(view, *_centre(1))
    assert not _red(view, _centre(0)[0] + PITCH / 2, _centre(0)[1])          # the gap between squares
    assert doc.loads == 1


def test_annotation_panel_rows_are_virtual(qtbot, win, many, monkeypatch):
    from labeldesk.qt.panels.annotation_panel import AnnotationModel
    calls, counts = [], []
    real = AnnotationModel.text
    monkeypatch.setattr(AnnotationModel, "text", lambda self, r: calls.append(r) or real(self, r))
    real_count = AnnotationModel.rowCount
    monkeypatch.setattr(AnnotationModel, "rowCount", lambda self, *a: counts.append(1) or real_count(self, *a))
    _open(qtbot, win, many)
    panel = win.annotation_panel
    qtbot.waitUntil(lambda: panel.row_count() == N, timeout=5000)
    panel.list.viewport().grab()
    assert isinstance(panel.list, QtWidgets.QAbstractItemView)
    assert not isinstance(panel.list, (QtWidgets.QListWidget, QtWidgets.QTableWidget))     # no item per row
    assert 0 < len(set(calls)) < 200                          # only the rows on screen were built
    assert len(counts) < N / 4                                # nor laid out row by row (a QListView asks 2 per row)
    first = panel.row_id(0)
    win.session.select({first})
    assert [i.data(QtCore.Qt.ItemDataRole.UserRole) for i in panel.list.selectionModel().selectedIndexes()] == [first]
    win.session.delete([first], "Delete")
    assert panel.row_count() == N - 1 and panel.row_id(0) != first
    panel.filter.setText("nothing like this")
    assert panel.row_count() == 0
    panel.filter.setText("")
    assert panel.row_count() == N - 1


def test_the_document_is_read_off_the_gui_thread_and_painted_when_in(qtbot, win, many, monkeypatch):
    """Opening reads the annotations on the worker (never on the GUI thread): the pixels show
    first, the polygons as soon as the read is in, and sig_asset_shown waits for them."""
    import threading

    from labeldesk.core.store import connection
    reads: list[bool] = []                    # per read of the asset's annotations: on the GUI thread?
    real = connection.connect

    def connect(*a, **k):
        conn = real(*a, **k)
        conn.set_trace_callback(lambda sql: reads.append(threading.current_thread() is threading.main_thread())
                                if "FROM annotations WHERE asset_id" in sql else None)
        return conn
    monkeypatch.setattr(connection, "connect", connect)
    import labeldesk.core.project as project_module
    monkeypatch.setattr(project_module, "connect", connect)
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    seen_shown: list[bool] = []
    win.sig_asset_shown.connect(lambda _a: seen_shown.append(bool(win.session.documents)))
    _open(qtbot, win, many)
    assert reads == [False], reads            # one read, on the worker
    assert seen_shown == [True]               # shown once its annotations were in
    view = win.viewport
    assert _red(view, *_centre(0)) and _red(view, *_centre(N - 1)) and not _red(view, 3, 3)
    assert win.annotation_panel.row_count() == N
    win.session.refresh()                     # what signals do after the open reads nothing more
    win._on_session_annotations_changed()
    assert reads == [False]


def test_panels_after_the_open_do_not_walk_the_document(qtbot, win, many):
    """What runs on the GUI thread after the first paint touches only the rows it needs: the
    Tracks dock follows changes instead of looking at every row for a track."""
    _open(qtbot, win, many)
    doc = next(iter(win.session.documents.values()))

    class Counting(list):
        looked = 0

        def __getitem__(self, i):
            Counting.looked += 1
            return super().__getitem__(i)
    doc.tracks = Counting(doc.tracks)
    built = []
    real = doc.annotation
    doc.annotation = lambda r: built.append(r) or real(r)
    win._on_session_annotations_changed()                 # what every commit and refresh triggers
    win.session.delete([doc.ids[5]], "Delete")
    win.session.undo_stack.undo()
    assert Counting.looked < 50 and len(built) < 50, (Counting.looked, len(built))
    assert win.tracks.tracks == [] and doc.count == N


def test_the_zoomed_out_overlay_is_drawn_by_the_worker_that_read_the_document(qtbot, win, many, monkeypatch):
    """Opening draws the overlay on the worker that read the document (the GUI thread only blits
    it), for exactly what the view shows: the painted pixels are those of a drawing on the GUI
    thread; after an edit the GUI thread draws again."""
    import threading

    from labeldesk.qt.viewer import annotation_painter, overlay_cache
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")          # drawn, not read from a cache
    monkeypatch.setattr(overlay_cache, "PREPARE_MIN_SHAPES", 100)
    drawn_on_gui: list[bool] = []
    real = annotation_painter.AnnotationPainter.render_raster
    monkeypatch.setattr(annotation_painter.AnnotationPainter, "render_raster", lambda self, *a, **k: drawn_on_gui.append(
        threading.current_thread() is threading.main_thread()) or real(self, *a, **k))
    _open(qtbot, win, many)
    view = win.viewport
    first = view.grab().toImage()
    painter = view.overlay
    assert painter._raster is not None and painter.prepared_hits == 1
    assert drawn_on_gui == [False]                                   # drawn once, on the worker
    assert _red(view, *_centre(0)) and not _red(view, _centre(0)[0] + PITCH / 2, _centre(0)[1])
    painter._raster = None                                           # the same drawing on the GUI thread
    assert view.grab().toImage() == first and drawn_on_gui == [False, True]
    first_id = win.session.document(win.session.asset_id).ids[0]
    win.session.delete([first_id], "Delete")
    assert not _red(view, *_centre(0)) and painter.prepared_hits == 1


def test_reopening_after_an_edit_patches_the_cached_overlay(qtbot, win, many, monkeypatch):
    """Open, delete a square, open again: the overlay cached at the first open is patched (by the
    worker that reads the caught-up document, or the GUI thread when the worker did not know the
    view's size in time; nothing is drawn in full), and the window paints the same pixels as a
    full drawing — without the deleted square."""
    import threading

    from labeldesk.core import document_snapshot
    from labeldesk.qt.viewer import annotation_painter, overlay_cache, overlay_patch
    monkeypatch.delenv("LABELDESK_NO_DOCUMENT_CACHE", raising=False)
    monkeypatch.setattr(overlay_cache, "MIN_SHAPES", 100)
    monkeypatch.setattr(overlay_cache, "PREPARE_MIN_SHAPES", 100)
    patched: list[bool] = []
    real_patch = overlay_patch.patch
    monkeypatch.setattr(overlay_patch, "patch", lambda *a: patched.append(
        threading.current_thread() is threading.main_thread()) or real_patch(*a))
    drawn: list[int] = []
    real = annotation_painter.AnnotationPainter.render_raster
    monkeypatch.setattr(annotation_painter.AnnotationPainter, "render_raster",
                        lambda self, *a, **k: drawn.append(1) or real(self, *a, **k))
    _open(qtbot, win, many)
    view = win.viewport
    qtbot.waitUntil(lambda: _red(view, *_centre(0)), timeout=5000)
    assert len(drawn) == 1
    hits = view.overlay.prepared_hits + view.overlay.patched_hits
    doc = win.session.document(win.session.asset_id)
    win.session.delete([doc.ids[0]], "Delete")
    document_snapshot.flush()                                # (as closing the project does)
    drawn.clear()
    _open(qtbot, win, many)
    qtbot.waitUntil(lambda: _red(view, *_centre(1)), timeout=5000)
    first = view.grab().toImage()
    painter = view.overlay
    # patched (on the worker when it knew the view's size in time, else on the GUI thread), not drawn
    assert patched and drawn == [] and painter.prepared_hits + painter.patched_hits > hits
    assert not _red(view, *_centre(0))
    painter._raster = None                                   # a full drawing on the GUI thread
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    assert view.grab().toImage() == first and drawn == [1]


def test_the_worker_draws_the_overlay_while_the_pixels_still_decode(qtbot, win, many, monkeypatch):
    """A document read before the image's pixels are in (a large image decodes for longer than its
    snapshot reads) is drawn by the worker for the view the pixels will be shown in (fitted, or the
    remembered zoom): the first paint only blits it, and it matches a drawing on the GUI thread."""
    import threading
    import time

    from labeldesk.core.io import registry
    from labeldesk.qt import window_state
    from labeldesk.qt.viewer import annotation_painter, overlay_cache
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    monkeypatch.setattr(overlay_cache, "PREPARE_MIN_SHAPES", 100)
    real_open = registry.open_locator
    read = threading.Event()

    def slow_open(locator, *a, **k):                  # the pixels come after the document
        read.wait(10)
        time.sleep(0.05)
        return real_open(locator, *a, **k)
    monkeypatch.setattr(registry, "open_locator", slow_open)
    real_prepare = overlay_cache.prepare
    monkeypatch.setattr(overlay_cache, "prepare", lambda doc, spec: (real_prepare(doc, spec), read.set()))
    drawn_on_gui: list[bool] = []
    real = annotation_painter.AnnotationPainter.render_raster
    monkeypatch.setattr(annotation_painter.AnnotationPainter, "render_raster", lambda self, *a, **k: drawn_on_gui.append(
        threading.current_thread() is threading.main_thread()) or real(self, *a, **k))
    for hits, remembered in ((1, False), (2, True)):
        drawn_on_gui.clear()
        read.clear()
        _open(qtbot, win, many)
        view = win.viewport
        assert read.is_set() and view.source is not None
        first = view.grab().toImage()
        painter = view.overlay
        assert painter.prepared_hits == hits and drawn_on_gui == [False], (remembered, drawn_on_gui)
        assert _red(view, *_centre(N // 2))
        painter._raster = None                        # the same drawing on the GUI thread
        assert view.grab().toImage() == first and drawn_on_gui == [False, True]
        if not remembered:                    # next: a zoom remembered for the asset is restored
            view.zoom_by(0.8)
            win._save_view_state()
            assert window_state.remembered_view_state(win.project, win.current_asset_id)["zoom"] == view.zoom


def test_live_edits_redraw_the_overlay_as_a_full_drawing_would(qtbot, win, many):
    """Zoomed out, each edit redraws only the overlay around what changed (the shapes' old and new
    bounds); the pixels are those of the whole overlay drawn again: moves by a fraction of a
    pixel, a class change, a delete, an undo and a new shape across several squares."""
    _open(qtbot, win, many)
    view = win.viewport
    painter = view.overlay
    qtbot.waitUntil(lambda: _red(view, *_centre(0)), timeout=5000)
    doc = painter.doc
    session = win.session

    def full_drawing_matches() -> None:
        view.repaint()
        live = view.grab().toImage()
        assert painter._raster is not None
        painter._raster = None                                # the whole overlay again
        view.repaint()
        full = view.grab().toImage()
        if live != full:
            a = np.frombuffer(live.constBits(), np.uint8).reshape(live.height(), live.bytesPerLine())
            b = np.frombuffer(full.constBits(), np.uint8).reshape(full.height(), full.bytesPerLine())
            ys, xs = np.nonzero(a != b)
            raise AssertionError(f"{len(ys)} bytes differ, rows {ys.min()}..{ys.max()}, bytes {xs.min()}..{xs.max()}")

    for k, (dx, dy) in enumerate([(0.3, 0.0), (0.45, 0.7), (-1.35, 2.2), (3.5, -0.25)]):
        aid = doc.ids[int(painter.rows[200 + 37 * k])]
        ann = doc.annotation(doc.row_of[aid])
        shell = [[x + dx, y + dy] for x, y in ann.geometry.to_dict()["shell"]]
        session.commit([OpDraft("annotation.update", aid, {"set": {"geometry": {"kind": "polygon", "shell": shell}}})],
                       "Move")
        full_drawing_matches()
    session.delete([doc.ids[int(painter.rows[700])]], "Delete")
    full_drawing_matches()
    session.undo_stack.undo()
    full_drawing_matches()
    session.create({"kind": "polygon", "shell": [[20.2, 20.7], [60.4, 25.1], [40.9, 61.3]]}, "Polygon")
    full_drawing_matches()
