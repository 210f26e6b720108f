from __future__ import annotations

import random

import numpy as np
import pytest

from labeldesk.core.errors import InputError
from labeldesk.core.io import frame_index, video
from labeldesk.core.io.frame_index import FrameIndex, runs, unruns
from labeldesk.core.io.opencv import cv2
from labeldesk.core.model import Plane
from labeldesk.core.samples.video import (
    CLIPS,
    read_stamp,
    write_stamped_clip,
    write_unsupported_codec,
    write_vfr_clip,
)

N = 40


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {fourcc: write_stamped_clip(d / f"clip-{fourcc}{suffix}", n_frames=N, size=(192, 96), fourcc=fourcc)
            for suffix, fourcc in CLIPS}


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    return write_stamped_clip(tmp_path_factory.mktemp("mp4") / "c.mp4", n_frames=120, size=(128, 96))


def stamp(src: video.VideoSource, t: int) -> int:
    return read_stamp(src.read_region(0, 0, 0, 10_000, 10_000, Plane(t=t)))


@pytest.mark.parametrize("fourcc", [f for _, f in CLIPS])
def test_probe_counts_frames_by_decoding(clips, fourcc):
    found = video.probe(str(clips[fourcc]))
    info = found.info
    assert (info.kind, info.width, info.height, info.channels, info.dtype) == ("video", 192, 96, 3, "uint8")
    assert info.frames == N and info.fps == pytest.approx(25.0)
    assert info.meta["frame_count"] == "decode pass" and info.meta["timestamps_reliable"]
    assert found.locator["reader"] == "video" and found.locator["path"] == str(clips[fourcc].resolve())
    assert found.locator["index"]["key_runs"] is not None, "keyframes should be indexed"


@pytest.mark.parametrize("fourcc", [f for _, f in CLIPS])
def test_random_seeks_and_back_steps_return_the_stamped_frame(clips, fourcc):
    src = video.open_locator(video.probe(str(clips[fourcc])).locator)
    order = list(range(N))
    random.Random(7).shuffle(order)
    for t in order + [N - 1, 0, N - 1, *range(N - 2, N - 12, -1), 1, 0]:
        src.drop_cache() if t % 3 == 0 else None      # mix cold seeks and ring hits
        assert stamp(src, t) == t
    assert src.stats["fallbacks"] == 0, "clean files must seek, not rewind"
    frame = src.read_frame(5)
    assert frame.shape == (96, 192, 3) and frame.dtype.name == "uint8" and not frame.flags.writeable
    src.close()


def test_frame_is_rgb(tmp_path):
    path = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 16))
    bgr = np.zeros((16, 32, 3), np.uint8)
    bgr[..., 2] = 220                                 # red, in OpenCV's BGR order
    for _ in range(3):
        writer.write(bgr)
    writer.release()
    px = video.open_locator(video.probe(str(path)).locator).read_frame(1)[8, 16]
    assert px[0] > 180 and px[1] < 40 and px[2] < 40


def test_back_steps_come_from_the_ring(mp4):
    index = FrameIndex.from_json(video.probe(str(mp4)).locator["index"])
    src = video.VideoSource(str(mp4), index, seek_tail=4)
    src.read_frame(100)
    seeks, decoded = src.stats["seeks"], src.stats["decoded"]
    for t in range(99, 95, -1):                       # the tail kept by the cold seek
        assert stamp(src, t) == t
    assert (src.stats["seeks"], src.stats["decoded"]) == (seeks, decoded), "tail frames were decoded again"
    assert stamp(src, 95) == 95                       # past the ring: one seek decodes a chunk
    assert src.stats["seeks"] == seeks + 1
    seeks, decoded = src.stats["seeks"], src.stats["decoded"]
    chunk = [t for t in src.cached_frames() if t < 95]
    assert len(chunk) >= 20, f"a step back past the ring should decode a chunk, kept {chunk}"
    for t in range(94, min(chunk) - 1, -1):
        assert stamp(src, t) == t
    assert (src.stats["seeks"], src.stats["decoded"]) == (seeks, decoded)
    assert src.stats["fallbacks"] == 0


def test_playback_decodes_sequentially_without_seeking(mp4):
    src = video.open_locator(video.probe(str(mp4)).locator)
    src.read_frame(60)
    for t in range(61, 90):
        seeks, decoded = src.stats["seeks"], src.stats["decoded"]
        assert stamp(src, t) == t
        assert src.stats["seeks"] == seeks and src.stats["decoded"] == decoded + 1
    src.read_frame(95)                                # a short jump forward decodes forward too
    assert src.stats["seeks"] == seeks


def test_variable_frame_rate_seeks_are_exact(tmp_path):
    path = write_vfr_clip(tmp_path / "vfr.mkv", n_frames=60)
    found = video.probe(str(path))
    assert found.info.frames == 60 and len(found.locator["index"]["pts_runs"]) == 2   # 40 ms, then 65 ms
    cap, opencv_wrong = cv2.VideoCapture(str(path)), 0
    for t in range(25, 60, 5):
        cap.set(cv2.CAP_PROP_POS_FRAMES, t)
        ok, bgr = cap.read()
        opencv_wrong += not ok or read_stamp(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) != t
    assert opencv_wrong, "the clip should defeat plain CAP_PROP_POS_FRAMES seeking (else it tests nothing)"
    src = video.open_locator(found.locator)
    targets = list(range(60))
    random.Random(3).shuffle(targets)
    for t in targets + list(range(59, 20, -1)):
        src.drop_cache() if t % 4 == 0 else None
        assert stamp(src, t) == t


