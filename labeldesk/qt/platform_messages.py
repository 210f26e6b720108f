"""Qt's own console messages that say nothing to a labeldesk user.

The offscreen platform (self-test, screenshots, CI) prints "This plugin does not support
propagateSizeHints()" whenever a window is shown: it is the plugin saying it has no window
manager to tell, not a problem. Everything else Qt prints is passed through unchanged.
"""
from __future__ import annotations

import sys

from PySide6 import QtCore

DROPPED = ("This plugin does not support propagateSizeHints()",)
_installed = False
_previous = None


def _handler(mode: QtCore.QtMsgType, context: QtCore.QMessageLogContext, message: str) -> None:
    if any(message.startswith(text) for text in DROPPED):
        return
    if _previous is not None:
        _previous(mode, context, message)
    elif sys.stderr is not None:
        print(message, file=sys.stderr)


def install() -> None:
    """Filter the messages above (idempotent)."""
    global _installed, _previous
    if not _installed:
        _previous = QtCore.qInstallMessageHandler(_handler)
        _installed = True
