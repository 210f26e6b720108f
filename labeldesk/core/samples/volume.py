"""Synthetic NIfTI volumes with known values at known voxels.

``phantom(shape)`` is the ground truth a test compares a reader with: a head-like ellipsoid (~40)
with a bright core (~120), seeded noise, and ``markers(shape)``: a few voxels with unique values
at asymmetric positions, so a flipped or transposed axis cannot go unnoticed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SLAB = 16          # z-slices generated at a time (a 512³ phantom needs ~0.3 GB, not ~2 GB)


def markers(shape: tuple[int, int, int]) -> dict[tuple[int, int, int], int]:
    """``{(x, y, z): value}``: distinct values (201, 202, ...; they fit every integer dtype) at
    asymmetric positions near different corners."""
    x, y, z = (max(1, n) for n in shape)
    spots = [(1 % x, 2 % y, 3 % z), (max(0, x - 2), 1 % y, z // 2), (x // 3, max(0, y - 3), max(0, z - 2)),
             (x // 2, y // 4, 1 % z), (x - 1, y - 1, z - 1)]
    return {s: 201 + k for k, s in enumerate(dict.fromkeys(spots))}


def phantom(shape: tuple[int, int, int] = (96, 96, 48), seed: int = 0) -> np.ndarray:
    """(X, Y, Z) int16 (Fortran-ordered: x varies fastest in memory, as NIfTI stores it)."""
    nx, ny, nz = shape
    out = np.empty((nz, ny, nx), np.int16)                      # C order (Z, Y, X) = F order (X, Y, Z)
    gx = np.linspace(-1, 1, nx, dtype=np.float32)[None, None, :]
    gy = np.linspace(-1, 1, ny, dtype=np.float32)[None, :, None]
    gz = np.linspace(-1, 1, nz, dtype=np.float32)
    rng = np.random.default_rng(seed)
    for z0 in range(0, nz, SLAB):
        zz = gz[z0:z0 + SLAB][:, None, None]
        slab = np.zeros((zz.shape[0], ny, nx), np.float32)
        slab[(gx / 0.8) ** 2 + (gy / 0.9) ** 2 + (zz / 0.85) ** 2 <= 1] = 40
        slab[(gx / 0.2) ** 2 + (gy / 0.35) ** 2 + (zz / 0.3) ** 2 <= 1] = 120
        slab += rng.normal(0, 3, slab.shape).astype(np.float32)
        out[z0:z0 + SLAB] = np.round(slab)
    vol = out.T                                                  # (X, Y, Z) view
    for (x, y, z), value in markers(shape).items():
        vol[x, y, z] = value
    return vol


def write_nifti(path: str | Path, shape: tuple[int, int, int] = (96, 96, 48), dtype: str = "int16",
                affine: np.ndarray | None = None, slope: float | None = None, inter: float | None = None,
                four_d: int = 0, seed: int = 0, qform: np.ndarray | None = None) -> Path:
    """Write a .nii or .nii.gz (by suffix) holding ``phantom(shape)``.

    ``affine`` (RAS+) goes to the sform and, unless ``qform`` is given, the qform (codes 1).
    ``four_d`` > 0 stacks that many time points, time point t = phantom + t. ``slope``/``inter``
    are written as scl_slope/scl_inter without touching the stored values."""
    import nibabel as nib
    data = phantom(shape, seed).astype(dtype)
    if four_d:
        data = np.stack([data + t for t in range(four_d)], axis=-1).astype(dtype)
    aff = np.diag([0.9, 0.9, 1.5, 1.0]) if affine is None else np.asarray(affine, float)
    img = nib.Nifti1Image(data, aff)
    img.header.set_data_dtype(np.dtype(dtype))
    img.set_sform(aff, code=1)
    img.set_qform(aff if qform is None else np.asarray(qform, float), code=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if slope is not None or inter is not None:
        # nibabel rewrites scl_slope/scl_inter on save: patch the header bytes afterwards instead
        import gzip
        import struct
        raw = path.with_name(path.name + ".raw.nii")
        nib.save(img, str(raw))
        data_bytes = bytearray(raw.read_bytes())
        raw.unlink()
        data_bytes[112:120] = struct.pack("<ff", float(slope or 1.0), float(inter or 0.0))
        path.write_bytes(gzip.compress(bytes(data_bytes), 6) if path.name.endswith(".gz") else bytes(data_bytes))
    else:
        nib.save(img, str(path))
    return path
