"""The Organise panel: tags of the asset on screen, filters (typed or saved) that narrow the asset
list, saving a filter, queue or batch, assignment by filter, gold marking, and the blind audits
assigned to me (open, pass, fail). Every change is an op through core functions."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets


class OrganisePanel(QtWidgets.QWidget):
    sig_filtered = QtCore.Signal(object)            # asset ids to list (None: every asset)
    sig_open = QtCore.Signal(str, str)              # asset id, layer id (an audit)
    sig_message = QtCore.Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.project: Any = None
        self.asset_id: str | None = None
        col = QtWidgets.QVBoxLayout(self)
        tags = QtWidgets.QGroupBox("Tags of this asset")
        tl = QtWidgets.QVBoxLayout(tags)
        self.tags = QtWidgets.QLabel("—")
        self.tags.setWordWrap(True)
        self.tag_edit = QtWidgets.QLineEdit(placeholderText="key=value (empty value removes the tag)")
        self.tag_edit.returnPressed.connect(self.set_tag)
        tl.addWidget(self.tags)
        tl.addWidget(self.tag_edit)
        col.addWidget(tags)
        flt = QtWidgets.QGroupBox("Filter the asset list")
        fl = QtWidgets.QVBoxLayout(flt)
        self.saved = QtWidgets.QComboBox()
        self.saved.activated.connect(self._use_saved)
        self.terms = QtWidgets.QLineEdit(placeholderText="tag:site=B batch:pilot state:todo gold:no …")
        self.terms.returnPressed.connect(self.apply_filter)
        row = QtWidgets.QHBoxLayout()
        for text, slot in (("Apply", self.apply_filter), ("Clear", self.clear_filter)):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        self.count = QtWidgets.QLabel("")
        row.addWidget(self.count, 1)
        fl.addWidget(self.saved)
        fl.addWidget(self.terms)
        fl.addLayout(row)
        row2 = QtWidgets.QHBoxLayout()
        for text, slot in (("Save filter…", lambda: self.save_view("filter")),
                           ("Save queue…", lambda: self.save_view("queue")),
                           ("Make batch…", self.make_batch), ("Assign…", self.assign)):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(slot)
            row2.addWidget(b)
        fl.addLayout(row2)
        col.addWidget(flt)
        gold = QtWidgets.QGroupBox("Gold")
        gl = QtWidgets.QHBoxLayout(gold)
        self.gold_layer = QtWidgets.QComboBox()
        mark = QtWidgets.QPushButton("Mark this asset gold")
        mark.setToolTip("The chosen layer's annotations on this asset are the known answer")
        mark.clicked.connect(self.mark_gold)
        seed = QtWidgets.QPushButton("Seed gold into queues")
        seed.setToolTip("Assign the gold items to every annotator who does not have them (they look like any item)")
        seed.clicked.connect(self.seed_gold)
        gl.addWidget(self.gold_layer, 1)
        gl.addWidget(mark)
        gl.addWidget(seed)
        col.addWidget(gold)
        audits = QtWidgets.QGroupBox("My audits (blind second review)")
        al = QtWidgets.QVBoxLayout(audits)
        self.audits = QtWidgets.QListWidget()
        self.audits.itemDoubleClicked.connect(lambda _i: self.open_audit())
        al.addWidget(self.audits)
        row3 = QtWidgets.QHBoxLayout()
        for text, slot in (("Open", self.open_audit), ("Pass", lambda: self.record("pass")),
                           ("Fail…", lambda: self.record("fail"))):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(slot)
            row3.addWidget(b)
        al.addLayout(row3)
        col.addWidget(audits, 1)

    # ---- state ---------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        self.project = project
        self.refresh()

    def set_asset(self, asset_id: str | None) -> None:
        self.asset_id = asset_id
        self._show_tags()

    def refresh(self) -> None:
        if self.project is None:
            return
        from labeldesk.core.quality import audits, records
        recs = records.load(self.project.conn)
        self.saved.clear()
        self.saved.addItem("Saved filters and queues…", None)
        for v in recs.views.values():
            self.saved.addItem(f"{v.payload['kind']}: {v.payload['name']}", v.payload["name"])
        self.gold_layer.clear()
        for layer in self.project.layers():
            self.gold_layer.addItem(f"answer: layer {layer.name}", layer.id)
        self.audits.clear()
        me = self.project.user_id
        for a in audits.audits(self.project):
            if a.reviewer_id == me and a.outcome is None:
                item = QtWidgets.QListWidgetItem(f"{a.asset_name} — layer of {a.owner_name}")
                item.setData(QtCore.Qt.ItemDataRole.UserRole, (a.id, a.asset_id, a.layer_id))
                self.audits.addItem(item)
        self._show_tags()

    def _show_tags(self) -> None:
        if self.project is None or self.asset_id is None:
            self.tags.setText("—")
            return
        from labeldesk.core.quality import records
        tags = records.load(self.project.conn).tags.get(self.asset_id, {})
        self.tags.setText("  ".join(f"<b>{k}</b>={v}" for k, v in sorted(tags.items())) or "no tags")

    def _apply(self, fn: Any, *args: Any, **kw: Any) -> Any:
        from labeldesk.core.errors import LabeldeskError
        try:
            return fn(*args, **kw)
        except LabeldeskError as exc:
            QtWidgets.QMessageBox.warning(self, "Organise", str(exc))
            return None

    # ---- actions -------------------------------------------------------------------------------
    def set_tag(self) -> None:
        from labeldesk.core.quality import organisation
        if self.project is None or self.asset_id is None:
            return
        key, eq, value = self.tag_edit.text().partition("=")
        if not eq or not key.strip():
            self.sig_message.emit("write a tag as key=value")
            return
        if self._apply(organisation.set_tags, self.project, [self.asset_id],
                       {key.strip(): value.strip() or None}) is not None:
            self.tag_edit.clear()
            self._show_tags()

    def current_filter(self) -> dict[str, Any] | None:
        from labeldesk.core.quality import selection
        text = self.terms.text().split()
        return self._apply(selection.parse_terms, text) if text else {}

    def apply_filter(self) -> None:
        from labeldesk.core.quality import selection
        flt = self.current_filter()
        if flt is None or self.project is None:
            return
        ids = self._apply(selection.select, self.project, flt)
        if ids is not None:
            self.count.setText(f"{len(ids)} asset(s)")
            self.sig_filtered.emit(ids)

    def clear_filter(self) -> None:
        self.terms.clear()
        self.count.setText("")
        self.sig_filtered.emit(None)

    def _use_saved(self, index: int) -> None:
        from labeldesk.core.quality import organisation, selection
        name = self.saved.itemData(index)
        if name is None or self.project is None:
            return
        self.terms.setText(selection.describe(organisation.view_filter(self.project, name)))
        self.apply_filter()

    def _ask(self, title: str, label: str) -> str | None:
        text, ok = QtWidgets.QInputDialog.getText(self, title, label)
        return text.strip() if ok and text.strip() else None

    def save_view(self, kind: str) -> None:
        from labeldesk.core.quality import organisation
        flt = self.current_filter()
        name = self._ask(f"Save {kind}", "Name (shared with the team):") if flt is not None else None
        if name and self._apply(organisation.save_view, self.project, name, flt, kind) is not None:
            self.refresh()
            self.sig_message.emit(f"saved {kind} {name!r}")

    def make_batch(self) -> None:
        from labeldesk.core.quality import organisation, selection
        flt = self.current_filter()
        name = self._ask("Make a batch", "Batch name:") if flt is not None else None
        if name:
            ids = self._apply(selection.select, self.project, flt)
            if ids is not None and self._apply(organisation.save_batch, self.project, name, ids) is not None:
                self.sig_message.emit(f"batch {name!r}: {len(ids)} asset(s)")

    def assign(self) -> None:
        from labeldesk.core.quality import organisation
        from labeldesk.core.review.assignment import annotators
        flt = self.current_filter()
        if flt is None or self.project is None:
            return
        names = {u.id: u.name for u in self.project.users()}
        choices = ["round-robin over qualified annotators", "round-robin over all annotators"] + \
                  [names[u] for u in annotators(self.project.conn)]
        choice, ok = QtWidgets.QInputDialog.getItem(self, "Assign by filter", "To:", choices, 1, False)
        if not ok:
            return
        to = None if choice.startswith("round-robin") else [u for u, n in names.items() if n == choice]
        made = self._apply(organisation.assign_by_filter, self.project, flt, to=to,
                           only_qualified=choice.startswith("round-robin over qualified"))
        if made is not None:
            self.sig_message.emit(f"{len(made)} new assignment(s)")

    def mark_gold(self) -> None:
        from labeldesk.core.quality import gold
        if self.project is None or self.asset_id is None:
            return
        if self._apply(gold.mark, self.project, self.asset_id, self.gold_layer.currentData()) is not None:
            self.sig_message.emit("marked gold: this layer's annotations are the answer")

    def seed_gold(self) -> None:
        from labeldesk.core.quality import gold
        if self.project is None:
            return
        made = self._apply(gold.seed, self.project)
        if made is not None:
            self.sig_message.emit(f"{len(made)} gold item(s) put into annotators' queues")

    def _audit(self) -> tuple[str, str, str] | None:
        item = self.audits.currentItem()
        return item.data(QtCore.Qt.ItemDataRole.UserRole) if item is not None else None

    def open_audit(self) -> None:
        a = self._audit()
        if a is not None:
            self.sig_open.emit(a[1], a[2])

    def record(self, outcome: str) -> None:
        from labeldesk.core.quality import audits
        a = self._audit()
        if a is None:
            return
        note = ""
        if outcome == "fail":
            note = self._ask("Audit failed", "What is wrong?") or ""
            if not note:
                return
        if self._apply(audits.record, self.project, a[0], outcome, note) is not None:
            self.refresh()
            self.sig_message.emit(f"audit recorded: {outcome}")
