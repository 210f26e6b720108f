"""A project folder moved or copied elsewhere still opens its assets: locators inside the folder
(pyramids, cache, source files kept in it) are stored relative to it."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np

from labeldesk.core.importer import add_paths
from labeldesk.core.io import raster
from labeldesk.core.project import Project


def test_copied_project_opens_its_pyramid_tiles_and_images(tmp_path, monkeypatch):
    monkeypatch.setattr(raster, "PYRAMID_SIDE", 256)          # this 600x400 image becomes a pyramid
    root = tmp_path / "here" / "p"
    p = Project.create(root, user_name="ann")
    inside = root / "images"
    inside.mkdir()
    big = (np.arange(600 * 400 * 3) % 251).astype(np.uint8).reshape(400, 600, 3)
    cv2.imwrite(str(inside / "big.png"), big)
    small = np.full((50, 70), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "outside.png"), small)
    report = add_paths(p, [inside / "big.png", tmp_path / "outside.png"])
    assert len(report.added) == 2, report.refused
    pyramid = next(a for a in report.added if a.kind == "pyramid")
    flat = next(a for a in report.added if a.kind == "image")
    stored = json.loads(p.conn.execute("SELECT locator FROM asset_local WHERE asset_id = ?",
                                       (pyramid.id,)).fetchone()[0])
    assert stored["relative"] == ["dir", "source"] and not stored["dir"].startswith("/")
    assert p.locator(pyramid.id)["dir"].startswith(str(root))
    expected = p.open_source(pyramid.id).read_region(0, 0, 0, 64, 64)
    p.close()

    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(root, moved, ignore=shutil.ignore_patterns("project.lock"))
    shutil.rmtree(tmp_path / "here")                               # the original is gone
    q = Project.open(moved)
    try:
        source = q.open_source(pyramid.id)
        assert q.locator(pyramid.id)["dir"].startswith(str(moved))
        assert np.array_equal(source.read_region(0, 0, 0, 64, 64), expected)
        assert source.read_region(source.info.levels.__len__() - 1, 0, 0, 8, 8).size
        assert q.locator(flat.id)["path"] == str(tmp_path / "outside.png")    # outside: absolute
        assert q.open_source(flat.id).info.width == 70
    finally:
        q.close()


def test_locators_written_before_this_rule_find_the_moved_cache(tmp_path):
    from labeldesk.core.store.locators import from_stored
    (tmp_path / "new" / "cache" / "pyramids" / "abc").mkdir(parents=True)
    old = {"reader": "pyramid", "dir": "/somewhere/old/cache/pyramids/abc", "source": "/gone/x.png"}
    now = from_stored(old, tmp_path / "new")
    assert now["dir"] == str(tmp_path / "new" / "cache" / "pyramids" / "abc")
    assert now["source"] == "/gone/x.png"
