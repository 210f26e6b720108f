from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.geometry import Mask
from labeldesk.core.importer import add_paths
from labeldesk.core.model import Plane
from labeldesk.core.models import learning_queue as Q
from labeldesk.core.ops import OpDraft

from conftest import add_class  # type: ignore[import-not-found]


@pytest.fixture
def volume(project, tmp_path):
    """Slices 0-3 alike (dark), 4-5 alike (a bright square), 6 unlike both (a stripe pattern)."""
    import nibabel as nib
    vol = np.zeros((32, 32, 7), np.uint8)
    vol[:, :, :4] = 20
    vol[:, :, 4:6] = 20
    vol[8:24, 8:24, 4:6] = 220
    vol[:, ::4, 6] = 250
    nib.save(nib.Nifti1Image(vol, np.eye(4)), str(tmp_path / "v.nii.gz"))
    add_paths(project, [tmp_path / "v.nii.gz"])
    return project.assets()[0]


def test_diversity_puts_unlike_slices_first_and_skips_labelled_ones(project, volume):
    organ = add_class(project, "Organ")
    m = np.zeros((32, 32), bool)
    m[10:20, 10:20] = True
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": volume.id, "layer_id": project.my_layer_id, "class_id": organ, "plane": Plane(z=0).to_dict(),
        "geometry": Mask.from_array(m).to_dict()}}))
    items = Q.build(project, "diversity")
    zs = [it.plane.z for it in items]
    assert 0 not in zs and len(zs) == 6
    assert set(zs[:2]) == {4, 6}                     # the two kinds unlike the labelled dark slice
    assert items[0].value > items[-1].value and items[-1].value == pytest.approx(0.0, abs=1e-6)


def test_a_saved_queue_is_an_op_and_the_newest_of_a_name_wins(project, volume):
    items = [Q.Item(volume.id, Plane(z=3), 0.7), Q.Item(volume.id, Plane(z=1), 0.2)]
    Q.save(project, "next week", "least-confident", items)
    assert [it.plane.z for it in Q.load(project, "next week")] == [3, 1]
    Q.save(project, "next week", "diversity", items[::-1])
    assert [it.plane.z for it in Q.load(project, "next week")] == [1, 3]
    assert Q.saved(project)["next week"]["method"] == "diversity"
    assert sum(1 for o in project.ops() if o.type == "queue.save") == 2
    with pytest.raises(LabeldeskError, match="no saved queue 'other'"):
        Q.load(project, "other")
    with pytest.raises(LabeldeskError, match="unknown queue order"):
        Q.build(project, "random")
