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


# ---- measurements as annotations -------------------------------------------------------------
# A measurement is an annotation (so it is undoable, synced, reviewed and exported like any other)
# whose attributes hold ``{"measure": kind}``: a ruler is a 2-point polyline, an angle a 3-point
# polyline (vertex in the middle), an ROI an ellipse, polygon or box. The reserved attribute is
# accepted on annotations with or without a class.
MEASURE_KEY = "measure"
MEASURE_KINDS = ("ruler", "angle", "roi")


def measure_kind(annotation: Any) -> str | None:
    kind = (annotation.attributes or {}).get(MEASURE_KEY)
    return kind if kind in MEASURE_KINDS else None


def region_mask(geometry: Any, width: int, height: int) -> Any:
    """Boolean (height, width) array of the pixels whose centres lie inside a closed shape (pixel
    (i, j) has its centre at image_xy (i + .5, j + .5)); holes excluded."""
    import numpy as np
    import shapely
    if isinstance(geometry, g.Mask):
        return geometry.paste(width, height)
    if not isinstance(geometry, (g.Box, g.Ellipse, g.RotatedBox, g.Polygon)):
        raise g.GeometryError(f"a {geometry.kind} has no inside: ROI statistics need a closed shape")
    out = np.zeros((height, width), dtype=bool)
    x0, y0, x1, y1 = geometry.bounds()
    c0, r0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    c1, r1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if c1 <= c0 or r1 <= r0:
        return out
    shape = geometry.to_shapely()
    shapely.prepare(shape)
    ys, xs = np.mgrid[r0:r1, c0:c1]
    out[r0:r1, c0:c1] = shapely.contains_xy(shape, xs + 0.5, ys + 0.5)
    return out


@dataclass(frozen=True)
class RoiStats:
    pixels: int
    mean: float
    sd: float
    min: float
    max: float
    area_px: float
    area_mm2: float | None
    unit: str                    # of the values, e.g. "HU" ('' when the data has none)

    def text(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        area = f"{self.area_mm2:.1f} mm²" if self.area_mm2 is not None else f"{self.area_px:.0f} px²"
        return (f"mean {self.mean:.1f}{u}  SD {self.sd:.1f}  min {self.min:g}  max {self.max:g}  "
                f"area {area}")


def roi_stats(pixels: Any, geometry: Any, rescale: tuple[float, float] = (1.0, 0.0),
              px: tuple[float, float] | None = None, unit: str = "") -> RoiStats:
    """Mean, SD, min and max of the rescaled values (e.g. HU) inside a closed shape on one plane,
    and its area (mm² where the pixel size is known; the geometric area, not the pixel count)."""
    import numpy as np
    grey = pixels if pixels.ndim == 2 else pixels[..., 0]
    inside = region_mask(geometry, grey.shape[1], grey.shape[0])
    values = grey[inside].astype(np.float64) * rescale[0] + rescale[1]
    a = area(geometry, px)
    if values.size == 0:
        nan = float("nan")
        return RoiStats(0, nan, nan, nan, nan, a.pixels, a.mm, unit)
    return RoiStats(int(values.size), float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0,
                    float(values.min()), float(values.max()), a.pixels, a.mm, unit)


def value_unit(asset: Any) -> str:
    """The unit of rescaled values: HU for CT, else none."""
    return "HU" if (asset.meta or {}).get("modality") == "CT" else ""


def describe(annotation: Any, px: tuple[float, float] | None, pixels: Any = None,
             rescale: tuple[float, float] = (1.0, 0.0), unit: str = "") -> dict[str, Any]:
    """One row of the Measurements table: kind, value text and, for ROIs, the statistics."""
    kind = measure_kind(annotation)
    geom = annotation.geometry
    row: dict[str, Any] = {"id": annotation.id, "kind": kind, "value": "", "stats": None}
    if kind == "ruler" or (kind is None and isinstance(geom, g.Polyline) and len(geom.points) == 2):
        row["kind"] = row["kind"] or "ruler"
        row["value"] = length(list(geom.points), px).text()
    elif kind == "angle" and isinstance(geom, g.Polyline) and len(geom.points) == 3:
        a, v, b = geom.points
        row["value"] = angle(a, v, b, px).text()
    elif kind == "roi" and pixels is not None:
        stats = roi_stats(pixels, geom, rescale, px, unit)
        row["stats"] = stats
        row["value"] = stats.text()
    return row
