"""The canvas on painted pixels: overlapping shapes keep their drawing order (zoomed out through
the raster overlay and zoomed in through the cached vector layer), and the zoomed-in layer is
reused when the view does not move and shifted when it pans, with the same pixels as drawing it
again from scratch."""
from __future__ import annotations

import numpy as np
import pytest
from blank_source import Blank
from PySide6 import QtGui

from labeldesk.core import ids
from labeldesk.core.model import Plane
from labeldesk.core.ops import ChangeSet, OpDraft
from labeldesk.core.project import Project

SIDE = 1024


def _square(x: float, y: float, h: float) -> dict:
    return {"kind": "polygon", "shell": [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h]]}


def _star(x: float, y: float, r: float) -> dict:
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    k = np.where(np.arange(16) % 2 == 0, 1.0, 0.5) * r
    return {"kind": "polygon", "shell": np.stack([x + k * np.cos(t), y + k * np.sin(t)], 1).round(2).tolist()}


@pytest.fixture
def project(tmp_path):
    """Red square under a blue one (overlapping at 300..340), 1,600 small stars in the lower
    half (more than the vector limit at fit, so zoomed out draws the raster overlay)."""
    p = Project.create(tmp_path / "p", user_name="ann")
    asset = _asset(p)
    red, blue, green = ids.new_id(), ids.new_id(), ids.new_id()
    drafts = [OpDraft("ontology.class.create", c, {"class": {"name": n, "color": col}})
              for c, n, col in ((red, "red", "#ff0000"), (blue, "blue", "#0000ff"), (green, "green", "#00ff00"))]

    def ann(cls, geom):
        return OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": p.my_layer_id, "class_id": cls, "geometry": geom}})
    drafts += [ann(red, _square(280, 280, 60)), ann(blue, _square(360, 360, 60))]
    rng = np.random.default_rng(3)
    for x, y in rng.uniform((40, 600), (SIDE - 40, SIDE - 40), (1600, 2)):
        drafts.append(ann(green, _star(float(x), float(y), 14)))
    p.apply_all(drafts)
    yield p, asset
    p.close()


def _asset(p) -> str:
    import cv2
    path = p.root / "blank.png"
    cv2.imwrite(str(path), np.zeros((SIDE, SIDE), np.uint8))
    from labeldesk.core.importer import add_paths
    add_paths(p, [path])
    return p.assets()[0].id


def _view(qtbot, doc, colours):
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    from labeldesk.qt.viewer.viewport_view import ViewportView
    view = ViewportView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    painter = AnnotationPainter()
    painter.colours = colours
    view.overlay = painter
    view.set_source(Blank(SIDE))
    painter.show(doc, doc.rows_on(Plane()))
    view.fit()
    return view, painter


def _pixels(view) -> np.ndarray:
    img = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def _colours(p) -> dict:
    return {c.id: c.color for c in p.classes()}


def _at(view, pixels, x, y) -> np.ndarray:
    q = view.image_to_view(x, y).toPoint()
    return pixels[q.y(), q.x()].astype(int)


def _mean(view, pixels, x, y, r=40) -> np.ndarray:
    """Mean colour of the view over image_xy (x ± r, y ± r) (stars' outlines cross any one pixel)."""
    a, b = view.image_to_view(x - r, y - r).toPoint(), view.image_to_view(x + r, y + r).toPoint()
    return pixels[a.y():b.y(), a.x():b.x()].reshape(-1, 3).mean(0)


def test_overlap_keeps_drawing_order_zoomed_out_and_in(qtbot, project):
    from labeldesk.core.document import Document
    p, asset = project
    doc = Document(p.conn, asset)
    view, painter = _view(qtbot, doc, _colours(p))
    pixels = _pixels(view)
    assert painter._raster is not None                    # zoomed out: the raster overlay
    only_red, both, only_blue = (_at(view, pixels, *xy) for xy in ((250, 250), (330, 330), (400, 400)))
    assert only_red[0] > only_red[2] + 20 and only_blue[2] > only_blue[0] + 20
    assert both[2] > both[0] + 20                         # the later (blue) square is on top
    view.zoom, view.center = 4.0, (330.0, 330.0)          # zoomed in: the cached vector layer
    pixels = _pixels(view)
    assert painter._raster is None or painter.layer_stats["full"] >= 1
    both = _at(view, pixels, 330, 330)
    assert both[2] > both[0] + 10, both
    # send the blue square to the back: the red one is on top where they overlap
    blue_id = next(a for a in doc.ids if doc.class_of(doc.row_of[a]) == next(
        c.id for c in p.classes() if c.name == "blue"))
    p.apply_all([OpDraft("annotation.update", blue_id, {"set": {"z_order": -1}})])
    cs = ChangeSet()
    cs.annotations.add(blue_id)
    change = doc.apply_changes(cs)
    painter.show(doc, doc.rows_on(Plane()), change)
    both = _at(view, _pixels(view), 330, 330)
    assert both[0] > both[2] + 10, both
    view.fit()
    both = _at(view, _pixels(view), 330, 330)
    assert both[0] > both[2] + 20, both                   # and in the raster overlay too


