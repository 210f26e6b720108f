from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core import predictions as P
from labeldesk.core.importer import add_paths
from labeldesk.core.models import registry, tiny
from labeldesk.core.models.prelabel import planes_of, prelabel
from labeldesk.core.tasks import Progress

from conftest import add_class  # type: ignore[import-not-found]


def _png(path, img):
    from labeldesk.core.io.opencv import cv2
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def image(project, tmp_path):
    img = np.full((100, 200), 10, np.uint8)
    img[20:60, 120:180] = 230                      # a bright block at x 120..180, y 20..60
    add_paths(project, [_png(tmp_path / "block.png", img)])
    return project.assets()[0]


def test_a_detector_prelabels_into_a_predictions_layer_with_provenance(project, tmp_path, image):
    add_class(project, "Cell")
    add_class(project, "Dog")
    # model input 64x64; the 200x100 image is scaled by 0.32: box centre (150, 40) -> (48, 12.8)
    det = tiny.detector(tmp_path / "yolo.onnx", [(48, 12.8, 19.2, 12.8, 0, 0.92), (48.5, 13, 19, 12.5, 0, 0.5),
                                                 (10, 10, 4, 4, 1, 0.1)], 2, size=64)
    rec = registry.add(project, tiny.write_manifest(tmp_path / "yolo.json", "detector", {"model": det},
                                                    input_size=[64, 64], classes={"cell": "Cell", "dog": "Dog"},
                                                    name="yolo-cells", version="2026.1"))
    report = prelabel(project, rec, [(image.id, p) for p in planes_of(image)])
    assert report.predictions == 1 and not report.cancelled        # NMS took the overlapping one, 0.1 < 0.25
    layer = next(l for l in project.layers() if l.id == report.layer_id)
    assert layer.kind == "predictions" and layer.name == "yolo-cells 2026.1"
    (state,) = P.predictions(project, image.id)
    x0, y0, x1, y1 = state.prediction.geometry.bounds()
    assert (x0, y0, x1, y1) == pytest.approx((120, 20, 180, 60), abs=0.5)
    assert state.provenance.model == "yolo-cells" and state.provenance.version == "2026.1"
    assert state.score == pytest.approx(0.92, abs=1e-4) and state.status == "pending"
    assert state.provenance.class_scores["cell"] == pytest.approx(0.92, abs=1e-4)
    # accept with an edit: how much the person changed it is recorded
    from labeldesk.core.geometry import Box
    project.apply_all(P.accept_drafts(project, state.prediction, geometry=Box(120, 20, 170, 60).to_dict()))
    state = P.state_of(project, state.prediction.id)
    assert state.status == "edited" and state.copies[0][1].iou == pytest.approx(50 / 60)


def test_a_segmenter_gives_one_scored_mask_per_class(project, tmp_path, image):
    add_class(project, "Lesion")
    seg = tiny.segmenter(tmp_path / "seg.onnx", size=64)
    rec = registry.add(project, tiny.write_manifest(tmp_path / "seg.json", "segmenter", {"model": seg},
                                                    input_size=[64, 64], classes={"lesion": "Lesion"}))
    report = prelabel(project, rec, [(image.id, planes_of(image)[0])])
    (state,) = P.predictions(project, image.id)
    g = state.prediction.geometry
    assert g.kind == "mask"
    truth = np.zeros((100, 200), bool)
    truth[20:60, 120:180] = True
    got = g.paste(200, 100).astype(bool)
    assert (got & truth).sum() / (got | truth).sum() > 0.9
    assert 0.5 < state.score <= 1.0 and report.predictions == 1


def test_cancel_keeps_the_planes_done(project, tmp_path):
    import nibabel as nib
    add_class(project, "Lesion")
    vol = np.zeros((40, 30, 6), np.uint8)
    vol[10:20, 5:15, :] = 200
    nib.save(nib.Nifti1Image(vol, np.eye(4)), str(tmp_path / "v.nii.gz"))
    add_paths(project, [tmp_path / "v.nii.gz"])
    asset = project.assets()[0]
    seg = tiny.segmenter(tmp_path / "seg.onnx", size=64)
    rec = registry.add(project, tiny.write_manifest(tmp_path / "seg.json", "segmenter", {"model": seg},
                                                    input_size=[64, 64], classes={"lesion": "Lesion"}))
    targets = [(asset.id, p) for p in planes_of(asset)]
    assert len(targets) == 6
    progress = Progress(lambda done, total, text: progress.cancel() if done == 3 else None)
    report = prelabel(project, rec, targets, progress)
    assert report.cancelled and [p.z for _, p in report.planes_done] == [0, 1, 2]
    assert sorted(s.prediction.plane.z for s in P.predictions(project, asset.id)) == [0, 1, 2]


def test_a_sam_model_is_not_a_prelabeler(project, sam_manifest, image):
    rec = registry.add(project, sam_manifest)
    from labeldesk.core.errors import LabeldeskError
    with pytest.raises(LabeldeskError, match="is a sam; pre-labeling runs a detector or a segmenter"):
        prelabel(project, rec, [(image.id, planes_of(image)[0])])
