"""VID-2 (seek accuracy), VID-3 (random seek latency) and VID-4 (step back one frame, repeatedly)
against B29 = ``cap.set(CAP_PROP_POS_FRAMES, t)`` + ``cap.read()`` on the same file, interleaved.

    python benchmarks/bench_video.py [--size 1280x720] [--frames 300] [--codecs mp4v,MJPG,...]
                                     [--ffmpeg /path/to/ffmpeg]

Clips are frame-stamped (``labeldesk.core.samples.video``) in every codec OpenCV writes here.
``--ffmpeg`` adds files OpenCV cannot write (H.264 with B-frames, 23.976 fps, variable frame
rate, MPEG-2 program stream), transcoded from the FFV1 clip; their ground truth is a sequential
decode, since re-timing may drop frames.
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, row  # noqa: E402

from labeldesk.core.io import video  # noqa: E402
from labeldesk.core.io.opencv import cv2  # noqa: E402
from labeldesk.core.samples.video import CLIPS, read_stamp, write_stamped_clip  # noqa: E402

SEEKS = 40


def ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def truth_of(path: Path) -> list[int]:
    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return out
        out.append(read_stamp(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))


def transcoded(ffmpeg: str, src: Path, tmp: Path) -> list[tuple[str, Path]]:
    vfr = "setpts='N/25/TB+if(gt(N,100),(N-100)*0.02/TB,0)'"
    recipes = {
        "h264-bframes.mp4": ["-c:v", "libx264", "-bf", "3", "-g", "60", "-pix_fmt", "yuv420p"],
        "h264-23.976.mp4": ["-c:v", "libx264", "-bf", "3", "-g", "48", "-pix_fmt", "yuv420p", "-r", "24000/1001"],
        "h264-vfr.mp4": ["-vf", vfr, "-fps_mode", "vfr", "-c:v", "libx264", "-bf", "2", "-g", "60", "-pix_fmt", "yuv420p"],
        "h264-vfr.mkv": ["-vf", vfr, "-fps_mode", "vfr", "-c:v", "libx264", "-bf", "2", "-g", "60", "-pix_fmt", "yuv420p"],
        "mpeg2-ps.mpg": ["-c:v", "mpeg2video", "-bf", "2", "-g", "15", "-q:v", "4"],
    }
    out = []
    for name, args in recipes.items():
        dst = tmp / name
        subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
        out.append((name, dst))
    return out


def bench(label: str, path: Path, truth: list[int], steps: int) -> None:
    n = len(truth)
    t0 = time.perf_counter()
    found = video.probe(str(path))
    index_ms = (time.perf_counter() - t0) * 1000.0
    cap = cv2.VideoCapture(str(path))
    decode_ms = ms(lambda: [None for _ in iter(cap.grab, False)])
    src = video.open_locator(found.locator)
    info = found.info
    keys = found.locator["index"]["key_runs"]
    print(f"\n{label}: {info.width}x{info.height}, {info.frames} frames (decoded: {n}, container says "
          f"{info.meta['declared_frames']}), {info.fps:.3f} fps, codec {info.meta['codec']}, "
          f"keyframes {'unknown' if keys is None else info.meta['keyframes']}")
    print(f"        index at import {index_ms:.0f} ms = {index_ms / decode_ms:.2f}x one grab() pass ({decode_ms:.0f} ms)")

    # VID-2 / VID-3: cold random seeks, interleaved with B29 at the same frame
    base = cv2.VideoCapture(str(path))
    rnd = random.Random(11)
    targets = [rnd.randrange(n) for _ in range(SEEKS)]
    ours, b29, wrong, b29_wrong = [], [], 0, 0
    for t in targets:
        src.drop_cache()
        frame: list = []
        ours.append(ms(lambda: frame.append(src.read_frame(t))))
        wrong += read_stamp(frame[0]) != truth[t]
        got: list = []
        b29.append(ms(lambda: (base.set(cv2.CAP_PROP_POS_FRAMES, t), got.append(base.read()))))
        ok, bgr = got[0][0], got[0][1]
        b29_wrong += (not ok) or read_stamp(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) != truth[t]
    print(f"VID-2   {SEEKS} random seeks: {wrong} wrong (target 0); B29 alone: {b29_wrong} wrong; "
          f"rewinds {src.stats['fallbacks']}, re-seeks {src.stats['reseeks']}")
    print(row("VID-3", "random seek, cold ring", ours, b29, "<= 1.2x B29"))
    warm = [ms(lambda: src.read_frame(t)) for t in targets[-5:] for _ in range(3)]
    print(f"VID-3w  seek to a frame in the ring: p50 {statistics.median(warm):.4f} ms (target <= 16.7 ms)")

    # VID-4: step back one frame at a time from near the end, B29 interleaved at the same frame
    src.drop_cache()
    start = n - 5
    src.read_frame(start)
    ours, b29, wrong = [], [], 0
    for t in range(start - 1, max(-1, start - 1 - steps), -1):
        frame = []
        ours.append(ms(lambda: frame.append(src.read_frame(t))))
        wrong += read_stamp(frame[0]) != truth[t]
        b29.append(ms(lambda: (base.set(cv2.CAP_PROP_POS_FRAMES, t), base.read())))
    print(row("VID-4", f"step back 1 frame x{len(ours)}", ours, b29, "<= 0.2x B29"))
    mean_ratio = statistics.mean(ours) / statistics.mean(b29)
    print(f"        mean (amortised) {statistics.mean(ours):.2f} ms vs {statistics.mean(b29):.2f} ms = "
          f"{mean_ratio:.2f}x; worst step {max(ours):.1f} ms; {wrong} wrong")
    src.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--codecs", default=",".join(f for _, f in CLIPS))
    ap.add_argument("--steps", type=int, default=100, help="back-steps for VID-4")
    ap.add_argument("--ffmpeg", help="an ffmpeg binary, to add H.264 / VFR / MPEG-2 files")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    print(machine())
    print(f"OpenCV {cv2.__version__}; {a.frames} frames of {w}x{h}; B29 = cap.set(POS_FRAMES) + read()")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        wanted = a.codecs.split(",")
        for suffix, fourcc in CLIPS:
            if fourcc not in wanted:
                continue
            path = write_stamped_clip(tmp / f"clip-{fourcc}{suffix}", n_frames=a.frames, size=(w, h), fourcc=fourcc)
            bench(f"{fourcc} ({suffix})", path, list(range(a.frames)), a.steps)
        if a.ffmpeg:
            src = tmp / "src.mkv"
            if not src.exists():
                write_stamped_clip(src, n_frames=a.frames, size=(w, h), fourcc="FFV1")
            for name, path in transcoded(a.ffmpeg, src, tmp):
                bench(name, path, truth_of(path), a.steps)


if __name__ == "__main__":
    main()
