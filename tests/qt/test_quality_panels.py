"""The Quality and Dashboard docks, the guide editor and File ▸ Back up, on real projects; the
assertions look at painted pixels."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui, QtWidgets

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.quality import dashboard, organisation
from labeldesk.core.review import assignment, workflow

pytestmark = pytest.mark.gui


def pixels(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    ptr = img.constBits()
    return np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())[
        :, :img.width() * 3].reshape(img.height(), img.width(), 3)


def count_colour(widget, hex_colour: str, tol: int = 30) -> int:
    c = QtGui.QColor(hex_colour)
    px = pixels(widget).astype(int)
    return int(np.sum(np.all(np.abs(px - [c.red(), c.green(), c.blue()]) <= tol, axis=2)))


def _tiny_finding(window):
    p = window.project
    asset = min((a for a in p.assets() if a.kind == "image"), key=lambda a: a.width * a.height)
    cls = p.classes()[0]
    aid = ids.new_id()
    p.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset.id, "layer_id": p.my_layer_id, "class_id": cls.id,
        "geometry": {"kind": "box", "xyxy": [5, 5, 6, 40]}}}))
    return asset, aid


def test_quality_dock_lists_findings_opens_and_waives(qtbot, window, show):
    asset, aid = _tiny_finding(window)
    other = next(a for a in window.project.assets() if a.kind == "image" and a.id != asset.id)
    show(other.name)                                  # the finding's asset is not on screen
    assert window.menuBar().findChildren(QtWidgets.QMenu)
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Quality" in titles
    q = window.quality
    q.quality_panel.which.setCurrentIndex(q.quality_panel.which.findData("tiny"))
    q._follow_project()
    q._show("quality")
    q.quality_panel.run()
    panel = q.quality_panel
    row = next(i for i, f in enumerate(panel.findings) if f.annotation_id == aid)
    qtbot.waitUntil(lambda: count_colour(panel.table, "#ff7f0e", 40) > 20)      # the orange "tiny" check names
    panel.table.selectRow(row)
    with qtbot.waitSignal(window.sig_asset_shown, timeout=20000, raising=False):
        panel.open_row(row)
    qtbot.waitUntil(lambda: window.current_asset_id == asset.id, timeout=20000)
    qtbot.waitUntil(lambda: aid in window.session.painter.selected, timeout=30000)
    before = len(panel.findings)
    panel.waive([panel.findings[row]], "drawn on purpose")
    assert len(panel.findings) == before - 1
    assert any(o.type == "quality.waive" for o in window.project.ops())


def test_file_back_up(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    window.quality.actions["backup"].trigger()
    made = list(tmp_path.glob("*.labeldesk-backup"))
    assert len(made) == 1 and "Backed up and verified" in window.statusBar().currentMessage()
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert "&Back up…" in [a.text() for a in file_menu.actions()]


def test_guide_card_with_example_image_is_shown_in_context(qtbot, window, tmp_path):
    from labeldesk.qt.dialogs.guide_dialog import GuideDialog
    img = QtGui.QImage(200, 120, QtGui.QImage.Format.Format_RGB888)
    img.fill(QtGui.QColor("#ff00ff"))
    img.save(str(tmp_path / "ex.png"))
    cls = window.project.classes()[0]
    dlg = GuideDialog(window, window.project, cls.id)
    dlg.text.setHtml("<p>Outline the <b>whole</b> organ.</p>")
    dlg.do_list.setPlainText("follow the capsule")
    dlg.add_example(str(tmp_path / "ex.png"), "do", "a clean outline")
    dlg.save()
    guide = next(c for c in window.project.classes() if c.id == cls.id).guide
    assert guide["do"] == ["follow the capsule"] and guide["examples"][0]["kind"] == "do"
    assert "whole" in guide["definition"]
    window.quality._after_guide_saved()
    panel = window.ontology_panel
    panel.tree.setCurrentItem(panel._items[cls.id])
    panel.guide.resize(400, 500)
    qtbot.waitUntil(lambda: count_colour(panel.guide, "#ff00ff", 10) > 500)


def test_project_guide_editor_saves_rich_text(qtbot, window):
    from labeldesk.qt.dialogs.guide_dialog import GuideDialog
    dlg = GuideDialog(window, window.project)
    dlg.title.setText("How we label")
    dlg.text.setHtml("<h2>Rules</h2><ul><li>one box per vehicle</li></ul>")
    dlg.save()
    guide = window.labeling_guide()
    assert guide["title"] == "How we label" and "one box per vehicle" in guide["text"]


@pytest.fixture
def team_project(tmp_path):
    p = Project.create(tmp_path / "team", "team", user_name="alice")
    people = {}
    for name in ("bob", "carol", "rita"):
        uid = ids.new_id()
        people[name] = uid
        p.apply_all([OpDraft("user.add", uid, {"name": name}),
                     OpDraft("role.grant", uid, {"role": "reviewer" if name == "rita" else "annotator"}, reason="t")])
    assets = []
    for k in range(4):
        a = ids.new_id()
        p.apply(OpDraft("asset.add", a, {"asset": {"kind": "image", "name": f"a{k}.png", "content_hash": "h" + a,
                                                    "width": 100, "height": 80}}))
        assets.append(a)
    assignment.assign(p, assets, to=[people["bob"], people["carol"]])
    for name in ("bob", "carol"):
        layer = next(l.id for l in p.layers() if l.owner == people[name])
        for n, a in enumerate(assets[: 4 if name == "bob" else 2]):
            p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                "asset_id": a, "layer_id": layer, "geometry": {"kind": "box", "xyxy": [5, 5, 30 + n, 30]}}}),
                user=people[name])
            workflow.submit(p, a, layer, user=people[name])
            workflow.decide(p, a, layer, "approve" if name == "bob" else "return", user=people["rita"],
                            reason=None if name == "bob" else "redo")
    organisation.save_batch(p, "first", assets[:2])
    organisation.save_batch(p, "second", assets[2:])
    dashboard.set_objective(p, "rework_rate", 0.2, "<=")
    yield p
    p.close()


def test_dashboard_plots_bars_target_and_timeline(qtbot, team_project):
    from labeldesk.qt.panels.dashboard_panel import DashboardPanel
    panel = DashboardPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()
    panel.set_project(team_project)
    panel.refresh()
    panel.metric.setCurrentIndex(panel.metric.findData("rework_rate"))
    rows = {r["annotator"]: r for r in panel.data.annotators}
    assert rows["bob"]["rework_rate"] == 0 and rows["carol"]["rework_rate"] == 1.0
    qtbot.waitUntil(lambda: count_colour(panel.bars, panel.colour_of("carol"), 20) > 300)   # carol's bar
    assert count_colour(panel.bars, "#d62728", 40) > 30                          # the target line
    assert count_colour(panel.timeline, panel.colour_of("bob"), 30) > 30          # bob's weekly line
    assert panel.objectives.item(0, 3).text() == "no"
    out = team_project.root / "dash.csv"
    panel.write_csv(str(out))
    assert out.read_text().startswith("table,annotator,")
    panel.tabs.setCurrentIndex(2)
    assert panel.baseline.currentText() == "first" and panel.batch.currentText() == "second"
    from labeldesk.core.quality import drift
    feats = [drift.numeric("shape size", np.array([1.0, 2, 3, 4]), np.array([8.0, 9, 9, 10])),
             drift.categorical("class frequency", ["a", "b"], ["a", "b"])]
    panel.show_drift(feats)
    qtbot.waitUntil(lambda: count_colour(panel.psi_plot, "#d62728", 20) > 200)   # a major shift in red
    assert "major shift" in panel.drift_text.text()


def test_organise_dock_tags_filters_gold_and_my_audits(qtbot, window, monkeypatch):
    from labeldesk.core.quality import audits, records
    p = window.project
    q = window.quality
    q.show_organise()
    panel = q.organise_panel
    first = window.current_asset_id
    assert first is not None and panel.asset_id == first
    before = pixels(panel.tags)
    panel.tag_edit.setText("site=north")
    panel.set_tag()
    assert records.load(p.conn).tags[first] == {"site": "north"}
    assert (pixels(panel.tags) != before).any()                       # the tag line was repainted
    panel.terms.setText("tag:site=north")
    panel.apply_filter()
    assert window.asset_panel.asset_ids() == [first]
    monkeypatch.setattr(QtWidgets.QInputDialog, "getText", lambda *a, **k: ("north only", True))
    panel.save_view("queue")
    panel.refresh()
    assert panel.saved.findData("north only") > 0
    panel.clear_filter()
    assert len(window.asset_panel.asset_ids()) == len(p.assets())
    panel.gold_layer.setCurrentIndex(0)
    panel.mark_gold()
    assert first in records.load(p.conn).gold
    panel.seed_gold()
    assert "gold item(s) put into annotators' queues" in window.statusBar().currentMessage()
    # a blind audit assigned to me
    bob, rita = ids.new_id(), ids.new_id()
    p.apply_all([OpDraft("user.add", bob, {"name": "bob"}), OpDraft("role.grant", bob, {"role": "annotator"}, reason="t"),
                 OpDraft("user.add", rita, {"name": "rita"}), OpDraft("role.grant", rita, {"role": "reviewer"}, reason="t"),
                 OpDraft("role.grant", p.user_id, {"role": "reviewer"}, reason="t")])
    assignment.assign(p, [first], to=[bob])
    layer = next(l.id for l in p.layers() if l.owner == bob)
    p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": first, "layer_id": layer, "geometry": {"kind": "box", "xyxy": [5, 5, 40, 40]}}}), user=bob)
    workflow.submit(p, first, layer, user=bob)
    workflow.decide(p, first, layer, "approve", user=rita)
    audits.sample(p, 1.0, reviewers=[p.user_id])
    panel.refresh()
    assert panel.audits.count() == 1 and "bob" in panel.audits.item(0).text()
    panel.audits.setCurrentRow(0)
    panel.open_audit()
    qtbot.waitUntil(lambda: window.viewport.layer_id == layer, timeout=10000)
    panel.record("pass")
    assert panel.audits.count() == 0
    assert [a.outcome for a in audits.audits(p)] == ["pass"]
