from __future__ import annotations

import pytest

from labeldesk.core.ops import OpDraft
from labeldesk.core import ids


def add_class(project, name: str) -> str:
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name}}))
    return cid


@pytest.fixture
def sam_manifest(tmp_path):
    from labeldesk.core.models import tiny
    return tiny.sam_pair(tmp_path / "weights", size=256)
