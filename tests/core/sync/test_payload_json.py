"""A merged create's payload JSON is built around its geometry's encoding (encoded once, kept for
the row): the text must be exactly ``canonical_json`` of the payload, whatever the payload holds."""
import math

import pytest

from labeldesk.core.ops import canonical_json, canonical_op
from labeldesk.core.sync.history import OpRef
from labeldesk.core.sync.merge import _GEOMETRY_MARK, _op_text, _payload_json
from labeldesk.core.sync.reducer import to_op


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


@pytest.mark.parametrize("annotation", [
    # the usual create (one format): every plain variant must give the encoder's text
    {"asset_id": "a", "attributes": {}, "class_id": None, "layer_id": "l", "plane": {"axis": "axial", "t": 0, "z": 0},
     "geometry": {"kind": "polygon", "shell": [[1.0, 2.0], [3.5, 4.0], [5.0, 0.25]]}},
    {"asset_id": "é\"\\\n\u2028", "attributes": {}, "class_id": "c\u0000", "layer_id": "ü",
     "plane": {"axis": "sagittal", "t": 12, "z": 10 ** 20}, "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
    # near misses: encoded whole
    {"asset_id": "a", "attributes": {"k": 1}, "class_id": None, "layer_id": "l",
     "plane": {"axis": "axial", "t": 0, "z": 0}, "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
    {"asset_id": "a", "attributes": {}, "class_id": None, "layer_id": "l", "plane": {"axis": "axial", "t": True, "z": 0},
     "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
    {"asset_id": "a", "attributes": {}, "class_id": 7, "layer_id": "l", "plane": {"axis": "axial", "t": 0, "z": 0},
     "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
    {"asset_id": "a", "attributes": {}, "class_id": None, "layer_id": "l", "plane": {"axis": "axial", "t": 0},
     "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
    {"asset_id": "a", "attributes": {}, "class_id": None, "layer_id": ["l"], "plane": {"axis": "axial", "t": 0, "z": 0},
     "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
    {"asset_id": "a", "attributes": None, "class_id": None, "layer_id": "l", "plane": {"axis": "axial", "t": 0, "z": 0},
     "geometry": {"kind": "box", "xyxy": [1, 2, 3, 4]}},
])
def test_plain_create_text_is_the_canonical_encoding(annotation):
    for payload in ({"annotation": annotation}, {"annotation": annotation, "b": 1}):
        ref = _ref(payload)
        assert _payload_json(ref) == canonical_json(payload)
        assert ref.geometry_json == canonical_json(annotation["geometry"])


@pytest.mark.parametrize("fields", [
    dict(base=(), entity="e", reason=None, user=None),
    dict(base=("d:1", "x:\u00e9"), entity=None, reason="why \"so\"\n", user="u\u2028"),
    dict(base=("a",), entity="\u0001", reason="", user=""),
])
def test_op_text_is_canonical_op(fields):
    ref = OpRef("d:" + "9" * 30, "d\u00e9", 10 ** 15, (2 ** 62, 7), "annotation.update", fields["entity"],
                fields["base"], {"set": {"z_order": 1.5}}, fields["user"], "2026-12-03T00:00:00.123Z")
    ref.reason_text = fields["reason"]
    pj = _payload_json(ref)
    base_json = "[]" if not ref.base else canonical_json(list(ref.base))
    assert _op_text(ref, base_json, pj) == canonical_op(ref.base, ref.dev, ref.entity, ref.hlc, ref.op_id, pj,
                                                       ref.reason_text, ref.seq, ref.type, ref.user, ref.wall)
    assert _op_text(ref, base_json, pj) == canonical_json({**to_op(ref).to_dict(), "payload": ref.payload})
