"""Op.canonical (what the op log hashes) is exactly canonical_json of the op's dict form."""
from __future__ import annotations

import hashlib

import pytest

from labeldesk.core.ops import Op, canonical_json

BASE = dict(op_id="dev1:7", dev="dev1", seq=7, hlc=(1764582000000, 3), wall="2026-12-01T09:20:00.000Z",
            user="u1", type="annotation.create", entity="a1", payload={"annotation": {"x": [1.5, 2]}},
            base=(), reason=None)


@pytest.mark.parametrize("changes", [
    {},
    {"reason": "imported from coco file ünï \u2028 \"q\".json", "base": ("dev2:1", "dev3:9")},
    {"user": None, "entity": None, "hlc": (0, 0), "seq": 10 ** 15},
    {"hlc": [5, 6], "base": ["dev2:1"]},               # list forms (as some callers build them)
    {"type": "ünicode.type", "dev": "d\\e\"v", "op_id": "d:1", "wall": "2026-01-01T00:00:00Z"},
])
def test_canonical_is_canonical_json_of_the_dict(changes):
    op = Op(**{**BASE, **changes})
    assert op.canonical() == canonical_json(op.to_dict())
    assert op.canonical(canonical_json(op.payload)) == canonical_json(op.to_dict())
    assert op.digest() == hashlib.sha256(canonical_json(op.to_dict()).encode()).hexdigest()
