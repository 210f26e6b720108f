"""Quality records travel through the shared folder and converge, whatever the order."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sync"))
from sync_team import Team  # noqa: E402

from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.quality import checks, organisation, records  # noqa: E402


@pytest.fixture
def team(tmp_path):
    t = Team(tmp_path, 2)
    yield t
    t.close()


def test_tags_batches_and_waivers_converge(team):
    a, b = team.devices
    organisation.set_tags(a, [team.asset], {"site": "A", "source": "scanner 1"})
    organisation.set_tags(b, [team.asset], {"site": "B"})          # concurrent; the later clock wins
    organisation.save_batch(b, "pilot", [team.asset])
    ann = team.box(a, 10)
    a.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [10, 10, 11, 40]}}}))
    [f] = checks.run(a, only=["tiny"])
    a.apply(OpDraft("quality.waive", f.key, {"check": "tiny", "subject": f.subject, "note": "ok"}))
    team.sync_all()
    ra, rb = records.load(a.conn), records.load(b.conn)
    assert ra.tags == rb.tags and ra.tags[team.asset]["source"] == "scanner 1"
    import json
    last = max(tuple(r) for r in a.conn.execute("SELECT hlc_ms, hlc_ctr, dev, seq, payload FROM ops WHERE type = "
                                                "'quality.tag' AND payload LIKE '%site%'"))
    assert ra.tags[team.asset]["site"] == json.loads(last[4])["set"]["site"]    # the latest clock wins
    assert [x.payload["name"] for x in ra.batches.values()] == ["pilot"]
    assert checks.run(b, only=["tiny"]) == [] and len(checks.run(b, only=["tiny"], include_waived=True)) == 1