class _SloppyCapture:
    """A capture whose seeks land ``error`` frames off (as on VFR / B-frame files)."""

    def __init__(self, cap, error: int) -> None:
        self.cap, self.error = cap, error

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_POS_FRAMES and value > 0:
            value = max(1, value + self.error)
        return self.cap.set(prop, value)

    def __getattr__(self, name):
        return getattr(self.cap, name)


@pytest.mark.parametrize("error", [9, -13, 40])
def test_wrong_seeks_are_detected_and_corrected(mp4, error):
    src = video.open_locator(video.probe(str(mp4)).locator)
    src._cap = _SloppyCapture(src._cap, error)
    for t in [70, 30, 110, 5, 64, 63, 119]:
        src.drop_cache()
        assert stamp(src, t) == t
    if error > 0:
        assert src.stats["reseeks"] + src.stats["fallbacks"] > 0


def test_unreliable_timestamps_fall_back_to_counting(mp4):
    index = frame_index.build(str(mp4))
    index = FrameIndex([0.0] * index.frames, None, index.fps, index.codec, index.size)
    assert not index.pts_reliable
    src = video.VideoSource(str(mp4), index)
    for t in [50, 10, 9, 119, 0]:
        assert stamp(src, t) == t
    assert src.stats["seeks"] == 0 and src.stats["fallbacks"] >= 2


def test_index_is_stored_compactly_and_reused(mp4, monkeypatch):
    found = video.probe(str(mp4))
    index = found.locator["index"]
    assert len(index["pts_runs"]) == 1 and len(index["key_runs"]) == 1     # constant frame rate, fixed GOP
    monkeypatch.setattr(frame_index, "build", lambda *a, **k: pytest.fail("index rebuilt"))
    assert stamp(video.open_locator(found.locator), 77) == 77


def test_changed_file_is_reindexed(tmp_path):
    path = write_stamped_clip(tmp_path / "c.mp4", n_frames=30, size=(64, 48))
    found = video.probe(str(path))
    write_stamped_clip(path, n_frames=50, size=(64, 48))
    src = video.open_locator(found.locator)
    assert src.info.frames == 50 and stamp(src, 49) == 49


def test_runs_round_trip():
    values = [0.0, 40.0, 80.0, 120.0, 161.5, 170.0, 250.0, 0.0]
    assert unruns(runs(values)) == pytest.approx(values)
    assert runs([1001 / 30 * k for k in range(1000)]) == [[0.0, pytest.approx(1001 / 30), 1000]]
    assert unruns(runs([])) == []


def test_unstamped_last_frame_is_tolerated():
    index = FrameIndex([0.0, 40.0, 80.0, 120.0, 0.0], [0], 25.0, "mpg2", (8, 8))
    assert index.pts_reliable and index.stamped == [True, True, True, True, False]
    assert index.index_of(80.0) == 2 and index.index_of(0.0) is None      # 0.0 is ambiguous
    assert index.index_of(0.0, strict=False) == 0 and index.matches(4, 0.0) and index.matches(0, 0.0)


def test_unsupported_codec_names_the_codec(tmp_path):
    bogus = write_unsupported_codec(tmp_path / "bogus.avi")
    assert not cv2.VideoCapture(str(bogus), cv2.CAP_FFMPEG).isOpened(), "OpenCV should not decode QQZZ"
    with pytest.raises(InputError, match="unsupported codec 'QQZZ'") as err:
        video.probe(str(bogus))
    assert err.value.path.endswith("bogus.avi")


def test_bad_videos_give_one_clear_message(tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("hello, not a video")
    for name, fourcc in [("t.mp4", "mp4v"), ("t.avi", "MJPG"), ("t.mkv", "FFV1")]:
        good = write_stamped_clip(tmp_path / f"ok-{name}", n_frames=60, size=(64, 48), fourcc=fourcc).read_bytes()
        (tmp_path / f"trunc-{name}").write_bytes(good[: len(good) // 3])
    cases = [("zero.mp4", "empty"), ("text.mp4", "not a video"), ("missing.mp4", "no such file"),
             ("trunc-t.mp4", "not a video|truncated"), ("trunc-t.avi", "truncated.*declares 60 frames"),
             ("trunc-t.mkv", "truncated.*declares 60 frames")]
    for name, pattern in cases:
        with pytest.raises(InputError, match=pattern) as err:
            video.probe(str(tmp_path / name))
        assert err.value.path.endswith(name)
    with pytest.raises(IndexError):
        video.open_locator(video.probe(str(tmp_path / "ok-t.mp4")).locator).read_frame(60)


def test_frames_handed_out_never_change(mp4):
    """A small ring recycles evicted frames' memory, but never one a caller still holds."""
    src = video.VideoSource(str(mp4), FrameIndex.from_json(video.probe(str(mp4)).locator["index"]),
                            ring_bytes=4 * 128 * 96 * 3)
    held = src.read_frame(10)
    region = src.read_region(0, 0, 0, 128, 20, Plane(t=11))
    before, region_before = held.copy(), region.copy()
    for t in range(12, 60):
        assert stamp(src, t) == t
    assert len(src.cached_frames()) <= 4 and src._spare, "evicted frames should be recycled"
    assert np.array_equal(held, before) and np.array_equal(region, region_before)
    assert read_stamp(held) == 10
