"""Data checks on the assets' pixels and headers: near-duplicate images (perceptual hash), blur,
over/under-exposure, DICOM geometry (missing slices, uneven spacing, mixed orientation) and
corrupt frames. :func:`asset_stats` also measures what drift compares (intensity, size).

Pixels are read through the asset's ImageSource at a representative plane (the middle slice or
frame), reduced to at most 256 px a side; findings are :class:`~checks.Finding` s, waivable
like the label checks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from labeldesk.core.model import Plane
from labeldesk.core.quality.checks import Finding

DATA_CHECKS = ("image_duplicate", "blur", "exposure", "dicom_geometry", "corrupt")
SIDE = 256


@dataclass
class DataThresholds:
    hash_distance: int = 4          # bits of 64 in which two images' difference hashes may differ
    blur: float = 15.0              # variance of the Laplacian (contrast-stretched grey) below this
    clipped: float = 0.25           # share of pixels at the darkest/brightest value above this
    frames_sampled: int = 24        # frames of a video read to look for corrupt ones


@dataclass
class AssetStats:
    asset_id: str
    name: str
    kind: str
    width: int
    height: int
    ok: bool = True
    problem: str = ""
    dhash: int = 0
    sharpness: float = float("nan")
    dark: float = 0.0               # share of pixels at the minimum of the dtype (8-bit) / of the plane
    bright: float = 0.0
    intensity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # a sample of values


def _grey(pixels: np.ndarray) -> np.ndarray:
    a = np.asarray(pixels)
    if a.ndim == 3:
        a = a[..., :3].mean(axis=2) if a.shape[2] >= 3 else a[..., 0]
    return a.astype(np.float32)


def _shrink(a: np.ndarray) -> np.ndarray:
    from labeldesk.core.io.opencv import cv2
    h, w = a.shape[:2]
    f = SIDE / max(h, w)
    if f < 1:
        a = cv2.resize(a, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
    return a


def dhash(grey: np.ndarray) -> int:
    """64-bit difference hash: is each of 8×8 cells brighter than its right neighbour."""
    from labeldesk.core.io.opencv import cv2
    small = cv2.resize(grey.astype(np.float32), (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


def sharpness(grey8: np.ndarray) -> float:
    from labeldesk.core.io.opencv import cv2
    return float(cv2.Laplacian(grey8.astype(np.float32), cv2.CV_32F).var())


def _representative(asset: Any) -> Plane:
    if asset.kind == "volume":
        return Plane(z=asset.depth // 2)
    if asset.kind == "video":
        return Plane(t=asset.frames // 2)
    return Plane()


def asset_stats(project: Any, asset: Any, samples: int = 4096) -> AssetStats:
    """Pixel measures of one asset (``ok=False`` with the reason when it cannot be read)."""
    st = AssetStats(asset.id, asset.name, asset.kind, asset.width, asset.height)
    try:
        src = project.open_source(asset.id)
        try:
            level = len(src.info.levels) - 1 if src.info.levels else 0
            raw = src.read_plane(_representative(asset), level)
        finally:
            src.close()
    except Exception as exc:          # unreadable pixels are a finding, not a crash
        st.ok, st.problem = False, " ".join(str(exc).split())[:200]
        return st
    g = _shrink(_grey(raw))
    lo, hi = (0.0, 255.0) if raw.dtype == np.uint8 else (float(g.min()), float(g.max()))
    g8 = np.clip((g - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255)
    p1, p99 = np.percentile(g, (1, 99))       # sharpness on the contrast-stretched image
    stretched = np.clip((g - p1) * (255.0 / max(p99 - p1, 1e-6)), 0, 255)
    st.dhash, st.sharpness = dhash(g), sharpness(stretched)
    st.dark, st.bright = float(np.mean(g8 <= 1)), float(np.mean(g8 >= 254))
    flat = g.ravel()
    st.intensity = flat[np.linspace(0, flat.size - 1, min(samples, flat.size)).astype(np.int64)]
    return st


def _dicom_geometry(project: Any, asset: Any) -> list[str]:
    """Problems of a DICOM volume's slice geometry, read from its files' headers."""
    import pydicom
    loc = project.locator(asset.id) or {}
    if loc.get("reader") != "dicom" or len(loc.get("files") or []) < 2 or len(set(loc["files"])) < 2:
        return []
    pos, ori = [], []
    for path in dict.fromkeys(loc["files"]):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True,
                                 specific_tags=["ImagePositionPatient", "ImageOrientationPatient"])
        except Exception as exc:
            return [f"header of {path} unreadable ({exc})"]
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            return ["no patient geometry (position/orientation): slice order and spacing are guesses"]
        pos.append([float(v) for v in ds.ImagePositionPatient])
        ori.append([float(v) for v in ds.ImageOrientationPatient])
    return geometry_problems(np.array(pos), np.array(ori))


def geometry_problems(positions: np.ndarray, orientations: np.ndarray) -> list[str]:
    """Missing slices, uneven spacing, duplicate positions and mixed orientation of one stack."""
    out = []
    if np.max(np.abs(orientations - orientations[0])) > 1e-3:
        out.append(f"mixed orientation: {len(np.unique(orientations.round(3), axis=0))} different slice orientations")
    normal = np.cross(orientations[0][:3], orientations[0][3:])
    d = np.sort(positions @ normal)
    steps = np.diff(d)
    if np.any(steps < 1e-3):
        out.append(f"{int(np.sum(steps < 1e-3))} slice(s) at the same position")
    steps = steps[steps >= 1e-3]
    if len(steps):
        dz = float(np.median(steps))
        gaps = steps > 1.5 * dz
        if gaps.any():
            missing = int(np.sum(np.round(steps[gaps] / dz) - 1))
            out.append(f"{missing} missing slice(s): gaps of {', '.join(f'{s:.1f}' for s in steps[gaps])} mm "
                       f"where slices are {dz:.2f} mm apart")
        elif np.max(np.abs(steps - dz)) > 0.1 * dz:
            out.append(f"uneven slice spacing: {steps.min():.2f}–{steps.max():.2f} mm")
    return out


def _corrupt_frames(project: Any, asset: Any, th: DataThresholds) -> list[str]:
    if asset.kind not in ("video", "volume"):
        return []
    count = asset.frames if asset.kind == "video" else asset.depth * max(asset.frames, 1)
    want = sorted(set(np.linspace(0, count - 1, min(count, th.frames_sampled)).astype(int).tolist())) \
        if asset.kind == "video" else list(range(count))
    bad = []
    try:
        src = project.open_source(asset.id)
    except Exception:
        return []                      # reported by the unreadable-asset finding
    try:
        for k in want:
            plane = Plane(t=k) if asset.kind == "video" else Plane(z=k % asset.depth, t=k // asset.depth)
            try:
                src.read_plane(plane, len(src.info.levels) - 1 if src.info.levels else 0)
            except Exception as exc:
                bad.append(f"{'frame' if asset.kind == 'video' else 'slice'} {k}: {' '.join(str(exc).split())[:120]}")
    finally:
        src.close()
    return bad


def run(project: Any, *, only: list[str] | None = None, th: DataThresholds | None = None,
        asset_ids: list[str] | None = None, progress: Callable[[int, int, str], None] | None = None,
        include_waived: bool = False) -> tuple[list[Finding], list[AssetStats]]:
    from labeldesk.core.quality import records
    th = th or DataThresholds()
    want = set(only or DATA_CHECKS)
    assets = [a for a in project.assets() if asset_ids is None or a.id in asset_ids]
    found: list[Finding] = []
    stats: list[AssetStats] = []

    def add(check: str, asset: Any, reason: str, value: float, threshold: float, subject: str | None = None) -> None:
        found.append(Finding(check, subject or asset.id, f"{asset.name}: {reason}", round(float(value), 4),
                             threshold, asset.id))

    for n, asset in enumerate(assets):
        if progress:
            progress(n, len(assets), asset.name)
        st = asset_stats(project, asset)
        stats.append(st)
        if not st.ok:
            if "corrupt" in want:
                add("corrupt", asset, f"pixels cannot be read ({st.problem})", 1, 0)
            continue
        if "blur" in want and asset.kind != "volume" and st.sharpness < th.blur:
            add("blur", asset, f"blurred: sharpness {st.sharpness:.1f} (variance of the Laplacian; "
                f"minimum {th.blur:g})", st.sharpness, th.blur)
        if "exposure" in want and asset.kind != "volume":
            for word, share in (("under-exposed", st.dark), ("over-exposed", st.bright)):
                if share > th.clipped:
                    add("exposure", asset, f"{word}: {share:.0%} of pixels clipped (limit {th.clipped:.0%})",
                        share, th.clipped, subject=f"{asset.id}/{word}")
        if "dicom_geometry" in want and asset.kind == "volume":
            for problem in _dicom_geometry(project, asset):
                add("dicom_geometry", asset, problem, 1, 0, subject=f"{asset.id}/{problem.split(':')[0][:40]}")
        if "corrupt" in want:
            for problem in _corrupt_frames(project, asset, th):
                add("corrupt", asset, f"corrupt {problem}", 1, 0, subject=f"{asset.id}/{problem.split(':')[0]}")
    if "image_duplicate" in want:
        found += duplicates([s for s in stats if s.ok and s.kind != "volume"], th)
    if progress:
        progress(len(assets), len(assets), "done")
    if include_waived:
        return found, stats
    waived = records.load(project.conn).waivers
    return [f for f in found if f.key not in waived], stats


def duplicates(stats: list[AssetStats], th: DataThresholds) -> list[Finding]:
    """Pairs of images whose 64-bit difference hashes differ in at most ``hash_distance`` bits."""
    if len(stats) < 2:
        return []
    h = np.array([s.dhash for s in stats], np.uint64)
    out = []
    for i in range(len(h) - 1):
        dist = np.bitwise_count(h[i + 1:] ^ h[i])
        for k in np.flatnonzero(dist <= th.hash_distance):
            j = i + 1 + int(k)
            a, b = stats[i], stats[j]
            out.append(Finding("image_duplicate", f"{a.asset_id}+{b.asset_id}",
                               f"{b.name} looks like {a.name} ({int(dist[k])} of 64 hash bits differ)",
                               int(dist[k]), th.hash_distance, b.asset_id))
    return out
