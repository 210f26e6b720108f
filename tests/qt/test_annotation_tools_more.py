from __future__ import annotations

import numpy as np

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PySide6 import QtCore, QtWidgets

from labeldesk.core.geometry import Ellipse, Mask
from labeldesk.core.model import Plane
from labeldesk.core.project import Project
from labeldesk.qt.main_window import MainWindow

SHOW_GUIDE_ONCE = MainWindow.show_labeling_guide_once      # the real one (the fixture stubs it)

Btn = QtCore.Qt.MouseButton
Key = QtCore.Qt.Key
NoMod = QtCore.Qt.KeyboardModifier.NoModifier


def vp(view, x, y):
    return view.image_to_view(x, y).toPoint()


def drag(qtbot, view, a, b, steps=4):
    qtbot.mousePress(view, Btn.LeftButton, NoMod, a)
    for i in range(1, steps + 1):
        qtbot.mouseMove(view, QtCore.QPoint(a.x() + (b.x() - a.x()) * i // steps, a.y() + (b.y() - a.y()) * i // steps))
    qtbot.mouseRelease(view, Btn.LeftButton, NoMod, b)


@pytest.fixture
def ct(qtbot, window, show):
    asset = show("CT series")
    window.session.set_active_class(None)
    return asset


def test_ellipse_tool(qtbot, window, ct):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_O)
    a, b = vp(view, 30, 40), vp(view, 70, 60)
    drag(qtbot, view, a, b)
    (x0, y0), (x1, y1) = view.view_to_image(QtCore.QPointF(a)), view.view_to_image(QtCore.QPointF(b))
    geom = window.project.annotations(ct.id, Plane(z=8))[0].geometry
    assert geom == Ellipse((x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2)


def segment_area(window, asset_id, z):
    """Voxels of the volume's segments on axial slice z (volumes are painted as 3-D segments)."""
    from labeldesk.core import segments as seg
    return sum(int(seg.label_map(window.project.conn, s.id)[z].sum()) for s in seg.segments(window.project.conn, asset_id))


def test_brush_then_eraser_edit_one_segment(qtbot, window, ct):
    from labeldesk.core import segments as seg
    view = window.viewport
    window.session.brush_radius = 4
    qtbot.keyClick(view, Key.Key_D)
    drag(qtbot, view, vp(view, 30, 60), vp(view, 70, 60))
    assert window.project.annotations(ct.id, Plane(z=8)) == []          # no mask annotation on a volume
    assert len(seg.segments(window.project.conn, ct.id)) == 1
    painted = segment_area(window, ct.id, 8)
    assert painted > 40 * 8 * 0.9
    qtbot.keyClick(view, Key.Key_E)
    drag(qtbot, view, vp(view, 45, 60), vp(view, 55, 60))
    assert len(seg.segments(window.project.conn, ct.id)) == 1 and segment_area(window, ct.id, 8) < painted
    window.undo_action.trigger()
    assert segment_area(window, ct.id, 8) == painted


def test_threshold_tool_takes_the_connected_hu_range(qtbot, window, ct):
    view = window.viewport
    window.threshold_low.setValue(500)
    window.threshold_high.setValue(1000)
    qtbot.keyClick(view, Key.Key_T)
    spine_y = 64 + 0.2 * 128
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, 64.5, spine_y + 0.5))
    from labeldesk.core import segments as seg
    [s] = seg.segments(window.project.conn, ct.id)
    ys, _ = np.nonzero(seg.label_map(window.project.conn, s.id)[8])
    r = 0.05 * 128
    assert abs(segment_area(window, ct.id, 8) - 3.14159 * r * r) < 12 and ys.min() >= spine_y - r - 1


def test_wand_and_grabcut_paint_the_segment(qtbot, window, ct):
    from labeldesk.core import segments as seg
    view = window.viewport
    view.set_window(0, 2000)
    qtbot.keyClick(view, Key.Key_W)
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, 64.5, 64 + 0.2 * 128 + 0.5))
    wand = segment_area(window, ct.id, 8)
    assert wand > 0 and window.project.annotations(ct.id, Plane(z=8)) == []
    qtbot.keyClick(view, Key.Key_G)
    drag(qtbot, view, vp(view, 50, 78), vp(view, 80, 110))
    # GrabCut around the spine finds the same bone: it joins the one segment (no second mask)
    assert len(seg.segments(window.project.conn, ct.id)) == 1 and segment_area(window, ct.id, 8) >= wand


