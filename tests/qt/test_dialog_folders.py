"""Import, Export, Share and Join file dialogs open in the folder last used for that kind of
file (remembered in QSettings, so also in the next session); the first time, in the project's folder."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtWidgets

from labeldesk.core.project import Project
from labeldesk.qt import preferences
from labeldesk.qt.dialogs.interchange_dialog import ExportDialog, ImportDialog


class FakeDialogs:
    """QFileDialog's static functions: record where each dialog starts, answer with ``answer``."""

    def __init__(self, monkeypatch) -> None:
        self.starts: list[str] = []
        self.answer = ""
        self.queue: list[str] = []            # answers to give first, in order
        me = self

        def pick_file(parent, caption="", start="", filters="", *a, **k):
            me.starts.append(start)
            return (me.queue.pop(0) if me.queue else me.answer), ""

        def pick_folder(parent, caption="", start="", *a, **k):
            me.starts.append(start)
            return me.queue.pop(0) if me.queue else me.answer
        monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", staticmethod(pick_file))
        monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", staticmethod(pick_file))
        monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", staticmethod(pick_folder))


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", "dialogs", user_name="alice")
    yield p
    p.close()


@pytest.fixture
def dialogs(monkeypatch):
    return FakeDialogs(monkeypatch)


def _reopened_settings() -> str:
    """What a new session reads: the INI file on disk."""
    preferences.settings().sync()
    return preferences.settings().fileName()


def test_import_dialog_starts_in_the_last_import_folder(qtbot, project, tmp_path, dialogs):
    data = tmp_path / "data" / "batch1"
    data.mkdir(parents=True)
    first = ImportDialog(project)
    qtbot.addWidget(first)
    dialogs.answer = str(data / "labels.json")
    first._browse_file()
    assert dialogs.starts[-1] == str(project.root)               # first time: the project's folder
    assert first.path_edit.text() == str(data / "labels.json")
    ini = Path(_reopened_settings()).read_text()
    assert str(data) in ini                                       # persisted for the next session
    again = ImportDialog(project)
    qtbot.addWidget(again)
    dialogs.answer = ""                                           # cancelled: nothing changes
    again._browse_file()
    assert dialogs.starts[-1] == str(data)
    again._browse_folder()
    assert dialogs.starts[-1] == str(data)
    other = tmp_path / "other"
    other.mkdir()
    dialogs.answer = str(other)
    again._browse_folder()
    again._browse_file()
    assert dialogs.starts[-1] == str(other)


def test_export_dialog_starts_in_the_last_export_folder(qtbot, project, tmp_path, dialogs):
    out = tmp_path / "exports"
    out.mkdir()
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    file_format = next(i for i in range(dialog.format_combo.count())
                       if dialog.format_combo.itemData(i) in ("coco", "labelme", "cvat"))
    dialog.format_combo.setCurrentIndex(file_format)
    dialogs.answer = str(out / "labels.json")
    dialog._browse()
    assert dialogs.starts[-1] == str(project.root)
    again = ExportDialog(project)
    qtbot.addWidget(again)
    again.format_combo.setCurrentIndex(file_format)
    dialogs.answer = ""
    again._browse()
    assert dialogs.starts[-1] == str(out)
    # the import folder is its own: exporting does not move it
    imp = ImportDialog(project)
    qtbot.addWidget(imp)
    imp._browse_file()
    assert dialogs.starts[-1] == str(project.root)


def test_share_and_join_start_where_the_last_share_was(qtbot, window, tmp_path, dialogs, monkeypatch):
    shares = tmp_path / "Sync"
    (shares / "liver").mkdir(parents=True)
    dialogs.answer = str(shares / "liver")
    assert window.team.share_project()
    dialogs.answer = ""
    assert not window.team.join_project()                        # cancelled at the first question
    assert dialogs.starts[-1] == str(shares)                      # beside the last shared folder
    copies = tmp_path / "copies"
    (copies / "mine").mkdir(parents=True)
    monkeypatch.setattr(QtWidgets.QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
    for answer in (str(shares / "liver"), str(copies / "mine")):
        dialogs.queue.append(answer)
    assert not window.team.join_project()                        # stops at the user name (cancelled)
    assert dialogs.starts[-2:] == [str(shares), str(Path.home())]   # the first copy: from home
    dialogs.queue.append(str(shares / "liver"))
    window.team.join_project()
    assert dialogs.starts[-1] == str(copies)                      # where the last copy was made
