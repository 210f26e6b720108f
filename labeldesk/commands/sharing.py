"""`labeldesk` sub-commands: sharing."""
from __future__ import annotations

from typing import Any, Callable


def register(command: Callable[..., Any]) -> None:
    """Add this area's sub-commands (none yet)."""
