"""Hybrid logical clock (Kulkarni et al. 2014): orders ops across devices; concurrency is causal."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

# A device whose clock runs further than this ahead of ours is flagged (its wall time is suspect).
MAX_SKEW_MS = 5 * 60 * 1000


@dataclass(frozen=True, order=True)
class Timestamp:
    ms: int
    counter: int

    def to_list(self) -> list[int]:
        return [self.ms, self.counter]

    @classmethod
    def from_list(cls, v: list[int] | tuple[int, int]) -> "Timestamp":
        return cls(int(v[0]), int(v[1]))


class HybridClock:
    def __init__(self, last: Timestamp | None = None,
                 now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self._now_ms = now_ms
        self.last = last or Timestamp(0, 0)

    def tick(self) -> Timestamp:
        """Timestamp for a local event."""
        pt = self._now_ms()
        if pt > self.last.ms:
            self.last = Timestamp(pt, 0)
        else:
            self.last = Timestamp(self.last.ms, self.last.counter + 1)
        return self.last

    def observe(self, remote: Timestamp) -> Timestamp:
        """Merge a timestamp received from another device; returns the new local time."""
        pt = self._now_ms()
        ms = max(pt, self.last.ms, remote.ms)
        if ms == self.last.ms == remote.ms:
            ctr = max(self.last.counter, remote.counter) + 1
        elif ms == self.last.ms:
            ctr = self.last.counter + 1
        elif ms == remote.ms:
            ctr = remote.counter + 1
        else:
            ctr = 0
        self.last = Timestamp(ms, ctr)
        return self.last

    def skew_ms(self, remote: Timestamp) -> int:
        """How far ``remote`` is ahead of our physical clock (negative: behind)."""
        return remote.ms - self._now_ms()


_second: tuple[int, str] = (-1, "")      # (unix second, its "YYYY-MM-DDTHH:MM:SS" in UTC), replaced whole


def wall_text(ns: int | None = None) -> str:
    """The wall time an op records: ISO 8601 in UTC to the millisecond (``2026-12-03T10:45:51.123Z``),
    as ``datetime.now(timezone.utc).isoformat(timespec="milliseconds")`` spells it; the date and
    time of day are formatted once per second (an edit's stamp: 1 us instead of 4 us)."""
    global _second
    s, ms = divmod((time.time_ns() if ns is None else ns) // 1_000_000, 1000)
    second = _second
    if second[0] != s:
        second = _second = (s, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)))
    return "%s.%03dZ" % (second[1], ms)
