from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "proj", "test", user_name="alice")
    yield p
    p.close()


def add_image_asset(project: Project, width: int = 100, height: int = 80, depth: int = 1,
                    frames: int = 1, kind: str = "image") -> str:
    asset_id = ids.new_id()
    project.apply(OpDraft("asset.add", asset_id, {"asset": {
        "kind": kind, "name": f"{kind}-{asset_id[-4:]}", "content_hash": "sha256:" + asset_id,
        "width": width, "height": height, "depth": depth, "frames": frames}},
        local={"locator": {"reader": "raster", "path": "/nowhere.png"}}))
    return asset_id


@pytest.fixture
def image_asset(project):
    return add_image_asset(project)


@pytest.fixture
def add_asset():
    return add_image_asset
