"""The command line behaves in pipes and scripts: a closed pipe ends it quietly, colour only on a
terminal, library chatter (FFmpeg) never reaches the user."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labeldesk.core.samples import images

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hygiene")
    proj = tmp / "p"
    subprocess.run([sys.executable, "-m", "labeldesk", "init", str(proj)], check=True, capture_output=True, env=_env())
    for i in range(3):
        images.write_image(tmp / "in" / f"img{i}.png", images.scene_rgb(40 + i, 30))
    subprocess.run([sys.executable, "-m", "labeldesk", "add", str(proj), str(tmp / "in")], check=True,
                   capture_output=True, env=_env())
    return proj


@pytest.mark.parametrize("args", [["info", "{p}"], ["info", "{p}", "--json"], ["user", "list", "{p}"]])
def test_a_closed_pipe_ends_quietly(project, args):
    cmd = [sys.executable, "-m", "labeldesk", *[a.format(p=project) for a in args]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    proc.stdout.close()                       # the reader went away before reading anything
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 141


def test_a_real_pipe_to_head(project):
    res = subprocess.run(f"'{sys.executable}' -m labeldesk info '{project}' | head -n 1", shell=True,
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert res.stdout.startswith("project ") and res.stderr == ""


def test_ffmpeg_lines_do_not_leak_into_add(tmp_path, project):
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(2000))
    res = subprocess.run([sys.executable, "-m", "labeldesk", "add", str(project), str(tmp_path / "broken.mp4")],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert "moov" not in res.stderr + res.stdout and "@ 0x" not in res.stderr
    assert "refused" in res.stdout and "broken.mp4" in res.stdout


def test_run_sh_prints_colour_only_to_a_terminal():
    text = (ROOT / "run.sh").read_text()
    block = text[text.index("if [ -t 2 ]"):]
    block = block[: block.index("\nfi\n") + 4]
    res = subprocess.run(["bash", "-c", block + "\nsay hello"], capture_output=True, text=True)
    assert res.stderr == "[labeldesk] hello\n"                  # stderr is a pipe here: no escape codes


def test_colour_helper_follows_the_stream(monkeypatch):
    import io

    from labeldesk.console import bold

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert bold("x", io.StringIO()) == "x"
    assert bold("x", Tty()) == "\033[1mx\033[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert bold("x", Tty()) == "x"
