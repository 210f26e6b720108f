"""Lengths, angles and areas in pixels and in millimetres.

Pixel size per plane axis: axial (sx, sy), coronal (sx, sz), sagittal (sy, sz) from the asset's
spacing; 2-D images use the project's ``mm_per_pixel`` calibration when set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from labeldesk.core import geometry as g


def pixel_size_mm(asset: Any, axis: str = "axial", mm_per_pixel: float | None = None) -> tuple[float, float] | None:
    if asset.spacing:
        sx, sy, *rest = asset.spacing
        sz = rest[0] if rest else sx
        return {"axial": (sx, sy), "coronal": (sx, sz), "sagittal": (sy, sz)}[axis]
    if mm_per_pixel:
        return (mm_per_pixel, mm_per_pixel)
    return None


@dataclass(frozen=True)
class Measurement:
    kind: str              # length | angle | area
    pixels: float          # px, degrees or px²
    mm: float | None       # mm, degrees or mm² (None when uncalibrated)

    def text(self) -> str:
        if self.kind == "angle":
            return f"{self.pixels:.1f}°"
        unit = "mm" if self.kind == "length" else "mm²"
        px_unit = "px" if self.kind == "length" else "px²"
        return f"{self.mm:.2f} {unit}" if self.mm is not None else f"{self.pixels:.1f} {px_unit}"


def length(points: list[tuple[float, float]], px: tuple[float, float] | None) -> Measurement:
    total_px = sum(math.dist(p, q) for p, q in zip(points, points[1:]))
    total_mm = None
    if px is not None:
        total_mm = sum(math.hypot((q[0] - p[0]) * px[0], (q[1] - p[1]) * px[1]) for p, q in zip(points, points[1:]))
    return Measurement("length", total_px, total_mm)


def angle(a: tuple[float, float], vertex: tuple[float, float], b: tuple[float, float],
          px: tuple[float, float] | None) -> Measurement:
    """Angle at ``vertex`` between the rays to ``a`` and ``b``, in physical space when calibrated."""
    sx, sy = px or (1.0, 1.0)
    v1 = ((a[0] - vertex[0]) * sx, (a[1] - vertex[1]) * sy)
    v2 = ((b[0] - vertex[0]) * sx, (b[1] - vertex[1]) * sy)
    n = math.hypot(*v1) * math.hypot(*v2)
    if n == 0:
        raise g.GeometryError("an angle needs three distinct points")
    deg = math.degrees(math.acos(max(-1.0, min(1.0, (v1[0] * v2[0] + v1[1] * v2[1]) / n))))
    return Measurement("angle", deg, deg)


def area(geometry: Any, px: tuple[float, float] | None) -> Measurement:
    a = geometry.area()
    return Measurement("area", a, a * px[0] * px[1] if px is not None else None)


def measure(geometry: Any, px: tuple[float, float] | None) -> Measurement:
    if isinstance(geometry, g.Polyline):
        return length(list(geometry.points), px)
    return area(geometry, px)
