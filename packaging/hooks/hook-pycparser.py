"""pycparser (through cffi): the contrib hook names ``pycparser.lextab`` and ``pycparser.yacctab``,
the parser tables that pycparser 3 no longer ships ("Hidden import … not found" on every build).
Name only the ones this pycparser has."""
import importlib.util

hiddenimports = [m for m in ("pycparser.lextab", "pycparser.yacctab") if importlib.util.find_spec(m) is not None]
