"""The report of an add (files or folders) as lines of text: the CLI prints them, the window
shows them in its report dialog, so both say the same thing."""
from __future__ import annotations

from typing import Any


def dimensions(a: Any) -> str:
    parts = [f"{a.width}x{a.height}"]
    if a.depth > 1:
        parts.append(f"{a.depth} slices")
    if a.frames > 1:
        parts.append(f"{a.frames} frames")
    return ", ".join(parts) + f", {a.dtype}"


def lines(report: Any) -> list[str]:
    out = [f"added    {a.kind:<8} {a.name}  ({dimensions(a)})" for a in report.added]
    out += [f"found    {a.kind:<8} {a.name}  (a shared asset: its files are now on this machine)" for a in report.linked]
    out += [f"refused  {path}: {reason}" for path, reason in report.refused]
    out += [f"review   {name}: {reason}" for name, reason in report.review]
    return out
