"""Review panel: the queue of items (asset × annotator layer) with their review states, the review
actions, and the selected asset's issues with their comment threads.

Everything goes through core functions (``labeldesk.core.review``): the panel builds no ops of
its own and keeps no state of its own beyond what it shows. It acts as ``user_id`` (by default the
project's own user); a refused action (a missing role, a missing reason) shows its message in the
panel. Signals: ``sig_open_asset(asset_id, plane)`` — show this asset (plane is a core ``Plane``
for an issue, else None); ``sig_changed(changes)`` — an action applied ops (a merged ChangeSet).
"""
from __future__ import annotations

from labeldesk.core.numbering import plane_label

from typing import Any, Callable

from PySide6 import QtCore, QtGui, QtWidgets

ROLE = QtCore.Qt.ItemDataRole.UserRole
STATE_COLOURS = {"todo": "#9e9e9e", "in_progress": "#42a5f5", "submitted": "#ffb300", "approved": "#43a047",
                 "returned": "#e53935", "disputed": "#8e24aa", "adjudicated": "#00897b",
                 "needs_adjudication": "#8e24aa"}
FILTERS = (("Needs review", "queue"), ("All items", "all"), ("Mine", "mine"))


def _ask_text(parent: QtWidgets.QWidget, title: str, label: str) -> str | None:
    text, ok = QtWidgets.QInputDialog.getText(parent, title, label)
    return text if ok else None


