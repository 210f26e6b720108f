"""The terminal side of the command line: closed pipes, colour only on a terminal."""
from __future__ import annotations

import os
import sys
from typing import Any, TextIO


def silence_stdout() -> None:
    """After a reader closed our stdout (``| head``): point it at /dev/null so that the flush at
    exit does not print a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def wants_colour(stream: TextIO | Any = None) -> bool:
    """Colour only when writing to a terminal and NO_COLOR is not set (https://no-color.org)."""
    stream = stream or sys.stderr
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def bold(text: str, stream: TextIO | Any = None) -> str:
    return f"\033[1m{text}\033[0m" if wants_colour(stream) else text
