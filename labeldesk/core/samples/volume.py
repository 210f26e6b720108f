"""Synthetic NIfTI volumes with known values at known voxels."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def phantom(shape: tuple[int, int, int] = (96, 96, 48), seed: int = 0) -> np.ndarray:
    """(X, Y, Z) int16: a head-like ellipsoid (~40) with a bright ventricle-like core (~120)."""
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n, dtype=np.float32) for n in shape), indexing="ij")
    vol = np.zeros(shape, np.float32)
    vol[(x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.85) ** 2 <= 1] = 40
    vol[(x / 0.2) ** 2 + (y / 0.35) ** 2 + (z / 0.3) ** 2 <= 1] = 120
    vol += np.random.default_rng(seed).normal(0, 3, shape).astype(np.float32)
    return np.round(vol).astype(np.int16)


def write_nifti(path: str | Path, shape: tuple[int, int, int] = (96, 96, 48), dtype: str = "int16",
                affine: np.ndarray | None = None, slope: float | None = None, inter: float | None = None,
                four_d: int = 0, seed: int = 0) -> Path:
    """Write a .nii or .nii.gz (by suffix); ``four_d`` > 0 stacks that many time points."""
    import nibabel as nib
    data = phantom(shape, seed).astype(dtype)
    if four_d:
        data = np.stack([data + t for t in range(four_d)], axis=-1).astype(dtype)
    aff = np.diag([0.9, 0.9, 1.5, 1.0]) if affine is None else np.asarray(affine, float)
    img = nib.Nifti1Image(data, aff)
    img.header.set_data_dtype(np.dtype(dtype))
    img.set_sform(aff, code=1)
    img.set_qform(aff, code=1)
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
