"""What the app remembers for the person at this computer (QSettings, INI format): recent projects,
the last folder of each kind of file dialog, the theme, the sync interval, the window layout per
project user, the user chosen per project."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtCore

MAX_RECENT = 10


def settings() -> QtCore.QSettings:
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "labeldesk", "labeldesk")


def value(key: str, default: Any = None, type_: type | None = None) -> Any:
    s = settings()
    return s.value(key, default, type=type_) if type_ is not None else s.value(key, default)


def set_value(key: str, val: Any) -> None:
    settings().setValue(key, val)


# ---- recent projects ------------------------------------------------------------------------
def recent_projects() -> list[str]:
    """Most recent first; folders that are no longer projects are left out."""
    from labeldesk.core.project import is_project
    raw = settings().value("recent/projects", [])
    paths = [raw] if isinstance(raw, str) else list(raw or [])
    return [p for p in paths if p and is_project(p)]


def remember_project(root: str | Path) -> None:
    path = str(Path(root).resolve())
    s = settings()
    raw = s.value("recent/projects", [])
    before = [raw] if isinstance(raw, str) else list(raw or [])
    paths = ([path] + [p for p in recent_projects() if p != path])[:MAX_RECENT]
    if paths != before:                     # reopening the latest project writes nothing
        s.setValue("recent/projects", paths)


def forget_project(root: str | Path) -> None:
    path = str(Path(root).resolve())
    settings().setValue("recent/projects", [p for p in recent_projects() if p != path])


# ---- file dialogs start where the user was ---------------------------------------------------
def last_folder(kind: str, project_root: str | Path | None = None) -> str:
    """The folder the last dialog of this kind ended in; else the project's folder; else home."""
    folder = settings().value(f"folders/{kind}", "")
    if folder and Path(folder).is_dir():
        return str(folder)
    if project_root is not None and Path(project_root).is_dir():
        return str(project_root)
    return str(Path.home())


def remember_folder(kind: str, path: str | Path) -> None:
    p = Path(path)
    settings().setValue(f"folders/{kind}", str(p if p.is_dir() else p.parent))


def _root(project: Any) -> str | None:
    root = getattr(project, "root", None)
    return str(root) if root is not None else None


def ask_open_file(parent: Any, kind: str, caption: str, filters: str = "", project: Any = None) -> str:
    """A file chosen in an Open dialog that starts in the last folder of ``kind``; "" if cancelled.
    The chosen file's folder is remembered (QSettings ``folders/<kind>``)."""
    from PySide6 import QtWidgets
    name, _ = QtWidgets.QFileDialog.getOpenFileName(parent, caption, last_folder(kind, _root(project)), filters)
    if name:
        remember_folder(kind, name)
    return name or ""


def ask_save_file(parent: Any, kind: str, caption: str, suggested: str = "", filters: str = "",
                  project: Any = None) -> str:
    """A file name chosen in a Save dialog that starts in the last folder of ``kind`` (with the
    suggested name); "" if cancelled. The folder is remembered."""
    from PySide6 import QtWidgets
    start = str(Path(last_folder(kind, _root(project))) / Path(suggested).name) if suggested else \
        last_folder(kind, _root(project))
    name, _ = QtWidgets.QFileDialog.getSaveFileName(parent, caption, start, filters)
    if name:
        remember_folder(kind, Path(name).parent)
    return name or ""


def ask_folder(parent: Any, kind: str, caption: str, project: Any = None, *, parent_of_choice: bool = False) -> str:
    """A folder chosen in a dialog that starts in the last folder of ``kind``; "" if cancelled.
    The chosen folder is remembered (its parent with ``parent_of_choice``: for a new project's or
    share's own folder the next one is usually made beside it)."""
    from PySide6 import QtWidgets
    name = QtWidgets.QFileDialog.getExistingDirectory(parent, caption, last_folder(kind, _root(project)))
    if name:
        remember_folder(kind, Path(name).parent if parent_of_choice else name)
    return name or ""
