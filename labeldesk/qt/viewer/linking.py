"""Viewports that move together: links (pan/zoom, window/level, slice position in patient mm,
frame) and the 1x3 reformat layout with its crosshair. Functions of the main window."""
from __future__ import annotations

from typing import Any


def propagate(window: Any, source_view: Any, what: str) -> None:
    """Carry one viewport's change to the others when that kind of link is on. W/L is linked
    across the views of one volume (MPR) unless "window_volume" is switched off."""
    same_volume = what == "window" and window.links.get("window_volume", True)
    if not (window.links.get(what) or same_volume) or getattr(window, "_propagating", False) \
            or source_view.source is None:
        return
    window._propagating = True
    try:
        for v in window.grid.visible_views():
            if v is source_view or v.source is None:
                continue
            if what == "pan_zoom":
                v.zoom, v.center = source_view.zoom, source_view.center
                v._display = None
                v.update()
            elif what == "window" and (window.links.get("window") or v.source is source_view.source):
                v.set_window(*source_view.window)
            elif what == "slice" and v.plane.axis == source_view.plane.axis:
                if v.asset_id == source_view.asset_id:
                    v.set_plane(type(v.plane)(source_view.plane.z, v.plane.t, v.plane.axis))
                else:
                    v.go_to_position_mm(source_view.slice_position_mm())
            elif what == "frame" and v.source.info.frames > 1:
                v.set_plane(type(v.plane)(v.plane.z, min(source_view.plane.t, v.source.info.frames - 1), v.plane.axis))
    finally:
        window._propagating = False

def show_mpr(window: Any) -> None:
    """The active viewport's volume in axial, coronal and sagittal viewports with a crosshair."""
    view = window.viewport
    if view.source is None or view.source.info.kind != "volume":
        window.statusBar().showMessage("the 1×3 reformat layout needs a volume (a DICOM series or NIfTI)", 8000)
        return
    asset_id, source = view.asset_id, view.source
    window.set_layout("1x3")
    for v, axis in zip(window.grid.visible_views(), ("axial", "coronal", "sagittal")):
        if v.source is not source:
            v.asset_id = asset_id
            v.set_source(source)
        v.show_axis(axis)
        v.fit()
    n = source.plane_count
    centre = (n("sagittal") // 2, n("coronal") // 2, n("axial") // 2)
    set_crosshair(window, asset_id, centre)
    window.session.refresh()

def follow_slice(window: Any, view: Any) -> None:
    """A slice change of one reformat moves the reference lines in the others (the crosshair's
    coordinate along that axis), whatever moved it: wheel, keys, cine, a link."""
    ijk = view.crosshair_ijk
    if ijk is None or view.source is None or view.source.info.kind != "volume":
        return
    index = {"sagittal": 0, "coronal": 1, "axial": 2}[view.plane.axis]
    if ijk[index] == view.plane.z:
        return
    moved = list(ijk)
    moved[index] = view.plane.z
    for v in window.grid.visible_views():
        if v.source is view.source and v.crosshair_ijk is not None:
            v.crosshair_ijk = tuple(moved)
            v.update()

def set_crosshair(window: Any, asset_id: str, ijk: tuple[int, int, int]) -> None:
    """Move the linked cursor: every viewport on this volume goes to the slices through it."""
    from labeldesk.core.model import Plane
    for v in window.grid.visible_views():
        if v.asset_id != asset_id or v.source is None or v.source.info.kind != "volume":
            continue
        i, j, k = ijk
        z = {"axial": k, "coronal": j, "sagittal": i}[v.plane.axis]
        v.crosshair_ijk = ijk
        v.set_plane(Plane(z, v.plane.t, v.plane.axis))
        v.update()
    info = window.viewport.source.info if window.viewport.source is not None else None
    if info is not None and info.affine is not None:
        import numpy as np
        lps = np.array(info.affine) @ np.array([ijk[0], ijk[1], ijk[2], 1.0])
        window.statusBar().showMessage(f"crosshair ijk {ijk}  LPS ({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm", 10000)

def crosshair_from_click(window: Any, view: Any, image_xy: tuple[float, float]) -> None:
    n = view.source.plane_count
    x = int(min(max(image_xy[0], 0), view.plane_size()[0] - 1))
    y = int(min(max(image_xy[1], 0), view.plane_size()[1] - 1))
    ijk = {"axial": (x, y, view.plane.z), "coronal": (x, view.plane.z, y),
           "sagittal": (view.plane.z, x, y)}[view.plane.axis]
    ijk = (min(ijk[0], n("sagittal") - 1), min(ijk[1], n("coronal") - 1), min(ijk[2], n("axial") - 1))
    set_crosshair(window, view.asset_id, ijk)
