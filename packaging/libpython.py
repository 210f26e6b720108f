"""Print the shared Python library PyInstaller will bundle; exit 1 when there is none.

Debian's and Ubuntu's python3 ship it in a separate package (libpython3.X); a pyenv Python has it
only when built with --enable-shared. `./run.sh bundle` uses this to install or explain.
"""
import sys

from PyInstaller.depend.bindepend import get_python_library_path

path = get_python_library_path()
if not path:
    sys.exit(1)
print(path)
