"""AI-1, AI-2: what a person waits for when a model assists.

    python benchmarks/bench_ai.py [--repeats 15] [--plane 512] [--work 1]

AI-1: latency of one click after the plane's embedding is cached: building the prompt feeds,
the decoder run, turning its output into a plane-sized mask and that mask into the annotation
geometry the tool paints (``SamModel.decode`` + ``Result.geometry``), against a bare
``session.run`` of the same decoder with prepared feeds (B). The decoder has SAM's ONNX inputs and
outputs at full size (1024 input, 256 x 64 x 64 embedding, 256² low-resolution mask) plus ``--work``
1x1 convolutions over the embedding so that it costs about what a real decoder does on a CPU.
Target ≤ 1.2x.

AI-2: pixel classifier: training on 10^5 labelled pixels (features of the labelled planes,
sampling, the forest's fit) and predicting a whole 512² slice (features, ``predict_proba``,
argmax), against scikit-learn's bare ``fit`` on the same 10^5 feature rows and ``predict_proba``
on the slice's rows (B), same forest settings. Target ≤ 1.3x.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import interleaved, machine, row  # noqa: E402

from labeldesk.core.model import Plane  # noqa: E402
from labeldesk.core.models import pixel_classifier as PC  # noqa: E402
from labeldesk.core.models import tiny  # noqa: E402
from labeldesk.core.models.manifest import load  # noqa: E402
from labeldesk.core.models.sam import POSITIVE, Prompt, SamModel  # noqa: E402


def _phantom(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    truth = ((xx - size * 0.55) / (size * 0.25)) ** 2 + ((yy - size * 0.45) / (size * 0.18)) ** 2 <= 1
    img = 60 + 40 * xx / size + truth * 45 + rng.normal(0, 30, truth.shape)
    return np.clip(img, 0, 255).astype(np.uint8), truth


def ai1(repeats: int, plane: int, work: int) -> str:
    folder = Path(tempfile.mkdtemp(prefix="bench-ai1-"))
    manifest = tiny.sam_pair(folder, size=1024, channels=256, work_layers=work)
    model = SamModel(load(manifest), folder / "tiny_sam_encoder.onnx", folder / "tiny_sam_decoder.onnx", gpu=False)
    img, _ = _phantom(plane, 1)
    emb = model.embed(img)
    prompt = Prompt([(plane * 0.55, plane * 0.45, POSITIVE)])
    feeds = model.feeds(emb, prompt)
    model.decoder.run(None, feeds)           # warm up both paths

    def ours() -> None:
        model.decode(emb, prompt).geometry()

    def base() -> None:
        model.decoder.run(None, feeds)
    ours()
    a, b = interleaved(ours, base, repeats)
    return row("AI-1", f"click -> mask on a cached {plane}² embedding", a, b, "≤ 1.2x")


def ai2(repeats: int, trees: int) -> str:
    # three labelled 512² planes, 16,667 pixels of each of the two labels per plane: 10^5 pixels
    planes = [_phantom(512, s) for s in (2, 3, 4)]
    pairs = [(img, PC.LabelledPlane("a", Plane(z=i), truth.astype(np.int16))) for i, (img, truth) in enumerate(planes)]
    target, _ = _phantom(512, 5)
    per_class = 16667
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for img, lp in pairs:
        f = PC.features(img)
        idx = PC.sample(lp.labels, per_class, rng)
        xs.append(f.reshape(-1, f.shape[2])[idx])
        ys.append(lp.labels.ravel()[idx])
    x, y = np.concatenate(xs), np.concatenate(ys)
    rows = PC.features(target).reshape(-1, x.shape[1])
    assert 99_000 <= len(y) <= 101_000, len(y)

    def ours() -> None:
        clf = PC.fit(pairs, ["organ"], per_class=per_class, trees=trees)
        clf.predict(target)

    def base() -> None:
        forest = PC.new_forest(0, trees).fit(x, y)
        forest.predict_proba(rows)
    a, b = interleaved(ours, base, repeats)
    return row("AI-2", f"train 1e5 px + predict 512² ({trees} trees)", a, b, "≤ 1.3x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--plane", type=int, default=512)
    ap.add_argument("--work", type=int, default=1, help="extra 256x256 1x1 convolutions in the AI-1 decoder")
    ap.add_argument("--trees", type=int, default=40)
    ap.add_argument("--only", choices=("ai1", "ai2"))
    args = ap.parse_args()
    print(machine())
    if args.only in (None, "ai1"):
        print(ai1(args.repeats, args.plane, args.work))
    if args.only in (None, "ai2"):
        print(ai2(max(3, args.repeats // 5), args.trees))


if __name__ == "__main__":
    main()
