"""Orientation markers from the affine: axial, coronal, sagittal, oblique and NIfTI-style flips."""
from __future__ import annotations

import numpy as np

from labeldesk.core.corner_text import slice_position_label
from labeldesk.core.orientation import direction_label, edge_labels


def test_axial_coronal_sagittal_of_a_standard_lps_volume():
    affine = np.diag([0.7, 0.7, 2.5, 1.0])
    assert edge_labels(affine, "axial") == {"right": "L", "left": "R", "bottom": "P", "top": "A"}
    # the viewer flips k (superior on top) when k grows toward the head
    assert edge_labels(affine, "coronal", flip_down=True) == {"right": "L", "left": "R", "top": "S", "bottom": "I"}
    assert edge_labels(affine, "sagittal", flip_down=True) == {"right": "P", "left": "A", "top": "S", "bottom": "I"}


def test_an_oblique_axial_names_both_directions_dominant_first():
    a = np.radians(20)
    col = [0, np.cos(a), -np.sin(a)]
    affine = np.eye(4)
    affine[:3, 1] = col
    affine[:3, 2] = np.cross([1, 0, 0], col)
    labels = edge_labels(affine, "axial")
    assert labels["bottom"] == "PI" and labels["top"] == "AS" and labels["right"] == "L"
    assert direction_label([0.05, 0, -1]) == "I"               # small tilts do not add letters


def test_a_sagittal_acquisition_and_a_flipped_nifti():
    # rows along -y (anterior), columns along -z (inferior), slices along +x (left)
    sag = np.eye(4)
    sag[:3, :3] = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    assert edge_labels(sag, "axial") == {"right": "A", "left": "P", "bottom": "I", "top": "S"}
    ras_as_lps = np.diag([-1.0, -1.0, 1.0, 1.0])               # a NIfTI RAS+ identity read as LPS
    assert edge_labels(ras_as_lps, "axial") == {"right": "R", "left": "L", "bottom": "A", "top": "P"}


def test_slice_position_reads_like_a_radiologist():
    assert slice_position_label("axial", (0, 0, -12.5)) == "I 12.5 mm"
    assert slice_position_label("sagittal", (3, 0, 0)) == "L 3.0 mm"


def test_display_flips_give_the_radiological_convention_whatever_the_storage_order():
    from labeldesk.core.orientation import display_flips
    lps = np.diag([0.7, 0.7, 2.5, 1.0])                     # DICOM axial: shown as stored
    assert display_flips(lps, "axial") == (False, False)
    assert display_flips(lps, "coronal") == (False, True)    # k toward the head: superior on top
    assert display_flips(lps, "sagittal") == (False, True)
    ras = np.diag([-0.9, -0.9, 1.5, 1.0])                    # a RAS-stored NIfTI read as LPS
    for axis, want in (("axial", {"left": "R", "right": "L", "top": "A", "bottom": "P"}),
                       ("coronal", {"left": "R", "right": "L", "top": "S", "bottom": "I"}),
                       ("sagittal", {"left": "A", "right": "P", "top": "S", "bottom": "I"})):
        fx, fy = display_flips(ras, axis)
        assert edge_labels(ras, axis, fy, fx) == want, axis
    sag = np.eye(4)                                          # a sagittal acquisition (see above)
    sag[:3, :3] = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    fx, fy = display_flips(sag, "axial")
    assert edge_labels(sag, "axial", fy, fx) == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    assert display_flips(None, "axial") == (False, False)
