"""Agreement dashboard: the review queue (lowest agreement first), the layer-pair matrix, per class
and per item tables and a bar chart, all from :func:`labeldesk.core.review.comparison.compare_project`.

The panel never writes: double-clicking a queue entry or an item emits ``sig_open_item(asset_id,
plane)`` (plane is a core ``Plane`` or None for a whole-asset classification) and
``sig_compare_item(asset_id, plane, layer_a, layer_b)`` so the window can show the asset and the
comparison overlay of the two layers.
"""
from __future__ import annotations

from labeldesk.core.numbering import plane_label

import math
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

ROLE = QtCore.Qt.ItemDataRole.UserRole
CHART_METRICS = (("f1", "F1"), ("mean_iou", "mean IoU"), ("mask_dice", "mask Dice"))


def _cell(value: Any) -> QtWidgets.QTableWidgetItem:
    if isinstance(value, float):
        item = QtWidgets.QTableWidgetItem("-" if math.isnan(value) else f"{value:.3f}")
        item.setData(QtCore.Qt.ItemDataRole.UserRole + 1, value)
    else:
        item = QtWidgets.QTableWidgetItem("-" if value is None else str(value))
    item.setFlags(item.flags() & ~QtCore.Qt.ItemFlag.ItemIsEditable)
    return item


def agreement_colour(value: float | None) -> QtGui.QColor:
    """Red (0) through amber to green (1); grey when undefined."""
    if value is None or math.isnan(value):
        return QtGui.QColor(120, 120, 120)
    v = max(0.0, min(1.0, value))
    return QtGui.QColor.fromHsvF(v / 3.0, 0.75, 0.85)


