"""A volume held in memory as one array ``(T, Z, Y, X)`` in its stored dtype, with reformats.

Plane images are plain slices of the voxel grid (``ijk``):

* axial    ``plane.z = k``: rows ``j``, columns ``i``   -> shape (Y, X)
* coronal  ``plane.z = j``: rows ``k``, columns ``i``   -> shape (Z, X)
* sagittal ``plane.z = i``: rows ``k``, columns ``j``   -> shape (Z, Y)

Display flips (e.g. superior at the top) belong to the viewer, which knows the affine; annotation
coordinates are always in these plane pixels so they never depend on how a view is flipped.
"""
from __future__ import annotations

import numpy as np

from labeldesk.core.io.base import ImageSource, SourceInfo, clip_rect
from labeldesk.core.model import Plane


class VolumeSource(ImageSource):
    """In-memory volume. ``voxels`` has shape (T, Z, Y, X) or (T, Z, Y, X, C)."""

    def __init__(self, path: str, voxels: np.ndarray, info: SourceInfo) -> None:
        if voxels.ndim not in (4, 5):
            raise ValueError(f"voxels must be (T, Z, Y, X[, C]), got shape {voxels.shape}")
        self.path = path
        self.voxels = voxels
        self.info = info

    def plane_count(self, axis: str = "axial") -> int:
        _, z, y, x = self.voxels.shape[:4]
        return {"axial": z, "coronal": y, "sagittal": x}[axis]

    def plane_size(self, plane: Plane = Plane(), level: int = 0) -> tuple[int, int]:
        _, z, y, x = self.voxels.shape[:4]
        return {"axial": (x, y), "coronal": (x, z), "sagittal": (y, z)}[plane.axis]

    def plane_view(self, plane: Plane) -> np.ndarray:
        """The whole plane as a numpy view (no copy for axial; strided for the others)."""
        t = plane.t
        if not 0 <= t < self.voxels.shape[0]:
            raise IndexError(f"time index {t} outside 0..{self.voxels.shape[0] - 1}")
        n = self.plane_count(plane.axis)
        if not 0 <= plane.z < n:
            raise IndexError(f"{plane.axis} slice {plane.z} outside 0..{n - 1}")
        vol = self.voxels[t]
        if plane.axis == "axial":
            return vol[plane.z]
        if plane.axis == "coronal":
            return vol[:, plane.z]
        return vol[:, :, plane.z]

    def read_region(self, level: int, x: int, y: int, w: int, h: int,
                    plane: Plane = Plane()) -> np.ndarray:
        if level != 0:
            raise ValueError("volumes have a single level (0)")
        img = self.plane_view(plane)
        x0, y0, x1, y1 = clip_rect(x, y, w, h, img.shape[1], img.shape[0])
        return np.ascontiguousarray(img[y0:y1, x0:x1])

    @property
    def nbytes(self) -> int:
        return int(self.voxels.nbytes)
