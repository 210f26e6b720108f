"""`labeldesk open [PATH…]`: what the desktop entry runs when a user double-clicks a file or folder.

- nothing: the app opens (the start page offers recent projects and the demo);
- a project folder, or the ``project.labeldesk`` file inside one: the app opens on that project;
- images, videos, DICOM files or folders, NIfTI volumes (``.dcm``, ``.nii.gz``, …): they are added to
  the *Quick view* project in the user's data folder (a local project like any other; the same
  file added twice is one asset) and the app opens on it.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

QUICK_VIEW = "quick-view"


def quick_view_dir() -> Path:
    from labeldesk.paths import user_data_dir
    return user_data_dir() / QUICK_VIEW


def project_of(path: Path) -> Path | None:
    """The project folder ``path`` is, or whose store file it is; None otherwise."""
    from labeldesk.core.project import STORE_NAME, is_project
    if path.is_dir() and is_project(path):
        return path
    if path.name == STORE_NAME and is_project(path.parent):
        return path.parent
    return None


def cmd_open(args: argparse.Namespace) -> int:
    from labeldesk.cli import _run_gui
    from labeldesk.core.errors import LabeldeskError
    paths = [Path(p).expanduser().resolve() for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise LabeldeskError(f"{missing[0]}: no such file or folder")
    if not paths:
        return _run_gui(None, args.screenshot)
    projects = [project_of(p) for p in paths]
    if projects[0] is not None:
        if len(paths) > 1:
            print(f"opening the project {projects[0]}; the other paths were not opened")
        return _run_gui(str(projects[0]), args.screenshot)
    from labeldesk.core.importer import add_paths
    from labeldesk.core.project import Project, is_project
    dest = quick_view_dir()
    project = Project.open(dest) if is_project(dest) else Project.create(dest, "Quick view")
    with project:
        report = add_paths(project, [p for p, proj in zip(paths, projects) if proj is None])
    for asset in report.added:
        print(f"added    {asset.kind:<8} {asset.name}")
    for path, reason in report.refused:
        print(f"refused  {path}: {reason}")
    print(f"{report.summary()} (Quick view project: {dest})")
    return _run_gui(str(dest), args.screenshot)


def register(command: Callable[..., Any]) -> None:
    p = command("open", cmd_open, "open files or a project from the desktop: a project folder opens as "
                                  "itself; images, videos, DICOM and NIfTI files are added to the Quick "
                                  "view project in your data folder, which then opens")
    p.add_argument("paths", nargs="*", metavar="PATH", help="project folder, project.labeldesk, or files/folders")
    p.add_argument("--screenshot", metavar="PNG", help="write a screenshot of the main window and exit")
