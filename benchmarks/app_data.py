"""Test data for the app-level benchmarks: a 4096² image and a labelme JSON file with N random
32-vertex star polygons (dense, overlapping), and a labeldesk project that imported it.

    python benchmarks/app_data.py --n 10000 [--dir /tmp/labeldesk-app-bench]

Files are cached per N under the folder: ``n<N>/image.png``, ``n<N>/image.json`` (labelme) and
``n<N>/project`` (a labeldesk project with the image and its annotations).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SIDE = 4096
VERTICES = 32
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(os.environ.get("LABELDESK_BENCH_DIR", "/tmp/labeldesk-app-bench"))


def stars(n: int, seed: int = 0) -> np.ndarray:
    """(n, 32, 2) star polygons, centres uniform over the image, radii 12–48 px (overlapping)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(60, SIDE - 60, (n, 1, 2))
    t = np.linspace(0, 2 * math.pi, VERTICES, endpoint=False)
    spikes = np.where(np.arange(VERTICES) % 2 == 0, 1.0, 0.55)
    r = rng.uniform(12, 48, (n, 1)) * spikes * rng.uniform(0.9, 1.1, (n, VERTICES))
    pts = centres + np.stack([r * np.cos(t), r * np.sin(t)], -1)
    return np.clip(pts, 0, SIDE - 1).round(2)


def image(path: Path) -> None:
    import cv2
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    img = ((xx // 64 + yy // 64) % 2 * 60 + 80 + (xx * 37 + yy * 11) % 41).astype(np.uint8)
    cv2.imwrite(str(path), img)


def labelme_json(path: Path, n: int) -> None:
    shapes = [{"label": f"class{i % 4}", "points": p.tolist(), "group_id": None, "description": "",
               "shape_type": "polygon", "flags": {}, "mask": None} for i, p in enumerate(stars(n))]
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "image.png", "imageData": None,
           "imageHeight": SIDE, "imageWidth": SIDE}
    path.write_text(json.dumps(doc))


def prepare(n: int, base: Path = DEFAULT_DIR, project: bool = True) -> Path:
    """The folder for N (files made on first use)."""
    folder = base / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "image.png").exists():
        image(folder / "image.png")
    if not (folder / "image.json").exists():
        labelme_json(folder / "image.json", n)
    proj = folder / "project"
    if project and not (proj / "ready").exists():
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if proj.exists():
            import shutil
            shutil.rmtree(proj)
        for args in (["init", str(proj)], ["add", str(proj), str(folder / "image.png")],
                     ["import", "-q", "--create-classes", str(proj), str(folder / "image.json")]):
            subprocess.run([sys.executable, "-m", "labeldesk", *args], check=True, env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL)
        (proj / "ready").write_text("ok")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    a = ap.parse_args()
    print(prepare(a.n, a.dir))


if __name__ == "__main__":
    main()
