"""Shapes between keyframes (video tracks) and masks between slices (volumes).

``interpolate(a, b, f)`` blends two geometries of the same kind at fraction ``f`` in [0, 1];
f = 0 returns ``a`` exactly and f = 1 returns ``b``. Polygons and polylines with different vertex
counts are resampled to a common count by arc length, with the start of ``b`` rotated to the
vertex nearest ``a``'s start. Masks blend signed distance fields, so a small disk and a big disk
give a middle-sized disk. ``fill_between`` builds the ``annotation.create`` drafts for every plane
strictly between two annotations, for one ``apply_all`` (one undo step).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from labeldesk.core import geometry as g
from labeldesk.core import ids
from labeldesk.core.ops import OpDraft


def _lerp(a: float, b: float, f: float) -> float:
    return a + (b - a) * f


def resample(points: list[tuple[float, float]], n: int, closed: bool) -> np.ndarray:
    pts = np.asarray(points, float)
    if closed:
        pts = np.vstack([pts, pts[:1]])
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    targets = np.linspace(0, total, n, endpoint=not closed)
    x = np.interp(targets, cum, pts[:, 0])
    y = np.interp(targets, cum, pts[:, 1])
    return np.stack([x, y], axis=1)


def _align(a: np.ndarray, b: np.ndarray, closed: bool) -> np.ndarray:
    if not closed:
        return b
    shift = int(np.argmin(np.hypot(*(b - a[0]).T)))
    b = np.roll(b, -shift, axis=0)
    # same winding: compare signed areas
    def area(p: np.ndarray) -> float:
        return float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]))
    if area(a) * area(b) < 0:
        b = np.vstack([b[:1], b[:0:-1]])
    return b


def interpolate(a: Any, b: Any, f: float) -> Any:
    if f <= 0:
        return a
    if f >= 1:
        return b
    if type(a) is not type(b):
        raise g.GeometryError(f"cannot interpolate a {a.kind} with a {b.kind}")
    if isinstance(a, g.Box):
        return g.Box(*(_lerp(p, q, f) for p, q in zip(a.bounds(), b.bounds())))
    if isinstance(a, g.RotatedBox):
        da = (b.angle - a.angle + 180) % 360 - 180
        return g.RotatedBox(_lerp(a.cx, b.cx, f), _lerp(a.cy, b.cy, f), _lerp(a.w, b.w, f),
                            _lerp(a.h, b.h, f), a.angle + da * f)
    if isinstance(a, g.Ellipse):
        return g.Ellipse(_lerp(a.cx, b.cx, f), _lerp(a.cy, b.cy, f), _lerp(a.rx, b.rx, f),
                         _lerp(a.ry, b.ry, f), _lerp(a.angle, b.angle, f))
    if isinstance(a, g.Points):
        if len(a.points) != len(b.points):
            raise g.GeometryError("keypoint sets differ in size")
        return g.Points(tuple((_lerp(p[0], q[0], f), _lerp(p[1], q[1], f)) for p, q in zip(a.points, b.points)), a.labels)
    if isinstance(a, (g.Polygon, g.Polyline)):
        closed = isinstance(a, g.Polygon)
        pa, pb = (list(a.shell), list(b.shell)) if closed else (list(a.points), list(b.points))
        n = max(len(pa), len(pb), 8)
        ra, rb = resample(pa, n, closed), resample(pb, n, closed)
        rb = _align(ra, rb, closed)
        mid = tuple(map(tuple, ra + (rb - ra) * f))
        return g.repair_polygon(mid) if closed else g.Polyline(mid)
    if isinstance(a, g.Mask):
        return _mask_between(a, b, f)
    raise g.GeometryError(f"{a.kind} cannot be interpolated")


def _sdf(canvas: np.ndarray) -> np.ndarray:
    from labeldesk.core.io.opencv import cv2
    inside = cv2.distanceTransform(canvas.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~canvas).astype(np.uint8), cv2.DIST_L2, 5)
    return inside - outside


def _mask_between(a: g.Mask, b: g.Mask, f: float) -> g.Mask:
    x0, y0 = min(a.x, b.x) - 2, min(a.y, b.y) - 2
    x1, y1 = max(a.x + a.width, b.x + b.width) + 2, max(a.y + a.height, b.y + b.height) + 2
    w, h = x1 - x0, y1 - y0
    ca = a.translate(-x0, -y0).paste(w, h)
    cb = b.translate(-x0, -y0).paste(w, h)
    blend = _sdf(ca) * (1 - f) + _sdf(cb) * f
    return g.Mask.from_array(blend > 0, x0, y0)


def interpolate_track(keyframes: dict[int, Any], t: int) -> Any:
    """Geometry at frame ``t`` of a track given its keyframes (held before the first/after the last)."""
    keys = sorted(keyframes)
    if t <= keys[0]:
        return keyframes[keys[0]]
    if t >= keys[-1]:
        return keyframes[keys[-1]]
    hi = next(k for k in keys if k >= t)
    lo = max(k for k in keys if k <= t)
    return keyframes[lo] if lo == hi else interpolate(keyframes[lo], keyframes[hi], (t - lo) / (hi - lo))


def fill_between(first: Any, second: Any, layer_id: str | None = None, track_id: str | None = None) -> list[OpDraft]:
    """``annotation.create`` drafts for every slice (volumes: same axis) or frame strictly between
    two annotations of one asset; class and attributes are those of ``first``. The new ones belong
    to ``track_id`` and are marked as interpolated (not keyframes)."""
    if first.asset_id != second.asset_id:
        raise g.GeometryError("interpolate between annotations of the same asset")
    pa, pb = first.plane, second.plane
    if pa.axis != pb.axis:
        raise g.GeometryError("interpolate between annotations on the same view axis")
    along = "z" if pa.z != pb.z else "t"
    if (pa.t != pb.t) and (pa.z != pb.z):
        raise g.GeometryError("interpolate along slices or along frames, not both at once")
    lo, hi = sorted((getattr(pa, along), getattr(pb, along)))
    a, b = (first, second) if getattr(pa, along) == lo else (second, first)
    drafts = []
    for v in range(lo + 1, hi):
        f = (v - lo) / (hi - lo)
        geom = interpolate(a.geometry, b.geometry, f)
        plane = {"axis": pa.axis, "z": v if along == "z" else pa.z, "t": v if along == "t" else pa.t}
        drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": a.asset_id, "layer_id": layer_id or a.layer_id, "class_id": a.class_id,
            "plane": plane, "geometry": geom.to_dict(), "attributes": dict(a.attributes),
            "track_id": track_id, "keyframe": False}},
            reason=f"interpolated between {first.id} and {second.id}"))
    return drafts


def copy_to_plane(annotation: Any, plane: dict[str, Any], layer_id: str | None = None) -> OpDraft:
    return OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": annotation.asset_id, "layer_id": layer_id or annotation.layer_id,
        "class_id": annotation.class_id, "plane": plane, "geometry": annotation.geometry.to_dict(),
        "attributes": dict(annotation.attributes)}}, reason=f"copied from {annotation.id}")


def polygon_length(points: list[tuple[float, float]]) -> float:
    return sum(math.dist(p, q) for p, q in zip(points, points[1:]))
