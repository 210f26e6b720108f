"""How other parts of the app add their own docks and menus to the main window without editing it.

Add your module's name to :data:`MODULES`; it defines ``install(window)`` and calls, for example::

    def install(window):
        window.add_dock("quality", "Quality", QualityPanel(), area="right")
        menu = window.add_menu("&Quality")            # or window.menu("Review") for an existing one
        menu.addAction("Check this asset", lambda: ...)

``add_dock`` puts the dock in View ▸ Panels (so a closed panel can be brought back) and in the
remembered window layout. A module that fails to install is reported on the status bar and the
rest of the window works."""
from __future__ import annotations

import importlib
from typing import Any

MODULES: tuple[str, ...] = (
)


def install_all(window: Any) -> list[str]:
    """Install every extension; returns the problems (one line each)."""
    problems = []
    for name in MODULES:
        try:
            importlib.import_module(name).install(window)
        except Exception as exc:       # one broken extension must not stop the window
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems
