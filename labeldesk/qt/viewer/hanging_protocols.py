"""Hanging protocols and prior/current comparison in the window.

View ▸ "Save hanging protocol for this kind of series…" remembers the layout (1×3 reformat
included), the window/level and the links for the active series' modality, body part and series
description (a glob the reader can widen, e.g. ``*head*``); whenever a matching series is opened
from the asset list, they are applied. View ▸ "Compare with another series…" puts a second volume
of the same patient (prior/current, or another sequence) beside the current one with slice position
linked in patient coordinates and W/L linked."""
from __future__ import annotations

import json
from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.core.hanging import HangingProtocol, best_match, for_series

SETTING = "viewer/hanging_protocols"          # JSON list of HangingProtocol.to_dict()


def _settings() -> QtCore.QSettings:
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "labeldesk", "labeldesk")


def protocols() -> list[HangingProtocol]:
    raw = _settings().value(SETTING, "")
    try:
        return [HangingProtocol.from_dict(d) for d in json.loads(raw)] if raw else []
    except (ValueError, TypeError, KeyError):
        return []


def save_protocols(items: list[HangingProtocol]) -> None:
    s = _settings()
    s.setValue(SETTING, json.dumps([p.to_dict() for p in items]))
    s.sync()


def current_layout(window: Any) -> str:
    views = window.grid.visible_views()
    axes = sorted(v.plane.axis for v in views)
    if window.grid.layout_name == "1x3" and axes == ["axial", "coronal", "sagittal"] \
            and len({v.asset_id for v in views}) == 1:
        return "mpr"
    return window.grid.layout_name


def save_for_current(window: Any, name: str | None = None, pattern: str | None = None) -> HangingProtocol | None:
    """Remember the active series' layout, W/L and links for its kind of series."""
    if window.project is None or window.current_asset_id is None or window.viewport.source is None:
        return None
    asset = window.project.asset(window.current_asset_id)
    proto = for_series(asset, name or "", current_layout(window), window.viewport.window,
                       {k: v for k, v in window.links.items()})
    if name is None:
        text, ok = QtWidgets.QInputDialog.getText(
            window, "Hanging protocol", "Series description pattern (glob; empty: any):",
            text=proto.series_pattern)
        if not ok:
            return None
        pattern = text
        name = " ".join(x for x in (proto.modality, pattern or "any series") if x)
    from dataclasses import replace
    proto = replace(proto, name=name, series_pattern=pattern if pattern is not None else proto.series_pattern)
    items = [p for p in protocols() if p.name != proto.name] + [proto]
    save_protocols(items)
    window.statusBar().showMessage(f"hanging protocol {proto.name!r} saved: {proto.layout}"
                                   + (f", W {proto.window[1]:g} L {proto.window[0]:g}" if proto.window else ""), 8000)
    return proto


def apply_for(window: Any, asset_id: str) -> HangingProtocol | None:
    """Apply the best matching protocol to a series just opened (not while a session is restored)."""
    if window.project is None:
        return None
    asset = window.project.asset(asset_id)
    proto = best_match(protocols(), asset)
    if proto is None or asset.kind != "volume" and proto.layout == "mpr":
        return None
    if getattr(window, "_applying_protocol", False):
        return None
    window._applying_protocol = True
    try:
        for key, on in proto.links.items():
            act = window.actions_by_id.get(f"link_{key}")
            if act is not None:
                act.setChecked(on)
            else:
                window.links[key] = on
        if proto.layout == "mpr":
            if current_layout(window) != "mpr" or window.viewport.asset_id != asset_id:
                window.show_mpr()
        elif proto.layout != window.grid.layout_name:
            window.set_layout(proto.layout)
        if proto.window:
            window.viewport.set_window(*proto.window)
    finally:
        window._applying_protocol = False
    window.statusBar().showMessage(f"hanging protocol {proto.name!r}", 5000)
    return proto


def compare_with(window: Any, other_id: str | None = None) -> bool:
    """The active series and another one side by side, slice position linked in patient mm."""
    if window.project is None or window.current_asset_id is None:
        return False
    current = window.current_asset_id
    volumes = [a for a in window.project.assets() if a.kind == "volume" and a.id != current]
    if other_id is None:
        if not volumes:
            window.statusBar().showMessage("there is no other volume in this project to compare with", 8000)
            return False
        names = [a.name for a in volumes]
        name, ok = QtWidgets.QInputDialog.getItem(window, "Compare", "Show beside the current series:", names, 0, False)
        if not ok:
            return False
        other_id = volumes[names.index(name)].id
    window.set_layout("1x2")
    left, right = window.grid.visible_views()[:2]
    if left.asset_id != current:
        window.show_asset(current, left)
    for key in ("slice", "window"):
        act = window.actions_by_id.get(f"link_{key}")
        if act is not None:
            act.setChecked(True)
        window.links[key] = True
    window.show_asset(other_id, right)
    window.grid.set_active(left)
    return True


def install(window: Any) -> None:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    save = menu.addAction("Save &hanging protocol for this kind of series…", lambda: save_for_current(window))
    compare = menu.addAction("Compare with another &series (prior/current)…", lambda: compare_with(window))
    window.actions_by_id.update({"save_hanging_protocol": save, "compare_series": compare})
    window.asset_panel.sig_asset_selected.connect(lambda asset_id: _on_selected(window, asset_id))


def _on_selected(window: Any, asset_id: str) -> None:
    if getattr(window, "_restoring_session", False):      # reopening after a crash: as it was
        return
    QtCore.QTimer.singleShot(0, window, lambda: _when_shown(window, asset_id))


def _when_shown(window: Any, asset_id: str) -> None:
    """Apply the protocol once the selected series is on screen."""
    if window.viewport.asset_id == asset_id and window.viewport.source is not None:
        apply_for(window, asset_id)
        return

    def shown(shown_id: str) -> None:
        window.sig_asset_shown.disconnect(shown)
        if shown_id == asset_id:
            apply_for(window, asset_id)
    window.sig_asset_shown.connect(shown)