class ReviewPanel(QtWidgets.QWidget):
    sig_open_asset = QtCore.Signal(str, object)       # asset id, Plane | None
    sig_changed = QtCore.Signal(object)               # ChangeSet of the ops just applied

    def __init__(self, project: Any = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.user_id: str | None = None
        self.ask_text: Callable[[QtWidgets.QWidget, str, str], str | None] = _ask_text
        self.pointer: tuple[Any, tuple[float, float]] | None = None     # (Plane, image_xy) for new issues
        self.filter = QtWidgets.QComboBox()
        for label, key in FILTERS:
            self.filter.addItem(label, key)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.items = QtWidgets.QTreeWidget()
        self.items.setHeaderLabels(["state", "asset", "layer", "note"])
        self.items.setRootIsDecorated(False)
        self.items.setUniformRowHeights(True)
        self.approve_button = QtWidgets.QPushButton("Approve")
        self.return_button = QtWidgets.QPushButton("Return…")
        self.fix_button = QtWidgets.QPushButton("Fix && approve")
        self.submit_button = QtWidgets.QPushButton("Submit")
        self.adjudicate_button = QtWidgets.QPushButton("Adjudicate…")
        self.approve_button.setToolTip("Approve the selected layer as it is now (reviewers)")
        self.return_button.setToolTip("Return the selected layer to its annotator with a reason (reviewers)")
        self.fix_button.setToolTip("Copy the selected layer into the final layer, approve it, and fix it there")
        self.submit_button.setToolTip("Submit your layer on this asset for review")
        self.adjudicate_button.setToolTip("Make the selected layer the asset's final result (adjudicators)")
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.issues = QtWidgets.QListWidget()
        self.thread = QtWidgets.QTextBrowser()
        self.comment_edit = QtWidgets.QLineEdit()
        self.comment_edit.setPlaceholderText("Add a comment to the selected issue")
        self.comment_button = QtWidgets.QPushButton("Comment")
        self.new_issue_button = QtWidgets.QPushButton("New issue…")
        self.resolve_button = QtWidgets.QPushButton("Resolve")
        self.reopen_button = QtWidgets.QPushButton("Reopen")
        self._layout()
        self.refresh_button.clicked.connect(self.refresh)
        self.filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.items.currentItemChanged.connect(lambda *_: self._on_item_selected())
        self.items.itemDoubleClicked.connect(lambda item, _c: self._open(item.data(0, ROLE)[0], None))
        self.approve_button.clicked.connect(lambda: self.decide("approve"))
        self.return_button.clicked.connect(lambda: self.decide("return"))
        self.fix_button.clicked.connect(lambda: self.decide("fix_approve"))
        self.submit_button.clicked.connect(self.submit)
        self.adjudicate_button.clicked.connect(self.adjudicate)
        self.issues.currentItemChanged.connect(lambda *_: self._fill_thread())
        self.issues.itemDoubleClicked.connect(self._on_issue_double_clicked)
        self.comment_button.clicked.connect(self.add_comment)
        self.comment_edit.returnPressed.connect(self.add_comment)
        self.new_issue_button.clicked.connect(self.new_issue)
        self.resolve_button.clicked.connect(lambda: self.set_issue_status(True))
        self.reopen_button.clicked.connect(lambda: self.set_issue_status(False))
        self.set_project(project)

    def _layout(self) -> None:
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.refresh_button)
        actions = QtWidgets.QGridLayout()
        for i, b in enumerate((self.approve_button, self.return_button, self.fix_button, self.submit_button,
                               self.adjudicate_button)):
            actions.addWidget(b, i // 3, i % 3)
        issue_row = QtWidgets.QHBoxLayout()
        for b in (self.new_issue_button, self.resolve_button, self.reopen_button):
            issue_row.addWidget(b)
        comment_row = QtWidgets.QHBoxLayout()
        comment_row.addWidget(self.comment_edit, 1)
        comment_row.addWidget(self.comment_button)
        lower = QtWidgets.QWidget()
        ll = QtWidgets.QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QtWidgets.QLabel("Issues on this asset"))
        ll.addWidget(self.issues, 1)
        ll.addLayout(issue_row)
        ll.addWidget(self.thread, 1)
        ll.addLayout(comment_row)
        upper = QtWidgets.QWidget()
        ul = QtWidgets.QVBoxLayout(upper)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addLayout(top)
        ul.addWidget(self.items, 1)
        ul.addLayout(actions)
        ul.addWidget(self.status)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)

    # ---- input --------------------------------------------------------------------------------
    def set_project(self, project: Any, user_id: str | None = None) -> None:
        self.project = project
        self.user_id = user_id or (project.user_id if project is not None else None)
        self.refresh()

    def set_pointer(self, plane: Any, image_xy: tuple[float, float]) -> None:
        """Where a new issue is pinned (the window passes the viewer's last clicked point)."""
        self.pointer = (plane, (float(image_xy[0]), float(image_xy[1])))

    def refresh(self) -> None:
        """Re-read the items and issues from the store, keeping the selection where possible."""
        keep = self.selected()
        self.items.clear()
        self.issues.clear()
        self.thread.clear()
        if self.project is None:
            self._enable()
            return
        from labeldesk.core.review import workflow
        conn = self.project.conn
        mode = self.filter.currentData()
        if mode == "queue":
            rows = [(e.state, e.asset_id, e.asset_name, e.layer_id, e.layer_name, e.note)
                    for e in workflow.review_queue(conn)]
        else:
            items = workflow.item_states(conn)
            if mode == "mine":
                items = [i for i in items if i.owner_id == self.user_id]
            rows = [(i.state, i.asset_id, i.asset_name, i.layer_id, f"{i.layer_name} ({i.owner_name})", i.note)
                    for i in items]
        for state, asset_id, asset_name, layer_id, layer_name, note in rows:
            item = QtWidgets.QTreeWidgetItem([state.replace("_", " "), asset_name, layer_name, note])
            item.setData(0, ROLE, (asset_id, layer_id))
            item.setForeground(0, QtGui.QBrush(QtGui.QColor(STATE_COLOURS.get(state, "#000000"))))
            item.setToolTip(3, note)
            self.items.addTopLevelItem(item)
            if (asset_id, layer_id) == keep:
                self.items.setCurrentItem(item)
        for c in range(3):
            self.items.resizeColumnToContents(c)
        self._on_item_selected()

    # ---- selection ----------------------------------------------------------------------------
    def selected(self) -> tuple[str, str | None] | None:
        item = self.items.currentItem()
        return tuple(item.data(0, ROLE)) if item is not None else None  # type: ignore[return-value]

    def select(self, asset_id: str, layer_id: str | None = None) -> bool:
        for i in range(self.items.topLevelItemCount()):
            item = self.items.topLevelItem(i)
            a, lid = item.data(0, ROLE)
            if a == asset_id and (layer_id is None or lid == layer_id):
                self.items.setCurrentItem(item)
                return True
        return False

    def _on_item_selected(self) -> None:
        self._fill_issues()
        self._enable()

    def _enable(self) -> None:
        sel = self.selected()
        has_layer = sel is not None and sel[1] is not None
        for b in (self.approve_button, self.return_button, self.fix_button, self.submit_button):
            b.setEnabled(has_layer)
        self.adjudicate_button.setEnabled(sel is not None)
        self._gate_by_role()
        self.new_issue_button.setEnabled(sel is not None)
        issue = self.selected_issue()
        self.comment_button.setEnabled(issue is not None)
        self.resolve_button.setEnabled(issue is not None and issue.status == "open")
        self.reopen_button.setEnabled(issue is not None and issue.status == "resolved")

    TIPS = {"approve_button": "Approve the selected layer as it is now", "return_button":
            "Return the selected layer to its annotator with a reason", "fix_button":
            "Copy the selected layer into the final layer, approve it, and fix it there",
            "submit_button": "Submit your layer on this asset for review",
            "adjudicate_button": "Make the selected layer the asset's final result"}
    GATES = {"approve_button": "review.decide", "return_button": "review.decide", "fix_button": "review.decide",
             "submit_button": "review.submit", "adjudicate_button": "review.adjudicate"}

    def _gate_by_role(self) -> None:
        """Buttons the current user's roles cannot use are disabled; the tooltip names the role."""
        from labeldesk.core.review.roles import missing_role
        for name, op_type in self.GATES.items():
            button = getattr(self, name)
            problem = missing_role(self.project.conn, self.user_id, op_type) if self.project is not None else None
            if problem:
                button.setEnabled(False)
            button.setToolTip(self.TIPS[name] + (f" — {problem}" if problem else ""))

    def _fill_issues(self) -> None:
        self.issues.clear()
        sel = self.selected()
        if self.project is None or sel is None:
            self.thread.clear()
            return
        from labeldesk.core.review import issues
        for issue in issues.issues(self.project.conn, sel[0]):
            p = issue.plane
            text = (f"[{issue.status}] {issue.text} — {issue.user_name}, {plane_label(p)} "
                    f"at ({issue.image_xy[0]:g}, {issue.image_xy[1]:g})")
            row = QtWidgets.QListWidgetItem(text)
            row.setData(ROLE, issue)
            self.issues.addItem(row)
        if self.issues.count():
            self.issues.setCurrentRow(0)
        self._fill_thread()

    def selected_issue(self) -> Any:
        row = self.issues.currentItem()
        return row.data(ROLE) if row is not None else None

    def _fill_thread(self) -> None:
        issue = self.selected_issue()
        self.thread.clear()
        if issue is not None:
            lines = [f"<b>{issue.user_name}</b>: {_html(issue.text)}"]
            for e in issue.events:
                what = "" if e.kind == "comment" else f"<i>{e.kind}d</i> "
                lines.append(f"<b>{e.user_name}</b>: {what}{_html(e.text or '')}")
            self.thread.setHtml("<br>".join(lines))
        self._enable()

    def _on_issue_double_clicked(self, row: QtWidgets.QListWidgetItem) -> None:
        issue = row.data(ROLE)
        self._open(issue.asset_id, issue.plane)

    def _open(self, asset_id: str, plane: Any) -> None:
        self.sig_open_asset.emit(asset_id, plane)

    # ---- actions ------------------------------------------------------------------------------
    def _run(self, what: str, action: Callable[[], Any]) -> bool:
        """Run a core action; show its refusal in the panel; emit the changes; refresh."""
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.ops import ChangeSet
        try:
            result = action()
        except LabeldeskError as exc:
            self.status.setText(f"{what}: {exc}")
            self.status.setStyleSheet("color: #c62828")
            return False
        self.status.setStyleSheet("")
        self.status.setText(f"{what}: done")
        changes = ChangeSet()
        for applied in result if isinstance(result, list) else ():
            changes.update(applied.changes)
        if not changes:
            changes.reviews.add(self.selected()[0] if self.selected() else "")
        self.refresh()
        self.sig_changed.emit(changes)
        return True

    def decide(self, decision: str) -> bool:
        sel = self.selected()
        if self.project is None or sel is None or sel[1] is None:
            return False
        reason = None
        if decision == "return":
            reason = self.ask_text(self, "Return to the annotator", "Why is it returned? (required)")
            if reason is None:
                return False
        from labeldesk.core.review import workflow
        return self._run(decision.replace("_", " "), lambda: workflow.decide(
            self.project, sel[0], sel[1], decision, user=self.user_id, reason=reason))

    def approve(self) -> bool:
        return self.decide("approve")

    def return_item(self) -> bool:
        return self.decide("return")

    def fix_approve(self) -> bool:
        return self.decide("fix_approve")

    def submit(self) -> bool:
        sel = self.selected()
        if self.project is None or sel is None or sel[1] is None:
            return False
        from labeldesk.core.review import workflow
        return self._run("submit", lambda: [workflow.submit(self.project, sel[0], sel[1], user=self.user_id)])

    def adjudicate(self) -> bool:
        """Make the selected layer the asset's final result (per item), with a reason."""
        sel = self.selected()
        if self.project is None or sel is None:
            return False
        reason = self.ask_text(self, "Adjudicate", "Why is this layer the final result? (required)")
        if reason is None:
            return False
        from labeldesk.core.review import adjudication
        return self._run("adjudicate", lambda: adjudication.adjudicate(
            self.project, sel[0], reason=reason, user=self.user_id, from_layer=sel[1]))

    def new_issue(self) -> bool:
        sel = self.selected()
        if self.project is None or sel is None:
            return False
        from labeldesk.core.model import Plane
        from labeldesk.core.review import issues
        if self.pointer is not None:
            plane, xy = self.pointer
        else:
            asset = self.project.asset(sel[0])
            plane, xy = Plane(), (asset.width / 2, asset.height / 2)
        text = self.ask_text(self, "New issue", f"What is wrong at ({xy[0]:.0f}, {xy[1]:.0f})?")
        if not text:
            return False
        return self._run("new issue", lambda: issues.open_issue(
            self.project, sel[0], plane, xy, text, user=self.user_id, layer_id=sel[1]))

    def add_comment(self) -> bool:
        issue = self.selected_issue()
        text = self.comment_edit.text().strip()
        if self.project is None or issue is None or not text:
            return False
        from labeldesk.core.review import issues
        ok = self._run("comment", lambda: issues.comment(self.project, issue.id, text, user=self.user_id))
        if ok:
            self.comment_edit.clear()
            self._select_issue(issue.id)
        return ok

    def set_issue_status(self, resolved: bool) -> bool:
        issue = self.selected_issue()
        if self.project is None or issue is None:
            return False
        from labeldesk.core.review import issues
        ok = self._run("resolve" if resolved else "reopen",
                       lambda: issues.set_status(self.project, issue.id, resolved, user=self.user_id))
        if ok:
            self._select_issue(issue.id)
        return ok

    def _select_issue(self, issue_id: str) -> None:
        for i in range(self.issues.count()):
            if self.issues.item(i).data(ROLE).id == issue_id:
                self.issues.setCurrentRow(i)
                return


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
