"""Shape conversions of an import: a shape fitted to the kinds its class allows, and a
self-intersecting polygon kept whole as the mask of all its parts.

Formats that hold only boxes (VOC, YOLO) or polygons (YOLO-seg) still re-import into classes
drawn with other kinds: a box becomes a rotated box, polygon or mask; a rotated box or ellipse a
polygon or mask; a polygon a mask (or its minimum rotated rectangle); a mask its largest outline.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from labeldesk.core.geometry import GeometryError, Mask, Polygon, RotatedBox, geometry_from_dict

# In order of preference for each kind.
FIT = {"box": ("rotated_box", "polygon", "mask"), "rotated_box": ("polygon", "mask"),
       "ellipse": ("polygon", "mask"), "polygon": ("mask", "rotated_box"), "mask": ("polygon",)}


def fitted(g: dict[str, Any], kinds: Any, width: int, height: int) -> dict[str, Any] | None:
    """``g`` as the first kind of FIT that ``kinds`` allows; None when there is none (or it fails)."""
    for target in FIT.get(str(g.get("kind")), ()):
        if target not in kinds:
            continue
        try:
            return convert_geometry(g, target, width, height)
        except (GeometryError, KeyError, TypeError, ValueError):
            return None
    return None


def convert_geometry(g: dict[str, Any], target: str, width: int, height: int) -> dict[str, Any]:
    """``g`` as a geometry of kind ``target`` (box -> rotated box/polygon/mask, rotated box and
    ellipse -> polygon/mask, polygon -> mask, mask -> its largest outline as a polygon)."""
    geom = geometry_from_dict(g)
    if target == "rotated_box" and g["kind"] == "box":
        x0, y0, x1, y1 = geom.bounds()
        return RotatedBox((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, 0.0).to_dict()
    if g["kind"] == "polygon" and target == "rotated_box":
        rect = geom.to_shapely().minimum_rotated_rectangle      # exact for a rectangle's corners
        (x0, y0), (x1, y1), (x2, y2) = list(rect.exterior.coords)[:3]
        w, h = math.hypot(x1 - x0, y1 - y0), math.hypot(x2 - x1, y2 - y1)
        angle = math.degrees(math.atan2(-(y1 - y0), x1 - x0))
        cx, cy = rect.centroid.x, rect.centroid.y
        return RotatedBox(cx, cy, w, h, angle).to_dict()
    if g["kind"] == "mask" and target == "polygon":
        from labeldesk.core.assist.contours import mask_to_polygons
        parts = mask_to_polygons(geom)
        if not parts:
            raise GeometryError("the mask has no outline")
        return max(parts, key=lambda p: p.area()).to_dict()
    if g["kind"] == "box":
        x0, y0, x1, y1 = geom.bounds()
        poly = Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1)))
    elif g["kind"] == "rotated_box":
        poly = Polygon(geom.corners())
    elif g["kind"] == "ellipse":
        poly = Polygon(geom.outline(64))
    else:
        poly = geom
    if target == "polygon":
        return poly.to_dict()
    from labeldesk.core.assist.contours import polygon_to_mask
    return polygon_to_mask(poly, width, height).to_dict()




def repaired_parts(g: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A self-intersecting polygon whose repair has several parts, as the polygon dicts of all of
    them (no area lost); None when the repair is one part."""
    from shapely.geometry import Polygon as SPolygon
    from shapely.validation import make_valid
    try:
        fixed = make_valid(SPolygon(g["shell"], [hh for hh in g.get("holes", ()) if len(hh) >= 3]))
    except (ValueError, TypeError, KeyError):
        return None
    parts = [p for p in getattr(fixed, "geoms", [fixed]) if p.geom_type == "Polygon" and p.area > 0]
    out = []
    for p in sorted(parts, key=lambda p: -p.area):
        try:
            out.append(Polygon(tuple(p.exterior.coords), tuple(tuple(r.coords) for r in p.interiors)).to_dict())
        except GeometryError:
            continue
    return out if len(out) > 1 else None
