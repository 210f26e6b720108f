"""Identifiers: time-ordered UUIDv7-style strings for entities, random UUIDs for devices."""
from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """A UUIDv7 string: 48-bit unix ms, then a 12-bit counter and random bits (monotonic per process)."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:      # counter overflow inside one ms: borrow the next ms
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = 0
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76                      # version 7
    value |= counter << 64                  # 12 bits rand_a used as a monotonic counter
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))   # variant + 62 random bits
    return str(uuid.UUID(int=value))


def new_device_id() -> str:
    return uuid.uuid4().hex


def id_time_ms(entity_id: str) -> int:
    """Creation time in unix ms encoded in an id from :func:`new_id`."""
    return uuid.UUID(entity_id).int >> 80


def op_id(device_id: str, seq: int) -> str:
    return f"{device_id}:{seq:012d}"
