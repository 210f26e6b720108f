"""The Dashboard panel: per annotator bars of one metric with the objective's target, a weekly
timeline, the objectives' progress, per batch rows, drift between two batches, and CSV export.
Everything shown comes from :mod:`labeldesk.core.quality.dashboard` and ``drift``."""
from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

METRIC_TITLES = {"annotations": "annotations", "throughput_per_day": "annotations per active day",
                 "time_per_item_min": "time per item (min)", "agreement_f1": "agreement (F1)",
                 "gold_score": "gold score", "audit_pass_rate": "audit pass rate", "rework_rate": "rework rate"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _plot(title: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#222", size="10pt")
    w.showGrid(x=False, y=True, alpha=0.3)
    for axis in ("left", "bottom"):
        w.getAxis(axis).setTextPen("#222")
        w.getAxis(axis).setPen("#666")
    w.setMinimumHeight(180)
    return w


class DashboardPanel(QtWidgets.QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.project: Any = None
        self.data: Any = None
        col = QtWidgets.QVBoxLayout(self)
        bar = QtWidgets.QHBoxLayout()
        self.metric = QtWidgets.QComboBox()
        for key, title in METRIC_TITLES.items():
            self.metric.addItem(title, key)
        self.metric.setCurrentIndex(list(METRIC_TITLES).index("gold_score"))
        self.metric.currentIndexChanged.connect(self._draw_bars)
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        export = QtWidgets.QPushButton("Export CSV…")
        export.clicked.connect(self.export_csv)
        bar.addWidget(QtWidgets.QLabel("Per annotator:"))
        bar.addWidget(self.metric, 1)
        bar.addWidget(refresh)
        bar.addWidget(export)
        col.addLayout(bar)
        self.tabs = QtWidgets.QTabWidget()
        col.addWidget(self.tabs, 1)
        team = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(team)
        self.bars = _plot("per annotator")
        self.timeline = _plot("annotations per week")
        self.timeline.addLegend(offset=(-10, 10), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 220))
        self.objectives = QtWidgets.QTableWidget(0, 5)
        self.objectives.setHorizontalHeaderLabels(["objective", "target", "team", "met", "not meeting"])
        self.objectives.horizontalHeader().setStretchLastSection(True)
        self.objectives.verticalHeader().hide()
        grid.addWidget(self.bars, 0, 0)
        grid.addWidget(self.timeline, 0, 1)
        grid.addWidget(self.objectives, 1, 0, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 1)
        self.tabs.addTab(team, "Team")
        self.table = QtWidgets.QTableWidget()
        self.table.verticalHeader().hide()
        self.tabs.addTab(self.table, "Annotators and batches")
        self.tabs.addTab(self._drift_tab(), "Drift")

    def _drift_tab(self) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(w)
        row = QtWidgets.QHBoxLayout()
        self.baseline, self.batch = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        go = QtWidgets.QPushButton("Compare")
        go.clicked.connect(self.run_drift)
        for label, combo in (("baseline", self.baseline), ("batch", self.batch)):
            row.addWidget(QtWidgets.QLabel(label))
            row.addWidget(combo, 1)
        row.addWidget(go)
        col.addLayout(row)
        plots = QtWidgets.QHBoxLayout()
        self.psi_plot = _plot("population stability index per feature")
        self.hist_plot = _plot("distribution")
        self.hist_plot.addLegend(offset=(-10, 10), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 220))
        plots.addWidget(self.psi_plot)
        plots.addWidget(self.hist_plot)
        col.addLayout(plots, 1)
        self.drift_text = QtWidgets.QLabel("Choose two batches (`labeldesk batch create`) and compare them.")
        self.drift_text.setWordWrap(True)
        col.addWidget(self.drift_text)
        return w

    # ---- data ----------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        self.project = project
        self.data = None

    def refresh(self) -> None:
        if self.project is None:
            return
        from labeldesk.core.quality import dashboard, records
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            self.data = dashboard.build(self.project)
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        names = [b.payload["name"] for b in records.load(self.project.conn).batches.values()]
        for combo in (self.baseline, self.batch):
            keep = combo.currentText()
            combo.clear()
            combo.addItems(names)
            if keep in names:
                combo.setCurrentText(keep)
        if len(names) > 1 and self.batch.currentIndex() == self.baseline.currentIndex():
            self.batch.setCurrentIndex(1)
        self._draw_bars()
        self._draw_timeline()
        self._fill_tables()

    def colour_of(self, who: str) -> str:
        """One colour per annotator in every plot (by their place in the annotator table)."""
        names = [r["annotator"] for r in self.data.annotators] if self.data is not None else []
        names += sorted({r["annotator"] for r in self.data.timeline} - set(names)) if self.data is not None else []
        return PALETTE[names.index(who) % len(PALETTE)] if who in names else "#444444"

    def _draw_bars(self) -> None:
        self.bars.clear()
        if self.data is None:
            return
        key = self.metric.currentData()
        rows = [r for r in self.data.annotators if r.get(key) is not None]
        self.bars.setTitle(f"{METRIC_TITLES[key]} per annotator", color="#222", size="10pt")
        xs = list(range(len(rows)))
        self.bars.addItem(pg.BarGraphItem(x=xs, height=[r[key] for r in rows], width=0.6,
                                          brushes=[pg.mkBrush(self.colour_of(r["annotator"])) for r in rows]))
        self.bars.getAxis("bottom").setTicks([[(i, r["annotator"]) for i, r in enumerate(rows)]])
        target = next((o for o in self.data.objectives if o["metric"] == key), None)
        if target is not None:
            value = float(target["target"].split()[-1])
            line = pg.InfiniteLine(pos=value, angle=0, pen=pg.mkPen("#d62728", width=2, style=QtCore.Qt.PenStyle.DashLine),
                                   label=f"target {target['target']}", labelOpts={"color": "#d62728", "position": 0.9})
            self.bars.addItem(line)
        self.bars.setXRange(-0.7, max(len(rows), 1) - 0.3)

    def _draw_timeline(self) -> None:
        self.timeline.clear()
        weeks = sorted({r["week"] for r in self.data.timeline})
        index = {w: i for i, w in enumerate(weeks)}
        people = sorted({r["annotator"] for r in self.data.timeline})
        for who in people:
            pts = sorted((index[r["week"]], r["annotations"]) for r in self.data.timeline if r["annotator"] == who)
            colour = self.colour_of(who)
            self.timeline.plot([p[0] for p in pts], [p[1] for p in pts], pen=pg.mkPen(colour, width=2),
                               symbol="o", symbolBrush=colour, symbolSize=7, name=who)
        self.timeline.getAxis("bottom").setTicks([[(i, w) for w, i in index.items()]])
        self.timeline.setXRange(-0.4, max(len(weeks) - 1, 0) + 0.4)

    def _fill_tables(self) -> None:
        obj = self.data.objectives
        self.objectives.setRowCount(len(obj))
        for i, o in enumerate(obj):
            met = "—" if o["met"] is None else ("yes" if o["met"] else "no")
            for j, v in enumerate((METRIC_TITLES.get(o["metric"], o["metric"]), o["target"],
                                   "n/a" if o["value"] is None else f"{o['value']:.3g}", met, o["not_meeting"])):
                self.objectives.setItem(i, j, QtWidgets.QTableWidgetItem(str(v)))
        rows = [{"who": r["annotator"], **r} for r in self.data.annotators] + \
               [{"who": f"batch {r['batch']}", **r} for r in self.data.batches]
        cols = ["who", "annotations", "items", "throughput_per_day", "time_per_item_min", "agreement_f1",
                "gold_score", "audits", "audit_pass_rate", "rework_rate"]
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                v = r.get(c)
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem("n/a" if v is None else f"{v:.3g}"
                                                                    if isinstance(v, float) else str(v)))
        self.table.resizeColumnsToContents()

    def export_csv(self) -> None:
        if self.data is None:
            self.refresh()
        if self.data is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export the dashboard", "dashboard.csv", "CSV (*.csv)")
        if path:
            self.write_csv(path)

    def write_csv(self, path: str) -> None:
        from labeldesk.commands.quality import to_csv
        text = "".join(to_csv([{"table": name, **r} for r in rows]) for name, rows in (
            ("annotators", self.data.annotators), ("batches", self.data.batches),
            ("objectives", self.data.objectives), ("timeline", self.data.timeline)))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    # ---- drift ---------------------------------------------------------------------------------
    def run_drift(self) -> None:
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.quality import drift, selection
        if self.project is None or not self.baseline.currentText() or not self.batch.currentText():
            return
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            feats = drift.drift(self.project, selection.select(self.project, {"batch": self.baseline.currentText()}),
                                selection.select(self.project, {"batch": self.batch.currentText()}))
        except LabeldeskError as exc:
            self.drift_text.setText(str(exc))
            return
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        self.show_drift(feats)

    def show_drift(self, feats: list[Any]) -> None:
        self.psi_plot.clear()
        colours = [("#2ca02c" if f.psi < 0.1 else "#ff7f0e" if f.psi < 0.25 else "#d62728") for f in feats]
        self.psi_plot.addItem(pg.BarGraphItem(x=list(range(len(feats))), height=[f.psi for f in feats], width=0.6,
                                              brushes=[pg.mkBrush(c) for c in colours]))
        self.psi_plot.getAxis("bottom").setTicks([[(i, f.feature.split(" (")[0]) for i, f in enumerate(feats)]])
        for level in (0.1, 0.25):
            self.psi_plot.addItem(pg.InfiniteLine(pos=level, angle=0, pen=pg.mkPen("#888", style=QtCore.Qt.PenStyle.DotLine)))
        worst = max(feats, key=lambda f: f.psi)
        self.hist_plot.clear()
        self.hist_plot.setTitle(f"{worst.feature}: baseline vs batch", color="#222", size="10pt")
        xs = list(range(len(worst.labels)))
        self.hist_plot.addItem(pg.BarGraphItem(x=[x - 0.2 for x in xs], height=worst.baseline, width=0.4,
                                               brush=pg.mkBrush("#1f77b4"), name="baseline"))
        self.hist_plot.addItem(pg.BarGraphItem(x=[x + 0.2 for x in xs], height=worst.batch, width=0.4,
                                               brush=pg.mkBrush("#ff7f0e"), name="batch"))
        step = max(1, len(worst.labels) // 5)           # a readable number of bin labels
        self.hist_plot.getAxis("bottom").setTicks([[(i, l) for i, l in enumerate(worst.labels) if i % step == 0]])
        self.drift_text.setText("; ".join(f"{f.feature}: PSI {f.psi:.2f} ({f.verdict})" for f in feats))
