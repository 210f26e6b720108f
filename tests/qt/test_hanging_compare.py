"""Hanging protocols applied when a matching series opens; prior/current side by side with the
slice position linked in patient coordinates."""
from __future__ import annotations

from labeldesk.core.display import CT_PRESETS
from labeldesk.core.model import Plane
from labeldesk.qt.viewer import hanging_protocols


def test_a_saved_protocol_is_applied_when_such_a_series_opens(qtbot, window, show):
    show("CT series")
    window.show_mpr()
    window.viewport.preset("lung")
    proto = hanging_protocols.save_for_current(window, "CT abdomen", "*abdomen*")
    assert proto.layout == "mpr" and proto.modality == "CT" and proto.window == CT_PRESETS["lung"]
    window.set_layout("1x1")
    show("site-photo-1")
    window.viewport.set_window(127.5, 255.0)
    show("CT series")
    qtbot.waitUntil(lambda: window.grid.layout_name == "1x3", timeout=5000)
    assert [v.plane.axis for v in window.grid.visible_views()] == ["axial", "coronal", "sagittal"]
    assert all(v.window == CT_PRESETS["lung"] for v in window.grid.visible_views())
    brain = show("brain-phantom")                 # a NIfTI volume: no modality, no protocol
    assert hanging_protocols.apply_for(window, brain.id) is None


def test_prior_and_current_side_by_side_linked_in_patient_mm(qtbot, window, show, tmp_path):
    from labeldesk.core.importer import add_paths
    from labeldesk.core.samples.ct import write_ct_series
    write_ct_series(tmp_path / "prior", n_slices=8, size=128, spacing=(0.7, 0.7, 5.0), seed=4,
                    series_description="Prior abdomen")
    add_paths(window.project, [tmp_path / "prior"])
    window.refresh_assets()
    prior = next(a for a in window.project.assets() if "Prior" in a.name)
    current = show("Synthetic abdomen")
    assert hanging_protocols.compare_with(window, prior.id)
    left, right = window.grid.visible_views()
    qtbot.waitUntil(lambda: right.source is not None and getattr(right.source, "complete", True), timeout=20000)
    assert left.asset_id == current.id and right.asset_id == prior.id
    left.set_plane(Plane(8))                      # 2.5 mm slices: 20 mm above the first slice
    assert right.plane.z == 4                     # 5 mm slices: the same patient position
    left.set_plane(Plane(2))
    assert right.plane.z == 1
    left.preset("bone")
    assert right.window == CT_PRESETS["bone"]
