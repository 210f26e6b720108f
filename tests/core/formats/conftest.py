from __future__ import annotations

import pytest

from labeldesk.core.project import Project


@pytest.fixture
def proj(tmp_path):
    p = Project.create(tmp_path / "proj", "formats", user_name="alice")
    yield p
    p.close()
