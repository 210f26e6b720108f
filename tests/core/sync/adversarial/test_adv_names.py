"""Adversarial: names in the shared folder that no labeldesk writes -- bytes that are not UTF-8,
control characters, names of the wrong shape -- where device folders, segments and blobs are
listed. They are left alone; the round goes on and every honest op merges."""
from __future__ import annotations

import os

import pytest
from sync_team import Team


@pytest.fixture
def team(tmp_path):
    t = Team(tmp_path, 2)
    yield t
    t.close()


NAMES = [b"\xff\xfe-not-utf8", b"line\nbreak", b"seg-\xff.jsonl", "dev-\u202eevil".encode(), b"x" * 250]


@pytest.mark.parametrize("where", ["devices", "segments", "device-files", "blobs"])
def test_odd_names_in_the_share_are_left_alone(team, where):
    a, b = team.devices
    box = team.box(a, x=10)
    share = os.fsencode(team.share)
    folder = {"devices": share + b"/devices",
              "segments": share + b"/devices/" + os.fsencode(a.device_id) + b"/segments",
              "device-files": share + b"/devices/" + os.fsencode(a.device_id),
              "blobs": share + b"/blobs/sha256"}[where]
    os.makedirs(folder, exist_ok=True)
    for name in NAMES:
        path = folder + b"/" + name
        if where == "devices":
            os.makedirs(path + b"/segments", exist_ok=True)
            with open(path + b"/segments/seg-\xff.jsonl", "wb") as f:
                f.write(b"{}\n")
        else:
            with open(path, "wb") as f:
                f.write(b"{}\n")
    team.sync_all()
    after = team.box(a, x=40)
    team.sync_all()
    assert b.annotation(after) is not None and b.annotation(box) is not None
    assert team.digests()[0] == team.digests()[1]


@pytest.mark.parametrize("where", ["device", "segments", "blobs-level"])
def test_a_file_where_a_folder_belongs_is_left_alone(team, where):
    a, b = team.devices
    box = team.box(a, x=10)
    if where == "device":
        target = team.share / "devices" / "ffffffff-ffff-4fff-8fff-ffffffffffff"
    elif where == "segments":
        target = team.share / "devices" / "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee" / "segments"
        target.parent.mkdir(parents=True)
    else:
        target = team.share / "blobs" / "sha256" / "ab"
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not a folder\n")
    team.sync_all()
    after = team.box(a, x=40)
    team.sync_all()
    assert b.annotation(after) is not None and b.annotation(box) is not None
    assert team.digests()[0] == team.digests()[1]
