"""Immutable annotation geometry in ``image_xy`` (level-0 pixels of one plane).

Every shape validates on construction (finite coordinates, non-zero extent) and offers bounds,
area, translation, clipping to the plane and a shapely form for IoU. Masks are run-length encoded
inside their bounding box, so a small mask on a huge image stays small.
"""
from __future__ import annotations

import math
import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import chain
from typing import Any, Iterable, Union

import numpy as np

Point = tuple[float, float]
_isfinite = math.isfinite


class GeometryError(ValueError):
    """The shape is not valid; the message says why."""


def _pts(values: Iterable[Iterable[float]], what: str) -> tuple[Point, ...]:
    try:        # the common case in one comprehension; anything odd takes the loop below for its error
        fast = [(float(x), float(y)) for x, y in values]
    except (TypeError, ValueError):
        fast = None
    if fast is not None and all(_isfinite(x) and _isfinite(y) for x, y in fast):
        return tuple(fast)
    out = []
    for p in values:
        x, y = (float(v) for v in p)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise GeometryError(f"{what}: coordinate is not finite: ({x}, {y})")
        out.append((x, y))
    return tuple(out)


def _dedupe(pts: tuple[Point, ...]) -> tuple[Point, ...]:
    out = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return tuple(out)


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    kind = "box"

    def __post_init__(self) -> None:
        vals = (self.x0, self.y0, self.x1, self.y1)
        if not all(math.isfinite(v) for v in vals):
            raise GeometryError(f"box: coordinate is not finite: {vals}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            lo_x, hi_x = sorted((self.x0, self.x1))
            lo_y, hi_y = sorted((self.y0, self.y1))
            for name, v in zip(("x0", "y0", "x1", "y1"), (lo_x, lo_y, hi_x, hi_y)):
                object.__setattr__(self, name, float(v))
        if self.x1 - self.x0 <= 0 or self.y1 - self.y0 <= 0:
            raise GeometryError(f"box has zero area: {vals}")

    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def translate(self, dx: float, dy: float) -> "Box":
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def to_shapely(self) -> Any:
        from shapely.geometry import box
        return box(self.x0, self.y0, self.x1, self.y1)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "xyxy": [self.x0, self.y0, self.x1, self.y1]}

    def clip(self, width: float, height: float) -> "Box | None":
        x0, y0 = max(0.0, self.x0), max(0.0, self.y0)
        x1, y1 = min(float(width), self.x1), min(float(height), self.y1)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1, y1)


