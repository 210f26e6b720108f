"""Fixtures: a team of devices on one temporary share, a fault-injecting share, write refusal."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from sync_team import FaultyShare, Team


@pytest.fixture
def team(tmp_path):
    t = Team(tmp_path, 2)
    yield t
    t.close()


@pytest.fixture
def team3(tmp_path):
    t = Team(tmp_path, 3)
    yield t
    t.close()


@pytest.fixture
def faulty(tmp_path):
    def make(share: Path) -> FaultyShare:
        return FaultyShare(share, tmp_path / "limbo")
    return make


@pytest.fixture
def refuse_writes(monkeypatch):
    return lambda share, code=errno.EROFS: _refuse_writes(monkeypatch, share, code)


def _refuse_writes(monkeypatch, share: Path, code: int = errno.EROFS) -> None:
    """Every file creation under ``share`` fails with ``code`` (read-only mount, full disk)."""
    real_open = open
    share_s = str(share)

    def fake_open(file, mode="r", *a, **k):
        if any(c in mode for c in "wxa") and str(file).startswith(share_s):
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, mode, *a, **k)
    import builtins
    monkeypatch.setattr(builtins, "open", fake_open)
