from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core.geometry import GeometryError
from labeldesk.core.models import registry
from labeldesk.core.models.manifest import load
from labeldesk.core.models.sam import (NEGATIVE, POSITIVE, EmbeddingCache, Prompt, SamModel, prompt_from_mask,
                                       propagate)


def _disk(h, w, cx, cy, r):
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r


@pytest.fixture
def sam(sam_manifest):
    m = load(sam_manifest)
    return SamModel(m, sam_manifest.parent / "tiny_sam_encoder.onnx", sam_manifest.parent / "tiny_sam_decoder.onnx")


def test_a_click_on_a_bright_object_gives_its_mask_on_a_non_square_plane(sam):
    h, w = 300, 400                                   # scale 256/400: the padded frame is cropped back
    truth = _disk(h, w, 250, 120, 40)
    img = np.where(truth, 220, 20).astype(np.uint8)
    emb = sam.embed(img)
    assert emb.size == (h, w) and emb.features.shape == (1, 8, 16, 16)
    res = sam.decode(emb, Prompt([(250, 120, POSITIVE)]))
    assert res.mask.shape == (h, w)
    inter, union = (res.mask & truth).sum(), (res.mask | truth).sum()
    assert inter / res.mask.sum() > 0.97 and inter / union > 0.75     # the tiny model works on 16-px cells
    assert res.score == pytest.approx(0.9)
    poly = res.geometry()
    x0, y0, x1, y1 = poly.bounds()
    assert abs((x0 + x1) / 2 - 250) < 8 and abs((y0 + y1) / 2 - 120) < 8


def test_prompts_follow_the_sam_export_conventions(sam):
    emb = sam.embed(np.zeros((128, 512), np.uint8))          # scale 0.5
    f = sam.feeds(emb, Prompt([(10, 20, POSITIVE), (30, 40, NEGATIVE)]))
    assert f["point_coords"].tolist() == [[[5, 10], [15, 20], [0, 0]]]
    assert f["point_labels"].tolist() == [[1, 0, -1]]         # padding point when there is no box
    assert f["has_mask_input"].tolist() == [0.0] and f["orig_im_size"].tolist() == [128, 512]
    prev = np.ones((1, 1, 64, 64), np.float32)
    f = sam.feeds(emb, Prompt([(10, 20, POSITIVE)], box=(100, 80, 20, 4)), prev)
    assert f["point_coords"].tolist() == [[[5, 10], [10, 2], [50, 40]]]
    assert f["point_labels"].tolist() == [[1, 2, 3]]
    assert f["has_mask_input"].tolist() == [1.0] and f["mask_input"] is not None
    with pytest.raises(GeometryError, match="click on the object"):
        sam.decode(emb, Prompt())


def test_a_click_on_background_finds_nothing(sam):
    img = np.where(_disk(256, 256, 60, 60, 20), 220, 20).astype(np.uint8)
    res = sam.decode(sam.embed(img), Prompt([(200, 200, POSITIVE)]))
    assert not res.mask.any()
    with pytest.raises(GeometryError, match="found nothing"):
        res.geometry()


def test_embedding_cache_keeps_to_its_memory_bound(sam):
    emb = sam.embed(np.zeros((64, 64), np.uint8))
    cache = EmbeddingCache(max_bytes=emb.nbytes * 2)
    for z in range(5):
        cache.put(("a", z), emb)
    assert len(cache) == 2 and ("a", 4) in cache and ("a", 0) not in cache
    cache.get(("a", 3))
    cache.put(("a", 5), emb)
    assert ("a", 3) in cache and ("a", 4) not in cache


def test_propagation_follows_a_moving_object_and_stops_where_it_ends(sam):
    h = w = 256
    slices = [np.where(_disk(h, w, 100 + 4 * z, 128, 30), 220, 20).astype(np.uint8) for z in range(6)]
    slices.append(np.full((h, w), 20, np.uint8))               # the object ends here
    first = _disk(h, w, 100, 128, 30)
    out = propagate(sam, first, [(z, slices[z]) for z in range(1, 7)])
    assert [k for k, _ in out] == [1, 2, 3, 4, 5]
    for z, res in out:
        truth = _disk(h, w, 100 + 4 * z, 128, 30)
        assert (res.mask & truth).sum() / (res.mask | truth).sum() > 0.7
    p = prompt_from_mask(first)
    assert p.points[0][2] == POSITIVE and abs(p.points[0][0] - 100) < 2


def test_a_registered_sam_opens_from_the_project(project, sam_manifest):
    rec = registry.add(project, sam_manifest)
    model = SamModel.from_record(project, rec)
    img = np.where(_disk(64, 64, 32, 32, 12), 200, 0).astype(np.uint8)
    assert model.decode(model.embed(img), Prompt([(32, 32, POSITIVE)])).mask.sum() > 300