@dataclass(frozen=True)
class RotatedBox:
    cx: float
    cy: float
    w: float
    h: float
    angle: float = 0.0     # degrees, counter-clockwise in image_xy (y down)
    kind = "rotated_box"

    def __post_init__(self) -> None:
        vals = (self.cx, self.cy, self.w, self.h, self.angle)
        if not all(math.isfinite(v) for v in vals):
            raise GeometryError(f"rotated box: value is not finite: {vals}")
        if self.w <= 0 or self.h <= 0:
            raise GeometryError(f"rotated box has zero area: w={self.w} h={self.h}")

    def corners(self) -> tuple[Point, ...]:
        a = math.radians(self.angle)
        c, s = math.cos(a), math.sin(a)
        hw, hh = self.w / 2, self.h / 2
        return tuple((self.cx + dx * c + dy * s, self.cy - dx * s + dy * c)
                     for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)))

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = zip(*self.corners())
        return (min(xs), min(ys), max(xs), max(ys))

    def area(self) -> float:
        return self.w * self.h

    def translate(self, dx: float, dy: float) -> "RotatedBox":
        return RotatedBox(self.cx + dx, self.cy + dy, self.w, self.h, self.angle)

    def to_shapely(self) -> Any:
        from shapely.geometry import Polygon as SPolygon
        return SPolygon(self.corners())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cxcywha": [self.cx, self.cy, self.w, self.h, self.angle]}

    def clip(self, width: float, height: float) -> "RotatedBox | Polygon | None":
        x0, y0, x1, y1 = self.bounds()
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            return self
        return Polygon(self.corners()).clip(width, height)


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float
    angle: float = 0.0
    kind = "ellipse"

    def __post_init__(self) -> None:
        vals = (self.cx, self.cy, self.rx, self.ry, self.angle)
        if not all(math.isfinite(v) for v in vals):
            raise GeometryError(f"ellipse: value is not finite: {vals}")
        if self.rx <= 0 or self.ry <= 0:
            raise GeometryError(f"ellipse has zero area: rx={self.rx} ry={self.ry}")

    def outline(self, n: int = 64) -> tuple[Point, ...]:
        a = math.radians(self.angle)
        c, s = math.cos(a), math.sin(a)
        out = []
        for i in range(n):
            t = 2 * math.pi * i / n
            dx, dy = self.rx * math.cos(t), self.ry * math.sin(t)
            out.append((self.cx + dx * c + dy * s, self.cy - dx * s + dy * c))
        return tuple(out)

    def bounds(self) -> tuple[float, float, float, float]:
        a = math.radians(self.angle)
        hx = math.hypot(self.rx * math.cos(a), self.ry * math.sin(a))
        hy = math.hypot(self.rx * math.sin(a), self.ry * math.cos(a))
        return (self.cx - hx, self.cy - hy, self.cx + hx, self.cy + hy)

    def area(self) -> float:
        return math.pi * self.rx * self.ry

    def translate(self, dx: float, dy: float) -> "Ellipse":
        return Ellipse(self.cx + dx, self.cy + dy, self.rx, self.ry, self.angle)

    def to_shapely(self) -> Any:
        from shapely.geometry import Polygon as SPolygon
        return SPolygon(self.outline(128))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cxcyrxrya": [self.cx, self.cy, self.rx, self.ry, self.angle]}

    def clip(self, width: float, height: float) -> "Ellipse | Polygon | None":
        x0, y0, x1, y1 = self.bounds()
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            return self
        return Polygon(self.outline(128)).clip(width, height)


@dataclass(frozen=True)
class Polygon:
    """A simple polygon with optional holes; refuses self-intersection (see :func:`repair_polygon`)."""

    shell: tuple[Point, ...]
    holes: tuple[tuple[Point, ...], ...] = ()
    kind = "polygon"

    def __post_init__(self) -> None:
        shell = _dedupe(_pts(self.shell, "polygon"))
        holes = tuple(_dedupe(_pts(h, "polygon hole")) for h in self.holes)
        object.__setattr__(self, "shell", shell)
        object.__setattr__(self, "holes", holes)
        if len(shell) < 3:
            raise GeometryError(f"polygon needs at least 3 distinct points, got {len(shell)}")
        if any(len(h) < 3 for h in holes):
            raise GeometryError("polygon hole needs at least 3 distinct points")
        shp = self.to_shapely()
        if not shp.is_valid and shp.convex_hull.area <= 0:   # (a valid polygon has a positive area)
            raise GeometryError("polygon has zero area")
        if not shp.is_valid:
            from shapely.validation import explain_validity
            raise GeometryError(f"polygon is not valid ({explain_validity(shp)}); "
                                "repair it or redraw it")
        if shp.area <= 0:
            raise GeometryError("polygon has zero area")

    def bounds(self) -> tuple[float, float, float, float]:
        b = self.__dict__.get("_bounds")        # (computed once: an edit asks to clip, then to store)
        if b is None:
            xs, ys = zip(*self.shell)
            b = (min(xs), min(ys), max(xs), max(ys))
            object.__setattr__(self, "_bounds", b)
        return b  # type: ignore[no-any-return]

    def area(self) -> float:
        return float(self.to_shapely().area)

    def translate(self, dx: float, dy: float) -> "Polygon":
        return Polygon(tuple((x + dx, y + dy) for x, y in self.shell),
                       tuple(tuple((x + dx, y + dy) for x, y in h) for h in self.holes))

    def to_shapely(self) -> Any:
        import shapely         # (from its WKB: 60 % of the cost of shapely.polygons(np.asarray(...)))
        return shapely.from_wkb(_polygon_wkb(self.shell, self.holes))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "shell": [list(p) for p in self.shell]}
        if self.holes:
            d["holes"] = [[list(p) for p in h] for h in self.holes]
        return d

    def clip(self, width: float, height: float) -> "Polygon | None":
        x0, y0, x1, y1 = self.bounds()
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            return self
        from shapely.geometry import box
        clipped = self.to_shapely().intersection(box(0, 0, width, height))
        return _largest_polygon(clipped)


