from __future__ import annotations

import pytest
from PySide6 import QtCore

from labeldesk.core.geometry import Box, Polygon, Polyline
from labeldesk.core.project import Project

Btn = QtCore.Qt.MouseButton
Key = QtCore.Qt.Key
NoMod = QtCore.Qt.KeyboardModifier.NoModifier


def img(view, p: QtCore.QPoint) -> tuple[float, float]:
    return view.view_to_image(QtCore.QPointF(p))


def vp(view, x: float, y: float) -> QtCore.QPoint:
    """The widget pixel over image_xy (x, y)."""
    return view.image_to_view(x, y).toPoint()


def drag(qtbot, view, a: QtCore.QPoint, b: QtCore.QPoint) -> None:
    qtbot.mousePress(view, Btn.LeftButton, NoMod, a)
    qtbot.mouseMove(view, QtCore.QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    qtbot.mouseMove(view, b)
    qtbot.mouseRelease(view, Btn.LeftButton, NoMod, b)


@pytest.fixture
def photo(qtbot, window, show):
    asset = show("site-photo-1")
    window.session.set_active_class(None)
    return asset


def test_box_tool_creates_exact_box_and_undo_redo(qtbot, window, photo):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_B)
    assert window.session.tool.name == "box"
    a, b = vp(view, 300, 200), vp(view, 420, 330)
    drag(qtbot, view, a, b)
    anns = window.project.annotations(photo.id)
    assert len(anns) == 1
    (x0, y0), (x1, y1) = img(view, a), img(view, b)
    assert anns[0].geometry == Box(x0, y0, x1, y1)
    assert anns[0].layer_id == window.project.my_layer_id
    assert window.annotation_panel.row_count() == 1
    window.undo_action.trigger()
    assert window.project.annotations(photo.id) == []
    window.redo_action.trigger()
    assert [x.geometry for x in window.project.annotations(photo.id)] == [Box(x0, y0, x1, y1)]


def test_polygon_clicks_double_click_and_repair(qtbot, window, photo):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_P)
    pts = [vp(view, 200, 200), vp(view, 400, 210), vp(view, 380, 380), vp(view, 210, 360)]
    for p in pts:
        qtbot.mouseClick(view, Btn.LeftButton, NoMod, p)
    qtbot.mouseDClick(view, Btn.LeftButton, NoMod, pts[-1])
    anns = window.project.annotations(photo.id)
    assert len(anns) == 1
    assert anns[0].geometry == Polygon(tuple(img(view, p) for p in pts))
    # a bow-tie is repaired to its largest valid part and the status bar says so
    bow = [vp(view, 500, 200), vp(view, 600, 300), vp(view, 600, 200), vp(view, 500, 310)]
    for p in bow:
        qtbot.mouseClick(view, Btn.LeftButton, NoMod, p)
    qtbot.keyClick(view, Key.Key_Return)
    assert len(window.project.annotations(photo.id)) == 2, window.statusBar().currentMessage()
    assert "crossed itself" in window.statusBar().currentMessage()


def test_polyline_and_escape_cancels(qtbot, window, photo):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_L)
    a, b, c = vp(view, 100, 100), vp(view, 150, 160), vp(view, 220, 120)
    for p in (a, b):
        qtbot.mouseClick(view, Btn.LeftButton, NoMod, p)
    qtbot.keyClick(view, Key.Key_Escape)
    assert window.project.annotations(photo.id) == []
    for p in (a, b, c):
        qtbot.mouseClick(view, Btn.LeftButton, NoMod, p)
    qtbot.keyClick(view, Key.Key_Enter)
    assert window.project.annotations(photo.id)[0].geometry == Polyline(tuple(img(view, p) for p in (a, b, c)))


def test_select_drag_is_one_undo_step_and_delete(qtbot, window, photo):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_B)
    drag(qtbot, view, vp(view, 300, 300), vp(view, 400, 380))
    original = window.project.annotations(photo.id)[0].geometry
    qtbot.keyClick(view, Key.Key_V)
    start, end = vp(view, 350, 340), vp(view, 390, 370)
    qtbot.mousePress(view, Btn.LeftButton, NoMod, start)
    for i in range(1, 6):
        qtbot.mouseMove(view, vp(view, 350 + 8 * i, 340 + 6 * i))
    qtbot.mouseRelease(view, Btn.LeftButton, NoMod, end)
    (sx, sy), (ex, ey) = img(view, start), img(view, end)
    moved = window.project.annotations(photo.id)[0].geometry
    assert moved.bounds() == pytest.approx(original.translate(ex - sx, ey - sy).bounds())
    steps = window.session.undo_stack.count()
    window.undo_action.trigger()                     # the whole drag is one step
    assert window.project.annotations(photo.id)[0].geometry == original
    assert window.session.undo_stack.index() == steps - 1
    window.redo_action.trigger()
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, 380, 360))
    qtbot.keyClick(view, Key.Key_Delete)
    assert window.project.annotations(photo.id) == []


