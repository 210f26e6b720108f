"""Undo/redo: every edit is a core op wrapped in a QUndoCommand; undo applies the inverse op.

The first ``redo()`` applies the draft; ``undo()`` applies the inverse the op type computed at
apply time; a later ``redo()`` applies the inverse of that inverse. Drags merge into one step:
commands with the same ``merge_key`` pushed in a row become one command whose undo restores the
state from before the first.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6 import QtGui

from labeldesk.core.ops import ChangeSet, OpDraft

MERGE_ID = 0x1abe1


class OpCommand(QtGui.QUndoCommand):
    def __init__(self, project: Any, drafts: list[OpDraft], text: str,
                 on_changed: Callable[[ChangeSet], None] | None = None, merge_key: str | None = None) -> None:
        super().__init__(text)
        self.project = project
        self._forward = list(drafts)
        self._backward: list[OpDraft] = []
        self._on_changed = on_changed
        self.merge_key = merge_key
        self._skip_redo = False

    def _run(self, drafts: list[OpDraft]) -> list[OpDraft]:
        applied = self.project.apply_all(drafts)
        changes = ChangeSet()
        for a in applied:
            changes.update(a.changes)
        if self._on_changed is not None:
            self._on_changed(changes)
        return [a.inverse for a in reversed(applied) if a.inverse is not None]

    def apply_now(self) -> None:
        """Apply before pushing (QUndoStack.push calls redo(), which then does nothing)."""
        self._backward = self._run(self._forward)
        self._skip_redo = True

    def redo(self) -> None:  # noqa: D401 - Qt override
        if self._skip_redo:
            self._skip_redo = False
            return
        self._backward = self._run(self._forward)

    def undo(self) -> None:  # noqa: D401 - Qt override
        self._forward = self._run(self._backward)

    def id(self) -> int:  # noqa: A003 - Qt override
        return MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QtGui.QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not isinstance(other, OpCommand) or other.merge_key != self.merge_key or self.merge_key is None:
            return False
        # undo must restore the state before *our* first step: keep our inverse, take their forward
        self._forward = other._forward
        return True


def push(stack: QtGui.QUndoStack, project: Any, drafts: list[OpDraft], text: str,
         on_changed: Callable[[ChangeSet], None] | None = None, merge_key: str | None = None) -> OpCommand:
    """Apply ``drafts`` now (one transaction) and record them as one undo step. Raises OpRejected
    without touching the stack if the op is refused."""
    cmd = OpCommand(project, drafts, text, on_changed, merge_key)
    cmd.apply_now()
    stack.push(cmd)
    return cmd
