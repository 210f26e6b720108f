"""A merged create's payload JSON is built around its geometry's encoding (encoded once, kept for
the row): the text must be exactly ``canonical_json`` of the payload, whatever the payload holds."""
import math

import pytest

from labeldesk.core.ops import canonical_json
from labeldesk.core.sync.history import OpRef
from labeldesk.core.sync.merge import _GEOMETRY_MARK, _payload_json


def _ref(payload, kind="annotation.create"):
    return OpRef("d:1", "d", 1, (1, 0), kind, "e", (), payload, None, "2026-12-03T00:00:00Z")


@pytest.mark.parametrize("payload", [
    {"annotation": {"asset_id": "a", "attributes": {}, "class_id": None, "keyframe": True, "layer_id": "l",
                    "geometry": {"kind": "polygon", "shell": [[10.5 + math.sin(i), 20 / 3] for i in range(32)]},
                    "plane": {"axis": "axial", "t": 0, "z": 0}, "z_order": 0.0}},
    # the marker and the marked pair spelled inside other values: encoded whole, still identical
    {"annotation": {"attributes": {"geometry": _GEOMETRY_MARK}, "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}}},
    {"annotation": {"attributes": {"note": '"geometry":"\\u0000geometry\\u0000"'},
                    "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}}},
    {"annotation": {"attributes": {"x": {"geometry": {"kind": "box"}}}, "geometry": {"kind": "box", "é": "ü\n"}},
     "zzz": 1, "a": [1, "geometry"]},
    {"annotation": {"geometry": "not an object"}},
    {"annotation": [1]},
    {},
])
def test_payload_json_is_the_canonical_encoding(payload):
    ref = _ref(payload)
    assert _payload_json(ref) == canonical_json(payload)
    held = getattr(ref, "geometry_json", None)
    if held is not None:
        assert held == canonical_json(payload["annotation"]["geometry"])


def test_other_types_and_bad_numbers_behave_as_before():
    update = {"set": {"geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}}}
    ref = _ref(update, "annotation.update")
    assert _payload_json(ref) == canonical_json(update) and not hasattr(ref, "geometry_json")
    bad = {"annotation": {"geometry": {"kind": "box", "xyxy": [math.nan, 0, 1, 1]}}}
    with pytest.raises(ValueError):
        canonical_json(bad)
    with pytest.raises(ValueError):
        _payload_json(_ref(bad))