class AgreementChartView(QtWidgets.QWidget):
    """Horizontal bars (one per label, value in [0, 1]) drawn with QPainter."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: list[tuple[str, float | None]] = []
        self.title = ""
        self.setMinimumHeight(80)

    def set_bars(self, title: str, bars: list[tuple[str, float | None]]) -> None:
        self.title, self.bars = title, list(bars)
        self.setMinimumHeight(28 + 20 * max(1, len(self.bars)))
        self.update()

    def bar_rects(self) -> list[QtCore.QRectF]:
        """Where each bar is drawn (view_xy), for hit tests and tests."""
        label_w = min(160.0, self.width() * 0.35)
        full = max(10.0, self.width() - label_w - 60)
        return [QtCore.QRectF(label_w, 24 + 20 * i, full * (0 if v is None or math.isnan(v) else max(0.0, min(1.0, v))), 14)
                for i, (_, v) in enumerate(self.bars)]

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), self.palette().base())
        p.setPen(self.palette().text().color())
        p.drawText(QtCore.QRectF(6, 2, self.width() - 12, 18), self.title)
        if not self.bars:
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, "nothing to compare yet")
            p.end()
            return
        label_w = min(160.0, self.width() * 0.35)
        for rect, (label, value) in zip(self.bar_rects(), self.bars):
            p.setPen(self.palette().text().color())
            p.drawText(QtCore.QRectF(6, rect.y() - 2, label_w - 10, 18),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter, label)
            p.fillRect(rect, agreement_colour(value))
            text = "n/a" if value is None or math.isnan(value) else f"{value:.2f}"
            p.drawText(QtCore.QPointF(rect.right() + 6, rect.y() + 12), text)
        p.end()


class MetricsPanel(QtWidgets.QWidget):
    sig_open_item = QtCore.Signal(str, object)                 # asset id, Plane | None
    sig_compare_item = QtCore.Signal(str, object, str, str)    # asset id, Plane | None, layer A, layer B

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.report: Any = None
        self.queue: list[Any] = []
        self.iou = QtWidgets.QDoubleSpinBox(decimals=2, minimum=0.05, maximum=1.0, singleStep=0.05, value=0.5)
        self.iou.setToolTip("IoU at which two annotators' shapes count as the same object")
        self.refresh_button = QtWidgets.QPushButton("Compute")
        self.refresh_button.setToolTip("Compare every pair of annotator layers")
        self.status = QtWidgets.QLabel("No comparison yet")
        self.status.setWordWrap(True)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("IoU ≥"))
        top.addWidget(self.iou)
        top.addWidget(self.refresh_button)
        top.addStretch(1)
        self.queue_table = self._table(["score", "asset", "plane", "layers", "why"])
        self.pair_matrix = self._table([])
        self.pair_table = self._table(["layer A", "layer B", "assets", "matched", "class diff", "F1",
                                       "mean IoU", "mask Dice", "class agree", "Cohen's kappa"])
        self.class_table = self._table(["class", "layers", "A", "B", "matched", "F1", "mean IoU", "mask Dice"])
        self.item_table = self._table(["score", "asset", "plane", "layers", "matched", "only A", "only B",
                                       "F1", "mean IoU", "mask Dice", "HD95 mm"])
        self.attribute_table = self._table(["class", "attribute", "layers", "pairs", "% agree",
                                            "statistic", "value"])
        self.chart_metric = QtWidgets.QComboBox()
        for key, label in CHART_METRICS:
            self.chart_metric.addItem(label, key)
        self.chart = AgreementChartView()
        chart_box = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(chart_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.chart_metric)
        cl.addWidget(self.chart)
        cl.addWidget(self.class_table, 1)
        pairs_box = QtWidgets.QWidget()
        pl = QtWidgets.QVBoxLayout(pairs_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(QtWidgets.QLabel("Shape F1 between layers"))
        pl.addWidget(self.pair_matrix, 1)
        pl.addWidget(self.pair_table, 1)
        self.classification = QtWidgets.QLabel()
        self.classification.setWordWrap(True)
        pl.addWidget(self.classification)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.queue_table, "Queue")
        self.tabs.addTab(pairs_box, "Pairs")
        self.tabs.addTab(chart_box, "Classes")
        self.tabs.addTab(self.item_table, "Items")
        self.tabs.addTab(self.attribute_table, "Attributes")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        self.refresh_button.clicked.connect(self.refresh)
        self.chart_metric.currentIndexChanged.connect(lambda _i: self._fill_chart())
        self.queue_table.itemDoubleClicked.connect(self._on_table_item_double_clicked)
        self.item_table.itemDoubleClicked.connect(self._on_table_item_double_clicked)

    @staticmethod
    def _table(headers: list[str]) -> QtWidgets.QTableWidget:
        t = QtWidgets.QTableWidget(0, len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        t.verticalHeader().setVisible(False)
        t.horizontalHeader().setStretchLastSection(True)
        return t

    # ---- input --------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        """A new (or no) project: clears the tables; call :meth:`refresh` to compute."""
        self.project = project
        self.set_report(None, [])
        self.status.setText("Press Compute to compare the annotator layers" if project else "No project")

    def refresh(self) -> None:
        """Compare the project's annotator layers now (on the GUI thread; the store is not shared
        across threads) and show the result."""
        if self.project is None:
            return
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.review.comparison import compare_project, queue_by_agreement
        try:
            report = compare_project(self.project, self.iou.value())
        except LabeldeskError as exc:
            self.set_report(None, [])
            self.status.setText(str(exc))
            return
        self.set_report(report, queue_by_agreement(self.project, report=report))

    def set_report(self, report: Any, queue: list[Any]) -> None:
        self.report, self.queue = report, list(queue)
        self._fill_queue()
        self._fill_pairs()
        self._fill_classes()
        self._fill_items()
        self._fill_attributes()
        self._fill_chart()
        if report is not None:
            self.status.setText(f"{len(report.layers)} layers, {len(report.items)} compared item(s), "
                                f"{len(self.queue)} to review (IoU ≥ {report.threshold:g})")

    # ---- filling ------------------------------------------------------------------------------
    def _layers(self, a: str, b: str) -> str:
        return f"{self.report.layer_name(a)} / {self.report.layer_name(b)}"

    def _fill_queue(self) -> None:
        t = self.queue_table
        t.setRowCount(len(self.queue))
        for r, e in enumerate(self.queue):
            values = [e.score, e.asset_name, plane_label(e.plane),
                      self._layers(e.layer_a, e.layer_b), e.reason]
            for c, v in enumerate(values):
                item = _cell(v)
                if c == 0:
                    item.setBackground(agreement_colour(e.score))
                    item.setData(ROLE, (e.asset_id, e.plane, e.layer_a, e.layer_b))
                t.setItem(r, c, item)
        t.resizeColumnsToContents()

    def _fill_pairs(self) -> None:
        m = self.pair_matrix
        rows = self.report.pair_rows() if self.report else []
        names = [l.name for l in self.report.layers] if self.report else []
        m.clear()
        m.setRowCount(len(names))
        m.setColumnCount(len(names))
        m.setHorizontalHeaderLabels(names)
        m.setVerticalHeaderLabels(names)
        m.verticalHeader().setVisible(True)
        index = {l.id: i for i, l in enumerate(self.report.layers)} if self.report else {}
        for i in range(len(names)):
            m.setItem(i, i, _cell("—"))
        for row in rows:
            i, j = index[row["layer_a_id"]], index[row["layer_b_id"]]
            for a, b in ((i, j), (j, i)):
                item = _cell(row["f1"] if row["f1"] is not None else math.nan)
                item.setBackground(agreement_colour(row["f1"]))
                m.setItem(a, b, item)
        t = self.pair_table
        t.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row["layer_a"], row["layer_b"], row["assets_compared"], row["matched"],
                      row["class_mismatch"], row["f1"], row["mean_iou"], row["mask_dice"],
                      row["class_percent"], row["class_kappa"]]
            for c, v in enumerate(values):
                t.setItem(r, c, _cell(v))
        text = []
        if self.report is not None:
            stats = self.report.classification_stats()
            text.append(f"Classifications on {stats['units']} unit(s): ")
            text.append("; ".join(f"{stats[k].name} {stats[k].text()}" for k in ("percent", "fleiss", "alpha")))
        self.classification.setText("".join(text))

    def _fill_classes(self) -> None:
        rows = self.report.class_rows() if self.report else []
        t = self.class_table
        t.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row["class"], f"{row['layer_a']} / {row['layer_b']}", row["n_a"], row["n_b"],
                      row["matched"], row["f1"], row["mean_iou"], row["mask_dice"]]
            for c, v in enumerate(values):
                t.setItem(r, c, _cell(v))

    def _fill_items(self) -> None:
        pairs = list(zip(self.report.items, self.report.item_rows())) if self.report else []
        pairs.sort(key=lambda p: p[1]["score"])
        t = self.item_table
        t.setRowCount(len(pairs))
        for r, (it, row) in enumerate(pairs):
            values = [row["score"], row["asset"], row["plane"], f"{row['layer_a']} / {row['layer_b']}",
                      row["matched"], row["unmatched_a"], row["unmatched_b"], row["f1"], row["mean_iou"],
                      row["mask_dice"], row["mask_hd95_mm"]]
            for c, v in enumerate(values):
                item = _cell(v)
                if c == 0:
                    item.setBackground(agreement_colour(row["score"]))
                    item.setData(ROLE, (it.asset_id, it.plane, it.layer_a, it.layer_b))
                t.setItem(r, c, item)

    def _fill_attributes(self) -> None:
        rows = self.report.attribute_rows() if self.report else []
        t = self.attribute_table
        t.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row["class"], row["attribute"], f"{row['layer_a']} / {row['layer_b']}", row["n"],
                      row["percent"], row["statistic"], row["value"]]
            for c, v in enumerate(values):
                item = _cell(v)
                if row["note"]:
                    item.setToolTip(row["note"])
                t.setItem(r, c, item)

    def _fill_chart(self) -> None:
        key = self.chart_metric.currentData()
        label = self.chart_metric.currentText()
        rows = self.report.class_rows() if self.report else []
        multi = self.report is not None and len(self.report.pairs()) > 1
        bars = [(row["class"] + (f" ({row['layer_a']}/{row['layer_b']})" if multi else ""), row.get(key))
                for row in rows]
        self.chart.set_bars(f"{label} per class", bars)

    # ---- output -------------------------------------------------------------------------------
    def _on_table_item_double_clicked(self, item: QtWidgets.QTableWidgetItem) -> None:
        table = item.tableWidget()
        data = table.item(item.row(), 0).data(ROLE)
        if data:
            asset_id, plane, layer_a, layer_b = data
            self.sig_open_item.emit(asset_id, plane)
            self.sig_compare_item.emit(asset_id, plane, layer_a, layer_b)

    def open_row(self, row: int) -> None:
        """Open the queue entry at ``row`` (what a double-click does; also for keyboard use)."""
        item = self.queue_table.item(row, 0)
        if item is not None:
            self._on_table_item_double_clicked(item)
