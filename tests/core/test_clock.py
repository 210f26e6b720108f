from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from labeldesk.core.clock import HybridClock, Timestamp


def test_tick_is_monotonic_even_when_wall_clock_goes_back():
    times = iter([1000, 1000, 990, 1005])
    clock = HybridClock(now_ms=lambda: next(times))
    stamps = [clock.tick() for _ in range(4)]
    assert stamps == [Timestamp(1000, 0), Timestamp(1000, 1), Timestamp(1000, 2), Timestamp(1005, 0)]


def test_observe_moves_past_a_remote_clock_ahead():
    clock = HybridClock(now_ms=lambda: 100)
    assert clock.observe(Timestamp(500, 3)) == Timestamp(500, 4)
    assert clock.tick() == Timestamp(500, 5)
    assert clock.skew_ms(Timestamp(500, 0)) == 400


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(0, 5)), max_size=60))
def test_hlc_never_goes_backwards(events):
    wall = iter(range(10**6, 10**7))
    clock = HybridClock(now_ms=lambda: next(wall) // 7)
    last = Timestamp(0, 0)
    for is_remote, ms, ctr in events:
        ts = clock.observe(Timestamp(ms, ctr)) if is_remote else clock.tick()
        assert ts > last
        if is_remote:
            assert ts > Timestamp(ms, ctr)
        last = ts


def test_wall_text_spells_the_time_as_datetime_does():
    import datetime as dt

    from labeldesk.core.clock import wall_text
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    for ms in (0, 999, 1000, 1_796_294_592_853, 1_796_294_592_999, 1_796_294_593_000, 951_782_399_999,
               951_782_400_000, 4_102_444_799_999, 1_704_067_199_999):       # (second, day and leap-day edges)
        for extra_ns in (0, 1, 999_999):
            ref = (epoch + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            assert wall_text(ms * 1_000_000 + extra_ns) == ref
    before = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    now = wall_text()
    after = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert before <= now <= after and len(now) == len("2026-12-03T10:45:51.123Z")
