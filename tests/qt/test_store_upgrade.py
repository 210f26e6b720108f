"""A project written by an older labeldesk is upgraded once when the window opens it: on a worker
while a busy dialog shows (a large op log takes seconds to copy), then it opens as usual; a
failed upgrade is a clear error and leaves the store as it was."""
from __future__ import annotations

import threading

import pytest

from labeldesk.core import project as project_module
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.project import STORE_NAME, store_upgrade_pending
from labeldesk.core.store.migrations import SCHEMA_VERSION


def test_the_window_upgrades_an_old_store_on_a_worker_then_opens_it(qtbot, win, v10_project, tmp_path, monkeypatch):
    root = v10_project(tmp_path / "old")
    assert store_upgrade_pending(root) == (10, SCHEMA_VERSION)
    seen: list[bool] = []
    real = project_module.upgrade_store
    monkeypatch.setattr(project_module, "upgrade_store",
                        lambda r: seen.append(threading.current_thread() is threading.main_thread()) or real(r))
    win.open_project(root)
    assert seen == [False]                                   # off the GUI thread
    assert store_upgrade_pending(root) is None and win.project is not None
    assert win.project.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert win.project.verify_chain().ok
    win.close_project()
    seen.clear()
    win.open_project(root)                                   # once: not again
    assert seen == []


def test_a_failed_upgrade_is_a_clear_error_and_changes_nothing(qtbot, win, v10_project, tmp_path, monkeypatch):
    root = v10_project(tmp_path / "old")
    before = (root / STORE_NAME).read_bytes()

    def broken(_root):
        raise OSError("disk full")
    monkeypatch.setattr(project_module, "upgrade_store", broken)
    with pytest.raises(LabeldeskError, match="could not be upgraded: disk full"):
        win.open_project(root)
    assert (root / STORE_NAME).read_bytes() == before and win.project is None


def test_no_upgrade_is_pending_for_a_current_store_or_a_file_that_is_not_one(tmp_path):
    from labeldesk.core.project import Project
    Project.create(tmp_path / "new", user_name="ann").close()
    assert store_upgrade_pending(tmp_path / "new") is None
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / STORE_NAME).write_bytes(b"not sqlite")
    assert store_upgrade_pending(tmp_path / "junk") is None
    assert store_upgrade_pending(tmp_path / "missing") is None
