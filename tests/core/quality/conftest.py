from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from tests.core.conftest import add_image_asset  # noqa: F401


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "proj", "test", user_name="alice")
    yield p
    p.close()


def make_class(project, name, **extra):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name, **extra}}))
    return cid


def box_draft(asset_id, layer_id, class_id, xyxy, z=0, t=0, track=None, **extra):
    d = {"asset_id": asset_id, "layer_id": layer_id, "class_id": class_id,
         "geometry": {"kind": "box", "xyxy": list(xyxy)}, "plane": {"z": z, "t": t}, **extra}
    if track:
        d["track_id"] = track
    return OpDraft("annotation.create", ids.new_id(), {"annotation": d})


def add_boxes(project, asset_id, class_id, boxes, layer_id=None, **kw):
    layer = layer_id or project.my_layer_id
    applied = project.apply_all([box_draft(asset_id, layer, class_id, b, **kw) for b in boxes])
    return [a.op.entity for a in applied]
