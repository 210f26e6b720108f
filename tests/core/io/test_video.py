from __future__ import annotations

import random

import pytest

from labeldesk.core.errors import InputError
from labeldesk.core.io import video
from labeldesk.core.model import Plane
from labeldesk.core.samples.video import read_stamp, write_stamped_clip, write_unsupported_codec

CLIPS = [(".mp4", "mp4v"), (".avi", "MJPG"), (".avi", "XVID"), (".mkv", "FFV1"), (".webm", "VP90")]


@pytest.mark.parametrize("suffix,fourcc", CLIPS)
def test_random_seeks_return_the_stamped_frame(tmp_path, suffix, fourcc):
    path = write_stamped_clip(tmp_path / f"clip-{fourcc}{suffix}", n_frames=40, size=(192, 96), fourcc=fourcc)
    found = video.probe(str(path))
    assert found.info.frames == 40 and found.info.fps == pytest.approx(25.0)
    src = video.open_locator(found.locator)
    order = list(range(40))
    random.Random(7).shuffle(order)
    for t in order + [39, 0, 38, 37, 36, 1]:
        assert read_stamp(src.read_region(0, 0, 0, 192, 96, Plane(t=t))) == t
    src.close()


def test_step_back_after_seek_comes_from_the_ring(tmp_path):
    path = write_stamped_clip(tmp_path / "c.mp4", n_frames=60, size=(128, 96))
    src = video.open_locator(video.probe(str(path)).locator)
    src.read_frame(40)
    decoded = src.stats["decoded"]
    for t in range(39, 30, -1):
        assert read_stamp(src.read_frame(t)) == t
    assert src.stats["decoded"] == decoded, "stepping back re-decoded frames"
    for t in range(41, 50):        # playback forward never seeks
        seeks = src.stats["seeks"]
        assert read_stamp(src.read_frame(t)) == t
        assert src.stats["seeks"] == seeks


def test_bad_videos_give_clear_messages(tmp_path):
    write_unsupported_codec(tmp_path / "bogus.avi")
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("hello, not a video")
    good = write_stamped_clip(tmp_path / "ok.mp4", n_frames=10, size=(64, 48)).read_bytes()
    (tmp_path / "trunc.mp4").write_bytes(good[: len(good) // 3])
    for name, pattern in [("bogus.avi", "codec|cannot open|can open"), ("zero.mp4", "empty"),
                          ("text.mp4", "can open|codec"), ("trunc.mp4", "can open|codec|decoded")]:
        with pytest.raises(InputError, match=pattern) as err:
            video.probe(str(tmp_path / name))
        assert err.value.path.endswith(name)
