from __future__ import annotations

import csv
import json

import pytest

from labeldesk.core import ids
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.review import assignment, issues, workflow

pytestmark = pytest.mark.gui


@pytest.fixture
def setup(tmp_path):
    p = Project.create(tmp_path / "p", user_name="alice")
    team = {"alice": p.user_id}
    for name, role in (("bob", "annotator"), ("rita", "reviewer"), ("ada", "adjudicator")):
        team[name] = ids.new_id()
        p.apply_all([OpDraft("user.add", team[name], {"name": name}),
                     OpDraft("role.grant", team[name], {"role": role}, reason="team")])
    asset = ids.new_id()
    p.apply(OpDraft("asset.add", asset, {"asset": {"kind": "image", "name": "scan.png", "content_hash": "h1",
                                                   "width": 100, "height": 80}}))
    [task] = assignment.assign(p, [asset], to=[team["bob"]])
    p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": asset, "layer_id": task.layer_id, "geometry": {"kind": "box", "xyxy": [1, 1, 20, 20]}}}),
        user=team["bob"])
    workflow.submit(p, asset, task.layer_id, user=team["bob"])
    yield p, team, asset, task.layer_id
    p.close()


def _panel(qtbot, project, user):
    from labeldesk.qt.panels.review_panel import ReviewPanel
    panel = ReviewPanel()
    qtbot.addWidget(panel)
    panel.set_project(project, user)
    return panel


def _rows(panel):
    return [[panel.items.topLevelItem(i).text(c) for c in range(4)] for i in range(panel.items.topLevelItemCount())]


def test_queue_approve_and_changed_signal(qtbot, setup):
    project, team, asset, layer = setup
    panel = _panel(qtbot, project, team["rita"])
    assert [r[:2] for r in _rows(panel)] == [["submitted", "scan.png"]]
    assert panel.select(asset, layer)
    with qtbot.waitSignal(panel.sig_changed) as sig:
        panel.approve_button.click()
    assert not panel.approve()                     # nothing selected any more (left the queue)
    assert asset in sig.args[0].reviews
    assert workflow.item_state(project.conn, asset, layer).state == "approved"
    assert _rows(panel) == []                      # nothing left in the queue
    panel.filter.setCurrentIndex(1)                # all items
    assert _rows(panel)[0][0] == "approved"


def test_return_asks_a_reason_and_refusals_show_in_the_panel(qtbot, setup):
    project, team, asset, layer = setup
    panel = _panel(qtbot, project, team["rita"])
    panel.select(asset, layer)
    panel.ask_text = lambda *a: None               # cancelled: nothing happens
    assert not panel.decide("return") and workflow.item_state(project.conn, asset, layer).state == "submitted"
    panel.ask_text = lambda *a: ""                 # empty reason: refused by the core
    panel.return_button.click()
    assert "reason" in panel.status.text()
    panel.ask_text = lambda *a: "box misses the edge"
    panel.return_button.click()
    item = workflow.item_state(project.conn, asset, layer)
    assert item.state == "returned" and "misses the edge" in item.note
    # bob (no reviewer) cannot approve: the buttons are disabled and say which role it needs;
    # called anyway (a menu shortcut), the refusal names bob and the role, and nothing changes
    bob = _panel(qtbot, project, team["bob"])
    bob.filter.setCurrentIndex(2)                  # mine
    assert bob.select(asset, layer)
    assert not bob.approve_button.isEnabled() and not bob.return_button.isEnabled()
    assert "needs role reviewer or adjudicator" in bob.approve_button.toolTip()
    assert bob.submit_button.isEnabled()
    bob.decide("approve")
    assert "bob" in bob.status.text() and "review" in bob.status.text()
    assert workflow.item_state(project.conn, asset, layer).state == "returned"


def test_fix_and_approve_and_adjudicate_buttons(qtbot, setup):
    project, team, asset, layer = setup
    panel = _panel(qtbot, project, team["rita"])
    panel.select(asset, layer)
    panel.fix_button.click()
    final = next(l for l in project.layers() if l.kind == "final")
    assert len(project.annotations(asset, layer_id=final.id)) == 1
    ada = _panel(qtbot, project, team["ada"])
    ada.filter.setCurrentIndex(1)
    ada.select(asset, layer)
    ada.ask_text = lambda *a: "bob's box is right"
    ada.adjudicate_button.click()
    assert workflow.item_state(project.conn, asset, layer).state == "adjudicated"


def test_issue_thread_comment_resolve_reopen_and_open_asset(qtbot, setup):
    project, team, asset, layer = setup
    iid = issues.open_issue(project, asset, Plane(), (10, 12), "edge?", user=team["rita"])
    panel = _panel(qtbot, project, team["bob"])
    panel.filter.setCurrentIndex(1)
    panel.select(asset, layer)
    assert panel.issues.count() == 1 and "[open] edge?" in panel.issues.item(0).text()
    panel.comment_edit.setText("moved it")
    panel.comment_button.click()
    assert "moved it" in panel.thread.toPlainText() and panel.comment_edit.text() == ""
    assert panel.resolve_button.isEnabled() and not panel.reopen_button.isEnabled()
    panel.resolve_button.click()
    assert issues.issue(project.conn, iid).status == "resolved" and panel.reopen_button.isEnabled()
    panel.reopen_button.click()
    assert issues.issue(project.conn, iid).status == "open"
    panel.set_pointer(Plane(), (50, 40))
    panel.ask_text = lambda *a: "second problem"
    panel.new_issue_button.click()
    [second] = [i for i in issues.issues(project.conn, asset) if i.text == "second problem"]
    assert second.image_xy == (50, 40)
    with qtbot.waitSignal(panel.sig_open_asset) as sig:
        panel._on_issue_double_clicked(panel.issues.item(0))
    assert sig.args == [asset, Plane()]


def test_audit_dialog_filters_and_exports(qtbot, setup, tmp_path):
    from labeldesk.qt.dialogs.audit_dialog import AuditDialog
    project, team, asset, layer = setup
    dlg = AuditDialog(project)
    qtbot.addWidget(dlg)
    total = project.counts()["ops"]
    assert dlg.table.rowCount() == total and "verified" in dlg.chain_label.text()
    dlg.user_box.setCurrentIndex(dlg.user_box.findData(team["bob"]))
    assert [dlg.table.item(r, 4).text() for r in range(dlg.table.rowCount())] == ["annotation.create", "review.submit"]
    dlg.user_box.setCurrentIndex(0)
    dlg.asset_box.setCurrentIndex(dlg.asset_box.findData(asset))
    assert 0 < dlg.table.rowCount() < total
    dlg.since_check.setChecked(True)
    dlg.since_edit.setDateTime(dlg.since_edit.dateTime().addYears(10))
    assert dlg.table.rowCount() == 0
    dlg.since_check.setChecked(False)
    out = dlg.export(str(tmp_path / "a.csv"))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == dlg.table.rowCount() and all(r["asset_id"] == asset for r in rows)
    dlg.ask_path = lambda *a: str(tmp_path / "a.json")
    dlg.export_button.click()
    assert json.loads((tmp_path / "a.json").read_text())["chain"]["verified"] is True
    with qtbot.waitSignal(dlg.sig_open_asset) as sig:
        dlg._on_row_double_clicked(dlg.table.item(0, 2))
    assert sig.args[0] == asset
