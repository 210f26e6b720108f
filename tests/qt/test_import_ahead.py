"""Import to usable, in the app: after an import into an asset that is not open, its document
snapshot and the zoomed-out overlay the view will ask for are written in the background, so its
first open reads neither the store's rows nor draws the overlay — and paints the pixels a cold
read and a full drawing paint."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project

SIDE, PITCH, CELL, N = 512, 11, 8, 2000


def _centre(i: int) -> tuple[float, float]:
    return (6 + (i % 45) * PITCH + CELL / 2, 6 + (i // 45) * PITCH + CELL / 2)


@pytest.fixture
def two(tmp_path):
    """Two grey 512² images; the first has one square, the second none yet."""
    import cv2

    from labeldesk.core.importer import add_paths
    for name, grey in (("a.png", 120), ("b.png", 128)):          # (two contents: two assets)
        cv2.imwrite(str(tmp_path / name), np.full((SIDE, SIDE), grey, np.uint8))
    root = tmp_path / "p"
    p = Project.create(root, user_name="ann")
    add_paths(p, [tmp_path / "a.png", tmp_path / "b.png"])
    a = next(x.id for x in p.assets() if x.name == "a.png")
    cls = ids.new_id()
    p.apply_all([OpDraft("ontology.class.create", cls, {"class": {"name": "cell", "color": "#ff0000"}}),
                 OpDraft("annotation.create", ids.new_id(), {"annotation": {
                     "asset_id": a, "layer_id": p.my_layer_id, "class_id": cls,
                     "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}}})])
    p.close()
    coco = tmp_path / "b.json"
    anns = []
    for i in range(N):
        x, y = _centre(i)
        h = CELL / 2
        anns.append({"id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 64.0,
                     "bbox": [x - h, y - h, CELL, CELL],
                     "segmentation": [[x - h, y - h, x + h, y - h, x + h, y + h, x - h, y + h]]})
    coco.write_text(json.dumps({"images": [{"id": 1, "file_name": "b.png", "width": SIDE, "height": SIDE}],
                                "categories": [{"id": 1, "name": "cell"}], "annotations": anns}))
    return root, coco


def test_the_first_open_after_an_import_in_the_app_reads_the_snapshot_and_the_cached_overlay(
        qtbot, win, two, monkeypatch):
    from labeldesk.core import document_snapshot, interchange
    from labeldesk.qt.viewer import annotation_painter, overlay_cache
    monkeypatch.delenv("LABELDESK_NO_DOCUMENT_CACHE", raising=False)
    monkeypatch.setattr(document_snapshot, "AHEAD_MIN", 100)
    monkeypatch.setattr(overlay_cache, "MIN_SHAPES", 100)
    monkeypatch.setattr(overlay_cache, "PREPARE_MIN_SHAPES", 100)
    root, coco = two
    with qtbot.waitSignal(win.sig_asset_shown, timeout=30000):
        win.open_project(root)
        win.show()
    b = next(x.id for x in win.project.assets() if x.name == "b.png")
    assert win.session.asset_id != b
    report = interchange.import_file(win.project, "coco", coco, options={"create_classes": True})
    assert report.imported == N
    document_snapshot.flush()                       # (the writer runs in the background; closing waits)
    snap = document_snapshot.path_for(win.project.conn, b)
    assert snap.exists() and list(snap.parent.glob(f"{b}.overlay-*.npy"))
    drawn: list[int] = []
    real = annotation_painter.AnnotationPainter.render_raster
    monkeypatch.setattr(annotation_painter.AnnotationPainter, "render_raster",
                        lambda self, *a, **k: drawn.append(1) or real(self, *a, **k))
    with qtbot.waitSignal(win.sig_asset_shown, timeout=30000):
        win.show_asset(b)
    doc = win.session.document(b)
    view, painter = win.viewport, win.viewport.overlay
    first = view.grab().toImage()
    assert doc.from_snapshot and doc.caught_up is None and drawn == []     # nothing read again, nothing drawn
    assert painter.prepared_hits + painter.cache_hits >= 1
    px = view.image_to_view(*_centre(7)).toPoint()
    c = first.pixelColor(px)
    assert c.red() > c.green() + 25                                          # a square is painted
    painter._raster = None                                                   # a full drawing on the GUI thread
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    assert view.grab().toImage() == first and drawn == [1]
