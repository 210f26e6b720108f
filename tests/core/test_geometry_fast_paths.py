"""The fast paths of polygon parsing keep the results and the refusals of the plain loop."""
from __future__ import annotations

import math

import pytest

from labeldesk.core.geometry import GeometryError, geometry_from_dict


def test_points_are_floats_and_equal_to_the_input():
    g = geometry_from_dict({"kind": "polygon", "shell": [[1, 2], ["3.5", 4], [5, 0.25]]})
    assert g.shell == ((1.0, 2.0), (3.5, 4.0), (5.0, 0.25))
    assert all(type(v) is float for p in g.shell for v in p)


@pytest.mark.parametrize("shell, message", [
    ([[0, 0], [10, math.nan], [10, 10]], r"polygon: coordinate is not finite: \(10.0, nan\)"),
    ([[0, 0], [math.inf, 0], [10, 10]], r"polygon: coordinate is not finite: \(inf, 0.0\)"),
    ([[0, 0], [10, 0, 1], [10, 10]], r"malformed polygon: too many values to unpack"),
    ([[0, 0], [10], [10, 10]], r"malformed polygon: not enough values to unpack"),
    ([[0, 0], 7, [10, 10]], r"malformed polygon: 'int' object is not iterable"),
    ([[0, 0], ["x", 0], [10, 10]], r"malformed polygon: could not convert string to float: 'x'"),
    ([[0, 0], [1e308, 1e308], [1e308, 0]], None),          # finite (though their sum is not)
])
def test_odd_points_get_the_same_answer_as_ever(shell, message):
    if message is None:
        assert geometry_from_dict({"kind": "polygon", "shell": shell}).shell[1] == (1e308, 1e308)
        return
    with pytest.raises(GeometryError, match=message):
        geometry_from_dict({"kind": "polygon", "shell": shell})


def test_a_hole_with_a_bad_point_names_the_hole():
    with pytest.raises(GeometryError, match="polygon hole: coordinate is not finite"):
        geometry_from_dict({"kind": "polygon", "shell": [[0, 0], [20, 0], [20, 20], [0, 20]],
                            "holes": [[[5, 5], [6, math.nan], [6, 6]]]})