_WKB_POLYGON = struct.Struct("<BII")        # little-endian, type 3 (Polygon), ring count
_WKB_COUNT = struct.Struct("<I")
_BIG_ENDIAN = sys.byteorder == "big"


def _polygon_wkb(shell: tuple[Point, ...], holes: tuple[tuple[Point, ...], ...] = ()) -> bytes:
    """The polygon as WKB, each ring closed by repeating its first point (as ``shapely.polygons``
    closes an open ring): the very same float64 values, so the same shape as the array
    constructor makes (``tests/core/test_geometry_fast_paths.py``)."""
    parts = [_WKB_POLYGON.pack(1, 3, 1 + len(holes))]
    for ring in (shell, *holes):
        a = array("d", chain.from_iterable(ring))
        a.extend(ring[0])
        if _BIG_ENDIAN:
            a.byteswap()
        parts.append(_WKB_COUNT.pack(len(ring) + 1))
        parts.append(a.tobytes())
    return b"".join(parts)


def _largest_polygon(shp: Any) -> Polygon | None:
    polys = [g for g in getattr(shp, "geoms", [shp]) if g.geom_type == "Polygon" and g.area > 0]
    if not polys:
        return None
    best = max(polys, key=lambda g: g.area)
    return Polygon(tuple(best.exterior.coords), tuple(tuple(r.coords) for r in best.interiors))


def repair_polygon(shell: Iterable[Iterable[float]],
                   holes: Iterable[Iterable[Iterable[float]]] = ()) -> Polygon:
    """Make a valid polygon from possibly self-intersecting rings; keeps the largest part."""
    from shapely.geometry import Polygon as SPolygon
    from shapely.validation import make_valid
    s = _dedupe(_pts(shell, "polygon"))
    hs = [_dedupe(_pts(h, "polygon hole")) for h in holes]
    if len(s) < 3:
        raise GeometryError(f"polygon needs at least 3 distinct points, got {len(s)}")
    fixed = _largest_polygon(make_valid(SPolygon(s, [h for h in hs if len(h) >= 3])))
    if fixed is None:
        raise GeometryError("polygon has zero area")
    return fixed


@dataclass(frozen=True)
class Polyline:
    points: tuple[Point, ...]
    kind = "polyline"

    def __post_init__(self) -> None:
        pts = _dedupe(_pts(self.points, "polyline")) if len(self.points) > 2 else _pts(self.points, "polyline")
        object.__setattr__(self, "points", pts)
        if len(pts) < 2 or len(set(pts)) < 2:
            raise GeometryError("polyline needs at least 2 distinct points")

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = zip(*self.points)
        return (min(xs), min(ys), max(xs), max(ys))

    def area(self) -> float:
        return 0.0

    def length(self) -> float:
        return sum(math.dist(a, b) for a, b in zip(self.points, self.points[1:]))

    def translate(self, dx: float, dy: float) -> "Polyline":
        return Polyline(tuple((x + dx, y + dy) for x, y in self.points))

    def to_shapely(self) -> Any:
        from shapely.geometry import LineString
        return LineString(self.points)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": [list(p) for p in self.points]}

    def clip(self, width: float, height: float) -> "Polyline | None":
        x0, y0, x1, y1 = self.bounds()
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            return self
        from shapely.geometry import box
        part = self.to_shapely().intersection(box(0, 0, width, height))
        lines = [g for g in getattr(part, "geoms", [part]) if g.geom_type == "LineString" and g.length > 0]
        if not lines:
            return None
        return Polyline(tuple(max(lines, key=lambda g: g.length).coords))


