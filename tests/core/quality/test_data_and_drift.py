from __future__ import annotations

import cv2
import numpy as np

from labeldesk.core.importer import add_paths
from labeldesk.core.quality import datachecks, drift
from labeldesk.core.samples.ct import write_ct_series
from labeldesk.core.samples.images import scene_rgb, write_image
from tests.core.quality.conftest import add_boxes, make_class


def _images(tmp_path):
    base = scene_rgb(320, 240, seed=1)
    out = {
        "scene.png": base,
        "scene_copy.jpg": base,                                        # the same picture, re-encoded
        "blurred.png": cv2.GaussianBlur(scene_rgb(320, 240, seed=5, x0=900), (0, 0), 9),
        "dark.png": (scene_rgb(320, 240, seed=2, x0=400) // 60).astype(np.uint8),
        "other.png": scene_rgb(320, 240, seed=3, x0=2000, y0=700),
    }
    for name, arr in out.items():
        write_image(tmp_path / "img" / name, arr)
    return tmp_path / "img"


def test_data_checks_find_duplicates_blur_exposure(project, tmp_path):
    add_paths(project, [_images(tmp_path)])
    found, stats = datachecks.run(project)
    names = {s.asset_id: s.name for s in stats}
    by = {}
    for f in found:
        by.setdefault(f.check, []).append(f)
    [dup] = by["image_duplicate"]
    assert {names[x] for x in dup.subject.split("+")} == {"scene.png", "scene_copy.jpg"}
    assert [names[f.asset_id] for f in by["blur"]] == ["blurred.png"]
    assert [names[f.asset_id] for f in by["exposure"]] == ["dark.png"] and "under-exposed" in by["exposure"][0].reason
    assert "corrupt" not in by and "dicom_geometry" not in by


def test_dicom_missing_slice_and_corrupt_file(project, tmp_path):
    files = write_ct_series(tmp_path / "ct", n_slices=10, size=32)
    files[4].unlink()                                 # a missing slice
    add_paths(project, [tmp_path / "ct"])
    found, _ = datachecks.run(project, only=["dicom_geometry", "corrupt"])
    assert [f.check for f in found] == ["dicom_geometry"]
    assert "1 missing slice(s)" in found[0].reason and "2.50 mm apart" in found[0].reason
    files[7].write_bytes(files[7].read_bytes()[:-600])  # truncate a slice's pixel data
    found, _ = datachecks.run(project, only=["corrupt"])
    assert found and found[0].check == "corrupt" and "slice" in found[0].reason


def test_geometry_problems_pure():
    ori = np.tile([1, 0, 0, 0, 1, 0], (5, 1)).astype(float)
    pos = np.array([[0, 0, z] for z in (0, 1, 2, 3.5, 4)], float)
    assert "uneven slice spacing" in datachecks.geometry_problems(pos, ori)[0]
    ori[2] = [1, 0, 0, 0, 0, 1]
    assert any("mixed orientation" in p for p in datachecks.geometry_problems(pos, ori))


def test_psi_and_ks_against_known_values():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 5000), rng.normal(0, 1, 5000)
    same = drift.numeric("x", a, b)
    assert same.psi < 0.02 and same.p_value > 0.01 and same.verdict == "stable"
    shifted = drift.numeric("x", a, rng.normal(1, 1, 5000))
    assert shifted.psi > 0.25 and shifted.p_value < 1e-6 and shifted.verdict == "major shift"
    assert abs(shifted.ks - 0.38) < 0.04            # D = 2Φ(0.5) − 1 ≈ 0.383 for a shift of one sd
    c = drift.categorical("c", ["a"] * 50 + ["b"] * 50, ["a"] * 90 + ["b"] * 10)
    assert abs(c.psi - ((0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5))) < 1e-9


def test_drift_between_batches(project, tmp_path):
    for k in range(3):
        write_image(tmp_path / "a" / f"a{k}.png", scene_rgb(160, 120, seed=k))
        write_image(tmp_path / "b" / f"b{k}.png", (scene_rgb(320, 240, seed=k) // 3).astype(np.uint8))
    add_paths(project, [tmp_path / "a"])
    add_paths(project, [tmp_path / "b"])
    assets = project.assets()
    base = [a.id for a in assets if a.name.startswith("a")]
    new = [a.id for a in assets if a.name.startswith("b")]
    cls, rare = make_class(project, "car"), make_class(project, "bus")
    for a in base:
        add_boxes(project, a, cls, [(10, 10, 30, 30), (40, 40, 60, 60)])
    for a in new:
        add_boxes(project, a, rare, [(10, 10, 90, 90)])
    feats = {f.feature: f for f in drift.drift(project, base, new)}
    assert feats["intensity"].verdict == "major shift"
    assert feats["image size (log px)"].psi > 0.25
    assert feats["class frequency"].labels == ["bus", "car"] and feats["class frequency"].batch == [1.0, 0.0]
    assert feats["shape size (log px²)"].verdict == "major shift"
    same = {f.feature: f for f in drift.drift(project, base, base)}
    assert all(f.psi < 0.01 for f in same.values())
