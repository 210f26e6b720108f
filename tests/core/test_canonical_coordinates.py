"""The canonical JSON of coordinates (what an edit's op hashes and syncs) is pinned: the shortest
round-trip form of each float, Python's ``repr`` spelling (``1e-07``, ``1e+16``, ``-0.0``), NaN and
infinities refused -- through ``canonical_json`` and through one edit's path (``Project.apply``:
``UpdateAnnotation.payload_json`` encodes the geometry once for the op and the row)."""
from __future__ import annotations

import json
import math

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import OpDraft, canonical_json

PINNED = [
    (-0.0, "-0.0"), (0.0, "0.0"), (1e-7, "1e-07"), (-1e-7, "-1e-07"), (1e-4, "0.0001"), (1e-5, "1e-05"),
    (0.1 + 0.2, "0.30000000000000004"), (100.0, "100.0"), (2999.9999999999995, "2999.9999999999995"),
    (1e16, "1e+16"), (1e15, "1000000000000000.0"), (123456789012345.67, "123456789012345.67"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (5e-324, "5e-324"), (-2.5, "-2.5"), (3, "3"),
]


def _reference(value):
    """What the canonical form was defined as: ``json.dumps`` with sorted keys, no whitespace,
    UTF-8 and no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@pytest.mark.parametrize("value,text", PINNED)
def test_each_float_is_spelled_as_pinned(value, text):
    assert canonical_json([value]) == f"[{text}]" == _reference([value])
    assert canonical_json({"shell": [[value, value]]}) == '{"shell":[[%s,%s]]}' % (text, text)


def test_a_range_of_floats_encodes_as_the_reference():
    values = [k * 10.0 ** e * s for e in range(-12, 20, 3) for k in (1, 1.5, 3.141592653589793, 7.000000000000001)
              for s in (1, -1)]
    values += [math.nextafter(1.0, 2.0), math.nextafter(0.0, 1.0), float(2 ** 53), float(2 ** 53 + 2)]
    shell = [[x, y] for x, y in zip(values, reversed(values))]
    d = {"kind": "polygon", "shell": shell}
    assert canonical_json(d) == _reference(d)
    assert json.loads(canonical_json(d)) == d      # (round trip: the very same floats)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused(bad):
    with pytest.raises(ValueError):
        canonical_json({"shell": [[1.0, bad]]})


def _polygon_project(project, image_asset):
    ann = ids.new_id()
    project.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": image_asset, "layer_id": project.my_layer_id,
        "geometry": {"kind": "polygon", "shell": [[1, 1], [20, 1], [20, 20]]}}}))
    return ann


def test_an_edit_hashes_and_stores_the_pinned_spelling(project, image_asset):
    ann = _polygon_project(project, image_asset)
    shell = [[-0.0, 1e-7], [2.5, -0.0], [0.30000000000000004, 7.000000000000001], [1e-05, 15.0]]
    a = project.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "polygon", "shell": shell}}}))
    payload, op_hash = project.conn.execute("SELECT payload, op_hash FROM ops WHERE op_id = ?",
                                            (a.op.op_id,)).fetchone()
    assert payload == '{"set":{"geometry":{"kind":"polygon","shell":[[-0.0,1e-07],[2.5,-0.0],' \
                      '[0.30000000000000004,7.000000000000001],[1e-05,15.0]]}}}'
    assert payload == _reference(a.op.payload)
    assert op_hash == a.op.digest() and project.verify_chain().ok
    geometry = project.conn.execute("SELECT geometry FROM annotations WHERE id = ?", (ann,)).fetchone()[0]
    assert geometry == _reference(a.op.payload["set"]["geometry"])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_an_edit_with_a_nan_is_refused_and_writes_nothing(project, image_asset, bad):
    ann = _polygon_project(project, image_asset)
    before = project.counts()
    with pytest.raises(OpRejected, match="not finite"):
        project.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {
            "kind": "polygon", "shell": [[1, 1], [bad, 1], [20, 20]]}}}))
    assert project.counts() == before
