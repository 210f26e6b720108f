"""The main window's team docks: review through the menu, blind labeling in the viewport and the
annotation list, the comparison overlay, and the dialogs reachable from the menus."""
from __future__ import annotations

import pytest
from PySide6 import QtWidgets

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.review import assignment, workflow

pytestmark = pytest.mark.gui


def _image(window):
    return next(a for a in window.project.assets() if a.kind == "image")


def _bob_with_a_box(window, asset_id):
    p = window.project
    bob = ids.new_id()
    p.apply_all([OpDraft("user.add", bob, {"name": "bob"}),
                 OpDraft("role.grant", bob, {"role": "annotator"}, reason="team")])
    [task] = assignment.assign(p, [asset_id], to=[bob])
    ann = ids.new_id()
    p.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": asset_id, "layer_id": task.layer_id, "geometry": {"kind": "box", "xyxy": [2, 2, 30, 30]}}}),
        user=bob)
    return bob, task.layer_id, ann


def test_review_menu_approves_the_item_shown(qtbot, window, show):
    asset = _image(window)
    bob, layer, _ = _bob_with_a_box(window, asset.id)
    workflow.submit(window.project, asset.id, layer, user=bob)
    p = window.project
    p.apply(OpDraft("role.grant", p.user_id, {"role": "reviewer"}, reason="reviews today"))
    show(asset.name)
    window.actions_by_id["review_panel"].trigger()
    assert window.team.docks["review"].isVisible()
    show(next(a.name for a in p.assets() if a.id != asset.id))
    show(asset.name)                                    # the panel follows the asset on screen
    assert window.team.review_panel.selected() == (asset.id, layer)
    window.actions_by_id["approve"].trigger()
    assert workflow.item_state(p.conn, asset.id, layer).state == "approved"


def test_blind_labeling_hides_another_annotators_layer(qtbot, window, show):
    asset = _image(window)
    p = window.project
    _, _, bobs = _bob_with_a_box(window, asset.id)
    mine = ids.new_id()
    p.apply(OpDraft("annotation.create", mine, {"annotation": {
        "asset_id": asset.id, "layer_id": p.my_layer_id, "geometry": {"kind": "box", "xyxy": [40, 40, 60, 60]}}}))
    p.apply(OpDraft("role.revoke", p.user_id, {"role": "admin"}, reason="annotator only"))
    show(asset.name)
    window.session.refresh()
    drawn = {a.id for a in window.viewport.overlay.annotations}
    assert mine in drawn and bobs not in drawn
    window._on_session_annotations_changed()
    panel = window.annotation_panel
    listed = {panel.row_id(i) for i in range(panel.row_count())}
    assert mine in listed and bobs not in listed
    p.apply(OpDraft("role.grant", p.user_id, {"role": "reviewer"}, reason="now reviews"))
    window.session.refresh()
    assert bobs in {a.id for a in window.viewport.overlay.annotations}


def test_comparison_overlay_from_the_agreement_panel(qtbot, window, show):
    from labeldesk.qt.viewer.comparison_overlay import ComparisonOverlay
    asset = _image(window)
    _, bob_layer, bobs = _bob_with_a_box(window, asset.id)
    show(asset.name)
    mine = window.project.my_layer_id
    window.team.compare_item(asset.id, None, mine, bob_layer)
    qtbot.waitUntil(lambda: isinstance(window.viewport.overlay, ComparisonOverlay), timeout=5000)
    assert bobs in window.viewport.overlay.comparison.ids("unmatched")
    window.actions_by_id["clear_comparison"].trigger()
    assert not isinstance(window.viewport.overlay, ComparisonOverlay)


def test_dialogs_open_from_the_menus(qtbot, window, monkeypatch):
    opened = []
    monkeypatch.setattr(QtWidgets.QDialog, "exec", lambda self: opened.append(type(self).__name__) or 0)
    for key in ("import_annotations", "export_annotations", "audit"):
        window.actions_by_id[key].trigger()
    assert opened == ["ImportDialog", "ExportDialog", "AuditDialog"]


def test_agreement_and_predictions_docks_open(qtbot, window):
    window.actions_by_id["agreement"].trigger()
    window.actions_by_id["predictions"].trigger()
    assert window.team.docks["agreement"].isVisible() and window.team.docks["predictions"].isVisible()


def test_issues_are_pinned_in_the_viewport_where_they_were_opened(qtbot, window, show):
    from labeldesk.core.model import Plane
    from labeldesk.core.review import issues
    asset = _image(window)
    show(asset.name)
    assert window.viewport.pins == []
    window.viewport.sig_clicked.emit(window.viewport, (40.0, 30.0))       # where the reviewer clicked
    window.team.review_panel.ask_text = lambda *a: "margin unclear"
    window.actions_by_id["new_issue"].trigger()          # an asset nobody submitted: issues work too
    [issue] = issues.issues(window.project.conn, asset.id)
    assert tuple(issue.image_xy) == (40.0, 30.0) and issue.text == "margin unclear"
    assert window.viewport.pins == [(Plane(), (40.0, 30.0), True)]
    image = window.viewport.grab().toImage()
    c = window.viewport.image_to_view(40.0, 30.0)
    colour = image.pixelColor(int(c.x()), int(c.y()))
    assert colour.red() > 200 and 100 < colour.green() < 180 and colour.blue() < 60   # the orange marker


def test_show_layer_offers_only_the_layers_a_blind_annotator_may_see(qtbot, window, show, monkeypatch):
    asset = _image(window)
    p = window.project
    _, bob_layer, _ = _bob_with_a_box(window, asset.id)
    p.apply(OpDraft("role.revoke", p.user_id, {"role": "admin"}, reason="annotator only"))
    show(asset.name)
    offered = []
    monkeypatch.setattr(QtWidgets.QInputDialog, "getItem",
                        lambda _w, _t, _l, names, *a: (offered.extend(names), ("", False))[1])
    window.show_layer_in_viewport()
    assert offered and not any(n.startswith("bob") for n in offered)


def test_review_panel_is_read_when_its_tab_is_shown_not_at_open(qtbot, window, show, monkeypatch):
    """Opening a project with the Review dock hidden reads no review state (it hashes every
    annotation's revision); showing the dock any way — here its tab, not the menu — reads it."""
    asset = _image(window)
    bob, layer, _ = _bob_with_a_box(window, asset.id)
    workflow.submit(window.project, asset.id, layer, user=bob)
    calls = []
    real = workflow.layer_revisions
    monkeypatch.setattr(workflow, "layer_revisions", lambda *a, **k: calls.append(a) or real(*a, **k))
    window.open_project(window.project.root)
    show(asset.name)
    assert not window.team.docks["review"].isVisible() and calls == []
    assert window.team.review_panel.items.topLevelItemCount() == 0
    window.team.docks["review"].show()
    window.team.docks["review"].raise_()
    qtbot.waitUntil(lambda: window.team.review_panel.items.topLevelItemCount() > 0)
    assert calls
    assert window.team.review_panel.selected() == (asset.id, layer)   # follows the asset on screen
