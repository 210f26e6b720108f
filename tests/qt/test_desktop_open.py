"""`labeldesk open PATH…` (the desktop entry's command): files go to the Quick view project,
a project folder (or its project.labeldesk) opens as itself; the window shows the asset."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui

from labeldesk.cli import main
from labeldesk.core.project import Project


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "labeldesk" / "quick-view"


def _nifti(path):
    import nibabel as nib
    vol = np.zeros((40, 40, 6), np.int16)
    vol[10:30, 10:30, :] = 900                       # a bright square on every slice
    nib.save(nib.Nifti1Image(vol, np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return path


def _centre_lightness(png):
    """Lightness around the middle of the viewport (the window's centre; dark when empty)."""
    img = QtGui.QImage(str(png))
    assert not img.isNull()
    cx, cy = int(img.width() * 0.48), img.height() // 2
    return min(QtGui.QColor(img.pixel(cx + dx, cy + dy)).lightness() for dx in (-20, 0, 20) for dy in (-20, 0, 20))


def test_open_a_nifti_file_adds_it_to_quick_view_and_shows_it(tmp_path, data_home, capsys, qapp):
    vol = _nifti(tmp_path / "brain.nii.gz")
    shot = tmp_path / "open.png"
    assert main(["open", str(vol), "--screenshot", str(shot)]) == 0
    out = capsys.readouterr().out
    assert "added    volume" in out and str(data_home) in out
    with Project.open(data_home) as p:
        assert [a.name for a in p.assets()] == ["brain.nii.gz"]
    assert _centre_lightness(shot) > 200               # the bright square is painted
    assert main(["open", str(vol), "--screenshot", str(shot)]) == 0     # again: still one asset
    with Project.open(data_home) as p:
        assert len(list(p.assets())) == 1


def test_open_a_project_folder_or_its_store_file(tmp_path, data_home, capsys, qapp):
    assert main(["init", str(tmp_path / "proj")]) == 0
    for target in (tmp_path / "proj", tmp_path / "proj" / "project.labeldesk"):
        assert main(["open", str(target), "--screenshot", str(tmp_path / "p.png")]) == 0
        assert _centre_lightness(tmp_path / "p.png") < 100     # the empty project's dark viewport
    assert not data_home.exists()
    assert main(["open", str(tmp_path / "nope.dcm")]) == 1
    assert "nope.dcm: no such file or folder" in capsys.readouterr().err
