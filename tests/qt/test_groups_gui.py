"""Instance groups from the Annotations panel: Group / Ungroup the selection, one undo step each."""
from __future__ import annotations

import pytest
from PySide6 import QtCore

from labeldesk.core.groups import group_of


@pytest.fixture
def photo(qtbot, window, show):
    asset = show("site-photo-1")
    window.session.set_active_class(None)
    return asset


def _pixels(widget):
    img = widget.grab().toImage()
    return bytes(img.constBits())


def test_group_and_ungroup_from_the_panel(qtbot, window, photo):
    s = window.session
    a = s.create({"kind": "box", "xyxy": [100, 100, 200, 200]}, "a")
    b = s.create({"kind": "box", "xyxy": [300, 100, 400, 200]}, "b")
    panel = window.annotation_panel
    before = _pixels(panel.list)
    s.select({a, b})
    qtbot.mouseClick(panel.group_button, QtCore.Qt.MouseButton.LeftButton)
    ga, gb = group_of(window.project.annotation(a)), group_of(window.project.annotation(b))
    assert ga and ga == gb
    assert all("◫ group" in panel.row_text(i) for i in range(panel.row_count()))
    qtbot.waitUntil(lambda: _pixels(panel.list) != before)      # the rows are painted with their group
    s.undo_stack.undo()                                          # one step takes the group back
    assert group_of(window.project.annotation(a)) is None and group_of(window.project.annotation(b)) is None
    s.undo_stack.redo()
    s.select({a})
    qtbot.mouseClick(panel.ungroup_button, QtCore.Qt.MouseButton.LeftButton)
    assert group_of(window.project.annotation(a)) is None and group_of(window.project.annotation(b)) == gb


def test_changing_the_class_keeps_the_group(qtbot, window, photo):
    s = window.session
    a = s.create({"kind": "box", "xyxy": [100, 100, 200, 200]}, "a")
    b = s.create({"kind": "box", "xyxy": [300, 100, 400, 200]}, "b")
    s.select({a, b})
    qtbot.mouseClick(window.annotation_panel.group_button, QtCore.Qt.MouseButton.LeftButton)
    gid = group_of(window.project.annotation(a))
    other = next(c for c in window.project.classes() if not c.kinds or "box" in c.kinds)
    window._on_attribute_panel_class_edited(a, other.id)
    assert window.project.annotation(a).class_id == other.id and group_of(window.project.annotation(a)) == gid


def test_group_and_ungroup_by_keyboard_in_the_viewer(qtbot, window, photo):
    s = window.session
    a = s.create({"kind": "box", "xyxy": [100, 100, 200, 200]}, "a")
    b = s.create({"kind": "box", "xyxy": [300, 100, 400, 200]}, "b")
    s.select({a, b})
    view = window.viewport
    view.setFocus()
    mods = QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.AltModifier
    qtbot.keyClick(view, QtCore.Qt.Key.Key_G, mods)
    ga = group_of(window.project.annotation(a))
    assert ga and ga == group_of(window.project.annotation(b))
    qtbot.keyClick(view, QtCore.Qt.Key.Key_U, mods)
    assert group_of(window.project.annotation(a)) is None and group_of(window.project.annotation(b)) is None


def test_a_selected_members_group_is_outlined_in_the_viewer(qtbot, window, photo):
    import numpy as np

    from labeldesk.qt.viewer.annotation_painter import GROUP_MARGIN
    from tests.qt.test_viewer_repaint import grab
    s, view = window.session, window.viewport
    a = s.create({"kind": "box", "xyxy": [100, 100, 200, 200]}, "a")
    b = s.create({"kind": "box", "xyxy": [300, 100, 400, 200]}, "b")
    s.select({a})
    before = grab(view)
    s.select({a, b})
    window._on_annotation_panel_group_requested(True)
    s.select({a})
    qtbot.waitUntil(lambda: not np.array_equal(grab(view), before))
    after = grab(view)
    # the dashed outline runs along the top of both members, across the gap between them
    p = view.image_to_view(250, 100)
    x, y = int(p.x()), int(p.y() - GROUP_MARGIN)
    strip = (slice(y - 1, y + 2), slice(x - 10, x + 10))
    assert not np.array_equal(after[strip], before[strip])
    gap = (slice(int(view.image_to_view(250, 150).y()) - 2, int(view.image_to_view(250, 150).y()) + 2),
           slice(x - 3, x + 3))
    assert np.array_equal(after[gap], before[gap])               # an outline, not a fill
    assert [r[0] for r in s.painter.group_bounds()] == [group_of(window.project.annotation(a))]
    s.select(set())                                              # nothing selected: no outline
    assert s.painter.group_bounds() == []
