"""Fixtures for the interchange tests: a project with named assets, classes and annotations."""
from __future__ import annotations

from typing import Any

import pytest

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project


def add_asset(project: Project, name: str, width: int = 64, height: int = 48, *, kind: str = "image",
              depth: int = 1, frames: int = 1, source: str | None = None) -> str:
    asset_id = ids.new_id()
    project.apply(OpDraft("asset.add", asset_id, {"asset": {
        "kind": kind, "name": name, "content_hash": "sha256:" + asset_id, "width": width, "height": height,
        "depth": depth, "frames": frames}},
        local={"locator": {"reader": "raster", "path": source or f"/data/{name}"}}))
    return asset_id


def add_class(project: Project, name: str, attributes: list[dict[str, Any]] | None = None,
              kinds: list[str] | None = None) -> str:
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": name, "color": "#112233", "kinds": kinds or [], "attributes": attributes or []}}))
    return cid


def annotate(project: Project, asset_id: str, class_id: str | None, geometry: dict[str, Any],
             plane: dict[str, Any] | None = None, attributes: dict[str, Any] | None = None,
             layer_id: str | None = None) -> str:
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset_id, "layer_id": layer_id or project.my_layer_id, "class_id": class_id,
        "plane": plane or {"z": 0, "t": 0, "axis": "axial"}, "geometry": geometry,
        "attributes": attributes or {}}}))
    return aid


def layer_named(project: Project, name: str) -> str:
    return next(l.id for l in project.layers() if l.name == name)


def shapes(project: Project, layer_id: str) -> list[tuple[str, Any, Any, dict[str, Any], dict[str, Any]]]:
    """(asset name, plane, class name, geometry dict, attributes) of a layer, sorted."""
    names = {c.id: c.name for c in project.classes()}
    out = []
    for a in project.assets():
        for ann in project.annotations(a.id, layer_id=layer_id):
            out.append((a.name, ann.plane.key(), names.get(ann.class_id), ann.geometry.to_dict(), ann.attributes))
    return sorted(out, key=repr)


def close(a: Any, b: Any, tol: float = 1e-9) -> bool:
    """Geometry dicts (or lists of shapes) equal, numbers to within ``tol`` pixels."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tol
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    return a == b
