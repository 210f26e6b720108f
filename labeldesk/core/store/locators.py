"""Asset locators stored relative to the project folder, so a moved or copied project opens.

A locator (where this machine finds an asset's pixels: ``path``, ``dir``, ``source``, ``files``)
is written with every path inside the project folder (its pyramids and cache always, and source
files kept inside it) relative to that folder, and the keys so written listed under
``"relative"``. Reading resolves them against the folder the store is in now. Paths outside the
folder stay absolute. Locators written before this rule, with absolute paths into the project's
``cache/`` that no longer exist (the project was moved), are found again under the new folder.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

PATH_KEYS = ("path", "dir", "source", "files")
CACHE = "cache"


def store_root(conn: sqlite3.Connection) -> Path | None:
    """The folder of the store ``conn`` is open on (None for an in-memory store)."""
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file).resolve().parent
    return None


def _inside(value: str, root: Path) -> str | None:
    try:
        rel = Path(os.path.abspath(value)).relative_to(root)
    except ValueError:
        return None
    return rel.as_posix()


def to_stored(locator: dict[str, Any], root: Path | None) -> dict[str, Any]:
    """The locator with every path inside ``root`` made relative (listed under "relative")."""
    if root is None:
        return locator
    out = dict(locator)
    relative = set(out.pop("relative", ()))
    for key in PATH_KEYS:
        value = out.get(key)
        if isinstance(value, str) and Path(value).is_absolute():
            rel = _inside(value, root)
            if rel is not None:
                out[key], _ = rel, relative.add(key)
        elif isinstance(value, list) and value and all(isinstance(v, str) and Path(v).is_absolute() for v in value):
            rels = [_inside(v, root) for v in value]
            if all(r is not None for r in rels):
                out[key], _ = rels, relative.add(key)
    if relative:
        out["relative"] = sorted(relative)
    return out


def _moved_cache(value: str, root: Path) -> str:
    """An absolute path into some earlier location's ``cache/`` that is gone: the same path under
    this project's cache, when it exists."""
    if os.path.exists(value):
        return value
    parts = Path(value).parts
    if CACHE in parts:
        candidate = root.joinpath(*parts[len(parts) - 1 - parts[::-1].index(CACHE):])
        if candidate.exists():
            return str(candidate)
    return value


def from_stored(locator: dict[str, Any], root: Path | None) -> dict[str, Any]:
    """Absolute paths again, resolved against the project folder as it is now."""
    if root is None:
        return locator
    out = dict(locator)
    relative = set(out.pop("relative", ()))
    for key in PATH_KEYS:
        value = out.get(key)
        if key in relative:
            out[key] = ([str(root / v) for v in value] if isinstance(value, list) else str(root / value))
        elif isinstance(value, str) and Path(value).is_absolute():
            out[key] = _moved_cache(value, root)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[key] = [_moved_cache(v, root) if Path(v).is_absolute() else v for v in value]
    return out
