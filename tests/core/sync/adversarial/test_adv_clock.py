"""Clock skew is judged from each device's own physical time: a clock carried forward from an
ahead device does not flag healthy devices, and a flag clears once the device is healthy."""
from __future__ import annotations

from sync_team import Team

from labeldesk.core.sync import engine
from labeldesk.core.sync.status import status


def _ahead(p, dev):
    return next(d for d in status(p, digest=False)["devices"] if d["device_id"] == dev)["clock_ahead_s"]


def test_skew_does_not_spread_and_clears_when_healthy(tmp_path):
    team = Team(tmp_path, 3)
    try:
        a, b, c = team.devices
        real = b.clock._now_ms
        b.clock._now_ms = lambda: real() + 2 * 24 * 3600 * 1000          # b's clock: two days ahead
        ann = team.box(b, x=10)
        team.sync_all()
        assert _ahead(c, b.device_id) > 24 * 3600
        for _ in range(3):                      # a carries b's clock forward in its own ops
            team.move(a, ann, 20)
            team.sync_all()
        assert _ahead(c, a.device_id) == 0 and _ahead(b, a.device_id) == 0
        b.clock._now_ms = lambda: real() + 3 * 24 * 3600 * 1000      # b's own clock moves on, still ahead
        team.move(b, ann, 30)
        team.sync_all()
        assert _ahead(c, b.device_id) > 2 * 24 * 3600
        # b's clock is fixed: its hybrid clock still carries the old time (counter ticks), but its
        # wall clock is a healthy sample: the flag clears
        b.clock._now_ms = real
        team.move(b, ann, 40)
        team.sync_all()
        assert _ahead(c, b.device_id) == 0
    finally:
        team.close()
