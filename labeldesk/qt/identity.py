"""Who the window acts as, and what that person's roles allow.

* The user: ``LABELDESK_USER`` (as for the CLI) when it names a member, else the member chosen in
  Settings for this project, else the project's own user on this machine.
* Switching to another member follows the signed-identity rule of the shared folder: it needs
  that member's private key on this machine (``labeldesk.core.sync.keys``, when present).
* The status bar shows the user and their roles; actions their roles cannot take are disabled
  with a tooltip naming the role (:data:`GATED`)."""
from __future__ import annotations

import os
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.qt import preferences

# action id -> the op type it needs (labeldesk.core.review.roles.REQUIRED_ROLES)
GATED = {
    "approve": "review.decide", "return_item": "review.decide", "fix_approve": "review.decide",
    "adjudicate": "review.adjudicate", "submit": "review.submit",
    "add_files": "asset.add", "add_folder": "asset.add",
    "add_class": "ontology.class.create", "import_ontology": "ontology.class.create",
}


def user_name(project: Any, user_id: str | None) -> str:
    from labeldesk.core.review.roles import user_name as name
    return name(project.conn, user_id)


def switch_problem(project: Any, user_id: str) -> str | None:
    """Why this window may not act as ``user_id`` (None = it may)."""
    own = project._meta("user_id") if hasattr(project, "_meta") else project.user_id
    if user_id == own:
        return None
    try:
        from labeldesk.core.sync import keys
    except ImportError:             # no signed identities in this build: as the CLI's --as
        return None
    local_keys = getattr(keys, "local_keys", None)
    if local_keys is None or local_keys(project.id, user_id):
        return None
    return (f"{user_name(project, user_id)}'s private key is not on this computer: only they can act as "
            f"themselves (from their own computer, or after importing their key here)")


def chosen_user(project: Any) -> tuple[str, str | None]:
    """(user id, note): the user this window acts as, and why another choice was not followed."""
    from labeldesk.core.errors import LabeldeskError
    from labeldesk.core.review.roles import find_user
    own = str(project._meta("user_id") or project.user_id)
    wanted, source = os.environ.get("LABELDESK_USER"), "LABELDESK_USER"
    if not wanted:
        wanted, source = preferences.value(f"user/{project.id}", ""), "Settings"
    if not wanted:
        return own, None
    try:
        uid = find_user(project.conn, wanted)
    except LabeldeskError as exc:
        return own, f"{source}: {exc}"
    problem = switch_problem(project, uid)
    return (own, f"{source}: {problem}") if problem else (uid, None)


def remember_user(project: Any, user_id: str) -> None:
    preferences.set_value(f"user/{project.id}", user_id)


def roles_text(project: Any, user_id: str) -> str:
    from labeldesk.core.review.roles import roles_in_words, user_roles
    return roles_in_words(user_roles(project.conn, user_id))


class IdentityLabel(QtWidgets.QLabel):
    """Status bar: "alice · admin, annotator, reviewer, adjudicator"; a click opens Settings."""
    sig_clicked = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("identity")
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.show_user(None, None)

    def show_user(self, project: Any, user_id: str | None) -> None:
        if project is None or user_id is None:
            self.setText("no project open")
            self.setToolTip("")
            return
        name, roles = user_name(project, user_id), roles_text(project, user_id)
        self.setText(f"{name} · {roles}")
        self.setToolTip(f"You act as {name} in this project (roles: {roles}).\n"
                        "Settings ▸ User shows who else you may act as on this computer.")

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt override
        self.sig_clicked.emit()
        super().mousePressEvent(event)


def gate_actions(actions: dict[str, QtGui.QAction], project: Any, user_id: str | None) -> None:
    """Disable the actions the user's roles cannot take; the tooltip says which role they need."""
    from labeldesk.core.review.roles import missing_role
    for action_id, op_type in GATED.items():
        action = actions.get(action_id)
        if action is None:
            continue
        base = action.property("base_tip")
        if base is None:
            base = action.statusTip() or action.text().replace("&", "")
            action.setProperty("base_tip", base)
        problem = missing_role(project.conn, user_id, op_type) if project is not None else None
        action.setEnabled(project is not None and problem is None)
        action.setToolTip(f"{base} — {problem}" if problem else base)
