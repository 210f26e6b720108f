"""Editing segments of one volume in memory: the brush paints into a live label map at every mouse
move (a disk on the plane, or a ball for the spherical brush); releasing the mouse turns what
changed since the last commit into one ``segment.paint`` op (plus ``segment.create`` for a new
segment). Before a stroke first touches an axial slice, that slice is saved as the store holds
it; the op is the exact difference against those saved slices, and a refused op puts them back.
(No second copy of the whole map: a 512×512×300 map is 78 MB.)

Headless: the viewer draws ``plane_mask``; the benchmark SEG-1 times ``stamp`` + drawing."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from labeldesk.core import segments as seg
from labeldesk.core.ops import OpDraft

AXES = {"axial": 0, "coronal": 1, "sagittal": 2}


class SegmentEditor:
    """Label maps of the segments of one asset (loaded on first use), with the slices a stroke
    changed saved as committed until its op goes in."""

    def __init__(self, conn: Any, asset_id: str, spacing: Any = None) -> None:
        self.conn = conn
        self.asset_id = asset_id
        self.shape = seg.grid_shape(conn, asset_id)
        self.spacing = tuple(spacing) if spacing else None
        self.live: dict[str, np.ndarray] = {}
        self.saved: dict[str, dict[int, np.ndarray]] = {}   # axial slices as committed, per segment
        self.revisions: dict[str, Any] = {}
        self.stamps: dict[str, int] = {}              # bumped at every change (overlay caches key on it)
        self.dirty: dict[str, list[list[int]]] = {}   # per segment: [lo, hi] box touched since commit

    # ---- maps ---------------------------------------------------------------------------------
    def map(self, segment_id: str) -> np.ndarray:
        if segment_id not in self.live:
            self.reload(segment_id)
        return self.live[segment_id]

    def reload(self, segment_id: str) -> None:
        """Read a segment from the store again (after undo, redo or a sync merge)."""
        m = seg.label_map(self.conn, segment_id, self.shape)
        self.live[segment_id] = m
        self.saved.pop(segment_id, None)
        s = seg.segment(self.conn, segment_id)
        self.revisions[segment_id] = s.revision if s else None
        self.stamps[segment_id] = self.stamps.get(segment_id, 0) + 1
        self.dirty.pop(segment_id, None)

    def refresh(self) -> list[str]:
        """Reload the loaded segments whose revision changed in the store; returns their ids."""
        changed = []
        for sid in list(self.live):
            s = seg.segment(self.conn, sid)
            if s is None or s.revision != self.revisions.get(sid):
                if sid in self.dirty:
                    continue                            # a stroke is under way: it commits first
                self.reload(sid)
                changed.append(sid)
        return changed

    def plane_mask(self, segment_id: str, axis: str, z: int) -> np.ndarray:
        return seg.plane_mask(self.map(segment_id), axis, z)

    # ---- painting -----------------------------------------------------------------------------
    def _save(self, segment_id: str, z0: int, z1: int) -> None:
        """Keep the committed state of axial slices z0..z1-1 before they first change."""
        saved = self.saved.setdefault(segment_id, {})
        live = self.live[segment_id]
        for z in range(max(0, z0), min(z1, live.shape[0])):
            if z not in saved:
                saved[z] = live[z].copy()

    def _save_plane_box(self, segment_id: str, axis: str, z: int, box: tuple[int, int, int, int]) -> None:
        lo, hi = _plane_box_to_volume(axis, z, *box)
        self._save(segment_id, lo[0], hi[0])

    def _touch(self, segment_id: str, lo: list[int], hi: list[int]) -> None:
        box = self.dirty.get(segment_id)
        if box is None:
            self.dirty[segment_id] = [list(lo), list(hi)]
        else:
            box[0] = [min(a, b) for a, b in zip(box[0], lo)]
            box[1] = [max(a, b) for a, b in zip(box[1], hi)]
        self.stamps[segment_id] = self.stamps.get(segment_id, 0) + 1

    def _capsule(self, plane: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float,
                 erase: bool, aspect: float = 1.0, before: Any = None) -> tuple[int, int, int, int] | None:
        """Every pixel whose centre is within ``r`` columns (round in mm: rows are ``aspect`` times
        as tall) of the segment a-b: the swept disk, so strokes leave no scalloped edges."""
        h, w = plane.shape
        ry = max(r / aspect, 0.5)
        x0 = max(0, int(math.floor(min(a[0], b[0]) - r)))
        x1 = min(w, int(math.ceil(max(a[0], b[0]) + r)) + 1)
        y0 = max(0, int(math.floor(min(a[1], b[1]) - ry)))
        y1 = min(h, int(math.ceil(max(a[1], b[1]) + ry)) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        yy, xx = np.ogrid[y0:y1, x0:x1]
        # distances in "column units": rows scaled by aspect so the brush is round in mm
        px, py = xx + 0.5 - a[0], (yy + 0.5 - a[1]) * aspect
        dx, dy = b[0] - a[0], (b[1] - a[1]) * aspect
        n = dx * dx + dy * dy
        t = np.clip((px * dx + py * dy) / n, 0.0, 1.0) if n > 0 else 0.0
        inside = (px - t * dx) ** 2 + (py - t * dy) ** 2 <= r * r
        if before is not None:
            before((x0, y0, x1, y1))
        region = plane[y0:y1, x0:x1]
        if erase:
            region &= ~inside
        else:
            region |= inside
        return x0, y0, x1, y1

    def pixel_mm(self, axis: str) -> tuple[float, float, float]:
        """(column mm, row mm, distance between planes mm) of planes on ``axis``."""
        if not self.spacing:
            return 1.0, 1.0, 1.0
        sx, sy, sz = self.spacing[:3]
        return {"axial": (sx, sy, sz), "coronal": (sx, sz, sy), "sagittal": (sy, sz, sx)}[axis]

    def stamp(self, segment_id: str, axis: str, z: int, points: list[tuple[float, float]], radius: float,
              erase: bool = False, sphere: bool = False) -> None:
        """Paint (or erase) disks of ``radius`` plane columns (round in mm) along the polyline
        ``points`` on plane ``z`` of ``axis``; ``sphere`` paints a ball (neighbouring planes get the ball's cross-section,
        in mm so anisotropic voxels are right)."""
        volume = self.map(segment_id)
        n = volume.shape[AXES[axis]]
        px_mm, row_mm, depth = self.pixel_mm(axis)
        reach = int((radius * px_mm) // depth) if sphere else 0
        pieces = list(zip(points, points[1:])) or [(points[0], points[0])]
        for dz in range(-reach, reach + 1):
            pz = z + dz
            if not 0 <= pz < n:
                continue
            r = math.sqrt(max((radius * px_mm) ** 2 - (dz * depth) ** 2, 0.0)) / px_mm if sphere else radius
            plane = seg.plane_mask(volume, axis, pz)
            box = None
            keep = (lambda box, pz=pz: self._save_plane_box(segment_id, axis, pz, box))
            for p, q in pieces:
                b = self._capsule(plane, p, q, max(r, 0.5), erase, row_mm / px_mm, keep)
                if b is not None:
                    box = b if box is None else (min(box[0], b[0]), min(box[1], b[1]), max(box[2], b[2]), max(box[3], b[3]))
            if box is not None:
                x0, y0, x1, y1 = box
                lo, hi = _plane_box_to_volume(axis, pz, x0, y0, x1, y1)
                self._touch(segment_id, lo, hi)

    def set_plane(self, segment_id: str, axis: str, z: int, mask: np.ndarray, erase: bool = False) -> None:
        """Add (or with ``erase`` remove) a 2-D mask on a plane (wand, threshold, GrabCut)."""
        plane = seg.plane_mask(self.map(segment_id), axis, z)
        ys, xs = np.nonzero(mask)
        if not ys.size:
            return
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        self._save_plane_box(segment_id, axis, z, box)
        if erase:
            plane &= ~mask
        else:
            plane |= mask
        lo, hi = _plane_box_to_volume(axis, z, *box)
        self._touch(segment_id, lo, hi)

    def replace(self, segment_id: str, new_map: np.ndarray) -> None:
        """Put a whole new label map (interpolation) in place, to be committed like a stroke."""
        live = self.map(segment_id)
        changed = live != new_map
        if not changed.any():
            return
        idx = [np.flatnonzero(changed.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
        self._save(segment_id, int(idx[0][0]), int(idx[0][-1]) + 1)
        live[...] = new_map
        self._touch(segment_id, [int(i[0]) for i in idx], [int(i[-1]) + 1 for i in idx])

    # ---- committing ---------------------------------------------------------------------------
    def pending_draft(self, segment_id: str) -> OpDraft | None:
        """The paint op for what changed since the last commit (None: nothing)."""
        box = self.dirty.get(segment_id)
        if box is None:
            return None
        (z0, y0, x0), (z1, y1, x1) = box
        live = self.live[segment_id]
        saved = self.saved.get(segment_id, {})
        before = np.stack([saved.get(z, live[z])[y0:y1, x0:x1] for z in range(z0, z1)])
        return seg.paint_draft(segment_id, before, live[z0:z1, y0:y1, x0:x1], (z0, y0, x0))

    def committed_ok(self, segment_id: str, revision: Any = None) -> None:
        """The op went in: the committed copy catches up with the live map."""
        self.dirty.pop(segment_id, None)
        self.saved.pop(segment_id, None)
        s = seg.segment(self.conn, segment_id)
        self.revisions[segment_id] = s.revision if s else revision

    def rollback(self, segment_id: str) -> None:
        """The op was refused: the live map goes back to what the store holds."""
        self.dirty.pop(segment_id, None)
        saved = self.saved.pop(segment_id, {})
        live = self.live.get(segment_id)
        if live is not None and saved:
            for z, plane in saved.items():
                live[z] = plane
            self.stamps[segment_id] = self.stamps.get(segment_id, 0) + 1

    def adopt(self, segment_id: str) -> None:
        """A segment just created: an empty map (nothing to read)."""
        self.live[segment_id] = np.zeros(self.shape, dtype=bool)
        self.saved.pop(segment_id, None)
        self.revisions[segment_id] = None
        self.stamps[segment_id] = self.stamps.get(segment_id, 0) + 1


def _plane_box_to_volume(axis: str, z: int, x0: int, y0: int, x1: int, y1: int) -> tuple[list[int], list[int]]:
    """A plane-pixel box on plane ``z`` of ``axis`` as a (z, y, x) box of the label map."""
    if axis == "axial":
        return [z, y0, x0], [z + 1, y1, x1]
    if axis == "coronal":          # rows k, columns i; the plane fixes j
        return [y0, z, x0], [y1, z + 1, x1]
    return [y0, x0, z], [y1, x1, z + 1]     # sagittal: rows k, columns j; fixes i


def interpolate_gaps(volume_map: np.ndarray, axis: int = 0) -> np.ndarray:
    """Fill the slices between painted slices along ``axis`` by shape-based interpolation (signed
    distance maps blended linearly), as ITK-SNAP and Slicer's "fill between slices" do."""
    from labeldesk.core.io.opencv import cv2
    moved = np.moveaxis(volume_map, axis, 0)
    out = moved.copy()
    painted = np.flatnonzero(moved.reshape(moved.shape[0], -1).any(axis=1))

    def sdf(mask: np.ndarray) -> np.ndarray:
        m = mask.astype(np.uint8)
        inside = cv2.distanceTransform(m, cv2.DIST_L2, 5)
        outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)
        return inside - outside
    for a, b in zip(painted, painted[1:]):
        if b - a < 2:
            continue
        da, db = sdf(moved[a]), sdf(moved[b])
        for k in range(a + 1, b):
            w = (k - a) / (b - a)
            out[k] |= (1 - w) * da + w * db > 0
    return np.moveaxis(out, 0, axis)
