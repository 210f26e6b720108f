"""Text may hold the characters Python's ``str.splitlines`` also breaks at (U+2028, U+2029,
U+0085): canonical JSON keeps them as they are (only control characters are escaped), so a
segment's lines are split at "\\n" alone. Before, such an op made its whole segment "corrupt"
on every replica, and the device's later segments waited behind it for good."""
from __future__ import annotations

from labeldesk.core.ops import OpDraft
from labeldesk.core.sync import engine

TEXT = "line\u2028separator, paragraph\u2029separator, next\u0085line"


def test_text_with_unicode_line_separators_syncs(team):
    a, b = team.devices
    a.apply(OpDraft("asset.rename", team.asset, {"name": TEXT}))
    engine.sync_round(a)
    report = engine.sync_round(b)
    assert not report.problems, report.problems
    assert b.conn.execute("SELECT name FROM assets WHERE id = ?", (team.asset,)).fetchone()[0] == TEXT
    assert b.verify_chain().ok


def test_lines_decode_as_json_loads_does():
    import json

    import pytest

    from labeldesk.core.sync.segment import _lines
    good = ['{"a":"x\u2028y"}', ' {"b":[1,2.5,null]} ', '{"c":{}}\r', "[]", '"s"', "1e3"]
    assert _lines("\n".join(good) + "\n") == [json.loads(g) for g in good]
    assert _lines("") == []
    for bad in ["", "{", '{"a":1}x', '{"a":1}{"b":2}', "\ufeff{}", '{"a":"\x01"}', "[1,]"]:
        with pytest.raises(ValueError) as want:
            json.loads(bad)
        with pytest.raises(ValueError) as got:
            _lines('{"ok":1}\n' + bad + "\n")
        assert str(got.value) == str(want.value)
