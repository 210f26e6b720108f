"""Deferred PyInstaller run-time hooks (labeldesk.spec writes the hooks' sources into LAZY).

PyInstaller runs every run-time hook at start-up, before the app's own code. Four of them only
patch a module — inspect, pkgutil, multiprocessing and PySide6 — and importing those modules is
most of what a frozen `labeldesk --version` costs (PySide6's hook loads QtCore and ICU). Here each
runs right after its module is first imported, by whoever imports it, so the patches are in place
whenever the module is used and a start that never imports it does not pay for it (APP-5b).
"""
import sys

LAZY = {}          # module name -> source of the PyInstaller run-time hook for it (filled in by the spec)


def _run(name):
    source = LAZY.pop(name, None)
    if source is not None:
        exec(compile(source, f"<run-time hook for {name}>", "exec"), {"__name__": f"pyi_rth_lazy_{name}"})


class _HookedLoader:
    """Delegates to the module's own loader, then runs the deferred hook once the module exists."""

    def __init__(self, loader, name):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _run(self._name)

    def __getattr__(self, attr):           # get_code, get_source, is_package, resource readers…
        return getattr(self._loader, attr)


class _PostImportFinder:
    def find_spec(self, name, path=None, target=None):
        if name not in LAZY:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookedLoader(spec.loader, name)
                return spec
        return None

    def invalidate_caches(self):
        pass


def _install():
    for name in [n for n in LAZY if n in sys.modules]:    # imported already: patch it now
        _run(name)
    sys.meta_path.insert(0, _PostImportFinder())
