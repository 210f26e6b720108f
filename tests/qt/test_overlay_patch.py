"""Opening after edits: the cached overlay of the older snapshot is patched where rows changed,
pixel-identical to drawing it all again (updates, moves, deletes, creates, a new drawing order, a
class changed); another colour or too many changed rows draw it all; a stale overlay is never
read."""
from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project

SIDE = 1024
N = 1500


def _star(x: float, y: float, r: float) -> dict:
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    k = np.where(np.arange(16) % 2 == 0, 1.0, 0.5) * r
    return {"kind": "polygon", "shell": np.stack([x + k * np.cos(t), y + k * np.sin(t)], 1).round(2).tolist()}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """N overlapping stars of three classes, a few z_orders (ties too), on a 1024² image."""
    import cv2

    from labeldesk.core.importer import add_paths
    from labeldesk.qt.viewer import overlay_cache
    monkeypatch.delenv("LABELDESK_NO_DOCUMENT_CACHE", raising=False)
    monkeypatch.setattr(overlay_cache, "MIN_SHAPES", 100)
    p = Project.create(tmp_path / "p", user_name="ann")
    cv2.imwrite(str(p.root / "blank.png"), np.zeros((SIDE, SIDE), np.uint8))
    add_paths(p, [p.root / "blank.png"])
    asset = p.assets()[0].id
    classes = [ids.new_id() for _ in range(3)]
    drafts = [OpDraft("ontology.class.create", c, {"class": {"name": n, "color": col}})
              for c, n, col in zip(classes, ("red", "green", "blue"), ("#ff0000", "#00ff00", "#0000ff"))]
    rng = np.random.default_rng(7)
    for i, (x, y) in enumerate(rng.uniform(20, SIDE - 20, (N, 2))):
        drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": p.my_layer_id, "class_id": classes[i % 3],
            "geometry": _star(float(x), float(y), float(rng.uniform(8, 40))), "z_order": float(rng.integers(0, 3))}}))
    p.apply_all(drafts)
    yield p, asset, classes
    p.close()


def _colours(p) -> dict:
    return {c.id: c.color for c in p.classes()}


def _open(p, asset, colours=None, scale=0.75):
    """A reopen (a new Document: from the snapshot, caught up) and its overlay as the cache gives
    it, with how it was made, and the same overlay drawn in full."""
    from labeldesk.core import document_snapshot
    from labeldesk.core.document import Document
    from labeldesk.qt.viewer import overlay_cache
    from labeldesk.qt.viewer.annotation_painter import AnnotationPainter
    doc = Document(p.conn, asset)
    painter = AnnotationPainter()
    painter.colours = colours or _colours(p)
    source = (Plane(), None)
    painter.show(doc, doc.rows_on(*source), source=source)
    buf, how = overlay_cache.obtain(painter, SIDE, SIDE, scale)
    full = painter.render_raster(SIDE, SIDE, scale)[1]
    document_snapshot.flush()
    return doc, buf, how, full


def _ids(p, asset) -> list[str]:
    return [a for (a,) in p.conn.execute(
        "SELECT id FROM annotations WHERE asset_id = ? AND deleted = 0 ORDER BY rowid", (asset,))]


def test_reopening_after_edits_patches_the_overlay_pixel_identical(qapp, project, monkeypatch):
    from labeldesk.qt.viewer import overlay_patch
    monkeypatch.setattr(overlay_patch, "MAX_SHARE", 0.9)      # dense test shapes: patch whatever it takes
    p, asset, classes = project
    doc, buf, how, full = _open(p, asset)
    assert how == "drawn" and doc.caught_up_from is None and np.array_equal(buf, full)
    doc, buf, how, full = _open(p, asset)                      # unchanged: read from the cache
    assert how == "cache" and np.array_equal(buf, full)
    rows = _ids(p, asset)
    # moves, a new class, a new drawing order (to the top, to the bottom, a tie), deletes, creates
    moved = [OpDraft("annotation.update", a, {"set": {"geometry": _star(100 + 40 * i, 500, 30)}})
             for i, a in enumerate(rows[10:16])]
    p.apply_all(moved + [
        OpDraft("annotation.update", rows[20], {"set": {"class_id": classes[2]}}),
        OpDraft("annotation.update", rows[21], {"set": {"z_order": 10.0}}),
        OpDraft("annotation.update", rows[22], {"set": {"z_order": -5.0}}),
        OpDraft("annotation.update", rows[23], {"set": {"z_order": 1.0, "class_id": classes[0]}}),
        OpDraft("annotation.delete", rows[30], {}),
        OpDraft("annotation.delete", rows[31], {}),
        *[OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset, "layer_id": p.my_layer_id, "class_id": classes[i % 3],
            "geometry": _star(300 + 25 * i, 300, 35), "z_order": float(i % 3)}}) for i in range(5)],
    ])
    doc, buf, how, full = _open(p, asset)
    assert doc.caught_up_from is not None and len(doc.caught_up_from.old) == 6 + 4 + 2 + 5
    assert how == "patched"
    assert np.array_equal(buf, full)
    # the patched overlay is cached under the new stamp; a further edit patches it again
    doc, buf, how, full = _open(p, asset)
    assert how == "cache" and np.array_equal(buf, full)
    p.apply(OpDraft("annotation.update", rows[40], {"set": {"z_order": 0.0, "geometry": _star(512, 512, 60)}}))
    doc, buf, how, full = _open(p, asset)
    assert how == "patched" and np.array_equal(buf, full)
    # a restored annotation and a shape off the overlay's plane edge
    p.apply_all([OpDraft("annotation.restore", rows[30], {}),
                 OpDraft("annotation.update", rows[50], {"set": {"geometry": _star(SIDE - 5, 3, 30)}})])
    doc, buf, how, full = _open(p, asset)
    assert how == "patched" and np.array_equal(buf, full)


def test_another_colour_or_many_changes_draw_it_all(qapp, project):
    p, asset, classes = project
    _open(p, asset)
    rows = _ids(p, asset)
    # a class colour changed (an op on the class, not on an annotation): never the old overlay
    p.apply(OpDraft("ontology.class.update", classes[0], {"set": {"color": "#ffff00"}}))
    p.apply(OpDraft("annotation.update", rows[0], {"set": {"z_order": 4.0}}))
    doc, buf, how, full = _open(p, asset)
    assert how == "drawn" and np.array_equal(buf, full)
    assert (full.reshape(-1, 4)[:, 1:3] > 200).all(1).any()      # yellow outlines (B, G, R: G and R)
    # more than a quarter of the rows changed: drawn in full
    p.apply_all([OpDraft("annotation.update", a, {"set": {"z_order": 7.0}}) for a in rows[::3]])
    doc, buf, how, full = _open(p, asset)
    assert how == "drawn" and np.array_equal(buf, full)
    # another zoom than the cached one: drawn, not patched
    p.apply(OpDraft("annotation.delete", rows[1], {}))
    doc, buf, how, full = _open(p, asset, scale=0.5)
    assert how == "drawn" and np.array_equal(buf, full)


def test_a_stale_overlay_is_never_read(qapp, project, monkeypatch):
    """The overlay of an older stamp is only patched from the snapshot it was drawn at: with the
    snapshot gone (the document read from the store), it is drawn again."""
    from labeldesk.core import document_snapshot
    p, asset, _classes = project
    _open(p, asset)
    rows = _ids(p, asset)
    p.apply(OpDraft("annotation.update", rows[3], {"set": {"geometry": _star(200, 200, 80)}}))
    document_snapshot.path_for(p.conn, asset).unlink()
    doc, buf, how, full = _open(p, asset)
    assert doc.caught_up_from is None and how == "drawn" and np.array_equal(buf, full)


def test_the_worker_patches_the_overlay_of_a_layer_and_the_view_takes_it(qapp, project, monkeypatch):
    """``overlay_cache.prepare`` (the worker that read the document) patches instead of drawing;
    with a layer filter, shapes moved out of the shown layer leave the overlay and shapes moved
    into it appear; the painter of a view showing that plane and layer takes the buffer as is."""
    from labeldesk.core import document_snapshot
    from labeldesk.core.document import Document
    from labeldesk.qt.viewer import annotation_painter, overlay_cache
    from labeldesk.qt.viewer import overlay_patch
    monkeypatch.setattr(overlay_cache, "PREPARE_MIN_SHAPES", 100)
    monkeypatch.setattr(overlay_patch, "MAX_SHARE", 0.9)      # dense test shapes: patch whatever it takes
    drawn: list[int] = []
    real = annotation_painter.AnnotationPainter.render_raster
    monkeypatch.setattr(annotation_painter.AnnotationPainter, "render_raster",
                        lambda self, *a, **k: drawn.append(1) or real(self, *a, **k))
    p, asset, classes = project
    other = ids.new_id()
    p.apply(OpDraft("layer.create", other, {"layer": {"name": "second"}}))
    rows = _ids(p, asset)
    p.apply_all([OpDraft("annotation.update", a, {"set": {"layer_id": other}}) for a in rows[100:140]])
    spec = {"plane": Plane(), "layers": [p.my_layer_id], "width": SIDE, "height": SIDE, "scale": 0.6,
            "opacity": 0.25, "colours": _colours(p)}

    def prepared():
        doc = Document(p.conn, asset)
        overlay_cache.prepare(doc, spec)
        document_snapshot.flush()
        return doc, doc.prepared_overlay[1]
    doc, buf = prepared()
    assert len(drawn) == 1
    p.apply_all([OpDraft("annotation.update", a, {"set": {"layer_id": other}}) for a in rows[200:205]]
                + [OpDraft("annotation.update", a, {"set": {"layer_id": p.my_layer_id}}) for a in rows[100:103]]
                + [OpDraft("annotation.update", rows[300], {"set": {"geometry": _star(600, 600, 50)}})])
    doc, buf = prepared()
    assert len(drawn) == 1 and doc.caught_up_from is not None          # patched, not drawn
    painter = annotation_painter.AnnotationPainter()
    painter.colours = spec["colours"]
    source = (Plane(), [p.my_layer_id])
    painter.show(doc, doc.rows_on(*source), source=source)
    _image, taken = painter._cached_or_rendered(SIDE, SIDE, 0.6)
    assert taken is buf and painter.prepared_hits == 1
    assert np.array_equal(buf, real(painter, SIDE, SIDE, 0.6)[1])
    # the same rows shown without saying which layers: the overlay is not cached (nor patched)
    assert overlay_cache.key(doc, painter.rows, SIDE, SIDE, 0.6, 0.25, spec["colours"], False) is None
