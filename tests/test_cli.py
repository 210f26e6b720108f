from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labeldesk import __version__
from labeldesk.cli import build_parser, main
from labeldesk.core.samples import images


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labeldesk", *args], capture_output=True, text=True, timeout=300)


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"init", "add", "info", "demo", "gui", "self-test"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: labeldesk " + name in capsys.readouterr().out


def test_version():
    assert run("--version").stdout.strip() == f"labeldesk {__version__}"


def test_init_add_info_round_trip(tmp_path):
    proj = tmp_path / "p"
    assert run("init", str(proj), "--name", "Liver study").returncode == 0
    images.write_image(tmp_path / "in" / "a.png", images.scene_rgb(40, 30))
    images.write_zero_byte(tmp_path / "in" / "b.png")
    res = run("add", str(proj), str(tmp_path / "in"))
    assert res.returncode == 0, res.stderr
    assert "added    image    a.png" in res.stdout
    assert "refused" in res.stdout and "b.png: the file is empty" in res.stdout
    assert "added 1 asset(s), refused 1" in res.stdout
    info = json.loads(run("info", str(proj), "--json").stdout)
    assert info["name"] == "Liver study" and info["counts"]["assets"] == 1 and info["op_log"]["verified"]


def test_errors_are_one_line_and_exit_nonzero(tmp_path):
    res = run("info", str(tmp_path / "missing"))
    assert res.returncode == 1
    assert res.stderr.startswith("labeldesk: error:") and "labeldesk init" in res.stderr
    (tmp_path / "Dropbox").mkdir()
    (tmp_path / "Dropbox" / ".dropbox").write_text("{}")      # what Dropbox keeps in its folder
    res = run("init", str(tmp_path / "Dropbox" / "p"))
    assert res.returncode == 1 and "synced folder" in res.stderr and "--allow-unsafe-location" in res.stderr


def test_demo_no_gui_builds_every_asset_kind(tmp_path):
    res = run("demo", "--no-gui", "--small", "--dir", str(tmp_path / "demo"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == str(tmp_path / "demo")
    info = json.loads(run("info", str(tmp_path / "demo"), "--json").stdout)
    assert sorted({a["kind"] for a in info["assets"]}) == ["image", "pyramid", "video", "volume"]
    assert info["counts"]["classes"] >= 10


@pytest.mark.gui
def test_self_test_passes():
    res = run("self-test")
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] and {"read_image", "read_pyramid", "read_video", "read_volume-dicom",
                          "read_volume-nifti", "dicom_codecs", "main_window"} <= set(out["checks"])


def test_gui_on_a_missing_project_says_so_without_starting_qt(tmp_path):
    res = run("gui", str(tmp_path / "nope"))
    assert res.returncode == 1 and "not a labeldesk project" in res.stderr


@pytest.mark.gui
def test_gui_without_a_display_writes_a_screenshot(tmp_path):
    import os
    assert run("demo", "--no-gui", "--small", "--dir", str(tmp_path / "d")).returncode == 0
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "labeldesk", "gui", str(tmp_path / "d"), "--screenshot",
                          str(tmp_path / "s.png")], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    assert "no display found" in res.stderr and (tmp_path / "s.png").stat().st_size > 1000


def test_a_store_an_older_labeldesk_wrote_is_upgraded_once_and_says_so(v10_project, tmp_path, capsys):
    root = v10_project(tmp_path / "old")
    assert main(["info", str(root)]) == 0
    assert "upgrading the project's store" in capsys.readouterr().err
    assert main(["info", str(root)]) == 0
    assert "upgrading" not in capsys.readouterr().err          # once
