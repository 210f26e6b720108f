"""MetricsPanel and ComparisonOverlay built from a real two-layer project."""
from __future__ import annotations

import pytest
from PySide6 import QtCore, QtGui

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.review.comparison import compare_layers
from labeldesk.qt.panels.metrics_panel import MetricsPanel, agreement_colour
from labeldesk.qt.viewer.comparison_overlay import COLOURS, ComparisonOverlay

pytestmark = pytest.mark.gui


def _box(x0, y0, x1, y1):
    return {"kind": "box", "xyxy": [x0, y0, x1, y1]}


@pytest.fixture
def dual(tmp_path):
    p = Project.create(tmp_path / "proj", "dual", user_name="alice")
    lesion, cyst = ids.new_id(), ids.new_id()
    bob_user, bob = ids.new_id(), ids.new_id()
    grade = [{"key": "grade", "type": "enum", "options": ["1", "2", "3"]}]
    p.apply_all([OpDraft("ontology.class.create", lesion, {"class": {"name": "lesion", "attributes": grade}}),
                 OpDraft("ontology.class.create", cyst, {"class": {"name": "cyst"}}),
                 OpDraft("user.add", bob_user, {"name": "bob"}),
                 OpDraft("layer.create", bob, {"layer": {"name": "bob", "owner": bob_user}})])
    alice = p.my_layer_id
    assets = []
    for name in ("one.png", "two.png"):
        a = ids.new_id()
        p.apply(OpDraft("asset.add", a, {"asset": {"kind": "image", "name": name, "content_hash": "h" + a,
                                                    "width": 100, "height": 80}}))
        assets.append(a)
    made = {}

    def ann(key, asset, layer, cls, geom, attributes=None):
        made[key] = ids.new_id()
        p.apply(OpDraft("annotation.create", made[key], {"annotation": {
            "asset_id": asset, "layer_id": layer, "class_id": cls, "geometry": geom,
            "attributes": attributes or {}}}))

    ann("a_match", assets[0], alice, lesion, _box(10, 10, 30, 30), {"grade": "1"})
    ann("b_match", assets[0], bob, lesion, _box(11, 10, 31, 30), {"grade": "2"})
    ann("a_low", assets[0], alice, lesion, _box(40, 40, 60, 60))
    ann("b_low", assets[0], bob, lesion, _box(52, 40, 72, 60))
    ann("b_only", assets[0], bob, cyst, _box(80, 5, 95, 20))
    ann("a2", assets[1], alice, cyst, _box(10, 10, 30, 30))
    ann("b2", assets[1], bob, cyst, _box(10, 10, 30, 30))
    for asset, layer, cls in ((assets[1], alice, cyst), (assets[1], bob, lesion)):
        p.apply(OpDraft("classification.add", ids.new_id(), {"asset_id": asset, "layer_id": layer,
                                                            "scope": "asset", "class_id": cls}))
    yield dict(project=p, alice=alice, bob=bob, assets=assets, ids=made)
    p.close()


def test_panel_fills_queue_pairs_classes_and_chart(qtbot, dual):
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.set_project(dual["project"])
    assert panel.queue_table.rowCount() == 0
    panel.refresh()
    q = panel.queue_table
    assert q.rowCount() == 2
    # lowest first: the whole-asset classification disagreement, then one.png (F1 2/5)
    assert q.item(0, 1).text() == "two.png" and q.item(0, 2).text() == "whole asset"
    assert q.item(0, 0).text() == "0.000" and "classification differs" in q.item(0, 4).text()
    assert q.item(1, 1).text() == "one.png" and q.item(1, 0).text() == "0.400"
    m = panel.pair_matrix
    assert m.rowCount() == m.columnCount() == 2
    assert m.item(0, 1).text() == m.item(1, 0).text() == f"{2 * 2 / 7:.3f}"
    assert m.item(0, 1).background().color().rgb() == agreement_colour(4 / 7).rgb()
    assert panel.pair_table.item(0, 0).text() == "alice" and panel.pair_table.item(0, 3).text() == "2"
    classes = [panel.class_table.item(r, 0).text() for r in range(panel.class_table.rowCount())]
    assert classes == ["cyst", "lesion"]
    assert [b[0] for b in panel.chart.bars] == ["cyst", "lesion"]
    rects = panel.chart.bar_rects()
    # cyst F1 2/3 (1 match of 1+2), lesion F1 1/2 (1 match of 2+2): bar lengths in that ratio
    assert rects[0].width() / rects[1].width() == pytest.approx((2 / 3) / (1 / 2), rel=1e-6)
    panel.chart_metric.setCurrentIndex(1)           # mean IoU
    assert panel.chart.title == "mean IoU per class"
    assert "Krippendorff" in panel.classification.text()
    assert panel.item_table.rowCount() == 2
    at = panel.attribute_table
    assert at.rowCount() == 1 and at.item(0, 1).text() == "grade" and at.item(0, 4).text() == "0.000"
    # one pair, 1 vs 2: observed = expected disagreement, so kappa is 0
    assert at.item(0, 5).text() == "Cohen's kappa (quadratic)" and at.item(0, 6).text() == "0.000"
    assert "2 layers" in panel.status.text()
    # the chart paints its bars in the agreement colours
    panel.tabs.setCurrentIndex(2)
    panel.chart.set_bars("F1 per class", [("cyst", 1.0), ("lesion", 0.0)])
    image = panel.chart.grab().toImage()
    r0, r1 = panel.chart.bar_rects()
    assert QtGui.QColor(image.pixel(r0.center().toPoint())).rgb() == agreement_colour(1.0).rgb()
    assert r1.width() == 0


