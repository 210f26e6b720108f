"""formats/json_items.py: a document whose big lists are decoded item by item gives what
json.loads gives, and malformed text fails at the same place with the same message."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labeldesk.core.formats.json_items import loads
from labeldesk.core.formats.labelme import points_array, shape_reader

GOOD = [
    '{"shapes": [], "x": 1}',
    ' \n{ "version" : "5", "shapes" : [ {"a": [1, 2]} , {"b": null} ] , "imagePath": "a.png" }\n ',
    '{"shapes": [{"points": [[1, 2], [3.5, 4e2]]}], "shapes": [1, 2]}',          # a repeated key: the last
    '{"shapes": {"not": "a list"}, "other": [1, 2]}',
    '{}',
    '[1, 2, 3]',
    '{"shapes": [1,2,3],"s":"\\u00e9\\n"}',
    '{"shapes": [NaN, Infinity, -0.0, 1e400]}',
]
BAD = [
    '{"shapes": [\n  {"label": "cat",\n  }]}',
    '{"shapes": [1 2]}',
    '{"shapes": [1,]}',
    '{"shapes": [1, 2}',
    '{"shapes": [1, 2]',
    '{"shapes" [1]}',
    '{"shapes": [1]} x',
    '{shapes: [1]}',
    '{"shapes": [1], }',
    '{"shapes": [',
    '{"a": 1 "b": 2}',
    '',
    '{"shapes": [{"a": tru}]}',
]


@pytest.mark.parametrize("text", GOOD)
def test_same_document_as_json_loads(text):
    want = json.loads(text)
    got = loads(text, {"shapes": lambda item: item})
    assert json.dumps(got) == json.dumps(want)
    wrapped = loads(text, {"shapes": lambda item: ("seen", item)})
    if isinstance(want, dict) and isinstance(want.get("shapes"), list):
        assert wrapped["shapes"] == [("seen", item) for item in want["shapes"]]


@pytest.mark.parametrize("text", BAD)
def test_malformed_text_fails_where_json_loads_does(text):
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        loads(text, {"shapes": lambda item: item})
    assert (got.value.lineno, got.value.colno) == (want.value.lineno, want.value.colno), text
    assert got.value.msg == want.value.msg


def test_labelme_shapes_are_kept_compact():
    text = json.dumps({"shapes": [{"label": "cat", "points": [[1, 2], [3.5, 4], [5, 0.25]], "shape_type": "polygon"},
                                  {"label": "cat", "points": [["1", "2"]], "shape_type": "point"},
                                  {"label": "cat", "points": [[1, None], [2, 3]]}]})
    doc = loads(text, {"shapes": shape_reader()})
    first = doc["shapes"][0]["points"]
    assert isinstance(first, np.ndarray) and first.dtype == np.float64
    assert first.tolist() == [[1.0, 2.0], [3.5, 4.0], [5.0, 0.25]]
    assert doc["shapes"][1]["points"] == [["1", "2"]]            # not numbers: as they are
    assert doc["shapes"][2]["points"] == [[1, None], [2, 3]]


@pytest.mark.parametrize("pts", [[[1, 2, 3]], [[1, 2], [3]], [[True, False]], [[1, 2]] * 0, [[[1, 2]]],
                                 [[10 ** 400, 1]], [["a", 1]]])
def test_points_that_are_not_pairs_of_numbers_stay_lists(pts):
    assert points_array(pts) is None