def test_attributes_panel_edits_typed_values_and_flags_required(qtbot, window, ct):
    view = window.viewport
    cls = {c.name: c.id for c in window.project.classes()}
    window.ontology_panel.activate(cls["Lesion"])
    qtbot.keyClick(view, Key.Key_B)
    drag(qtbot, view, vp(view, 40, 40), vp(view, 60, 60))
    panel = window.attribute_panel
    assert "malignancy" in panel.missing.text()
    assert "mm²" in panel.measure.text()
    combo = panel.widgets["malignancy"]
    combo.setCurrentIndex(combo.findData("malignant"))
    ann = window.project.annotations(ct.id, Plane(z=8))[0]
    assert ann.attributes == {"malignancy": "malignant"}
    qtbot.waitUntil(lambda: panel.missing.text() == "", timeout=2000)
    assert "biopsy_id" not in panel.widgets                     # shown only when confirmed
    panel.widgets["confirmed"].setChecked(True)
    qtbot.waitUntil(lambda: "biopsy_id" in window.attribute_panel.widgets, timeout=2000)
    assert window.project.annotation(ann.id).attributes["confirmed"] is True


def test_copy_to_next_slice_and_interpolate(qtbot, window, ct):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_B)
    drag(qtbot, view, vp(view, 30, 30), vp(view, 50, 50))
    first = window.project.annotations(ct.id, Plane(z=8))[0]
    window.session.copy_to_next()
    assert view.plane.z == 9
    assert [a.geometry for a in window.project.annotations(ct.id, Plane(z=9))] == [first.geometry]
    view.set_plane(Plane(z=12))
    drag(qtbot, view, vp(view, 60, 60), vp(view, 90, 80))
    last = window.project.annotations(ct.id, Plane(z=12))[0]
    window.session.select({first.id, last.id})
    window.session.interpolate_selection()
    for z in (9, 10, 11):
        assert any(a.geometry.kind == "box" for a in window.project.annotations(ct.id, Plane(z=z)))
    window.undo_action.trigger()                          # interpolation is one undo step
    assert len(window.project.annotations(ct.id, Plane(z=10))) == 0


def test_ontology_editing_through_dialogs(qtbot, window, ct, monkeypatch, tmp_path):
    from labeldesk.qt.dialogs import ontology_dialogs
    cls = {c.name: c.id for c in window.project.classes()}
    monkeypatch.setattr(QtWidgets.QInputDialog, "getText", lambda *a, **k: ("Hepatic lesion", True))
    ontology_dialogs.rename_class(window, cls["Lesion"])
    monkeypatch.setattr(QtWidgets.QInputDialog, "getItem", lambda *a, **k: ("Liver", True))
    ontology_dialogs.merge_class(window, cls["Kidney"])
    names = {c.name: c for c in window.project.classes()}
    assert "Hepatic lesion" in names and names["Kidney"].merged_into == cls["Liver"]
    def tree_names():
        tree = window.ontology_panel.tree
        return [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    qtbot.waitUntil(lambda: "Hepatic lesion" in tree_names(), timeout=2000)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"classes": [{"name": "A", "color": "red"}]}))
    before = window.project.ontology_version
    assert not ontology_dialogs.import_json(window, str(bad))
    assert "classes[0].color" in window.statusBar().currentMessage()
    assert window.project.ontology_version == before
    out = tmp_path / "onto.json"
    ontology_dialogs.export_json(window, str(out))
    assert json.loads(out.read_text())["version"] == before


WRITER = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6 import QtWidgets, QtCore
from labeldesk.qt.main_window import MainWindow
app = QtWidgets.QApplication([])
w = MainWindow(); w.show(); w.open_project(sys.argv[1])
asset = [a for a in w.project.assets() if a.name.startswith("site-photo-1")][0]
w.show_asset(asset.id)
t = QtCore.QElapsedTimer(); t.start()
while w.viewport.source is None and t.elapsed() < 20000:
    app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
print("ready", flush=True)
i = 0
while True:
    i += 1
    w.session.create({"kind": "box", "xyxy": [i % 500, 10, i % 500 + 20, 40]}, "Draw box")
    print(w.session.undo_stack.command(w.session.undo_stack.count() - 1).text(), i, flush=True)
    app.processEvents()
