"""What the window remembers and shows beside the work: the labeling guide (once per user and
project), the asset header dialog, and the view state of each asset (QSettings, INI format)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets


def labeling_guide(window: Any) -> dict[str, Any] | None:
    import json
    row = window.project.conn.execute("SELECT value FROM meta WHERE key = 'setting.labeling_guide'").fetchone()
    return json.loads(row[0]) if row else None

def show_labeling_guide_once(window: Any) -> None:
    """The project's labeling guide, the first time this user opens this project here."""
    if window.project is None or not window.offer_guide or window.labeling_guide() is None:
        return
    settings = QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                                "labeldesk", "labeldesk")
    key = f"guide_seen/{window.project.id}/{window.project.user_id}"
    if settings.value(key, False, type=bool):
        return
    settings.setValue(key, True)
    window.show_labeling_guide()

def show_labeling_guide(window: Any) -> None:
    guide = window.labeling_guide() if window.project else None
    if not guide:
        QtWidgets.QMessageBox.information(window, "Labeling guide", "This project has no labeling guide yet.")
        return
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, guide.get("title", "Labeling guide"),
                                guide.get("text", ""), QtWidgets.QMessageBox.StandardButton.Ok, window)
    box.setInformativeText("Each class has its own guide card in the Classes panel. "
                           "Help ▸ Labeling guide shows this again.")
    window.guide_box = box
    box.open()

def show_header(window: Any) -> None:
    from labeldesk.qt.dialogs.header_dialog import header_dialog
    if window.project is None or window.current_asset_id is None or window.viewport.source is None:
        return
    asset = window.project.asset(window.current_asset_id)
    try:
        window.header_dialog = header_dialog(window, asset, window.project.locator(asset.id), window.viewport.source.info)
    except Exception as exc:   # a header that cannot be read is reported, not fatal
        QtWidgets.QMessageBox.warning(window, "Header", f"{asset.name}: {exc}")
        return
    window.header_dialog.show()

# ---- view state per asset -------------------------------------------------------------------
def settings() -> QtCore.QSettings:
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "labeldesk", "labeldesk")

def save_view_state(window: Any) -> None:
    import json
    if window.project is not None and window.current_asset_id and window.viewport.source is not None:
        settings().setValue(f"view/{window.project.id}/{window.current_asset_id}",
                                  json.dumps(window.viewport.view_state()))

def restore_view_state(window: Any, asset_id: str) -> None:
    import json
    raw = settings().value(f"view/{window.project.id}/{asset_id}", "")
    if raw:
        try:
            window.viewport.restore_state(json.loads(raw))
        except ValueError:
            pass
