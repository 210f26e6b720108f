"""The demo project, annotated with every shape kind, through every format: each export re-imports
with no refusals, and the real readers accept the files (COCOeval, dciodvfy, highdicom, nibabel)."""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from test_seg_meaning import dciodvfy_errors

from labeldesk.core import ids, interchange
from labeldesk.core.geometry import Mask
from labeldesk.core.groups import group_drafts
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.samples.demo import build_demo

DATASETS = ("coco", "yolo", "yolo-seg", "voc")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("every")
    p = Project.open(build_demo(root / "demo", small=True))
    A = {a.name.split()[0]: a for a in p.assets()}
    C = {c.name: c for c in p.classes()}
    p.apply(OpDraft("ontology.class.update", C["Person"].id, {"set": {"keypoints": {
        "names": ["head", "l_hand", "r_hand", "feet"], "skeleton": [[1, 2], [1, 3], [1, 4]]}}}))

    def ann(asset, cls, g, plane=None, attrs=None, track=None):
        aid = ids.new_id()
        d = {"asset_id": asset.id, "layer_id": p.my_layer_id, "class_id": C[cls].id if cls else None, "geometry": g,
             "plane": plane or {"z": 0, "t": 0, "axis": "axial"}, "attributes": attrs or {}}
        if track:
            d["track_id"], d["keyframe"] = track, True
        p.apply(OpDraft("annotation.create", aid, {"annotation": d}))
        return aid

    ct = A["CT"]
    m = np.zeros((ct.height, ct.width), bool)
    m[32:64, 32:64] = True
    for z in (3, 4):
        ann(ct, "Liver", Mask.from_array(m).to_dict(), {"z": z, "t": 0, "axis": "axial"})
        ann(ct, "Lesion", {"kind": "ellipse", "cxcyrxrya": [90, 90, 6, 4, 10]}, {"z": z, "t": 0, "axis": "axial"},
            {"malignancy": C["Lesion"].attributes[0].get("options", ["x"])[0]}
            if C["Lesion"].attributes and C["Lesion"].attributes[0]["type"] == "enum" else None)
    ann(ct, "Kidney", {"kind": "polygon", "shell": [[5, 5], [30, 5], [30, 30], [5, 30]],
                       "holes": [[[10, 10], [20, 10], [20, 20], [10, 20]]]}, {"z": 5, "t": 0, "axis": "axial"})
    img = A["site-photo-1.jpg"]
    ann(img, "Vehicle", {"kind": "box", "xyxy": [10, 20, 110, 90]})
    ann(img, "Vehicle", {"kind": "rotated_box", "cxcywha": [200, 150, 60, 30, 20]})
    ann(img, "Building", {"kind": "polygon", "shell": [[300, 50], [400, 50], [400, 150], [300, 150]],
                          "holes": [[[330, 80], [370, 80], [370, 120], [330, 120]]]})
    ann(img, "Person", {"kind": "points", "points": [[50, 200], [40, 220], [70, 230]],
                        "labels": ["head", "l_hand", "feet"], "visibility": [2, 1, 2]})
    ann(img, "Defect", {"kind": "polyline", "points": [[5, 5], [60, 60], [90, 10]]})
    parts = [ann(img, "Building", {"kind": "polygon", "shell": [[x, 300], [x + 30, 300], [x + 30, 340], [x, 340]]})
             for x in (10, 60)]
    p.apply_all(group_drafts([p.annotation(a) for a in parts]))
    img2 = A["site-photo-2.png"]
    mm = np.zeros((img2.height, img2.width), bool)
    mm[40:90, 60:160] = True
    ann(img2, "Defect", Mask.from_array(mm).to_dict())
    track = ids.new_id()
    for t in (0, 1, 2, 6, 7):
        ann(A["traffic.mp4"], "Vehicle", {"kind": "box", "xyxy": [10 + t, 10, 60 + t, 40]}, {"z": 0, "t": t, "axis": "axial"},
            track=track)
    yield p, root
    p.close()


@pytest.mark.parametrize("fmt", ["coco", "yolo", "yolo-seg", "yolo-obb", "voc", "cvat", "labelme", "label-studio",
                                 "mot", "nifti", "dicom-seg", "rtstruct"])
def test_every_export_reimports_without_refusals(demo, fmt):
    p, root = demo
    dest = root / "out" / fmt
    opts = {"images": "copy", "split": "train=0.5,val=0.5"} if fmt in DATASETS else {}
    rep = interchange.export(p, fmt, dest, interchange.Selection(layer=p.my_layer_id), options=opts)
    assert rep.exported > 0
    assert all("cannot hold" in i.reason or "has no" in i.reason or "no polyline" in i.reason for i in rep.refused), \
        rep.lines()
    back = interchange.import_file(p, fmt, dest, options={"layer": f"back-{fmt}"})
    assert not back.refused, back.lines()
    assert back.imported > 0
    if fmt in ("coco", "yolo", "yolo-seg", "yolo-obb", "voc", "cvat", "labelme", "label-studio", "mot"):
        assert back.imported == rep.exported
    if fmt == "coco":
        _cocoeval(dest)
    if fmt in ("dicom-seg", "rtstruct"):
        for f in dest.rglob("*.dcm") if dest.is_dir() else [dest]:
            assert dciodvfy_errors(f) == []
    if fmt == "nifti":
        import nibabel as nib
        [f] = [f for f in dest.rglob("*.nii.gz") if f.name.startswith("CT")]
        assert sorted(np.unique(np.asarray(nib.load(f).dataobj)).tolist()) == [0, 2, 3, 5]   # stable values


def _cocoeval(dest):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    for f in (dest / "annotations").glob("instances_*.json"):
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = COCO(str(f))
            if not gt.dataset["annotations"]:
                continue
            for kind in ("bbox", "segm"):
                ev = COCOeval(gt, gt.loadRes([dict(a, score=1.0) for a in gt.dataset["annotations"]]), kind)
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
                assert float(ev.stats[0]) == pytest.approx(1.0), (f.name, kind)
