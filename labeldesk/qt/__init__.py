"""The desktop app (PySide6). Importing it first makes PySide6's import hook cheap
(:mod:`labeldesk.qt.import_hook`): every module imported after PySide6 passes through it."""
from labeldesk.qt import import_hook

import_hook.quicken()
