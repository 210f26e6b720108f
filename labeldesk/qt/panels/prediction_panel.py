"""Model predictions of the current asset: score, model and status; accept (into your layer),
reject (with a reason), accept everything above a score; and "sort queue by" uncertainty or
disagreement. Decisions are core ops (``labeldesk.core.predictions``); the panel hands the drafts to
``apply_drafts`` (the main window passes its undo-stack push) and never changes the model itself."""
from __future__ import annotations

from typing import Any, Callable

from PySide6 import QtCore, QtWidgets

from labeldesk.core import predictions as P
from labeldesk.core.errors import LabeldeskError

PRED_ROLE = QtCore.Qt.ItemDataRole.UserRole
SORTS = (("Asset order", None), ("Least confident", "least-confident"), ("Smallest margin", "margin"),
         ("Highest entropy", "entropy"), ("Model disagreement", "disagreement"))


class PredictionPanel(QtWidgets.QWidget):
    sig_changed = QtCore.Signal(object)              # a ChangeSet (or None) after a decision
    sig_selection_requested = QtCore.Signal(object)  # set of annotation ids
    sig_queue_ordered = QtCore.Signal(object)        # asset ids, most uncertain first ([] = asset order)
    sig_error = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None,
                 apply_drafts: Callable[[list[Any], str], Any] | None = None) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.asset_id: str | None = None
        self._apply_drafts = apply_drafts
        self.list = QtWidgets.QListWidget()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.accept_button = QtWidgets.QPushButton("Accept")
        self.accept_button.setToolTip("Copy the selected predictions into your layer (linked to the model's)")
        self.reject_button = QtWidgets.QPushButton("Reject")
        self.reason = QtWidgets.QLineEdit(placeholderText="Reason (optional)")
        self.min_score = QtWidgets.QDoubleSpinBox()
        self.min_score.setRange(0.0, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setValue(0.5)
        self.accept_above = QtWidgets.QPushButton("Accept all ≥")
        self.accept_above.setToolTip("Accept every pending prediction of this asset with at least this score")
        self.sort = QtWidgets.QComboBox()
        for text, key in SORTS:
            self.sort.addItem(text, key)
        self.count = QtWidgets.QLabel()
        self.queue_info = QtWidgets.QLabel()
        self.queue_info.setWordWrap(True)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        bulk = QtWidgets.QHBoxLayout()
        bulk.addWidget(self.accept_above)
        bulk.addWidget(self.min_score)
        sort_row = QtWidgets.QHBoxLayout()
        sort_row.addWidget(QtWidgets.QLabel("Sort queue by"))
        sort_row.addWidget(self.sort, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.reason)
        layout.addLayout(bulk)
        layout.addWidget(self.count)
        layout.addLayout(sort_row)
        layout.addWidget(self.queue_info)
        self.accept_button.clicked.connect(lambda: self.decide_selected("accept"))
        self.reject_button.clicked.connect(lambda: self.decide_selected("reject"))
        self.accept_above.clicked.connect(self.accept_above_threshold)
        self.sort.currentIndexChanged.connect(lambda _i: self.order_queue())
        self.list.itemSelectionChanged.connect(self._on_selection)
        self._states: dict[str, P.PredictionState] = {}

    # ---- model -> view ---------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        self.project = project
        self.asset_id = None
        self.refresh()

    def set_asset(self, asset_id: str | None) -> None:
        self.asset_id = asset_id
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        self._states = {}
        if self.project is None or self.asset_id is None:
            self.count.setText("")
            return
        classes = {c.id: c.name for c in self.project.classes()}
        for s in P.predictions(self.project, self.asset_id):
            self._states[s.prediction.id] = s
            a, prov = s.prediction, s.provenance
            score = "-" if s.score is None else f"{s.score:.2f}"
            model = (prov.model or "") + (f" {prov.version}" if prov and prov.version else "") if prov else ""
            text = f"{classes.get(a.class_id or '', 'no class')} · {a.geometry.kind} · {score}"
            text += (f" · {model}" if model else "") + f" · {s.status}"
            if s.copies and s.copies[0][1].iou is not None and s.status == "edited":
                text += f" (IoU {s.copies[0][1].iou:.2f})"
            item = QtWidgets.QListWidgetItem(text)
            item.setData(PRED_ROLE, a.id)
            self.list.addItem(item)
        counts: dict[str, int] = {}
        for s in self._states.values():
            counts[s.status] = counts.get(s.status, 0) + 1
        self.count.setText(f"{len(self._states)} predictions" +
                           (": " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) if counts else ""))

    def states(self) -> list[P.PredictionState]:
        return list(self._states.values())

    # ---- view -> model ---------------------------------------------------------------------------
    def _apply(self, drafts: list[Any], text: str) -> None:
        if not drafts:
            return
        try:
            if self._apply_drafts is not None:
                self._apply_drafts(drafts, text)
            else:
                self.project.apply_all(drafts)
        except LabeldeskError as exc:
            self.sig_error.emit(str(exc))
            return
        self.refresh()
        self.sig_changed.emit(None)

    def _selected(self) -> list[P.PredictionState]:
        return [self._states[i.data(PRED_ROLE)] for i in self.list.selectedItems() if i.data(PRED_ROLE) in self._states]

    def decide_selected(self, decision: str) -> None:
        reason = self.reason.text().strip() or None
        drafts: list[Any] = []
        mine = self.project.my_layer_id if decision == "accept" else None
        for s in self._selected():
            if decision == "accept" and not any(c.layer_id == mine for c, _ in s.copies):
                drafts += P.accept_drafts(self.project, s.prediction, mine, reason=reason)
            elif decision == "reject" and s.status == "pending":
                drafts.append(P.reject_draft(s.prediction, reason))
        self._apply(drafts, f"{decision.capitalize()} {len(self._selected())} prediction(s)")
        self.reason.clear()

    def accept_above_threshold(self) -> None:
        chosen = [s for s in P.select(self.states(), min_score=self.min_score.value()) if s.status == "pending"]
        mine = self.project.my_layer_id
        drafts = [d for s in chosen for d in P.accept_drafts(self.project, s.prediction, mine)]
        self._apply(drafts, f"Accept {len(chosen)} prediction(s) ≥ {self.min_score.value():.2f}")

    def order_queue(self) -> list[str]:
        key = self.sort.currentData()
        if self.project is None:
            return []
        if key is None:
            self.queue_info.setText("")
            self.sig_queue_ordered.emit([])
            return []
        from labeldesk.core.assist.prioritisation import order_queue
        try:
            items = order_queue(self.project, key)
        except LabeldeskError as exc:
            self.queue_info.setText(str(exc))
            return []
        order = [it.asset_id for it in items]
        first = next((it for it in items if it.value is not None), None)
        self.queue_info.setText(f"{len(items)} assets; first: {first.asset_name} ({first.value:.3f})"
                                if first else "no predictions to order by")
        self.sig_queue_ordered.emit(order)
        return order

    def _on_selection(self) -> None:
        self.sig_selection_requested.emit({i.data(PRED_ROLE) for i in self.list.selectedItems()})