def test_zoomed_in_layer_blits_when_still_and_shifts_on_pan(qtbot, project):
    from labeldesk.core.document import Document
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    p, asset = project
    doc = Document(p.conn, asset)
    view, painter = _view(qtbot, doc, _colours(p))
    painter.prepare_ahead = False                         # the strips drawn here (the fallback)
    view.zoom, view.center = 3.0, (500.0, 760.0)          # stars, fewer than the vector limit
    _pixels(view)
    full = painter.layer_stats["full"]
    assert full >= 1
    _pixels(view)
    assert painter.layer_stats["full"] == full and painter.layer_stats["blit"] >= 1
    # whole view pixels at zoom 3 (1/3 image px steps): within the layer's margin a blit, beyond
    # it the layer is shifted and the strips that came in are drawn
    for dx, dy, how in ((7.0, 0.0, "blit"), (0.0, -5.0, "blit"), (-3.0, 4.0, "blit"),
                        (250.0, 0.0, "shift"), (0.0, -230.0, "shift"), (-190.0, 210.0, "shift")):
        before = dict(painter.layer_stats)
        view.center = (view.center[0] + dx / 3, view.center[1] + dy / 3)
        shifted = _pixels(view)
        assert painter.layer_stats["full"] == full
        assert painter.layer_stats[how] == before[how] + 1
        fresh = AnnotationPainter()                       # the same view drawn from scratch
        fresh.colours = painter.colours
        fresh.show(doc, doc.rows_on(Plane()))
        view.overlay = fresh
        again = _pixels(view)
        view.overlay = painter
        assert fresh.layer_stats["full"] == 1
        # the same pixels, up to antialiasing noise of the outlines (a fill or a missing strip
        # differs by a quarter of a colour: 64 levels)
        diff = np.abs(shifted.astype(int) - again.astype(int)).max(2)
        assert diff.max() <= 8 and (diff > 1).mean() < 0.02, (dx, dy, diff.max(), (diff > 1).sum())
        assert (shifted[..., 1] > 60).mean() > 0.05       # stars are there (green)
    view.zoom = 3.5                                       # a new zoom draws the layer again
    _pixels(view)
    assert painter.layer_stats["full"] == full + 1


def test_overlay_of_an_unchanged_project_is_read_from_the_cache(qtbot, project, monkeypatch):
    """The zoomed-out overlay is drawn once and cached next to the document snapshot; a new
    document of the unchanged project (a reopen) shows the same pixels without drawing; after an
    op, or with the cache turned off, it is drawn again and shows the change."""
    from labeldesk.core import document_snapshot
    from labeldesk.core.document import Document
    from labeldesk.qt.viewer import overlay_cache
    monkeypatch.delenv("LABELDESK_NO_DOCUMENT_CACHE", raising=False)
    p, asset = project
    view0, painter0 = _view(qtbot, Document(p.conn, asset), _colours(p))
    _pixels(view0)
    document_snapshot.flush()
    assert not list((p.root / "cache" / "documents").glob("*.overlay-*"))    # 1,602 shapes: not cached
    monkeypatch.setattr(overlay_cache, "MIN_SHAPES", 1000)
    doc = Document(p.conn, asset)
    view, painter = _view(qtbot, doc, _colours(p))
    first = _pixels(view)
    assert painter._raster is not None and painter.cache_hits == 0
    document_snapshot.flush()
    assert len(list((p.root / "cache" / "documents").glob(f"{asset}.overlay-*.npy"))) == 1
    view2, painter2 = _view(qtbot, Document(p.conn, asset), _colours(p))
    assert np.array_equal(_pixels(view2), first) and painter2.cache_hits == 1
    # any op makes it stale: a red square over the stars is drawn
    red = next(c.id for c in p.classes() if c.name == "red")
    p.apply_all([OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": asset, "layer_id": p.my_layer_id, "class_id": red, "geometry": _square(700, 800, 50)}})])
    view3, painter3 = _view(qtbot, Document(p.conn, asset), _colours(p))
    third = _pixels(view3)
    assert painter3.cache_hits == 0
    red_now, red_before = _mean(view3, third, 700, 800), _mean(view2, first, 700, 800)
    assert red_now[0] > red_before[0] + 20, (red_now, red_before)
    document_snapshot.flush()
    assert len(list((p.root / "cache" / "documents").glob(f"{asset}.overlay-*.npy"))) == 1   # one per asset
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    view4, painter4 = _view(qtbot, Document(p.conn, asset), _colours(p))
    assert np.array_equal(_pixels(view4), third) and painter4.cache_hits == 0
    # another colour: drawn again
    monkeypatch.delenv("LABELDESK_NO_DOCUMENT_CACHE")
    colours = {**_colours(p), red: "#00ffff"}
    view5, painter5 = _view(qtbot, Document(p.conn, asset), colours)
    assert painter5.cache_hits == 0 and _mean(view5, _pixels(view5), 700, 800)[2] > red_now[2] + 20


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_cached_overlay_is_drawn_again(qtbot, project, monkeypatch, damage):
    """The cached overlay is a file in the project folder (a sync tool or a full disk may leave it
    half there): it is drawn again, with the pixels of a drawing."""
    from labeldesk.core import document_snapshot
    from labeldesk.core.document import Document
    from labeldesk.qt.viewer import overlay_cache
    monkeypatch.delenv("LABELDESK_NO_DOCUMENT_CACHE", raising=False)
    monkeypatch.setattr(overlay_cache, "MIN_SHAPES", 1000)
    p, asset = project
    view, painter = _view(qtbot, Document(p.conn, asset), _colours(p))
    first = _pixels(view)
    document_snapshot.flush()
    (cached,) = (p.root / "cache" / "documents").glob(f"{asset}.overlay-*.npy")
    data = cached.read_bytes()
    cached.write_bytes({"empty": b"", "truncated": data[: len(data) // 3],
                        "garbage": b"\x93NUMPY" + bytes(range(256)) * 50}[damage])
    view2, painter2 = _view(qtbot, Document(p.conn, asset), _colours(p))
    assert np.array_equal(_pixels(view2), first) and painter2.cache_hits == 0
