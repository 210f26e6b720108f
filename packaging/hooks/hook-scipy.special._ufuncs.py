"""scipy.special._ufuncs: PyInstaller's hook names ``scipy.special._cdflib`` for SciPy >= 1.13,
which later SciPy releases merged away ("Hidden import … not found" on every build). Name only the
modules this SciPy has."""
import importlib.util

CANDIDATES = ("scipy.special._ufuncs_cxx", "scipy.special._cdflib", "scipy.special._special_ufuncs")
hiddenimports = [m for m in CANDIDATES if importlib.util.find_spec(m) is not None]
