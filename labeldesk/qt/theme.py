"""Light and dark themes. "system" (the default) follows the desktop's colour scheme; the palette
is Qt's Fusion style with our colours, plus a small style sheet from resources/styles."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.paths import resources_dir

THEMES = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))
DARK = {
    "Window": "#1f2227", "WindowText": "#dfe3e8", "Base": "#17191d", "AlternateBase": "#24282d",
    "ToolTipBase": "#30353c", "ToolTipText": "#e6e6e6", "Text": "#dfe3e8", "Button": "#2a2e34",
    "ButtonText": "#dfe3e8", "BrightText": "#ff6b6b", "Highlight": "#2f81f7", "HighlightedText": "#ffffff",
    "Link": "#58a6ff", "PlaceholderText": "#7d8590", "Mid": "#3a4048", "Dark": "#121417", "Light": "#3a4048",
}


def resolved(choice: str) -> str:
    """'light' or 'dark' for a choice of 'system', 'light' or 'dark'."""
    if choice in ("light", "dark"):
        return choice
    hints = QtGui.QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else QtCore.Qt.ColorScheme.Unknown
    return "dark" if scheme == QtCore.Qt.ColorScheme.Dark else "light"


def dark_palette() -> QtGui.QPalette:
    pal = QtGui.QPalette()
    for role, colour in DARK.items():
        pal.setColor(getattr(QtGui.QPalette.ColorRole, role), QtGui.QColor(colour))
    grey = QtGui.QColor("#6e7681")
    for role in ("WindowText", "Text", "ButtonText"):
        pal.setColor(QtGui.QPalette.ColorGroup.Disabled, getattr(QtGui.QPalette.ColorRole, role), grey)
    return pal


def apply_theme(choice: str, app: QtWidgets.QApplication | None = None) -> str:
    """Apply a theme to the application; returns the one in effect ('light' or 'dark')."""
    app = app or QtWidgets.QApplication.instance()
    name = resolved(choice)
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if name == "dark" else app.style().standardPalette())
    qss = resources_dir() / "styles" / f"{name}.qss"
    app.setStyleSheet(qss.read_text(encoding="utf-8") if qss.is_file() else "")
    app.setProperty("labeldesk_theme", name)
    return name