"""


def test_killing_the_app_mid_session_loses_nothing_committed(demo_project):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(demo_project)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.readline().strip() == "ready"
    lines = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        lines.append(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate()
    drawn = len([x for x in lines + rest.splitlines() if x.startswith("Draw box")])
    assert drawn > 5
    with Project.open(demo_project) as p:
        assert p.integrity_check() == "ok" and p.verify_chain().ok
        photo = [a for a in p.assets() if a.name.startswith("site-photo-1")][0]
        assert len(p.annotations(photo.id)) >= drawn


def test_classify_asset_and_slice(qtbot, window, ct):
    from labeldesk.core.op_types.classifications import classifications
    cls = {c.name: c.id for c in window.project.classes()}
    window.ontology_panel.activate(cls["Liver"])
    window.session.classify("asset")
    window.ontology_panel.activate(cls["Lesion"])
    window.session.classify("plane")
    rows = classifications(window.project.conn, ct.id)
    assert [(r["scope"], r["class_name"], r["plane_z"]) for r in rows] == [("asset", "Liver", None), ("plane", "Lesion", 8)]
    assert "asset: Liver" in window.annotation_panel.classified.text()
    assert "this slice/frame: Lesion" in window.annotation_panel.classified.text()
    window.undo_action.trigger()
    assert len(classifications(window.project.conn, ct.id)) == 1


def test_labeling_guide_opens_once_per_user_and_project(qtbot, window):
    SHOW_GUIDE_ONCE(window)
    assert window.guide_box.text().startswith("Label every visible instance")
    window.guide_box.close()
    window.guide_box = None
    SHOW_GUIDE_ONCE(window)
    assert window.guide_box is None


def test_scissors_follow_the_spine_edge(qtbot, window, ct):
    import math
    view = window.viewport
    view.set_window(0, 2000)
    qtbot.keyClick(view, Key.Key_X)
    cx, cy, r = 64.0, 64 + 0.2 * 128, 0.05 * 128
    for a in (0, 2.1, 4.2):
        qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, cx + (r + 0.3) * math.cos(a), cy + (r + 0.3) * math.sin(a)))
    qtbot.keyClick(view, Key.Key_Return)
    poly = window.project.annotations(ct.id, Plane(z=8))[0].geometry
    assert poly.kind == "polygon"
    assert abs(poly.area() - math.pi * r * r) < 0.5 * math.pi * r * r     # hugs the disk, not the triangle


def test_spherical_brush_reaches_neighbouring_slices(qtbot, window, ct):
    view = window.viewport
    cls = {c.name: c.id for c in window.project.classes()}
    window.ontology_panel.activate(cls["Liver"])
    qtbot.keyClick(view, Key.Key_D)
    qtbot.keyClick(view, Key.Key_Backslash)
    window.session.brush_radius = 8          # 8 px * 0.7 mm = 5.6 mm; slices are 2.5 mm apart
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, 40, 60))
    areas = {z: segment_area(window, ct.id, z) for z in range(4, 13)}
    assert areas[8] > areas[7] > areas[6] > 0 and areas[9] == areas[7] and areas[10] == areas[6]
    assert areas[5] == 0 and areas[11] == 0
    window.undo_action.trigger()                      # one stroke over five slices: one undo step
    assert all(segment_area(window, ct.id, z) == 0 for z in range(6, 11))


def test_video_track_keyframes_and_z_order(qtbot, window, show):
    video = show("traffic")
    view = window.viewport
    s = window.session
    s.create({"kind": "box", "xyxy": [10, 10, 40, 40]}, "b")
    first = s.selected_annotations()[0]
    view.set_plane(Plane(t=10))
    s.create({"kind": "box", "xyxy": [110, 10, 140, 40]}, "b")
    second = window.project.annotations(video.id, Plane(t=10))[0]
    s.select({first.id, second.id})
    s.interpolate_selection()
    mid = window.project.annotations(video.id, Plane(t=5))[0]
    assert mid.geometry.bounds() == (60, 10, 90, 40) and not mid.keyframe
    view.set_plane(Plane(t=5))
    s.select({mid.id})
    s.move({mid.id: mid.geometry}, 0, 50, merge_key="m")
    assert window.project.annotation(mid.id).keyframe
    assert window.project.annotations(video.id, Plane(t=3))[0].geometry.bounds()[1] == 40   # follows the new key
    # z-order: the older box is drawn under a new one until brought to the front
    s.create({"kind": "box", "xyxy": [50, 50, 100, 100]}, "b")
    top = s.selected_annotations()[0]
    s.select({mid.id})
    s.reorder(True)
    assert [a.id for a in window.project.annotations(video.id, Plane(t=5))][-1] == mid.id
    assert top.id in [a.id for a in window.project.annotations(video.id, Plane(t=5))]
