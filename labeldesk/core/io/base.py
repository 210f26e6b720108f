"""The one reader interface: every asset kind is an :class:`ImageSource`.

``read_region(level, x, y, w, h, plane)`` returns pixels of one plane at one pyramid level as a
numpy array of shape ``(h, w)`` (grey) or ``(h, w, C)`` in the source's stored dtype: never float64
for display. ``x, y, w, h`` are in pixels *of that level*; level 0 is full resolution.
Volumes: ``plane.axis`` selects the reformat (axial/coronal/sagittal), ``plane.z`` the slice along
it and ``plane.t`` the time point. Video: ``plane.t`` is the frame index.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labeldesk.core.model import Plane


@dataclass(frozen=True)
class SourceInfo:
    kind: str                          # image | pyramid | video | volume
    width: int                         # level-0 width of an axial plane / frame
    height: int
    depth: int = 1                     # slices (volume)
    frames: int = 1                    # frames (video) or time points (4-D volume)
    channels: int = 1
    dtype: str = "uint8"
    levels: tuple[tuple[int, int], ...] = ()     # (w, h) per pyramid level, level 0 first
    spacing: tuple[float, float, float] | None = None   # mm per voxel along x (cols), y (rows), z
    affine: tuple[tuple[float, ...], ...] | None = None  # 4x4 ijk -> patient (LPS) mm
    fps: float | None = None
    rescale: tuple[float, float] = (1.0, 0.0)   # (slope, intercept): stored -> physical (e.g. HU)
    photometric: str = ""              # e.g. MONOCHROME1 / MONOCHROME2 / RGB
    window: tuple[float, float] | None = None   # default (center, width) in physical units
    meta: dict[str, Any] = field(default_factory=dict)


class ImageSource(ABC):
    """Read-only pixels of one asset."""

    path: str
    info: SourceInfo

    @abstractmethod
    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    plane: Plane = Plane()) -> np.ndarray:
        """Pixels of ``plane`` at ``level`` in the rectangle (x, y, w, h), clipped to the plane."""

    def plane_size(self, plane: Plane = Plane(), level: int = 0) -> tuple[int, int]:
        """(width, height) of a plane at ``level``; volumes depend on the axis."""
        if self.info.levels:
            return self.info.levels[level]
        return self.info.width, self.info.height

    def read_plane(self, plane: Plane = Plane(), level: int = 0) -> np.ndarray:
        w, h = self.plane_size(plane, level)
        return self.read_region(level, 0, 0, w, h, plane)

    def plane_count(self, axis: str = "axial") -> int:
        """Number of slices along ``axis`` (1 for 2-D assets)."""
        return self.info.depth

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> "ImageSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def clip_rect(x: int, y: int, w: int, h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """Clip a rectangle to ``[0, width) x [0, height)``; returns (x0, y0, x1, y1), possibly empty."""
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return x0, y0, max(x0, x1), max(y0, y1)


@dataclass(frozen=True)
class Discovered:
    """What a reader found in one input and how to open it again later.

    ``locator`` is local-only (it holds paths) and is stored in the project's local table, never
    synced. ``files`` are the files that make the asset up (hashed for identity unless
    ``uid_key`` is given: DICOM series are identified by a keyed hash of their UIDs instead).
    """

    name: str
    info: SourceInfo
    locator: dict[str, Any]
    files: tuple[str, ...]
    uid_key: str | None = None