@dataclass(frozen=True)
class Points:
    """Points or keypoints; ``labels`` optionally names each point (keypoint skeletons) and
    ``visibility`` optionally says, per point, 2 = visible or 1 = labelled but not visible (COCO's
    v; a keypoint that is not labelled at all, v = 0, is simply absent)."""

    points: tuple[Point, ...]
    labels: tuple[str, ...] = ()
    visibility: tuple[int, ...] = ()
    kind = "points"

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _pts(self.points, "points"))
        if not self.points:
            raise GeometryError("points: at least one point is needed")
        if self.labels and len(self.labels) != len(self.points):
            raise GeometryError("points: one label per point is needed")
        if self.visibility and (len(self.visibility) != len(self.points)
                                or any(v not in (1, 2) for v in self.visibility)):
            raise GeometryError("points: visibility needs one value (1 or 2) per point")

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = zip(*self.points)
        return (min(xs), min(ys), max(xs), max(ys))

    def area(self) -> float:
        return 0.0

    def translate(self, dx: float, dy: float) -> "Points":
        return Points(tuple((x + dx, y + dy) for x, y in self.points), self.labels, self.visibility)

    def to_shapely(self) -> Any:
        from shapely.geometry import MultiPoint
        return MultiPoint(self.points)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "points": [list(p) for p in self.points]}
        if self.labels:
            d["labels"] = list(self.labels)
        if self.visibility and any(v != 2 for v in self.visibility):
            d["visibility"] = list(self.visibility)
        return d

    def clip(self, width: float, height: float) -> "Points | None":
        keep = [(p, i) for i, p in enumerate(self.points) if 0 <= p[0] <= width and 0 <= p[1] <= height]
        if not keep:
            return None
        if len(keep) == len(self.points):
            return self
        labels = tuple(self.labels[i] for _, i in keep) if self.labels else ()
        vis = tuple(self.visibility[i] for _, i in keep) if self.visibility else ()
        return Points(tuple(p for p, _ in keep), labels, vis)


@dataclass(frozen=True)
class Mask:
    """Binary mask in its bounding box ``(x, y, width, height)``; ``counts`` is a row-major RLE
    of alternating runs starting with background (0)."""

    x: int
    y: int
    width: int
    height: int
    counts: tuple[int, ...]
    kind = "mask"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise GeometryError("mask has zero size")
        if any(c < 0 for c in self.counts) or sum(self.counts) != self.width * self.height:
            raise GeometryError(f"mask RLE does not cover {self.width}x{self.height} pixels")
        if self.area() == 0:
            raise GeometryError("mask is empty")

    @classmethod
    def from_array(cls, arr: np.ndarray, x: int = 0, y: int = 0) -> "Mask":
        """From a boolean array placed at (x, y); cropped to its foreground bounding box."""
        a = np.asarray(arr, dtype=bool)
        if a.ndim != 2:
            raise GeometryError(f"mask must be 2-D, got shape {a.shape}")
        rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
        if rows.size == 0:
            raise GeometryError("mask is empty")
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        crop = a[r0:r1, c0:c1].ravel()
        change = np.flatnonzero(crop[1:] != crop[:-1]) + 1
        bounds = np.concatenate(([0], change, [crop.size]))
        runs = np.diff(bounds).tolist()
        if crop[0]:
            runs.insert(0, 0)
        return cls(int(x + c0), int(y + r0), int(c1 - c0), int(r1 - r0), tuple(int(r) for r in runs))

    def to_array(self) -> np.ndarray:
        """The mask inside its bounding box as a (height, width) bool array."""
        values = np.zeros(len(self.counts), dtype=bool)
        values[1::2] = True
        return np.repeat(values, self.counts).reshape(self.height, self.width)

    def paste(self, width: int, height: int) -> np.ndarray:
        """The mask on a (height, width) canvas (clipped)."""
        out = np.zeros((height, width), dtype=bool)
        a = self.to_array()
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.width), min(height, self.y + self.height)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = a[y0 - self.y:y1 - self.y, x0 - self.x:x1 - self.x]
        return out

    def bounds(self) -> tuple[float, float, float, float]:
        return (float(self.x), float(self.y), float(self.x + self.width), float(self.y + self.height))

    def area(self) -> float:
        return float(sum(self.counts[1::2]))

    def translate(self, dx: float, dy: float) -> "Mask":
        return Mask(self.x + int(round(dx)), self.y + int(round(dy)), self.width, self.height, self.counts)

    def to_shapely(self) -> Any:
        from labeldesk.core.io.opencv import cv2
        from shapely.geometry import Polygon as SPolygon
        from shapely.ops import unary_union
        contours, _ = cv2.findContours(self.to_array().astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        polys = []
        for c in contours:
            pts = [(float(p[0][0]) + self.x, float(p[0][1]) + self.y) for p in c]
            if len(pts) >= 3:
                polys.append(SPolygon(pts).buffer(0))
        return unary_union(polys)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "bbox": [self.x, self.y, self.width, self.height],
                "counts": list(self.counts)}

    def clip(self, width: int, height: int) -> "Mask | None":
        x0, y0, x1, y1 = self.bounds()
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            return self
        canvas = self.paste(width, height)
        return Mask.from_array(canvas) if canvas.any() else None


