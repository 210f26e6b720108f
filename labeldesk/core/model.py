"""Domain records: frozen dataclasses shared by the store, the readers and the GUI.

Coordinates in geometry are level-0 image pixels of one plane (``image_xy``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

AXES = ("axial", "coronal", "sagittal")


@dataclass(frozen=True, order=True)
class Plane:
    """Where on an asset a shape lives: slice ``z``, frame/time ``t`` and, for volumes, the view axis."""

    z: int = 0
    t: int = 0
    axis: str = "axial"

    def __post_init__(self) -> None:
        if self.z < 0 or self.t < 0:
            raise ValueError(f"plane indices must be >= 0, got z={self.z} t={self.t}")
        if self.axis not in AXES:
            raise ValueError(f"unknown plane axis {self.axis!r}; expected one of {AXES}")

    def to_dict(self) -> dict[str, Any]:
        return {"z": self.z, "t": self.t, "axis": self.axis}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Plane":
        d = d or {}
        return cls(int(d.get("z", 0)), int(d.get("t", 0)), str(d.get("axis", "axial")))

    def key(self) -> str:
        return f"{self.axis}:{self.z}:{self.t}"


ASSET_KINDS = ("image", "pyramid", "video", "volume")


@dataclass(frozen=True)
class Asset:
    """An image, large image (tile pyramid), video or volume, identified by content hash."""

    id: str
    kind: str
    name: str
    content_hash: str
    width: int
    height: int
    depth: int = 1          # number of slices (volumes)
    frames: int = 1         # number of frames / time points
    channels: int = 1
    dtype: str = "uint8"
    spacing: tuple[float, ...] | None = None   # (sx, sy, sz) in mm where known
    meta: dict[str, Any] = field(default_factory=dict)
    removed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "content_hash": self.content_hash,
            "width": self.width, "height": self.height, "depth": self.depth, "frames": self.frames,
            "channels": self.channels, "dtype": self.dtype,
            "spacing": list(self.spacing) if self.spacing is not None else None,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Asset":
        sp = d.get("spacing")
        return cls(
            id=d["id"], kind=d["kind"], name=d["name"], content_hash=d["content_hash"],
            width=int(d["width"]), height=int(d["height"]), depth=int(d.get("depth", 1)),
            frames=int(d.get("frames", 1)), channels=int(d.get("channels", 1)),
            dtype=str(d.get("dtype", "uint8")),
            spacing=tuple(float(s) for s in sp) if sp is not None else None,
            meta=dict(d.get("meta") or {}), removed=bool(d.get("removed", False)),
        )


LAYER_KINDS = ("annotator", "final", "predictions")


@dataclass(frozen=True)
class Layer:
    """One annotator's set of annotations (dual labeling), a reviewer's final layer or model predictions."""

    id: str
    name: str
    kind: str = "annotator"
    owner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "owner": self.owner}


@dataclass(frozen=True)
class Annotation:
    id: str
    asset_id: str
    layer_id: str
    class_id: str | None
    plane: Plane
    geometry: Any              # labeldesk.core.geometry.Geometry
    attributes: dict[str, Any] = field(default_factory=dict)
    author: str | None = None
    revision: str | None = None   # op_id of the op that produced this state
    deleted: bool = False
    z_order: float = 0.0          # drawing order on its plane (higher on top)
    track_id: str | None = None   # video/volume object identity across frames or slices
    keyframe: bool = True         # False: made by interpolation between keyframes

    def with_(self, **changes: Any) -> "Annotation":
        return replace(self, **changes)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    roles: frozenset[str] = frozenset()
