"""Format-level hostile inputs: a self-intersecting polygon of very many vertices in COCO, CVAT,
labelme and YOLO-seg, and a labelme mask PNG bomb, are refused with a clear message."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from format_fixtures import add_asset, add_class

from labeldesk.core import interchange
from labeldesk.core.formats.context import MAX_VERTICES

N = MAX_VERTICES + 1


def _zigzag(n: int) -> np.ndarray:
    """A self-intersecting ring of n vertices inside a 64x48 image (GEOS's repair of such a ring
    at a million vertices allocated 13 GB)."""
    t = np.arange(n)
    return np.stack([1 + (t * 7919 % 62), 1 + (t * 104729 % 46)], axis=1).astype(float)


@pytest.fixture
def scene(proj):
    add_asset(proj, "a.png", 64, 48)
    add_class(proj, "car")
    return proj


def _refused(rep, what: str) -> None:
    assert rep.imported == 1, rep.lines()                 # the good shape beside it is imported
    assert any(f"{N} vertices" in i.reason or f"{N} points" in i.reason for i in rep.refused), rep.lines()


def test_coco(scene, tmp_path):
    ring = _zigzag(N).ravel().tolist()
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [ring]},
                           {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
           "categories": [{"id": 1, "name": "car"}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    _refused(interchange.import_file(scene, "coco", tmp_path / "c.json"), "coco")


def test_cvat(scene, tmp_path):
    pts = ";".join(f"{x},{y}" for x, y in _zigzag(N))
    (tmp_path / "c.xml").write_text(f"""<annotations><version>1.1</version>
      <image id="0" name="a.png" width="64" height="48">
        <polygon label="car" points="{pts}"/><box label="car" xtl="1" ytl="1" xbr="10" ybr="10"/>
      </image></annotations>""")
    _refused(interchange.import_file(scene, "cvat", tmp_path / "c.xml"), "cvat")


def test_labelme(scene, tmp_path):
    doc = {"imagePath": "a.png", "imageWidth": 64, "imageHeight": 48, "shapes": [
        {"label": "car", "shape_type": "polygon", "points": _zigzag(N).tolist()},
        {"label": "car", "shape_type": "rectangle", "points": [[1, 1], [9, 9]]}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    _refused(interchange.import_file(scene, "labelme", tmp_path / "a.json"), "labelme")


def test_yolo_seg(scene, tmp_path):
    (tmp_path / "ds/labels").mkdir(parents=True)
    (tmp_path / "ds/data.yaml").write_text("names: [car]\n")
    ring = " ".join(f"{x / 64:.5f} {y / 48:.5f}" for x, y in _zigzag(N))
    (tmp_path / "ds/labels/a.txt").write_text(f"0 {ring}\n0 0.5 0.5 0.2 0.2\n")
    rep = interchange.import_file(scene, "yolo-seg", tmp_path / "ds")
    assert rep.imported == 1 and any(f"more than {MAX_VERTICES} vertices" in i.reason for i in rep.refused)


@pytest.mark.parametrize("pil_limit", [True, False])
def test_labelme_mask_png_bomb_is_refused_before_it_is_decoded(scene, tmp_path, monkeypatch, pil_limit):
    from PIL import Image
    if not pil_limit:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)         # as labeldesk's raster reader sets it
    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, format="PNG")       # 900 Mpx of zeros: a few hundred KB
    bomb = base64.b64encode(buf.getvalue()).decode()
    doc = {"imagePath": "a.png", "imageWidth": 64, "imageHeight": 48, "shapes": [
        {"label": "car", "shape_type": "mask", "points": [[0, 0], [9, 9]], "mask": bomb},
        {"label": "car", "shape_type": "mask", "points": [[0, 0], [29999, 29999]], "mask": bomb},
        {"label": "car", "shape_type": "rectangle", "points": [[1, 1], [9, 9]]}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    rep = interchange.import_file(scene, "labelme", tmp_path / "a.json")
    assert rep.imported == 1
    reasons = [i.reason for i in rep.refused]
    # refused from the PNG header (by PIL's own bomb check, or by ours where the app lifted PIL's limit)
    assert any("the PNG is 30000x30000, its box is 10x10" in r or "decompression bomb" in r for r in reasons), reasons
    assert any("larger than the 64x48 image" in r for r in reasons), reasons
