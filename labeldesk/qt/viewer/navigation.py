"""How a person moves through what they read: the mouse wheel, the corner overlays, reference lines
and the W/L link of the views of one volume. Functions of the main window (installed by one hook).

Wheel: on volumes the wheel pages slices (toward you = next slice) and Ctrl+wheel zooms, as in
PACS, 3D Slicer and ITK-SNAP; images and large images keep wheel zoom (Ctrl+wheel steps video
frames). The setting ``viewer/wheel_zooms_volumes`` (View ▸ "Wheel zooms volumes") swaps the two on
volumes; the settings dialog may show the same key."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from labeldesk.qt.viewer import corner_overlay, linking

WHEEL_SETTING = "viewer/wheel_zooms_volumes"        # bool; default False (wheel pages slices)
CORNERS_SETTING = "viewer/corner_overlays"          # bool; default True


def _settings() -> QtCore.QSettings:
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "labeldesk", "labeldesk")


def wheel_zooms_volumes() -> bool:
    return _settings().value(WHEEL_SETTING, False, type=bool)


def set_wheel_zooms_volumes(on: bool) -> None:
    s = _settings()
    s.setValue(WHEEL_SETTING, bool(on))
    s.sync()


def wheel_pages(kind: str | None, ctrl: bool) -> bool:
    """Whether a wheel turn (with or without Ctrl) pages slices/frames rather than zooming."""
    if kind == "volume":
        return ctrl == wheel_zooms_volumes()
    return ctrl


def wire(window: Any, view: Any) -> None:
    """Per viewport: reference lines follow its slice; its corner facts follow its asset; it
    draws the window's segments; its view state is saved as it changes."""
    view.segment_state = getattr(window, "segment_state", None)
    panel = getattr(window, "segments_panel", None)
    if panel is not None:               # mean ± SD waits for a volume that is still loading
        view.sig_plane_changed.connect(lambda _p: panel.refresh_if_pending())
    view.sig_plane_changed.connect(lambda _p, v=view: linking.follow_slice(window, v))
    view.sig_plane_changed.connect(lambda _p, v=view: corner_overlay.facts_for(window, v))
    from labeldesk.qt import window_state
    for signal in (view.sig_plane_changed, view.sig_view_changed, view.sig_window_changed):
        signal.connect(lambda *_a: window_state.schedule_save(window))


def install(window: Any) -> None:
    """View menu entries: corner overlays (H), wheel behaviour, W/L link of one volume's views;
    the measurement tools and the Measurements panel."""
    corner_overlay.CornerState.visible = _settings().value(CORNERS_SETTING, True, type=bool)
    window.links.setdefault("window_volume", True)
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    menu.addSeparator()
    corners = menu.addAction("Corner &overlays and orientation markers")
    corners.setCheckable(True)
    corners.setChecked(corner_overlay.CornerState.visible)
    corners.setShortcut(QtGui.QKeySequence("H"))
    corners.toggled.connect(lambda on: _set_corners(window, on))
    wheel = menu.addAction("&Wheel zooms volumes (Ctrl+wheel pages slices)")
    wheel.setCheckable(True)
    wheel.setChecked(wheel_zooms_volumes())
    wheel.toggled.connect(set_wheel_zooms_volumes)
    same = menu.addAction("Link W/L of the views of one volume")
    same.setCheckable(True)
    same.setChecked(True)
    same.toggled.connect(lambda on: window.links.__setitem__("window_volume", on))
    window.actions_by_id.update({"corner_overlays": corners, "wheel_zooms_volumes": wheel,
                                 "link_window_volume": same})
    from labeldesk.qt import window_state           # layout and active viewport changes are saved too
    window.grid.sig_active_changed.connect(lambda _v: window_state.schedule_save(window))
    window.session.sig_annotations_changed.connect(lambda: window_state.schedule_save(window))
    from labeldesk.qt.panels import measurements_panel, segments_panel
    from labeldesk.qt.tools import measurement_tools
    measurement_tools.install(window)
    measurements_panel.install(window)
    segments_panel.install(window)
    from labeldesk.qt.viewer import hanging_protocols
    hanging_protocols.install(window)


def _set_corners(window: Any, on: bool) -> None:
    corner_overlay.CornerState.visible = bool(on)
    _settings().setValue(CORNERS_SETTING, bool(on))
    for v in window.grid.views:
        v.update()
