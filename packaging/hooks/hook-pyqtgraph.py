"""pyqtgraph for labeldesk's dashboards: the contrib hook imports every submodule to find its
templates, including pyqtgraph.opengl (needs PyOpenGL, which labeldesk does not use) — a warning
on every build. This one skips the 3-D, Jupyter and example modules."""
from PyInstaller.utils.hooks import collect_data_files, collect_submodules
from PyInstaller.utils.hooks.qt import exclude_extraneous_qt_bindings

UNUSED = ("pyqtgraph.examples", "pyqtgraph.opengl", "pyqtgraph.jupyter")

datas = collect_data_files("pyqtgraph", excludes=["**/examples/*", "**/opengl/*"])
hiddenimports = [name for name in collect_submodules("pyqtgraph", filter=lambda name: not name.startswith(UNUSED))
                 if "Template" in name]
hiddenimports += ["pyqtgraph.multiprocess.bootstrap"]
excludedimports = exclude_extraneous_qt_bindings(hook_name="hook-pyqtgraph", qt_bindings_order=None) + list(UNUSED)
