"""The zoomed-in layer drawn ahead of a pan on the worker: a steady pan swaps it in when it leaves
the layer (no strip drawn on the GUI thread), with the same pixels as a full drawing; a pan that
outruns it gets the strips drawn as before; an edit while it is drawn makes it stale (never shown).
Waits are on conditions (the worker's futures), never on time."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from blank_source import Blank
from PySide6 import QtGui

from labeldesk.core import ids
from labeldesk.core.model import Plane
from labeldesk.core.ops import ChangeSet, OpDraft
from labeldesk.core.project import Project

SIDE = 1024
STEP = 15            # view px a frame, as in benchmarks/bench_ann.py (ANN-3b)
ZOOM = 3.0


def _star(x: float, y: float, r: float) -> dict:
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    k = np.where(np.arange(16) % 2 == 0, 1.0, 0.5) * r
    return {"kind": "polygon", "shell": np.stack([x + k * np.cos(t), y + k * np.sin(t)], 1).round(2).tolist()}


@pytest.fixture
def project(tmp_path):
    """1,200 overlapping stars of three classes, in an order that alternates classes."""
    import cv2

    from labeldesk.core.importer import add_paths
    p = Project.create(tmp_path / "p", user_name="ann")
    cv2.imwrite(str(p.root / "blank.png"), np.zeros((SIDE, SIDE), np.uint8))
    add_paths(p, [p.root / "blank.png"])
    asset = p.assets()[0].id
    classes = [ids.new_id() for _ in range(3)]
    drafts = [OpDraft("ontology.class.create", c, {"class": {"name": n, "color": col}})
              for c, n, col in zip(classes, ("a", "b", "c"), ("#ff0000", "#00ff00", "#3080ff"))]
    rng = np.random.default_rng(5)
    for i, (x, y) in enumerate(rng.uniform(30, SIDE - 30, (1200, 2))):
        drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": p.my_layer_id, "class_id": classes[i % 3 if i % 7 else 0],
            "geometry": _star(float(x), float(y), float(rng.uniform(8, 30)))}}))
    p.apply_all(drafts)
    yield p, asset, classes
    p.close()


def _pixels(view) -> np.ndarray:
    img = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def _open(qtbot, p, asset):
    from labeldesk.core.document import Document
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    from labeldesk.qt.viewer.viewport_view import ViewportView
    doc = Document(p.conn, asset)
    view = ViewportView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    painter = AnnotationPainter()
    painter.colours = {c.id: c.color for c in p.classes()}
    view.overlay = painter
    view.set_source(Blank(SIDE))
    painter.show(doc, doc.rows_on(Plane()))
    view.fit()
    view.zoom, view.center = ZOOM, (300.0, 400.0)
    return doc, view, painter


def _full(view, painter, doc) -> np.ndarray:
    """The same view drawn by a new painter (its layer drawn whole)."""
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    fresh = AnnotationPainter()
    fresh.colours = painter.colours
    fresh.prepare_ahead = False
    fresh.show(doc, doc.rows_on(Plane()))
    view.overlay = fresh
    try:
        pixels = _pixels(view)
    finally:
        view.overlay = painter
    assert fresh.layer_stats == {"full": 1, "shift": 0, "blit": 0, "ahead": 0, "prepared": 0}
    return pixels


def _same(shown: np.ndarray, full: np.ndarray) -> None:
    """The same pixels as a full drawing, up to the antialiasing of outlines that a layer's edge
    or a strip's clip cut (Qt's cosmetic stroker rounds a clipped line's ends: a few levels
    along it; the blit within the margin shows the same, before this work too, and
    test_canvas_layers allows as much). A missing or stale strip, or a shape drawn out of
    order, differs by tens of levels over thousands of pixels."""
    diff = np.abs(shown.astype(int) - full.astype(int)).max(2)
    assert diff.max() <= 8 and (diff > 0).mean() < 0.01, (int(diff.max()), int((diff > 0).sum()))
    assert (shown.max(2) > 60).mean() > 0.2             # stars are there


def _pan(view, dx: float = STEP, dy: float = 0.0) -> None:
    view.center = (view.center[0] + dx / ZOOM, view.center[1] + dy / ZOOM)


def _blocked_worker():
    """Hold the painters' worker until the returned event is set (what it was given waits)."""
    from labeldesk.qt.viewer.vector_layer import layer_worker
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait()
    layer_worker().submit(hold)
    assert started.wait(60)
    return release


def test_a_steady_pan_swaps_in_the_layer_drawn_ahead(qtbot, project):
    p, asset, _ = project
    doc, view, painter = _open(qtbot, p, asset)
    _pixels(view)
    assert painter.layer_stats["full"] == 1
    seen = 0
    for dx, dy in [(STEP, 0)] * 60 + [(0, -STEP)] * 40 + [(-STEP, STEP)] * 30:
        _pan(view, dx, dy)
        shown = _pixels(view)
        painter.wait_ahead(60)                          # the worker keeps up (a user's pace)
        if painter.layer_stats["ahead"] != seen:        # a frame that took the layer ahead
            seen = painter.layer_stats["ahead"]
            _same(shown, _full(view, painter, doc))
    stats = painter.layer_stats
    assert stats["full"] == 1 and stats["shift"] == 0, stats        # no strip drawn while the user looked
    assert stats["ahead"] >= 6 and stats["prepared"] >= stats["ahead"], stats
    _same(_pixels(view), _full(view, painter, doc))


def test_a_pan_that_outruns_the_layer_ahead_draws_the_strips(qtbot, project):
    p, asset, _ = project
    doc, view, painter = _open(qtbot, p, asset)
    _pixels(view)
    release = _blocked_worker()
    try:
        while painter.layer_stats["shift"] == 0:       # past the margin while the worker is held
            _pan(view)
            shown = _pixels(view)
        assert painter.layer_stats["prepared"] >= 1 and painter.layer_stats["ahead"] == 0
        _same(shown, _full(view, painter, doc))
    finally:
        release.set()
    painter.wait_ahead(60)
    while painter.layer_stats["ahead"] == 0:           # the one drawn meanwhile still fits, or the next
        _pan(view)
        shown = _pixels(view)
        painter.wait_ahead(60)
    _same(shown, _full(view, painter, doc))
    assert painter.layer_stats["full"] == 1


def test_an_edit_while_the_layer_ahead_is_drawn_is_shown(qtbot, project):
    """The worker drew from a snapshot taken before the edit: its layer is dropped, and the
    frame past the margin shows the edit."""
    p, asset, classes = project
    doc, view, painter = _open(qtbot, p, asset)
    _pixels(view)
    release = _blocked_worker()
    try:
        while painter.layer_stats["prepared"] == 0:
            _pan(view)
            _pixels(view)
        stale = painter._ahead[3]
        # a big square of the first class just ahead of the view (in the layer being prepared)
        cx = view.view_to_image(view.rect().center())[0] + (view.width() / 2 + 150) / ZOOM
        cy = view.center[1]
        square = {"kind": "polygon", "shell": [[cx - 40, cy - 40], [cx + 40, cy - 40], [cx + 40, cy + 40],
                                               [cx - 40, cy + 40]]}
        aid = ids.new_id()
        p.apply_all([OpDraft("annotation.create", aid, {"annotation": {
            "asset_id": asset, "layer_id": p.my_layer_id, "class_id": classes[0], "geometry": square}})])
        cs = ChangeSet()
        cs.annotations.add(aid)
        change = doc.apply_changes(cs)
        painter.show(doc, doc.rows_on(Plane()), change)
    finally:
        release.set()
    from labeldesk.qt.viewer.vector_layer import Stopped
    error = stale.exception(60)                        # drawn from the old snapshot, or stopped
    assert error is None or isinstance(error, Stopped), error
    r = doc.row_of[aid]
    shown = _pixels(view)
    assert painter.layer_stats["full"] == 2            # the edit: the layer drawn again
    for _ in range(40):
        _pan(view)
        shown = _pixels(view)
        painter.wait_ahead(60)
    assert painter.layer_stats["ahead"] >= 1
    assert error is not None or painter._layer[3] is not stale.result()
    _same(shown, _full(view, painter, doc))
    q = view.image_to_view(cx, cy).toPoint()
    assert 0 <= q.x() < view.width(), q                # the square is in view, filled in red
    r, g, b = shown[q.y() - 20:q.y() + 20, q.x() - 20:q.x() + 20].reshape(-1, 3).mean(0)
    assert r > g + 10 and r > b + 10, (r, g, b)


def test_a_pan_that_turns_back_stops_the_layer_drawn_the_other_way(qtbot, project):
    from labeldesk.qt.viewer.vector_layer import Stopped
    p, asset, _ = project
    doc, view, painter = _open(qtbot, p, asset)
    _pixels(view)
    release = _blocked_worker()
    try:
        _pan(view)
        _pixels(view)
        first = painter._ahead
        assert first is not None and painter.layer_stats["prepared"] == 1
        for _ in range(3):                             # back the other way
            _pan(view, -STEP)
            _pixels(view)
        assert first[4].is_set() and painter._ahead is not first
    finally:
        release.set()
    assert isinstance(first[3].exception(60), Stopped)
    painter.wait_ahead(60)
    while painter.layer_stats["ahead"] == 0:
        _pan(view, -STEP)
        shown = _pixels(view)
        painter.wait_ahead(60)
    assert painter.layer_stats["shift"] == 0
    _same(shown, _full(view, painter, doc))
