"""PySide6's import hook, made cheap: after ``import PySide6`` every module imported (numpy's ≈ 90,
ours ≈ 100) is asked "does your source mention PySide6?" (``shibokensupport.feature``, for its
``from __feature__ import …`` switches), and the question was answered with
``inspect.getsource``: a ``linecache`` read, decode and line split plus several ``stat`` calls per
module — ≈ 50 ms of a start on a quiet machine, more under load. The same question is answered
here by reading the file's bytes once. The answer is the same (a module without a ``.py`` file —
an extension, a bundle's ``.pyc`` — is "no", as before); labeldesk uses no ``__feature__``."""
from __future__ import annotations

import sys
from typing import Any


def _uses_pyside(module: Any) -> bool:
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) or getattr(module, "__file__", None)
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return False
    try:
        with open(origin, "rb") as f:
            return b"PySide6" in f.read()
    except OSError:
        return False


def quicken() -> bool:
    """Replace the source scan of PySide6's import hook (once; True when it is in place)."""
    import PySide6  # noqa: F401 - installs the hook (and shibokensupport)
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False                        # another PySide6 layout: leave it as it is
    if feature._mod_uses_pyside is not _uses_pyside:
        feature._mod_uses_pyside = _uses_pyside
    return True
