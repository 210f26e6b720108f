"""The set-up script and the installers' metadata: one version everywhere, a valid desktop entry and
MIME types, colour only on a terminal, apt that waits for another apt instead of failing.
(The bundle and the .deb themselves are built and installed by .ci/run.)"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import labeldesk

ROOT = Path(__file__).resolve().parent.parent


def _functions(*names: str) -> str:
    """The bash functions (and the colour switch) of run.sh, to be sourced without running it."""
    text = (ROOT / "run.sh").read_text()
    parts = [re.search(r"^if \[ -t 2 \].*?^fi$", text, re.M | re.S).group(0)]
    for name in names:
        parts.append(re.search(rf"^{name}\(\) \{{.*?^\}}$", text, re.M | re.S).group(0))
    return "\n".join(parts)


def test_colour_only_on_a_terminal(tmp_path):
    script = tmp_path / "say.sh"
    script.write_text(_functions() + "\nsay hello\n")
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert out.stderr == "[labeldesk] hello\n"                # not a terminal here: no escape codes
    if shutil.which("script"):                                # a pseudo-terminal: bold prefix
        tty = subprocess.run(["script", "-qec", f"bash {script}", "/dev/null"], capture_output=True, text=True)
        assert "\x1b[1m[labeldesk]\x1b[0m hello" in tty.stdout


def test_apt_waits_for_another_package_manager(tmp_path):
    """In a PID namespace of its own (so that no real apt on this machine interferes), a process
    named dpkg holds "the lock" for a second; apt_get waits for it, says so once, then runs."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare (util-linux)")
    fake = tmp_path / "dpkg"
    shutil.copy(shutil.which("sleep"), fake)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text("#!/bin/sh\necho \"apt-get $*\"\n")   # stands in for the real one
    (bin_dir / "apt-get").chmod(0o755)
    (bin_dir / "sleep").write_text("#!/bin/sh\nexec /bin/sleep 0.2\n")       # the 5 s poll, shortened
    (bin_dir / "sleep").chmod(0o755)
    script = tmp_path / "wait.sh"
    script.write_text(_functions("apt_busy", "apt_get")
                      + f"\n{fake} 1 &\n/bin/sleep 0.2\napt_busy && echo busy\napt_get install x\napt_busy || echo free\n")
    out = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "bash", str(script)], capture_output=True,
                         text=True, timeout=120, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    if out.returncode != 0 and "unshare" in out.stderr:
        pytest.skip(f"cannot make a PID namespace here: {out.stderr.strip()}")
    assert out.stdout.split("\n")[:3] == ["busy", "apt-get -o DPkg::Lock::Timeout=1200 -q install x", "free"]
    assert out.stderr.count("waiting for another package manager (apt/dpkg) to finish") == 1


def test_one_version_for_app_spec_packages():
    version = labeldesk.__version__
    out = subprocess.run([sys.executable, "-m", "labeldesk", "--version"], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == f"labeldesk {version}"
    spec = (ROOT / "labeldesk.spec").read_text()
    assert 'labeldesk" / "__init__.py"' in spec and "VERSION" in spec
    build = (ROOT / "packaging" / "build.sh").read_text()
    assert "labeldesk/__init__.py" in build and "Version: $VERSION" in build
    assert f"## {version}" in (ROOT / "CHANGELOG.md").read_text()


def test_desktop_entry_and_mime_types():
    entry = (ROOT / "packaging" / "linux" / "labeldesk.desktop").read_text()
    assert "Exec=labeldesk open %F" in entry and "Icon=labeldesk" in entry
    mimes = re.search(r"^MimeType=(.*)$", entry, re.M).group(1).split(";")
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    tree = ET.parse(ROOT / "packaging" / "linux" / "labeldesk-mime.xml")
    globs = {t.get("type"): [g.get("pattern") for g in t.findall("m:glob", ns)] for t in tree.findall("m:mime-type", ns)}
    assert "*.dcm" in globs["application/dicom"] and "*.nii.gz" in globs["application/x-nifti"]
    assert globs["application/x-labeldesk-project"] == ["project.labeldesk"]
    assert set(globs) <= set(mimes) and "inode/directory" in mimes
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", "--no-hints", str(ROOT / "packaging/linux/labeldesk.desktop")], check=True)


def _imported_by(tmp_path: Path, *args: str) -> set[str]:
    """The modules a fresh `python -m labeldesk ARGS` has imported when it exits."""
    record = tmp_path / "modules.txt"
    code = ("import atexit, runpy, sys\n"
            f"atexit.register(lambda: open({str(record)!r}, 'w').write(' '.join(sys.modules)))\n"
            "sys.argv[0] = 'labeldesk'\nrunpy.run_module('labeldesk', run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(record.read_text().split())


def test_version_and_basic_help_import_nothing_heavy(tmp_path):
    """APP-5b: `labeldesk --version` is what a frozen start costs at least; it must not load numpy,
    Qt, SQLite or the command areas (quality's choices import numpy)."""
    heavy = {"numpy", "PySide6", "sqlite3", "cv2", "pydicom", "labeldesk.commands.quality"}
    assert "labeldesk.cli" in (mods := _imported_by(tmp_path, "--version")) and not heavy & mods
    assert not heavy & _imported_by(tmp_path, "init", "--help")
    assert "labeldesk.commands.sharing" in (mods := _imported_by(tmp_path, "sync", "--help")) and not heavy & mods
    assert "labeldesk.commands.quality" in _imported_by(tmp_path, "--help")


def test_lazy_parser_knows_every_command_when_asked_for_help():
    from labeldesk.cli import build_parser

    def commands(parser):
        return set(parser._subparsers._group_actions[0].choices)

    everything = commands(build_parser())
    assert commands(build_parser(["--help"])) == everything == commands(build_parser(["no-such-command"]))
    assert commands(build_parser(["--version"])) < everything
    last = sorted(everything - commands(build_parser(["--version"])))
    for name in last:                    # each area command parses with only the areas it needs
        assert name in commands(build_parser([name, "--help"]))


def test_deferred_runtime_hooks_run_once_right_after_their_module_is_imported(tmp_path):
    """packaging/rthooks/lazy_rthooks.py, as labeldesk.spec fills it in: a hook runs after its module
    is imported (whoever imports it), once, with the module complete; an unrelated start runs none."""
    template = (ROOT / "packaging" / "rthooks" / "lazy_rthooks.py").read_text(encoding="utf-8")
    hooks = {
        "colorsys": "import colorsys, sys\nsys.ran.append(('colorsys', hasattr(colorsys, 'rgb_to_hsv')))\n",
        "wave": "import sys\nsys.ran.append(('wave', True))\n",
    }
    script = tmp_path / "rthook.py"
    script.write_text("import sys\nsys.ran = []\n" + template + f"\nLAZY.update({hooks!r})\n_install()\n"
                      "assert sys.ran == [], sys.ran\n"
                      "import colorsys\nimport colorsys\n"
                      "assert colorsys.__loader__.get_source('colorsys')\n"
                      "print(sys.ran, 'wave' in sys.modules)\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('colorsys', True)] False"
