"""The shared folder at a glance: share state and last round, this device's outbox, and per
device/user the last segment, waiting for a gap, pending ops, conflicts, clock warnings and the
sync-tool files seen; a "Sync now" button (docs/sync.md §9)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

COLUMNS = ("Device", "User", "Last segment", "Waiting", "Pending", "Conflicts", "Clock", "Alerts")


class SyncPanel(QtWidgets.QWidget):
    sig_sync_requested = QtCore.Signal()
    sig_conflicts_requested = QtCore.Signal()        # "open conflicts" link: show the conflict list

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QtWidgets.QLabel("Not shared")
        self.header.setWordWrap(True)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.alert = QtWidgets.QLabel()
        self.alert.setWordWrap(True)
        self.alert.setStyleSheet("color: #b03030")
        self.alert.hide()
        self.devices = QtWidgets.QTreeWidget()
        self.devices.setColumnCount(len(COLUMNS))
        self.devices.setHeaderLabels(list(COLUMNS))
        self.devices.setRootIsDecorated(True)
        self.sync_button = QtWidgets.QPushButton("Sync now")
        self.conflicts_button = QtWidgets.QPushButton("Conflicts…")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.sync_button)
        row.addWidget(self.conflicts_button)
        row.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.summary)
        layout.addWidget(self.alert)
        layout.addWidget(self.devices, 1)
        layout.addLayout(row)
        self.sync_button.clicked.connect(self.sig_sync_requested.emit)
        self.conflicts_button.clicked.connect(self.sig_conflicts_requested.emit)
        self.set_status(None)

    def set_busy(self, busy: bool, stalled_s: float = 0.0) -> None:
        self.sync_button.setEnabled(not busy)
        self.sync_button.setText("Syncing…" if busy else "Sync now")
        if busy and stalled_s > 30:
            self.show_alert(f"The shared folder has not answered for {int(stalled_s)} s (slow or offline); "
                            f"you can keep working, changes wait in the outbox.")

    def show_alert(self, text: str | None) -> None:
        self.alert.setText(text or "")
        self.alert.setVisible(bool(text))

    def set_status(self, s: dict[str, Any] | None) -> None:
        """Show ``labeldesk.core.sync.status.status(project)`` (None: the project is not shared)."""
        self.devices.clear()
        if not s or not s.get("share"):
            self.header.setText("This project is not shared. Team ▸ Share this project… (or `labeldesk share init PROJECT FOLDER`).")
            self.summary.setText("")
            self.sync_button.setEnabled(False)
            self.conflicts_button.setEnabled(False)
            self.show_alert(None)
            return
        self.sync_button.setEnabled(True)
        last = s.get("last_round") or {}
        state = last.get("state", "not yet synced")
        self.header.setText(f"Share: {s['share']}\nLast round: {last.get('wall', 'never')} — {state}"
                            + (f": {last['message']}" if last.get("message") else ""))
        parts = [f"This device {s['device_id'][:8]} ({s.get('user') or 'no user'}): {s['outbox']} changes to publish",
                 f"{s['pending']} pending", f"{s['open_conflicts']} open conflicts"]
        if s.get("unauthorised"):
            parts.append(f"{s['unauthorised']} ops refused (role)")
        if s.get("unknown_type"):
            parts.append(f"{s['unknown_type']} ops need a newer labeldesk")
        self.summary.setText(", ".join(parts))
        self.conflicts_button.setEnabled(bool(s["open_conflicts"]))
        self.conflicts_button.setText(f"Conflicts ({s['open_conflicts']})…")
        alerts = [s[k] for k in ("identity_alert", "publish_blocked") if s.get(k)]
        if state in ("offline", "wrong-project", "read-only", "full", "identity"):
            alerts.append(last.get("message") or state)
        self.show_alert("\n".join(alerts) or None)
        for d in s["devices"]:
            waiting = (f"seq {d['waiting_for_seq']} since {d['waiting_since']}" if d["waiting_for_seq"] else "")
            clock = f"{d['clock_ahead_s']} s ahead" if d["clock_ahead_s"] else ""
            flags = sum(1 for p in d["problems"] if p["alert"]) + len(d["artefacts"]) + d["unauthorised"] \
                + d["unknown_type"]
            item = QtWidgets.QTreeWidgetItem([d["device_id"][:8], d.get("user") or "?",
                                              f"{d['last_seq']}  {d['last_segment'] or ''}", waiting,
                                              str(d["pending"]), str(d["conflicts"]), clock, str(flags or "")])
            item.setToolTip(0, d["device_id"])
            for text in ([f"{'ALERT' if p['alert'] else 'waiting'}: {p['text']} (since {p['since']})"
                          for p in d["problems"]] + [f"sync-tool file ignored: {a}" for a in d["artefacts"]]
                         + ([f"{d['unauthorised']} ops refused: user lacks the role"] if d["unauthorised"] else [])
                         + ([f"{d['unknown_type']} ops need a newer labeldesk"] if d["unknown_type"] else [])):
                child = QtWidgets.QTreeWidgetItem(["", text])
                child.setFirstColumnSpanned(False)
                item.addChild(child)
            self.devices.addTopLevelItem(item)
        if s.get("share_artefacts"):
            item = QtWidgets.QTreeWidgetItem(["share", "", "", "", "", "", "", str(len(s["share_artefacts"]))])
            for a in s["share_artefacts"]:
                item.addChild(QtWidgets.QTreeWidgetItem(["", f"sync-tool file ignored: {a}"]))
            self.devices.addTopLevelItem(item)
        self.devices.expandAll()
        for i in range(len(COLUMNS)):
            self.devices.resizeColumnToContents(i)

    def rows(self) -> list[list[str]]:
        """The device rows as shown (for tests and screen readers)."""
        out = []
        for i in range(self.devices.topLevelItemCount()):
            item = self.devices.topLevelItem(i)
            out.append([item.text(c) for c in range(len(COLUMNS))])
        return out
