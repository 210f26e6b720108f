"""APP-5: start-up of the installed app vs the same version run from the virtual environment.

    python benchmarks/bench_install.py [--installed /opt/labeldesk/labeldesk] [--repeats 7]

Each sample is a fresh process, offscreen, timed from spawn until it exits after writing a
screenshot of the main window with a project open (`labeldesk gui PROJECT --screenshot`): what a
user waits for from double-click to a usable window. Baseline, interleaved in the same run:
`python -m labeldesk gui …` from the venv that runs this script. A second row times
`labeldesk --version` (the command line's own start). Also prints the installed size.
Target: installed ≤ 1.2x venv.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine, row  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stdout}\n{out.stderr}")
    return ms


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--installed", default=str(ROOT / "dist" / "labeldesk" / "labeldesk"),
                    help="the installed (frozen) labeldesk executable")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    exe = Path(args.installed).resolve()
    if not exe.is_file():
        raise SystemExit(f"{exe}: no installed labeldesk (./run.sh bundle, or install the .deb)")
    venv = [sys.executable, "-m", "labeldesk"]
    print(machine())
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        tmpdir = Path(tmp)
        project = tmpdir / "project"
        run(venv + ["init", str(project)], tmpdir)
        shot = str(tmpdir / "shot.png")
        for cmd in ([str(exe), "--version"], venv + ["--version"]):     # warm the page cache
            run(cmd, tmpdir)
        gui = {"installed": [], "venv": []}
        ver = {"installed": [], "venv": []}
        for _ in range(args.repeats):
            gui["installed"].append(run([str(exe), "gui", str(project), "--screenshot", shot], tmpdir))
            gui["venv"].append(run(venv + ["gui", str(project), "--screenshot", shot], tmpdir))
            ver["installed"].append(run([str(exe), "--version"], tmpdir))
            ver["venv"].append(run(venv + ["--version"], tmpdir))
    print(row("APP-5", "spawn → main window with a project, exit", gui["installed"], gui["venv"], "≤ 1.2x"))
    print(row("APP-5b", "spawn → `labeldesk --version`, exit", ver["installed"], ver["venv"], "≤ 1.2x"))
    print(f"installed size: {size_mb(exe.parent):.0f} MB ({exe.parent})")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
