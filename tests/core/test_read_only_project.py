"""A read-only project folder (a read-only mount, no write permission, a store SQLite can only
read) is refused when opened with a message saying why and what to do; the CLI prints it (no
traceback), and a store that becomes read-only while open refuses the edit, keeping what was saved.

Tests run as root, who may write any file, so "read-only" is simulated where the operating system
reports it: ``os.access`` (which reports a read-only file system even to root), the errno of the
lock file's ``open``, and SQLite opening the store read-only."""
from __future__ import annotations

import errno
import os

import pytest

from labeldesk.cli import main
from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.store import connection
from labeldesk.core.store.writable import ProjectReadOnly


@pytest.fixture
def root(tmp_path):
    p = Project.create(tmp_path / "proj", "ro", user_name="alice")
    cid = ids.new_id()
    p.apply(OpDraft("ontology.class.create", cid, {"class": {"name": "kept"}}))
    p.close()
    return tmp_path / "proj"


def _kept(root):
    with Project.open(root) as p:
        return [c.name for c in p.classes()]


def test_a_read_only_file_system_is_refused_with_a_clear_message(root, monkeypatch, capsys):
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k:
                        False if (mode & os.W_OK and str(path).startswith(str(root))) else real(path, mode, *a, **k))
    with pytest.raises(ProjectReadOnly, match=r"read-only here \(the folder is not writable\).*nothing was changed"):
        Project.open(root)
    assert main(["info", str(root)]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "Copy the project folder" in err and "Traceback" not in err
    monkeypatch.undo()
    assert _kept(root) == ["kept"]                     # nothing was changed, it opens once writable


def test_a_lock_file_that_cannot_be_written_is_a_clear_refusal(root, monkeypatch):
    real = os.open

    def refuse(path, flags, *a, **k):
        if str(path).startswith(str(root)) and flags & (os.O_RDWR | os.O_WRONLY | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, flags, *a, **k)
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ProjectReadOnly, match="cannot write the lock file: Read-only file system"):
        Project.open(root)


def test_a_store_sqlite_can_only_read_is_refused_when_opened(root, monkeypatch):
    import labeldesk.core.project as project_module
    monkeypatch.setattr(project_module, "connect", lambda path, **k: connection.connect(path, read_only=True))
    with pytest.raises(ProjectReadOnly, match="the store refuses writes: attempt to write a readonly database"):
        Project.open(root)
    monkeypatch.undo()
    assert _kept(root) == ["kept"]
    Project.open(root).close()                         # the lock was released: it opens again


def test_a_store_that_becomes_read_only_while_open_refuses_the_edit_and_keeps_the_rest(root):
    p = Project.open(root)
    try:
        p.conn.execute("PRAGMA query_only = ON")        # as a disk remounted read-only under us
        with pytest.raises(LabeldeskError, match="cannot be written any more .* the change was not saved"):
            p.apply(OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": "lost?"}}))
        p.conn.execute("PRAGMA query_only = OFF")
    finally:
        p.close()
    assert _kept(root) == ["kept"]
