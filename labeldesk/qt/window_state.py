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

SAVE_DELAY_MS = 200       # view changes are written this long after the last one (a drag writes once)


def schedule_save(window: Any) -> None:
    """Save the view state soon: called on every zoom, pan, slice, frame and W/L change, so a crash
    (kill -9, power loss) loses at most the last fraction of a second of navigation."""
    timer = getattr(window, "_view_state_timer", None)
    if timer is None:
        timer = QtCore.QTimer(window)
        timer.setSingleShot(True)
        timer.setInterval(SAVE_DELAY_MS)
        timer.timeout.connect(lambda: save_view_state(window))
        window._view_state_timer = timer
    if not getattr(window, "_restoring_view", False):
        timer.start()


def save_view_state(window: Any) -> None:
    """Per asset: the active viewport's zoom, pan, slice, frame, W/L, invert and colour map; per
    project: the layout, the asset shown and every visible viewport's state (restored on open)."""
    import json
    if window.project is None or not any(v.asset_id for v in window.grid.visible_views()):
        return                   # nothing shown yet (a project opening): the last session stays
    s = settings()
    view = window.viewport
    if window.current_asset_id and view.source is not None and view.asset_id == window.current_asset_id:
        s.setValue(f"view/{window.project.id}/{window.current_asset_id}", json.dumps(view.view_state()))
    views = [{"asset_id": v.asset_id, "state": v.view_state() if v.source is not None else None}
             for v in window.grid.visible_views()]
    session = {"layout": window.grid.layout_name, "asset_id": window.current_asset_id,
               "active": window.grid.visible_views().index(view) if view in window.grid.visible_views() else 0,
               "views": views}
    s.setValue(f"session/{window.project.id}", json.dumps(session))
    s.sync()                 # on disk now: the point is to survive a crash


def last_session(window: Any) -> dict[str, Any] | None:
    import json
    raw = settings().value(f"session/{window.project.id}", "")
    try:
        session = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(session, dict) or session.get("asset_id") not in set(window.asset_panel.asset_ids()):
        return None
    return session


def restore_session(window: Any) -> bool:
    """Show what was on screen when this project was last used (also after a crash): the asset,
    then the layout (MPR of one volume included) and each viewport's state. False: nothing saved."""
    session = last_session(window)
    if session is None:
        return False
    asset_id = session["asset_id"]
    views = session.get("views") or []

    def shown(shown_id: str) -> None:
        if shown_id != asset_id:
            return
        window.sig_asset_shown.disconnect(shown)
        _restore_layout(window, session, views)
    window.sig_asset_shown.connect(shown)
    window._restoring_session = True              # hanging protocols leave a restored session alone
    try:
        window.asset_panel.select(asset_id)
    finally:
        window._restoring_session = False
    return True


def _restore_layout(window: Any, session: dict[str, Any], views: list[dict[str, Any]]) -> None:
    from labeldesk.qt.viewer.viewport_grid import LAYOUTS
    layout = session.get("layout", "1x1")
    axes = [((v.get("state") or {}).get("plane") or {}).get("axis") for v in views]
    same = len(views) == 3 and all(v.get("asset_id") == session["asset_id"] for v in views)
    window._restoring_view = True
    try:
        if layout == "1x3" and same and sorted(a or "" for a in axes) == ["axial", "coronal", "sagittal"]:
            window.show_mpr()
            for v, saved in zip(window.grid.visible_views(), views):
                if saved.get("state"):
                    v.restore_state(saved["state"])
        elif layout in LAYOUTS and layout != window.grid.layout_name:
            window.set_layout(layout)
        active = int(session.get("active", 0))
        visible = window.grid.visible_views()
        if 0 <= active < len(visible) and visible[active].source is not None:
            window.grid.set_active(visible[active])
    finally:
        window._restoring_view = False


def remembered_view_state(project: Any, asset_id: str) -> dict[str, Any] | None:
    """The zoom, pan, slice… remembered for this asset (restored when it is shown), if any."""
    import json
    raw = settings().value(f"view/{project.id}/{asset_id}", "")
    try:
        state = json.loads(raw) if raw else None
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def restore_view_state(window: Any, asset_id: str) -> None:
    import json
    raw = settings().value(f"view/{window.project.id}/{asset_id}", "")
    if raw:
        try:
            window._restoring_view = True
            window.viewport.restore_state(json.loads(raw))
        except ValueError:
            pass
        finally:
            window._restoring_view = False
