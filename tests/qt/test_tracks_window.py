"""Tracks in the window: Ctrl+click two rows and Ctrl+I in the Annotations list makes a track;
one row per track; keyframe marks painted on the timeline; Alt+. jumps; attribute edits reach
every frame of the track."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from labeldesk.core import ids
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from tests.qt.test_main_window import grab_rgb

Ctrl = QtCore.Qt.KeyboardModifier.ControlModifier


def _box(w, asset_id, t, x):
    aid = ids.new_id()
    vehicle = next(c.id for c in w.project.classes() if c.name == "Vehicle")
    w.project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset_id, "layer_id": w.project.my_layer_id, "plane": {"t": t}, "class_id": vehicle,
        "geometry": {"kind": "box", "xyxy": [x, 20, x + 40, 60]}}}))
    return aid


def _click_row(qtbot, panel, aid, modifier=QtCore.Qt.KeyboardModifier.NoModifier):
    row = next(i for i in range(panel.row_count()) if panel.row_id(i) == aid)
    lst = panel.list
    rect = lst.visualRect(lst.model().index(row, 0))
    qtbot.mouseClick(lst.viewport(), QtCore.Qt.MouseButton.LeftButton, modifier, rect.center())


def _texts(panel):
    return [panel.row_text(i) for i in range(panel.row_count())]


def test_ctrl_i_in_the_list_makes_one_track_with_marks_and_jumps(qtbot, window, show):
    w = window
    video = show("traffic")
    a = _box(w, video.id, 0, 10)
    b = _box(w, video.id, 10, 200)
    w.session.refresh()
    panel = w.annotation_panel
    lst = panel.list
    slider = w.playback.slider
    before_marks = grab_rgb(slider)
    _click_row(qtbot, panel, a)
    _click_row(qtbot, panel, b, Ctrl)
    assert w.session.painter.selected == {a, b}
    lst.setFocus()
    qtbot.keyClick(lst, QtCore.Qt.Key.Key_I, Ctrl)             # the shortcut works where the rows are
    track = w.project.track(w.project.annotation(a).track_id)
    assert len(track) == 11
    # one row per track in the Annotations list (its keyframes), the frames in the Tracks dock
    assert panel.row_count() == 2
    tree = w.tracks.panel.tree
    assert tree.topLevelItemCount() == 1 and "1–11" in tree.topLevelItem(0).text(0)
    assert "2 keyframes, 9 interpolated" in tree.topLevelItem(0).toolTip(0)
    tree.expandItem(tree.topLevelItem(0))
    assert tree.topLevelItem(0).childCount() == 11
    # keyframe marks are painted on the timeline (orange/blue diamonds where there were none)
    after = grab_rgb(slider)
    changed = np.abs(after.astype(int) - before_marks.astype(int)).sum(axis=2) > 60
    assert changed.sum() > 20
    x0, x1 = w.tracks.marks.x_of(0), w.tracks.marks.x_of(10)
    cols = np.where(changed.any(axis=0))[0]
    assert abs(cols.min() - (x0 - 4)) <= 3 and abs(cols.max() - (x1 + 4)) <= 3
    # Alt+. from the first keyframe goes to the next one
    w.session.select({a})
    w.jump_keyframe(+1)
    assert w.viewport.plane == Plane(t=10)


def test_attribute_edit_on_a_frame_sets_the_track(qtbot, window, show):
    from labeldesk.core.tracks import link
    w = window
    video = show("traffic")
    a, b = _box(w, video.id, 0, 10), _box(w, video.id, 6, 100)
    w.project.apply_all(link(w.project, w.project.annotation(a), w.project.annotation(b)))
    w.session.refresh()
    flags = "".join(_texts(w.annotation_panel))
    assert flags.count("missing required") == 1 and "track missing required: type" in flags     # judged once per track
    mid = next(x for x in w.project.track(w.project.annotation(a).track_id) if x.plane.t == 3)
    w.attribute_panel.sig_attributes_edited.emit(mid.id, {"type": "car"})
    assert [x.attributes for x in w.project.track(mid.track_id)] == [{"type": "car"}] * 7, w.statusBar().currentMessage()
    assert "type = car" in w.tracks.panel.tree.topLevelItem(0).text(1)
    assert "missing required" not in "".join(_texts(w.annotation_panel))
    w.tracks.panel.frame_only.setChecked(True)
    w.attribute_panel.sig_attributes_edited.emit(mid.id, {"type": "truck"})
    after = {x.plane.t: x for x in w.project.track(mid.track_id)}
    assert after[3].attributes["type"] == "truck" and after[3].keyframe and after[2].attributes["type"] == "car"
    assert "override" in w.tracks.panel.tree.topLevelItem(0).text(1)
    w.session.undo_stack.undo()                                  # one undo step
    assert w.project.annotation(mid.id).attributes["type"] == "car"
