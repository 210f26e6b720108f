"""The schema check of a merged op's payload is compiled per op type (validation.payload_ok):
for every op type and every value a field may hold, the compiled check says what the general one
(``_ok``, and ``_problem`` behind it) says."""
import itertools

import pytest

from labeldesk.core.sync.validation import SCHEMAS, _ok, _problem, payload_ok

VALUES = [None, 0, 1, -1, True, False, 1.5, float("nan"), "s", "", [], ["a"], [1], {}, {"kind": "polygon"},
          {"kind": 3}, {"z": 0, "t": 0, "axis": "axial"}, {"z": -1}, {"t": True}, {"axis": "bad"}, {"z": 2.0},
          {"axis": ["x"]}, {"name": "n"}, {"set": {}}]


def _valid(spec):
    """A value that passes ``spec`` (a nested schema made complete)."""
    if isinstance(spec, dict):
        return {k: _valid(v) for k, v in spec.items()}
    base = spec.rstrip("?")
    return {"str": "x", "int": 1, "num": 1.5, "bool": True, "dict": {}, "list": [], "ids": ["a"], "any": 1,
            "plane": {"z": 0, "t": 0, "axis": "axial"}, "geometry": {"kind": "point"}}[base]


def _variants(spec):
    """The valid value, each field (at any depth) missing or replaced by each of VALUES."""
    good = _valid(spec)
    yield good
    if not isinstance(spec, dict):
        return
    for key, sub in spec.items():
        rest = {k: v for k, v in good.items() if k != key}
        yield rest
        for v in VALUES:
            yield {**good, key: v}
        for v in itertools.islice(_variants(sub), 40):
            yield {**good, key: v}


@pytest.mark.parametrize("op_type", sorted(SCHEMAS))
def test_compiled_check_says_what_the_general_one_says(op_type):
    schema = SCHEMAS[op_type]

    def check(payload):
        return payload_ok(op_type, schema, payload)

    n = 0
    for payload in itertools.chain(_variants(schema), VALUES):
        assert check(payload) == _ok(payload, schema), (op_type, payload)
        if check(payload):
            assert _problem(payload, schema, "payload") is None, (op_type, payload)
        n += 1
    assert n > 1