def test_open_signals_carry_asset_plane_and_layers(qtbot, dual):
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.set_project(dual["project"])
    panel.refresh()
    with qtbot.waitSignal(panel.sig_open_item) as opened, qtbot.waitSignal(panel.sig_compare_item) as compared:
        panel.open_row(1)
    asset_id, plane = opened.args
    assert asset_id == dual["assets"][0] and plane.key() == "axial:0:0"
    assert compared.args[2:] == [dual["alice"], dual["bob"]]
    with qtbot.waitSignal(panel.sig_open_item) as opened:
        panel.open_row(0)
    assert opened.args == [dual["assets"][1], None]
    # a double-click on an item row does the same
    item = panel.item_table.item(0, 3)
    with qtbot.waitSignal(panel.sig_open_item):
        panel.item_table.itemDoubleClicked.emit(item)


def test_iou_setting_and_errors_show_in_the_status(qtbot, dual, tmp_path):
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.set_project(dual["project"])
    panel.iou.setValue(0.95)
    panel.refresh_button.click()
    assert panel.report.threshold == pytest.approx(0.95)
    assert panel.pair_table.item(0, 3).text() == "1"          # only the identical boxes match
    single = Project.create(tmp_path / "single", user_name="solo")
    try:
        panel.set_project(single)
        panel.refresh()
        assert "comparing needs two layers" in panel.status.text()
        assert panel.queue_table.rowCount() == 0 and panel.chart.bars == []
    finally:
        single.close()
    panel.set_project(None)
    panel.refresh()
    assert panel.status.text() == "No project"


class _View:
    def image_to_view(self, x, y):
        return QtCore.QPointF(x * 2, y * 2)


class _Base:
    def __init__(self):
        self.painted = 0
        self.colours = {}

    def paint(self, painter, view):
        self.painted += 1


def test_comparison_overlay_draws_unmatched_red_and_low_iou_orange(qtbot, dual):
    p, made = dual["project"], dual["ids"]
    cmp = compare_layers(p, dual["assets"][0], dual["alice"], dual["bob"])
    base = _Base()
    overlay = ComparisonOverlay(base)
    overlay.set_comparison(cmp, p.annotations(dual["assets"][0]))
    drawn = dict(overlay.highlights())
    assert drawn[made["b_only"]] == "unmatched"
    assert drawn[made["a_low"]] == drawn[made["b_low"]] == "low_iou"
    assert made["a_match"] not in drawn
    overlay.show_matched = True
    assert dict(overlay.highlights())[made["a_match"]] == "matched"
    overlay.show_matched = False
    image = QtGui.QImage(220, 180, QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor("black"))
    painter = QtGui.QPainter(image)
    overlay.paint(painter, _View())
    painter.end()
    assert base.painted == 1
    red, orange = QtGui.QColor(COLOURS["unmatched"]), QtGui.QColor(COLOURS["low_iou"])
    # b_only is the box (80,5)-(95,20): its left edge at view x = 160, y = 20..40
    assert QtGui.QColor(image.pixel(160, 30)) == red
    # a_low (40,40)-(60,60): left edge at view x = 80
    assert QtGui.QColor(image.pixel(80, 100)) == orange
    # the matched pair is not highlighted: its edge at view x = 20 stays black
    assert QtGui.QColor(image.pixel(20, 40)) == QtGui.QColor("black")
    # attributes of the wrapped painter pass through both ways
    overlay.colours = {"x": "#fff"}
    assert base.colours == {"x": "#fff"} and overlay.colours is base.colours
    overlay.clear()
    assert overlay.highlights() == []
