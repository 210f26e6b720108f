"""The Measurements panel: every ruler, angle and ROI of the asset shown, with its slice (1-based),
value and ROI statistics (mean, SD, min, max in HU or the data's units, area in mm²). Double-click
a row to go to its slice and select it; copy the table with Ctrl+C (tab-separated)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.core.measure import describe, measure_kind, pixel_size_mm, value_unit
from labeldesk.core.numbering import plane_label

COLUMNS = ("where", "kind", "value", "mean", "SD", "min", "max", "area mm²", "pixels")


class MeasurementsPanel(QtWidgets.QWidget):
    sig_jump_requested = QtCore.Signal(object)        # the annotation

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.cellDoubleClicked.connect(lambda r, _c: self.sig_jump_requested.emit(self.annotations[r]))
        self.empty = QtWidgets.QLabel("No measurements: Ruler (U), Angle (Shift+U), Ellipse ROI (J), Freehand ROI (Y)")
        self.empty.setWordWrap(True)
        column = QtWidgets.QVBoxLayout(self)
        column.setContentsMargins(2, 2, 2, 2)
        column.addWidget(self.empty)
        column.addWidget(self.table, 1)
        copy = QtGui.QShortcut(QtGui.QKeySequence.StandardKey.Copy, self.table)
        copy.activated.connect(self.copy)
        self.annotations: list[Any] = []
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, items: list[tuple[Any, dict[str, Any], str]]) -> None:
        """(annotation, describe row, where) for each measurement."""
        self.annotations = [a for a, _, _ in items]
        self.rows = []
        self.table.setRowCount(len(items))
        for r, (_ann, row, where) in enumerate(items):
            s = row["stats"]
            values = [where, row["kind"], row["value"] if s is None else ""]
            if s is not None:
                values += [f"{s.mean:.1f}", f"{s.sd:.1f}", f"{s.min:g}", f"{s.max:g}",
                           f"{s.area_mm2:.1f}" if s.area_mm2 is not None else "", str(s.pixels)]
            values += [""] * (len(COLUMNS) - len(values))
            self.rows.append(dict(zip(COLUMNS, values)))
            for c, v in enumerate(values):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(v))
        self.empty.setVisible(not items)
        self.table.resizeColumnsToContents()

    def copy(self) -> None:
        lines = ["\t".join(COLUMNS)] + ["\t".join(row[c] for c in COLUMNS) for row in self.rows]
        QtWidgets.QApplication.clipboard().setText("\n".join(lines))


def measurement_rows(window: Any) -> list[tuple[Any, dict[str, Any], str]]:
    """The measurements of the asset in the active viewport, described with its pixels."""
    view = window.viewport
    if window.project is None or window.current_asset_id is None or view.source is None \
            or view.asset_id != window.current_asset_id:
        return []
    asset = window.project.asset(window.current_asset_id)
    calib = window.project.conn.execute("SELECT value FROM meta WHERE key='setting.mm_per_pixel'").fetchone()
    unit = value_unit(asset)
    rescale = tuple(view.source.info.rescale)
    out = []
    from labeldesk.core.measure import MEASURE_KEY
    anns = [a for a in window.session.visible_annotations(window.current_asset_id, attribute=MEASURE_KEY)
            if measure_kind(a)]
    for ann in sorted(anns, key=lambda a: (a.plane.axis, a.plane.t, a.plane.z)):
        px = pixel_size_mm(asset, ann.plane.axis, float(calib[0]) if calib else None)
        pixels = None
        if measure_kind(ann) == "roi" and view.source.info.kind != "pyramid":
            pixels = view._plane_pixels if ann.plane == view.plane else view.source.read_plane(ann.plane)
        out.append((ann, describe(ann, px, pixels, rescale, unit), plane_label(ann.plane, asset.kind)))
    return out


def install(window: Any) -> MeasurementsPanel:
    panel = MeasurementsPanel()
    dock = QtWidgets.QDockWidget("Measurements", window)
    dock.setObjectName("measurements_dock")
    dock.setWidget(panel)
    window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.measurements_panel = panel

    def refresh() -> None:
        panel.set_rows(measurement_rows(window))
    window.session.sig_annotations_changed.connect(refresh)
    window.sig_asset_shown.connect(lambda _a: refresh())
    dock.visibilityChanged.connect(lambda on: refresh() if on else None)
    panel.sig_jump_requested.connect(window._on_annotation_panel_jump_requested)
    return panel