def test_class_hotkey_sets_class_and_kind_rules_apply(qtbot, window, photo):
    view = window.viewport
    classes = {c.name: c for c in window.project.classes()}
    qtbot.keyClick(view, Key.Key_5)                 # Vehicle: box, rotated box, polygon
    assert window.session.active_class_id == classes["Vehicle"].id
    assert "Box the whole vehicle" in window.ontology_panel.guide.toPlainText()
    qtbot.keyClick(view, Key.Key_B)
    drag(qtbot, view, vp(view, 250, 250), vp(view, 330, 300))
    ann = window.project.annotations(photo.id)[0]
    assert ann.class_id == classes["Vehicle"].id
    qtbot.keyClick(view, Key.Key_K)                 # points are not allowed for Vehicle
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, vp(view, 500, 500))
    assert len(window.project.annotations(photo.id)) == 1
    assert "allows" in window.statusBar().currentMessage()


def test_everything_drawn_is_saved_without_a_save_button(qtbot, window, photo, demo_project):
    view = window.viewport
    qtbot.keyClick(view, Key.Key_B)
    drag(qtbot, view, vp(view, 200, 220), vp(view, 260, 300))
    geom = window.project.annotations(photo.id)[0].geometry
    window.close()                                   # releases the project lock
    with Project.open(demo_project) as p:
        assert [a.geometry for a in p.annotations(photo.id)] == [geom]
        assert p.verify_chain().ok


def test_vertex_drag_add_and_remove(qtbot, window, photo):
    view = window.viewport
    window.session.create({"kind": "polygon", "shell": [[100, 100], [300, 100], [300, 300], [100, 300]]}, "p")
    ann = window.project.annotations(photo.id)[0]
    qtbot.keyClick(view, Key.Key_V)
    # drag the (300, 300) corner to (350, 320): one undo step
    qtbot.mousePress(view, Btn.LeftButton, NoMod, vp(view, 300, 300))
    for x, y in ((320, 305), (340, 315), (350, 320)):
        qtbot.mouseMove(view, vp(view, x, y))
    qtbot.mouseRelease(view, Btn.LeftButton, NoMod, vp(view, 350, 320))
    shell = window.project.annotation(ann.id).geometry.shell
    end = img(view, vp(view, 350, 320))
    assert shell[2] == pytest.approx(end)
    window.undo_action.trigger()
    assert window.project.annotation(ann.id).geometry.shell[2] == (300.0, 300.0)
    # double-click on the top edge adds a vertex; Alt+click removes it again
    qtbot.mouseDClick(view, Btn.LeftButton, NoMod, vp(view, 200, 100))
    shell = window.project.annotation(ann.id).geometry.shell
    assert len(shell) == 5 and shell[1][1] == pytest.approx(100, abs=1)
    qtbot.mouseClick(view, Btn.LeftButton, QtCore.Qt.KeyboardModifier.AltModifier, vp(view, *shell[1]))
    assert len(window.project.annotation(ann.id).geometry.shell) == 4


def test_visibility_opacity_and_lock_from_the_panel(qtbot, window, photo):
    view = window.viewport
    window.session.create({"kind": "box", "xyxy": [100, 100, 200, 200]}, "b")
    ann = window.project.annotations(photo.id)[0]
    window.annotation_panel.set_row_visible(0, False)
    assert window.session.painter.hidden == {ann.id}
    window.annotation_panel.set_row_visible(0, True)
    window.annotation_panel.opacity.setValue(60)
    assert window.session.painter.opacity == pytest.approx(0.6)
    window.session.select({ann.id})
    window.annotation_panel.sig_lock_requested.emit(True)
    qtbot.keyClick(view, Key.Key_V)
    drag(qtbot, view, vp(view, 150, 150), vp(view, 250, 250))
    qtbot.keyClick(view, Key.Key_Delete)
    assert window.project.annotation(ann.id).geometry == Box(100, 100, 200, 200)
    assert not window.project.annotation(ann.id).deleted
    assert "🔒" in window.annotation_panel.row_text(0)


def test_class_hotkey_with_select_tool_reclasses_the_selection(qtbot, window, photo):
    from tests.qt.test_main_window import grab_rgb
    view = window.viewport
    classes = {c.name: c for c in window.project.classes()}
    qtbot.keyClick(view, Key.Key_B)
    drag(qtbot, view, vp(view, 250, 250), vp(view, 400, 380))
    ann = window.project.annotations(photo.id)[0]
    assert ann.class_id is None
    qtbot.keyClick(view, Key.Key_5)                 # a drawing tool is active: only the next shape's class
    assert window.project.annotation(ann.id).class_id is None
    centre = vp(view, 325, 315)
    qtbot.keyClick(view, Key.Key_V)
    qtbot.mouseClick(view, Btn.LeftButton, NoMod, centre)
    assert window.session.painter.selected == {ann.id}
    qtbot.mouseMove(view, vp(view, 10, 10))            # no hover highlight over the shape
    before = grab_rgb(view)[centre.y(), centre.x()].astype(int)
    qtbot.keyClick(view, Key.Key_5)
    assert window.project.annotation(ann.id).class_id == classes["Vehicle"].id
    assert "set to Vehicle" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: (abs(grab_rgb(view)[centre.y(), centre.x()].astype(int) - before)).sum() > 20)
    window.undo_action.trigger()                    # one undo step gives the old class back
    assert window.project.annotation(ann.id).class_id is None
