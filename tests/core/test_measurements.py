"""Measurements: ROI statistics in rescaled units and mm², and measurements stored as annotations
through ops (validated, undoable)."""
from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.geometry import Box, Ellipse, Polygon, Polyline
from labeldesk.core.measure import describe, region_mask, roi_stats
from labeldesk.core.model import Annotation, Plane
from labeldesk.core.ops import OpDraft
from tests.core.conftest import add_image_asset


def test_region_mask_counts_pixel_centres():
    assert region_mask(Box(2, 3, 12, 8), 20, 20).sum() == 50
    hole = Polygon(((0, 0), (10, 0), (10, 10), (0, 10)), (((3, 3), (7, 3), (7, 7), (3, 7)),))
    assert region_mask(hole, 20, 20).sum() == 100 - 16
    disk = region_mask(Ellipse(50, 50, 20, 20), 100, 100).sum()
    assert abs(disk - np.pi * 400) < 10


def test_roi_stats_in_hounsfield_units_and_mm2():
    stored = np.full((64, 64), 1064, dtype=np.int16)        # 40 HU with intercept -1024
    stored[:, 32:] = 1124                                   # 100 HU on the right half
    stats = roi_stats(stored, Box(16, 16, 48, 32), rescale=(1.0, -1024.0), px=(0.5, 0.5), unit="HU")
    assert stats.pixels == 32 * 16
    assert stats.mean == pytest.approx(70.0) and stats.min == 40 and stats.max == 100
    assert stats.sd == pytest.approx(np.std([40] * 256 + [100] * 256, ddof=1))
    assert stats.area_mm2 == pytest.approx(32 * 16 * 0.25)
    assert "mean 70.0 HU" in stats.text() and "128.0 mm²" in stats.text()


def _ann(geom, kind):
    return Annotation("a", "asset", "L", None, Plane(), geom, {"measure": kind})


def test_describe_ruler_and_angle_in_mm_and_degrees():
    assert describe(_ann(Polyline(((0, 0), (30, 40))), "ruler"), (0.5, 0.5))["value"] == "25.00 mm"
    right = describe(_ann(Polyline(((10, 0), (0, 0), (0, 10))), "angle"), (0.5, 2.0))
    assert right["value"] == "90.0°"


def test_measurements_are_annotations_made_and_undone_by_ops(project):
    vol = add_image_asset(project, 64, 64, depth=10, kind="volume")
    ruler_id = ids.new_id()
    draft = OpDraft("annotation.create", ruler_id, {"annotation": {
        "asset_id": vol, "layer_id": project.my_layer_id, "class_id": None, "plane": {"z": 4},
        "geometry": {"kind": "polyline", "points": [[1, 1], [20, 1]]}, "attributes": {"measure": "ruler"}}})
    applied = project.apply(draft)
    assert project.annotation(ruler_id).attributes == {"measure": "ruler"}
    project.apply(applied.inverse)
    assert project.annotation(ruler_id) is None or project.annotation(ruler_id).deleted
    with pytest.raises(OpRejected, match="measure must be one of"):
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": vol, "layer_id": project.my_layer_id, "class_id": None, "plane": {"z": 4},
            "geometry": {"kind": "polyline", "points": [[1, 1], [20, 1]]}, "attributes": {"measure": "tape"}}}))
    with pytest.raises(OpRejected, match="attributes need a class"):
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": vol, "layer_id": project.my_layer_id, "class_id": None, "plane": {"z": 4},
            "geometry": {"kind": "polyline", "points": [[1, 1], [20, 1]]},
            "attributes": {"measure": "ruler", "note": "x"}}}))