Geometry = Union[Box, RotatedBox, Ellipse, Polygon, Polyline, Points, Mask]
KINDS = ("box", "rotated_box", "ellipse", "polygon", "polyline", "points", "mask")


def _trusted(cls: type, **fields: Any) -> Any:
    """Build a geometry without re-validating it (for rows the store validated on write)."""
    obj = object.__new__(cls)
    for k, v in fields.items():
        object.__setattr__(obj, k, v)
    return obj


def geometry_from_dict(d: dict[str, Any], trusted: bool = False) -> Geometry:
    """Parse the dict form written by ``to_dict``; raises GeometryError on anything malformed.
    ``trusted`` skips validation for geometry read back from the store (validated when written)."""
    if trusted:
        kind = d.get("kind")
        if kind == "polygon":
            return _trusted(Polygon, shell=tuple(map(tuple, d["shell"])),
                            holes=tuple(tuple(map(tuple, h)) for h in d.get("holes", ())))
        if kind == "polyline":
            return _trusted(Polyline, points=tuple(map(tuple, d["points"])))
    try:
        kind = d["kind"]
        if kind == "box":
            return Box(*map(float, d["xyxy"]))
        if kind == "rotated_box":
            return RotatedBox(*map(float, d["cxcywha"]))
        if kind == "ellipse":
            return Ellipse(*map(float, d["cxcyrxrya"]))
        if kind == "polygon":
            shell = d["shell"]        # (a list, as JSON gives it: Polygon reads its points once more)
            return Polygon(shell if type(shell) is list else tuple(tuple(p) for p in shell),
                           tuple(tuple(tuple(p) for p in h) for h in d.get("holes", ())))
        if kind == "polyline":
            return Polyline(tuple(tuple(p) for p in d["points"]))
        if kind == "points":
            return Points(tuple(tuple(p) for p in d["points"]), tuple(d.get("labels", ())),
                          tuple(int(v) for v in d.get("visibility", ())))
        if kind == "mask":
            x, y, w, h = (int(v) for v in d["bbox"])
            return Mask(x, y, w, h, tuple(int(c) for c in d["counts"]))
    except GeometryError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise GeometryError(f"malformed {d.get('kind', 'geometry') if isinstance(d, dict) else 'geometry'}: {exc}") from exc
    raise GeometryError(f"unknown geometry kind {kind!r}; expected one of {KINDS}")


def iou(a: Geometry, b: Geometry) -> float:
    """Intersection over union of two area shapes (masks compared pixel-exactly)."""
    if isinstance(a, Mask) and isinstance(b, Mask):
        x0, y0 = min(a.x, b.x), min(a.y, b.y)
        x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
        ma = a.translate(-x0, -y0).paste(x1 - x0, y1 - y0)
        mb = b.translate(-x0, -y0).paste(x1 - x0, y1 - y0)
        union = np.count_nonzero(ma | mb)
        return float(np.count_nonzero(ma & mb) / union) if union else 0.0
    if a.area() == 0 or b.area() == 0:
        raise GeometryError(f"IoU needs area shapes, got {a.kind} and {b.kind}")
    sa, sb = a.to_shapely(), b.to_shapely()
    union = sa.union(sb).area
    return float(sa.intersection(sb).area / union) if union > 0 else 0.0
