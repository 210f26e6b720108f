"""The Models dock, the AI segment tool (Z) and the background work, in the main window."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from labeldesk.core import ids
from labeldesk.core import predictions as P
from labeldesk.core.model import Plane
from labeldesk.core.models import tiny
from labeldesk.core.ops import OpDraft

Btn = QtCore.Qt.MouseButton
Key = QtCore.Qt.Key
NoMod = QtCore.Qt.KeyboardModifier.NoModifier
SPINE = (64.5, 64 + 0.2 * 128 + 0.5)          # a bright structure on the demo CT's slices


def vp(view, x, y):
    return view.image_to_view(x, y).toPoint()


def cyan_pixels(widget) -> int:
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3]
    a = a.reshape(img.height(), img.width(), 3).astype(int)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return int(((g - r > 40) & (b - r > 40)).sum())          # tinted cyan over a grey image


@pytest.fixture
def ct(qtbot, window, show):
    asset = show("CT series")
    window.session.set_active_class(None)
    return asset


@pytest.fixture
def sam(qtbot, window, ct, tmp_path):
    rec = window.models.add_model(str(tiny.sam_pair(tmp_path / "w", size=256)))
    assert rec is not None and window.models.assist.record is rec
    key = window.models.assist.key(window.viewport)
    qtbot.waitUntil(lambda: key in window.models.assist.cache, timeout=20000)
    return rec


def test_the_embedding_is_computed_in_the_background_when_a_plane_is_shown(qtbot, window, sam):
    assist = window.models.assist
    before = len(assist.cache)
    window.viewport.set_plane(Plane(z=window.viewport.plane.z + 1))
    key = assist.key(window.viewport)
    qtbot.waitUntil(lambda: key in assist.cache, timeout=20000)       # no click needed
    assert len(assist.cache) == before + 1
    qtbot.waitUntil(lambda: "this plane ready" in window.models.panel.sam_status.text(), timeout=5000)


def test_click_shows_the_mask_and_enter_keeps_it(qtbot, window, ct, sam):
    view = window.viewport
    z = view.plane.z
    qtbot.keyClick(view, Key.Key_Z)
    assert window.session.tool is window.models.tool
    assert cyan_pixels(view) == 0
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, *SPINE))
    qtbot.waitUntil(lambda: cyan_pixels(view) > 30, timeout=5000)         # the proposed mask is painted
    assert "score 0.90" in window.statusBar().currentMessage()
    qtbot.keyClick(view, Key.Key_Return)
    (ann,) = window.project.annotations(ct.id, Plane(z=z))
    assert ann.geometry.kind == "mask" and ann.geometry.area() > 20
    x0, y0, x1, y1 = ann.geometry.bounds()
    assert x0 <= SPINE[0] <= x1 and y0 <= SPINE[1] <= y1
    assert cyan_pixels(view) == 0                                         # the preview is gone
    # polygon output; Backspace takes back the last click
    window.models.panel.output.setCurrentText("polygon")
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, *SPINE))
    qtbot.keyClick(view, Key.Key_Backspace)
    assert window.models.tool.prompt.empty
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, *SPINE))
    qtbot.keyClick(view, Key.Key_Return)
    kinds = sorted(a.geometry.kind for a in window.project.annotations(ct.id, Plane(z=z)))
    assert kinds == ["mask", "polygon"]
    window.undo_action.trigger()
    assert len(window.project.annotations(ct.id, Plane(z=z))) == 1


def test_a_kept_mask_is_suggested_on_the_neighbouring_slices(qtbot, window, ct, sam):
    view = window.viewport
    z = view.plane.z
    qtbot.keyClick(view, Key.Key_Z)
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, *SPINE))
    qtbot.keyClick(view, Key.Key_Return)
    window.models.panel.neighbours.setValue(2)
    window.models.panel.propagate_button.click()
    qtbot.waitUntil(lambda: len(P.predictions(window.project, ct.id)) >= 3, timeout=30000)
    states = P.predictions(window.project, ct.id)
    assert {s.prediction.plane.z for s in states} <= {z - 2, z - 1, z + 1, z + 2}
    assert all(s.provenance.model == "tiny-sam" and s.status == "pending" for s in states)


def test_learn_from_my_labels_proposes_on_other_slices(qtbot, window, ct):
    view = window.viewport
    lesion = next(c.id for c in window.project.classes() if c.name == "Lesion")
    from labeldesk.core.models.sam import Mask
    pixels = np.asarray(view.source.read_plane(view.plane)).astype(float)
    bright = pixels > np.percentile(pixels, 90)
    window.project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": ct.id, "layer_id": window.project.my_layer_id, "class_id": lesion,
        "plane": view.plane.to_dict(), "geometry": Mask.from_array(bright).to_dict()}}))
    window.models.show()
    window.models.panel.learn_button.click()
    qtbot.waitUntil(lambda: "proposal(s)" in window.models.panel.learn_status.text(), timeout=60000)
    states = P.predictions(window.project, ct.id)
    assert states and view.plane.z not in {s.prediction.plane.z for s in states}
    assert all(s.prediction.class_id == lesion and s.score is not None for s in states)
    assert any(r.task == "pixel-classifier" for r in window.models.panel.records)


def test_prelabel_then_evaluate_paints_the_curves(qtbot, window, ct, tmp_path):
    view = window.viewport
    w, h = view.plane_size()
    det = tiny.detector(tmp_path / "d.onnx", [(32, 32, 16, 16, 0, 0.9)], 1, size=64)
    rec = window.models.add_model(str(tiny.write_manifest(tmp_path / "d.json", "detector", {"model": det},
                                                          input_size=[64, 64], classes={"lesion": "Lesion"})))
    runner = window.models.prelabel(rec, False)
    qtbot.waitUntil(lambda: runner not in window.models._tasks, timeout=60000)
    states = P.predictions(window.project, ct.id)
    assert len(states) == ct.depth
    lesion = next(c.id for c in window.project.classes() if c.name == "Lesion")
    final = ids.new_id()
    window.project.apply(OpDraft("layer.create", final, {"layer": {"name": "final", "kind": "final"}}))
    s = w / 64
    window.project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": ct.id, "layer_id": final, "class_id": lesion, "plane": Plane(z=0).to_dict(),
        "geometry": {"kind": "box", "xyxy": [24 * s, 24 * s, 40 * s, 40 * s]}}}))
    window.models.show()
    before = window.models.panel.pr_curve.grab().toImage()
    ev = window.models.evaluate(rec)
    assert ev is not None and ev.classes[0].tp == 1 and ev.classes[0].predictions == ct.depth
    assert "mAP" in window.models.panel.summary.text() and "R 1.00" in window.models.panel.summary.text()
    after = window.models.panel.pr_curve.grab().toImage()
    assert after != before
    red = QtGui.QColor("#e6194b")
    img = after.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    found = sum(1 for y in range(img.height()) for x in range(0, img.width(), 2)
                if QtGui.QColor(img.pixel(x, y)).red() > 200 and QtGui.QColor(img.pixel(x, y)).green() < 60)
    assert found > 10, red


def test_learn_on_images_proposes_on_the_other_images(qtbot, window, show):
    photo = show("site-photo-1")
    view = window.viewport
    lesion = next(c.id for c in window.project.classes() if c.name == "Lesion")
    from labeldesk.core.models.sam import Mask
    px = np.asarray(view.source.read_plane(view.plane)).astype(int)
    grey = px.mean(axis=2) if px.ndim == 3 else px
    marked = grey > np.percentile(grey, 80)
    window.project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": photo.id, "layer_id": window.project.my_layer_id, "class_id": lesion,
        "plane": Plane().to_dict(), "geometry": Mask.from_array(marked).to_dict()}}))
    window.models.show()
    window.models.panel.learn_button.click()
    qtbot.waitUntil(lambda: "proposal(s)" in window.models.panel.learn_status.text(), timeout=90000)
    other = next(a for a in window.project.assets() if a.name.startswith("site-photo-2"))
    assert P.predictions(window.project, other.id)
    assert not P.predictions(window.project, photo.id)


def test_the_ai_segment_key_is_taken_by_nothing_else(window):
    keys = [a.shortcut().toString() for a in window.findChildren(QtGui.QAction) if not a.shortcut().isEmpty()]
    keys += [s.key().toString() for s in window.findChildren(QtGui.QShortcut)]
    assert keys.count(window.models.tool.shortcut) == 1, sorted(keys)
    assert "AI segment (SAM) (Z)" in [a.text() for a in window.findChildren(QtGui.QAction)]
