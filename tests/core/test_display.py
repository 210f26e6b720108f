from __future__ import annotations

import numpy as np

from labeldesk.core.display import CT_PRESETS, auto_window, window_level


def test_window_level_in_hounsfield_units():
    stored = np.array([[0, 1024, 1064, 2048]], np.int16)       # HU = stored - 1024
    out = window_level(stored, 40, 400, slope=1, intercept=-1024)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 102, 128, 255]]
    assert window_level(stored, 40, 400, slope=1, intercept=-1024, invert=True).tolist() == [[255, 153, 127, 0]]
    lung = window_level(stored, *CT_PRESETS["lung"], slope=1, intercept=-1024)
    assert lung.tolist() == [[55, 230, 236, 255]]     # (HU + 1350) / 1500 * 255, rounded


def test_16bit_float_and_rgb():
    assert window_level(np.array([[0, 65535]], np.uint16), 32767.5, 65535).tolist() == [[0, 255]]
    assert window_level(np.array([[0.0, 0.5, 1.0]], np.float32), 0.5, 1.0).tolist() == [[0, 128, 255]]
    rgb = np.full((2, 2, 3), 7, np.uint8)
    assert window_level(rgb, 0, 1) is rgb


def test_auto_window_percentiles():
    c, w = auto_window(np.arange(10000, dtype=np.uint16).reshape(100, 100), slope=2, intercept=-10)
    assert abs(c - (4999.5 * 2 - 10)) < 30 and abs(w - 9800 * 2) < 60
