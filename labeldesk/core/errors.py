"""Errors that name the file and the problem; the CLI and GUI show ``str(err)`` as is."""
from __future__ import annotations

import os


class LabeldeskError(Exception):
    """Base class for errors a user is meant to read."""


class InputError(LabeldeskError):
    """A file could not be used: names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str] | None, problem: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class UnsupportedInput(InputError):
    """The file is valid but of a kind labeldesk does not open as an asset (e.g. a DICOM RT plan)."""


class OpRejected(LabeldeskError):
    """An op failed validation; nothing was written."""


class StoreLocationError(LabeldeskError):
    """The project store would live on a network filesystem or inside a synced folder."""


class ProjectLocked(LabeldeskError):
    """Another labeldesk process holds this project open."""


class Cancelled(LabeldeskError):
    """A long operation was cancelled by the user."""
