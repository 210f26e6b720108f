"""Orientation markers: which patient direction each edge of a displayed plane faces.

The affine maps voxel ``ijk`` to patient LPS mm (DICOM: +x left, +y posterior, +z superior; NIfTI
affines are converted to LPS when read). A displayed plane shows two voxel axes: axial (i across,
j down), coronal (i across, k down) and sagittal (j across, k down). The viewer flips either displayed axis
(:func:`display_flips`) so that every volume is shown as radiology viewers show it, whatever its
storage order: patient right on the screen's left, anterior on top of an axial, superior on top
of a coronal or sagittal, anterior on the left of a sagittal. The label of an edge is the direction the image
axis points to there, with up to three letters for oblique acquisitions, the dominant one first
(e.g. ``PI`` for a 20° tilted axial's bottom edge), as radiology viewers print them."""
from __future__ import annotations

from typing import Any

import numpy as np

LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))      # +x, -x; +y, -y; +z, -z in LPS
DISPLAY_AXES = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}     # voxel axes (across, down)
OBLIQUE_SHARE = 0.25      # a component this large (of a unit vector) adds its letter


def direction_label(vector: Any) -> str:
    """'L', 'PI', … for an LPS direction: the letters of its large components, dominant first."""
    v = np.asarray(vector, dtype=float)[:3]
    n = np.linalg.norm(v)
    if n == 0:
        return ""
    v = v / n
    order = np.argsort(-np.abs(v))
    return "".join(LETTERS[a][0 if v[a] > 0 else 1] for a in order if abs(v[a]) >= OBLIQUE_SHARE)


# the patient direction each screen axis should point to, by the LPS axis that dominates it:
# +x (left) to the right and down, +y (posterior) to the right and down, -z (inferior) both ways
PREFERRED_SIGN = (1.0, 1.0, -1.0)


def display_flips(affine: Any, axis: str) -> tuple[bool, bool]:
    """(flip across, flip down) that show the plane on ``axis`` in the radiological convention:
    each displayed voxel axis is mirrored when it points against the preferred direction of the
    LPS axis it mostly follows (a RAS-stored NIfTI is mirrored both ways on an axial, a DICOM
    axial not at all)."""
    if affine is None:
        return False, False
    m = np.asarray(affine, dtype=float)[:3, :3]

    def flip(v: np.ndarray) -> bool:
        d = int(np.argmax(np.abs(v)))
        return bool(v[d] != 0 and np.sign(v[d]) != PREFERRED_SIGN[d])
    across, down = DISPLAY_AXES[axis]
    return flip(m[:, across]), flip(m[:, down])


def edge_labels(affine: Any, axis: str, flip_down: bool = False, flip_across: bool = False) -> dict[str, str]:
    """{'left', 'right', 'top', 'bottom'} labels of a plane shown on ``axis`` (``flip_down``: the
    viewer shows the plane upside down, i.e. the voxel axis across the rows points up;
    ``flip_across``: mirrored left to right)."""
    m = np.asarray(affine, dtype=float)[:3, :3]
    across, down = DISPLAY_AXES[axis]
    right = -m[:, across] if flip_across else m[:, across]
    below = -m[:, down] if flip_down else m[:, down]
    return {"right": direction_label(right), "left": direction_label(-right),
            "bottom": direction_label(below), "top": direction_label(-below)}
