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


def _array_shape(g):
    """The shape as it was built before the WKB path: shapely's array constructor."""
    import numpy as np
    import shapely
    shell = np.asarray(g.shell, dtype=float)
    if not g.holes:
        return shapely.polygons(shell)
    return shapely.polygons(shell, holes=[np.asarray(h, dtype=float) for h in g.holes])


def _rings():
    import random
    rnd = random.Random(11)
    yield [[1, 1], [20, 1], [20, 20]], ()                                      # a triangle
    yield [[-0.0, 0.0], [1e-7, -0.0], [3e-7, 2e-7], [0.0, 5e-7]], ()           # signed zeros, tiny values
    yield [[0, 0], [10, 10], [10, 0], [0, 10]], ()                              # a bow-tie (invalid)
    yield [[0, 0], [4, 0], [4, 4], [2, 0], [0, 4]], ()                          # touches itself (invalid)
    yield [[1e15, 1e15], [1e15 + 2, 1e15], [1e15 + 2, 1e15 + 2]], ()             # large values
    yield [[0, 0], [20, 0], [20, 20], [0, 20]], ([[5, 5], [6, 5], [6, 6]], [[10, 10], [12, 10], [12, 12]])
    yield [[0, 0], [20, 0], [20, 20], [0, 20]], ([[5, 5], [25, 5], [6, 6]],)   # a hole outside (invalid)
    for _ in range(60):
        n = rnd.randint(3, 40)
        cx, cy = rnd.uniform(-1e4, 1e4), rnd.uniform(-1e4, 1e4)
        yield [[cx + rnd.uniform(1, 500) * math.cos(2 * math.pi * k / n + rnd.uniform(0, 0.3)),
                cy + rnd.uniform(1, 500) * math.sin(2 * math.pi * k / n + rnd.uniform(0, 0.3))]
               for k in range(n)], ()
    for _ in range(20):                                                           # random walks: many invalid
        yield [[rnd.uniform(0, 50), rnd.uniform(0, 50)] for _ in range(rnd.randint(3, 12))], ()


def test_the_shapely_shape_is_the_one_the_array_constructor_makes():
    import shapely
    from labeldesk.core.geometry import Polygon, _trusted
    for shell, holes in _rings():
        g = _trusted(Polygon, shell=tuple(tuple(map(float, p)) for p in shell),
                     holes=tuple(tuple(tuple(map(float, p)) for p in h) for h in holes))
        new, old = g.to_shapely(), _array_shape(g)
        assert shapely.equals_exact(new, old, tolerance=0) and new.wkb == old.wkb
        assert new.is_valid == old.is_valid and new.area == old.area
        # (and the validation's answer is the one the array shapes give)
        try:
            Polygon(tuple(map(tuple, shell)), tuple(tuple(map(tuple, h)) for h in holes))
            ok = True
        except GeometryError:
            ok = False
        assert ok == (old.is_valid and old.area > 0)
