"""The Models panel: the project's registered models and what to do with them.

It shows the registry (name, version, task, licence) and offers: add a model, use a SAM model for
the AI segment tool (mask or polygon), pre-label this asset or all assets, learn from your labels
(and retrain as they change), evaluate a model against the reviewed labels (PR curves and the
confusion matrix), and build and save an active-learning queue. The panel only emits requests;
:class:`labeldesk.qt.model_docks.ModelDocks` runs them (core calls, on worker threads when slow).
"""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.qt.panels.evaluation_plots import ConfusionView, PrCurveView

ID_ROLE = QtCore.Qt.ItemDataRole.UserRole
QUEUE_ORDERS = (("Least confident", "least-confident"), ("Smallest margin", "margin"), ("Highest entropy", "entropy"),
                ("Model disagreement", "disagreement"), ("Diversity", "diversity"))


class ModelPanel(QtWidgets.QWidget):
    sig_add_requested = QtCore.Signal()
    sig_use_sam = QtCore.Signal(object)              # record or None
    sig_prelabel = QtCore.Signal(object, bool)       # record, all assets
    sig_learn = QtCore.Signal()
    sig_evaluate = QtCore.Signal(object)             # record
    sig_propagate = QtCore.Signal(int)               # slices each way
    sig_save_queue = QtCore.Signal(str, str)         # method, name
    sig_next_in_queue = QtCore.Signal(str)           # queue name

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self.list = QtWidgets.QListWidget()
        self.add_button = QtWidgets.QPushButton("Add model…")
        self.add_button.setToolTip("A manifest (JSON) with its ONNX file(s); copied into the project, checked first")
        self.use_button = QtWidgets.QPushButton("Use for AI segment")
        self.output = QtWidgets.QComboBox()
        self.output.addItems(["mask", "polygon"])
        self.output.setToolTip("What Enter keeps from the AI segment tool")
        self.sam_status = QtWidgets.QLabel("AI segment: no model")
        self.sam_status.setWordWrap(True)
        self.neighbours = QtWidgets.QSpinBox()
        self.neighbours.setRange(1, 50)
        self.neighbours.setValue(3)
        self.propagate_button = QtWidgets.QPushButton("Suggest on neighbouring slices")
        self.propagate_button.setToolTip("Carry the last kept AI mask to the slices either side, as predictions")
        self.prelabel_button = QtWidgets.QPushButton("Pre-label this asset")
        self.prelabel_all_button = QtWidgets.QPushButton("Pre-label all assets")
        self.evaluate_button = QtWidgets.QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Against approved and final labels: precision, recall, AP per class")
        self.learn_button = QtWidgets.QPushButton("Learn from my labels")
        self.learn_button.setToolTip("Train the pixel classifier on the labelled slices/images of this asset and "
                                     "propose masks on its other slices")
        self.auto_learn = QtWidgets.QCheckBox("Retrain when my labels change")
        self.learn_status = QtWidgets.QLabel("")
        self.learn_status.setWordWrap(True)
        self.queue_order = QtWidgets.QComboBox()
        for text, key in QUEUE_ORDERS:
            self.queue_order.addItem(text, key)
        self.queue_name = QtWidgets.QLineEdit(placeholderText="queue name")
        self.queue_button = QtWidgets.QPushButton("Save queue")
        self.next_button = QtWidgets.QPushButton("Next in queue")
        self.queue_status = QtWidgets.QLabel("")
        self.queue_status.setWordWrap(True)
        self.summary = QtWidgets.QLabel("")
        self.summary.setWordWrap(True)
        self.pr_curve = PrCurveView()
        self.confusion = ConfusionView()

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list.setMaximumHeight(110)
        layout.addWidget(self.list)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.evaluate_button)
        layout.addLayout(row)
        sam = QtWidgets.QGroupBox("Interactive (SAM)")
        g = QtWidgets.QGridLayout(sam)
        g.addWidget(self.use_button, 0, 0)
        g.addWidget(self.output, 0, 1)
        g.addWidget(self.propagate_button, 1, 0)
        g.addWidget(self.neighbours, 1, 1)
        g.addWidget(self.sam_status, 2, 0, 1, 2)
        layout.addWidget(sam)
        pre = QtWidgets.QGroupBox("Pre-label (detector / segmenter)")
        h = QtWidgets.QHBoxLayout(pre)
        h.addWidget(self.prelabel_button)
        h.addWidget(self.prelabel_all_button)
        layout.addWidget(pre)
        learn = QtWidgets.QGroupBox("Pixel classifier")
        v = QtWidgets.QVBoxLayout(learn)
        v.addWidget(self.learn_button)
        v.addWidget(self.auto_learn)
        v.addWidget(self.learn_status)
        layout.addWidget(learn)
        queue = QtWidgets.QGroupBox("Active-learning queue")
        q = QtWidgets.QGridLayout(queue)
        q.addWidget(self.queue_order, 0, 0)
        q.addWidget(self.queue_name, 0, 1)
        q.addWidget(self.queue_button, 1, 0)
        q.addWidget(self.next_button, 1, 1)
        q.addWidget(self.queue_status, 2, 0, 1, 2)
        layout.addWidget(queue)
        layout.addWidget(self.summary)
        layout.addWidget(self.pr_curve)
        layout.addWidget(self.confusion)
        layout.addStretch(1)

        self.add_button.clicked.connect(self.sig_add_requested)
        self.use_button.clicked.connect(lambda: self.sig_use_sam.emit(self.selected("sam")))
        self.prelabel_button.clicked.connect(lambda: self._prelabel(False))
        self.prelabel_all_button.clicked.connect(lambda: self._prelabel(True))
        self.evaluate_button.clicked.connect(lambda: self.sig_evaluate.emit(self.selected()))
        self.learn_button.clicked.connect(self.sig_learn)
        self.propagate_button.clicked.connect(lambda: self.sig_propagate.emit(self.neighbours.value()))
        self.queue_button.clicked.connect(
            lambda: self.sig_save_queue.emit(self.queue_order.currentData(), self.queue_name.text().strip()))
        self.next_button.clicked.connect(lambda: self.sig_next_in_queue.emit(self.queue_name.text().strip()))

    # ---- model -> view ----------------------------------------------------------------------------
    def set_records(self, records: list[Any]) -> None:
        chosen = self.selected()
        self.records = list(records)
        self.list.clear()
        for r in self.records:
            extra = ""
            if r.record.get("training"):
                extra = f" · {r.record['training'].get('labelled_pixels')} px"
            item = QtWidgets.QListWidgetItem(f"{r.name} {r.version} · {r.task} · {r.manifest.licence}{extra}")
            item.setData(ID_ROLE, r.id)
            item.setToolTip(", ".join(f"{k} → {v}" for k, v in r.manifest.classes.items()) or r.task)
            self.list.addItem(item)
            if chosen is not None and r.id == chosen.id:
                item.setSelected(True)

    def show_evaluation(self, ev: Any) -> None:
        self.pr_curve.set_evaluation(ev)
        self.confusion.set_evaluation(ev)
        if ev is None:
            self.summary.setText("")
            return
        m = "-" if ev.map is None else f"{ev.map:.3f}"
        lines = [f"{ev.model} {ev.version}: mAP {m} on {ev.assets} asset(s), IoU ≥ {ev.iou}"]
        for c in ev.classes:
            def f(v: float | None) -> str:
                return "-" if v is None else f"{v:.2f}"
            lines.append(f"{c.name}: P {f(c.precision)} R {f(c.recall)} F1 {f(c.f1)} AP {f(c.ap)}")
        self.summary.setText("\n".join(lines))

    # ---- view -> model ----------------------------------------------------------------------------
    def selected(self, task: str | None = None) -> Any:
        items = self.list.selectedItems()
        rid = items[0].data(ID_ROLE) if items else None
        rec = next((r for r in self.records if r.id == rid), None)
        if rec is None and task is not None:           # nothing selected: the newest of that task
            rec = next((r for r in reversed(self.records) if r.task == task), None)
        if rec is not None and task is not None and rec.task != task:
            return None
        return rec

    def _prelabel(self, everything: bool) -> None:
        rec = self.selected()
        if rec is None or rec.task not in ("detector", "segmenter"):
            rec = next((r for r in reversed(self.records) if r.task in ("detector", "segmenter")), None)
        self.sig_prelabel.emit(rec, everything)
