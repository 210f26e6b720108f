"""File ▸ Import annotations… and File ▸ Export annotations…: the core's ``import_file`` /
``export`` with format choice (auto-detected on import), the options of the CLI, a progress bar
with Cancel, and a results view listing every refused item and note with its reason.

The core call runs on the GUI thread (the project's SQLite connection belongs to it) and keeps the
window responsive by processing events at each progress report (every few hundred items); the
dialog is modal while it runs, so nothing else writes to the project mid-import. Cancel stops at
the next report: an import is one transaction, so a cancelled import changes nothing; a cancelled
export leaves no output. "Undo import" takes a finished import back in one transaction.
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.core import interchange
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.formats import registry
from labeldesk.core.tasks import Progress
from labeldesk.qt import preferences

AUTO = "auto"
FILE_FORMATS = {"coco": "COCO JSON (*.json)", "coco-results": "COCO results (*.json)",
                "labelme": "labelme JSON (*.json)", "csv": "CSV (*.csv)", "cvat": "CVAT XML (*.xml)",
                "nifti": "NIfTI (*.nii *.nii.gz)", "dicom-seg": "DICOM SEG (*.dcm)",
                "label-studio": "Label Studio JSON (*.json)", "rtstruct": "DICOM RTSTRUCT (*.dcm)"}


class _ResultsView(QtWidgets.QTreeWidget):
    """Refused items and notes of a report, one row each: what, where, why."""

    def __init__(self) -> None:
        super().__init__()
        self.setHeaderLabels(["", "Where", "Why"])
        self.setRootIsDecorated(False)
        self.setColumnWidth(0, 70)
        self.setColumnWidth(1, 330)

    def show_report(self, report: interchange.InterchangeReport) -> None:
        self.clear()
        rows = [("refused", i) for i in report.refused] + [("note", i) for i in report.notes]
        for what, item in rows:
            self.addTopLevelItem(QtWidgets.QTreeWidgetItem([what, item.location, item.reason]))

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.topLevelItem(i).text(c) for c in range(3)) for i in range(self.topLevelItemCount())]


class _InterchangeDialog(QtWidgets.QDialog):
    """Shared parts: format combo, progress bar with Cancel, summary and results view."""

    sig_finished = QtCore.Signal(object)        # the InterchangeReport
    sig_progress = QtCore.Signal(int, int, str)

    def __init__(self, project: Any, title: str, parent: QtWidgets.QWidget | None) -> None:
        super().__init__(parent)
        self.project = project
        self.report: interchange.InterchangeReport | None = None
        self.progress: Progress | None = None
        self._last_events = 0.0
        self.setWindowTitle(title)
        self.setWindowModality(QtCore.Qt.WindowModality.ApplicationModal)   # nothing else writes meanwhile
        self.form = QtWidgets.QFormLayout()
        self.format_combo = QtWidgets.QComboBox()
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setVisible(False)
        self.progress_label = QtWidgets.QLabel()
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.results = _ResultsView()
        self.buttons = QtWidgets.QDialogButtonBox()
        self.run_button = self.buttons.addButton(title.rstrip("…").split()[0], QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel", QtWidgets.QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button = self.buttons.addButton("Close", QtWidgets.QDialogButtonBox.ButtonRole.DestructiveRole)
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(self.run)     # defined by ImportDialog / ExportDialog
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.summary)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.buttons)
        self.resize(760, 560)

    # ---- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.progress is not None

    def _on_report(self, done: int, total: int, text: str) -> None:
        self.progress_bar.setMaximum(max(total, 1))
        self.progress_bar.setValue(min(done, max(total, 1)))
        self.progress_label.setText(text)
        self.sig_progress.emit(done, total, text)
        now = time.monotonic()
        if now - self._last_events > 0.03 or done >= total:
            self._last_events = now
            QtWidgets.QApplication.processEvents()      # paint, and let Cancel be clicked

    def cancel(self) -> None:
        if self.progress is not None:
            self.progress.cancel()
            self.progress_label.setText("cancelling…")

    def reject(self) -> None:
        if self.running:
            self.cancel()
            return
        super().reject()

    def _start(self) -> Progress:
        self.progress = Progress(self._on_report)
        self._last_events = 0.0
        self.progress_bar.setVisible(True)
        self.progress_bar.setValue(0)
        self.run_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.summary.setText("")
        self.results.clear()
        return self.progress

    def _done(self, report: interchange.InterchangeReport | None, error: str | None = None) -> None:
        self.progress = None
        self.progress_bar.setVisible(False)
        self.progress_label.setText("")
        self.run_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if error is not None:
            self.summary.setText(f"<b>Failed:</b> {error}")
            return
        assert report is not None
        self.report = report
        self.summary.setText(report.summary())
        self.results.show_report(report)
        self.sig_finished.emit(report)



class ImportDialog(_InterchangeDialog):
    """``ImportDialog(project, parent, path=None)``; emits ``sig_finished(report)`` after an import
    and ``sig_project_changed()`` after an import or its undo (refresh classes, layers, overlays)."""

    sig_project_changed = QtCore.Signal()

    def __init__(self, project: Any, parent: QtWidgets.QWidget | None = None, path: str | None = None) -> None:
        super().__init__(project, "Import annotations…", parent)
        self.path_edit = QtWidgets.QLineEdit(placeholderText="annotation file, folder or .zip")
        browse_file = QtWidgets.QPushButton("File…")
        browse_folder = QtWidgets.QPushButton("Folder…")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse_file)
        row.addWidget(browse_folder)
        self.form.addRow("From", row)
        self.format_combo.addItem("Detect automatically", AUTO)
        for f in interchange.formats():
            if f.can_import:
                self.format_combo.addItem(f"{f.name} — {f.title}", f.name)
        self.detected = QtWidgets.QLabel()
        self.form.addRow("Format", self.format_combo)
        self.form.addRow("", self.detected)
        self.layer_combo = QtWidgets.QComboBox(editable=True)
        self.layer_combo.addItem("")
        self.layer_combo.addItems([l.name for l in project.layers()])
        self.layer_combo.lineEdit().setPlaceholderText("your own layer (a new name makes a new layer)")
        self.form.addRow("Into layer", self.layer_combo)
        self.create_classes = QtWidgets.QCheckBox("Add classes the ontology lacks (otherwise they are refused)")
        self.form.addRow("", self.create_classes)
        self.model_edit = QtWidgets.QLineEdit(placeholderText="model name (predictions)")
        self.version_edit = QtWidgets.QLineEdit(placeholderText="version")
        mrow = QtWidgets.QHBoxLayout()
        mrow.addWidget(self.model_edit, 2)
        mrow.addWidget(self.version_edit, 1)
        self.form.addRow("Model", mrow)
        self.gt_edit = QtWidgets.QLineEdit(placeholderText="COCO results: the ground-truth COCO file")
        self.form.addRow("Ground truth", self.gt_edit)
        self.threshold_check = QtWidgets.QCheckBox("make binary at probability")
        self.threshold_spin = QtWidgets.QDoubleSpinBox()
        self.threshold_spin.setRange(0.01, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.threshold_check.setToolTip("DICOM SEG: fractional segments keep their probabilities unless you "
                                        "ask for binary masks here")
        prow = QtWidgets.QHBoxLayout()
        prow.addWidget(self.threshold_check)
        prow.addWidget(self.threshold_spin)
        prow.addStretch(1)
        self.form.addRow("Fractional SEG", prow)
        self.undo_button = self.buttons.addButton("Undo import", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo_import)
        browse_file.clicked.connect(self._browse_file)
        browse_folder.clicked.connect(self._browse_folder)
        self.path_edit.textChanged.connect(self._on_path_changed)
        if path:
            self.path_edit.setText(str(path))

    def _browse_file(self) -> None:
        name = preferences.ask_open_file(self, "import", "Annotation file", "Annotation files (*.json *.xml *.txt *.csv *.zip *.nii *.nii.gz *.dcm);;All files (*)", self.project)
        if name:
            self.path_edit.setText(name)

    def _browse_folder(self) -> None:
        name = preferences.ask_folder(self, "import", "Annotation folder", self.project)
        if name:
            self.path_edit.setText(name)

    def _on_path_changed(self, text: str) -> None:
        if not text.strip() or not Path(text).expanduser().exists():
            self.detected.setText("")
            return
        try:
            self.detected.setText(f"detected: {registry.sniff(Path(text).expanduser())}")
        except LabeldeskError as exc:
            self.detected.setText(str(exc))

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"create_classes": self.create_classes.isChecked()}
        if self.layer_combo.currentText().strip():
            opts["layer"] = self.layer_combo.currentText().strip()
        if self.model_edit.text().strip():
            opts["model"] = self.model_edit.text().strip()
            opts["model_version"] = self.version_edit.text().strip()
        if self.gt_edit.text().strip():
            opts["gt"] = self.gt_edit.text().strip()
        if self.threshold_check.isChecked():
            opts["threshold"] = self.threshold_spin.value()
        return opts

    def run(self) -> None:
        path = self.path_edit.text().strip()
        if not path or self.running:
            self.summary.setText("Choose an annotation file or folder first." if not path else self.summary.text())
            return
        progress = self._start()
        try:
            report = interchange.import_file(self.project, self.format_combo.currentData(), path, progress,
                                             self.options())
        except (LabeldeskError, OSError) as exc:
            self._done(None, str(exc))
            return
        self._done(report)
        self.undo_button.setEnabled(bool(report.undo))
        if report.imported:
            self.sig_project_changed.emit()

    def undo_import(self) -> None:
        if self.report is None or not self.report.undo:
            return
        try:
            interchange.undo_import(self.project, self.report)
        except LabeldeskError as exc:
            self.summary.setText(f"<b>Undo failed:</b> {exc}")
            return
        self.undo_button.setEnabled(False)
        self.summary.setText(f"Import undone: {self.report.imported} item(s) removed"
                             + (" (classes it created are deprecated)" if self.report.created_classes else ""))
        self.sig_project_changed.emit()


class ExportDialog(_InterchangeDialog):
    """``ExportDialog(project, parent, dest=None)``: format, destination, layer, classes, time range."""

    def __init__(self, project: Any, parent: QtWidgets.QWidget | None = None, dest: str | None = None) -> None:
        super().__init__(project, "Export annotations…", parent)
        for f in interchange.formats():
            if f.can_export:
                self.format_combo.addItem(f"{f.name} — {f.title}", f.name)
        self.form.addRow("Format", self.format_combo)
        self.dest_edit = QtWidgets.QLineEdit(dest or "", placeholderText="file, folder, or name.zip")
        browse = QtWidgets.QPushButton("Browse…")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.dest_edit, 1)
        row.addWidget(browse)
        self.form.addRow("To", row)
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.addItem("Default (final if any, else mine)", None)
        self.layer_combo.addItem("final (adjudicated)", "final")
        self.layer_combo.addItem("mine", "mine")
        for l in project.layers():
            self.layer_combo.addItem(f"{l.name} ({l.kind})", l.id)
        self.form.addRow("Layer", self.layer_combo)
        self.class_list = QtWidgets.QListWidget()
        self.class_list.setMaximumHeight(110)
        for c in project.classes():
            if c.merged_into:
                continue
            item = QtWidgets.QListWidgetItem(c.name)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, c.id)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Unchecked)
            self.class_list.addItem(item)
        self.form.addRow("Classes (none ticked = all)", self.class_list)
        now = QtCore.QDateTime.currentDateTime()
        self.since_check, self.since_edit = QtWidgets.QCheckBox("since"), QtWidgets.QDateTimeEdit(now.addDays(-7))
        self.until_check, self.until_edit = QtWidgets.QCheckBox("until"), QtWidgets.QDateTimeEdit(now)
        trow = QtWidgets.QHBoxLayout()
        for w in (self.since_check, self.since_edit, self.until_check, self.until_edit):
            if isinstance(w, QtWidgets.QDateTimeEdit):
                w.setCalendarPopup(True)
                w.setDisplayFormat("yyyy-MM-dd HH:mm")
            trow.addWidget(w)
        self.form.addRow("Made or changed", trow)
        self.overwrite = QtWidgets.QCheckBox("Replace the destination if it exists")
        self.form.addRow("", self.overwrite)
        self.holes_combo = QtWidgets.QComboBox()
        self.holes_combo.addItem("as RLE masks (read correctly by COCO tools)", "rle")
        self.holes_combo.addItem("as extra rings (COCO tools fill the holes)", "rings")
        self.form.addRow("COCO polygon holes", self.holes_combo)
        # Dataset exports (COCO, YOLO, VOC): image files, subsets, the window of rendered slices.
        self.images_combo = QtWidgets.QComboBox()
        for text, value in (("labels only", None), ("copy images (planes of videos and volumes as PNG)", "copy"),
                            ("every plane as PNG", "png"), ("volume slices as raw 16-bit PNG", "raw16")):
            self.images_combo.addItem(text, value)
        self.form.addRow("Image files", self.images_combo)
        self.split_edit = QtWidgets.QLineEdit(placeholderText="e.g. train=0.8,val=0.2  or  classification")
        self.seed_spin = QtWidgets.QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        srow = QtWidgets.QHBoxLayout()
        srow.addWidget(self.split_edit, 1)
        srow.addWidget(QtWidgets.QLabel("seed"))
        srow.addWidget(self.seed_spin)
        self.form.addRow("Subsets", srow)
        self.window_edit = QtWidgets.QLineEdit(placeholderText="center,width (e.g. 40,400) or abdomen; empty: the series' own")
        self.form.addRow("Slice window", self.window_edit)
        self.seg_type_combo = QtWidgets.QComboBox()
        for text, value in (("FRACTIONAL when masks carry probabilities, else BINARY", "auto"),
                            ("BINARY (probabilities thresholded at 0.5)", "binary"), ("FRACTIONAL", "fractional")):
            self.seg_type_combo.addItem(text, value)
        self.form.addRow("DICOM SEG type", self.seg_type_combo)
        self.predictions_check = QtWidgets.QCheckBox("Label Studio: write predictions layers as the tasks' "
                                                     "predictions (model version, score)")
        self.form.addRow("", self.predictions_check)
        browse.clicked.connect(self._browse)

    def _browse(self) -> None:
        fmt = self.format_combo.currentData()
        if fmt in FILE_FORMATS:
            name = preferences.ask_save_file(self, "export", "Export to", "", FILE_FORMATS[fmt] + ";;Zip (*.zip)", self.project)
        else:
            name = preferences.ask_folder(self, "export", "Export into an empty folder", self.project)
        if name:
            self.dest_edit.setText(name)

    def selection(self) -> interchange.Selection:
        classes = tuple(self.class_list.item(i).data(QtCore.Qt.ItemDataRole.UserRole)
                        for i in range(self.class_list.count())
                        if self.class_list.item(i).checkState() == QtCore.Qt.CheckState.Checked)

        def when(check: QtWidgets.QCheckBox, edit: QtWidgets.QDateTimeEdit) -> dt.datetime | None:
            if not check.isChecked():
                return None
            return dt.datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch()).astimezone()

        return interchange.Selection(layer=self.layer_combo.currentData(), classes=classes,
                                     since=when(self.since_check, self.since_edit),
                                     until=when(self.until_check, self.until_edit))

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {"overwrite": self.overwrite.isChecked(), "polygon_holes": self.holes_combo.currentData()}
        if self.images_combo.currentData():
            out["images"] = self.images_combo.currentData()
        if self.split_edit.text().strip():
            out["split"] = self.split_edit.text().strip()
            out["seed"] = self.seed_spin.value()
        if self.window_edit.text().strip():
            out["window"] = self.window_edit.text().strip()
        if self.predictions_check.isChecked():
            out["with_predictions"] = True
        if self.seg_type_combo.currentData() != "auto":
            out["segmentation_type"] = self.seg_type_combo.currentData()
        return out

    def run(self) -> None:
        dest = self.dest_edit.text().strip()
        if not dest or self.running:
            self.summary.setText("Choose where to export to first." if not dest else self.summary.text())
            return
        options = self.options()
        progress = self._start()
        try:
            report = interchange.export(self.project, self.format_combo.currentData(), dest, self.selection(),
                                        progress, options)
        except (LabeldeskError, OSError) as exc:
            self._done(None, str(exc))
            return
        self._done(report)
