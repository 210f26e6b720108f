"""Opening a read-only project folder in the app: a message saying why and what to do, no crash,
and the window stays usable (it opens the next, writable project)."""
from __future__ import annotations

import os

from PySide6 import QtWidgets

from labeldesk.core.project import Project


def test_a_read_only_project_folder_is_refused_with_a_message(qtbot, window, tmp_path, monkeypatch):
    ro = tmp_path / "mounted"
    Project.create(ro, "on a read-only disk", user_name="alice").close()
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k:
                        False if (mode & os.W_OK and str(path).startswith(str(ro))) else real(path, mode, *a, **k))
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    writable = window.project.root
    assert window.files.open(ro) is False
    assert shown and shown[0][0] == "Cannot open the project"
    assert "read-only" in shown[0][1] and "Copy the project folder" in shown[0][1]
    assert window.files.open(writable) is True and window.project.root == writable
