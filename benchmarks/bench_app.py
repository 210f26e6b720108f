"""APP-1..4 and PEER-1: the application as a user meets it, each sample a fresh process (offscreen).

    python benchmarks/bench_app.py [--repeats 5] [--n 10000 100000] [--peer-venv DIR] [--only APP-1,...]
    python benchmarks/bench_app.py --repeats 3 --only APP-2,APP-3     # the open figures, a few minutes

APP-1  spawn → main window shown with a small project open, against B31 = bare QApplication +
       empty QMainWindow (both fresh processes, interleaved); two floor rows print what B31 becomes
       with `import numpy` first, and with the Qt namespace's enums made as well (what any window
       showing an image in PySide6 pays before its own code runs).
APP-2  spawn → window shown with an N-polygon image as the open asset, against APP-1's window
       with an empty project (target ≤ 1.5x, independent of N).
APP-3  spawn → first complete paint with every polygon drawn (window grabbed after the asset is
       shown: sig_asset_shown waits for the document, read on a worker thread), and reopening the project in the running window (targets 10k ≤ 0.4 s, 100k ≤ 1.5 s,
       reopen 100k ≤ 1 s; printed against B31); "cold" reads the document from the store
       (LABELDESK_NO_DOCUMENT_CACHE=1), the other row an unchanged project's document snapshot;
       --edited adds a row with one op since the snapshot (the snapshot caught up with it).
APP-4  peak RSS of the app with N open (≤ 0.6 GiB at 100k) and of the labelme import of N
       (≤ 0.5 GiB at 100k).
PEER-1 labelme (from PyPI, in its own venv: --peer-venv or $LABELDESK_PEER_VENV, default
       ~/.cache/labeldesk/bench-venv-labelme; the row is skipped with a message when absent) opening the same
       labelme file in the same run: labelme ÷ labeldesk per row.

Data (4096² image, N random 32-vertex stars, 1920×1080 window): benchmarks/app_data.py, cached.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_data import DEFAULT_DIR, prepare  # noqa: E402
from harness import machine, row  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024 ** 3
# Each child prints "key value" lines: seconds since its spawn (T0) or bytes; then exits at once.
STAMP = "import os, sys, time, resource; t0 = float(os.environ['T0']); "
MAXRSS = "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024"
EXIT = "sys.stdout.flush(); os._exit(0)"
BARE = STAMP + ("from PySide6 import QtWidgets; app = QtWidgets.QApplication([]); w = QtWidgets.QMainWindow(); "
                "w.resize(1920, 1080); w.show(); app.processEvents(); print('shown', time.time() - t0); " + EXIT)
# The floor of any window that shows a project's image in this stack: B31 with numpy imported first
# (the pixels and the document are numpy arrays), and with the Qt namespace's enums made too
# (PySide6 turns ~100 of them into Python enums at the first use of ``Qt.*``; every real window pays it).
FLOOR_NUMPY = STAMP + "import numpy; " + BARE.removeprefix(STAMP)
FLOOR_ENUMS = STAMP + ("import numpy; from PySide6 import QtCore; QtCore.Qt.AlignmentFlag; "
                       + BARE.removeprefix(STAMP))
OURS_SHOWN = STAMP + (
    "from PySide6 import QtWidgets; app = QtWidgets.QApplication([]); "
    "from labeldesk.qt.main_window import MainWindow; w = MainWindow(); w.offer_guide = False; "
    "w.resize(1920, 1080); w.open_project(sys.argv[1]); w.show(); app.processEvents(); "
    "print('shown', time.time() - t0); " + EXIT)
OURS_PAINT = STAMP + (
    "from PySide6 import QtWidgets; app = QtWidgets.QApplication([]); "
    "from labeldesk.qt.main_window import MainWindow; w = MainWindow(); w.offer_guide = False; "
    "w.resize(1920, 1080); done = []; w.sig_asset_shown.connect(done.append)\n"
    "def wait():\n"
    "    while not done: app.processEvents(); time.sleep(0.001)\n"
    "    w.grab()\n"
    "w.open_project(sys.argv[1]); w.show(); app.processEvents(); print('shown', time.time() - t0); wait()\n"
    "print('painted', time.time() - t0); assert sum(d.count for d in w.session.documents.values()) == int(sys.argv[2])\n"
    "print('rss', " + MAXRSS + ")\n"
    "from labeldesk.core import document_snapshot; document_snapshot.flush()\n"
    "for _ in range(int(sys.argv[3])):\n"
    "    done.clear(); t1 = time.time(); w.open_project(sys.argv[1]); wait(); print('reopen', time.time() - t1)\n"
    + EXIT)
PEER = STAMP + (
    "from PyQt5 import QtWidgets; app = QtWidgets.QApplication([]); "
    "from labelme.app import MainWindow; w = MainWindow(file_or_dir=sys.argv[1]); w.resize(1920, 1080); w.show(); "
    "app.processEvents(); w.grab(); print('painted', time.time() - t0); "
    "assert len(w._canvas_widgets.canvas.shapes) == int(sys.argv[2]); "
    "print('rss', " + MAXRSS + "); " + EXIT)
IMPORT = STAMP + ("from labeldesk.cli import main; code = main(['import', '-q', '--create-classes', sys.argv[1], sys.argv[2]]); "
                  "print('rss', " + MAXRSS + "); print('done', time.time() - t0); " + EXIT)


# Children run from compiled bytecode, as an installed app does (a wheel or the bundle ships .pyc):
# with PYTHONDONTWRITEBYTECODE set in the shell every start would compile labeldesk's ~170 modules
# (≈ 0.3 s). The warm-up spawn writes them here; the source tree stays clean.
PYCACHE = DEFAULT_DIR / "pycache"


def spawn(code: str, *args: str, python: str = sys.executable, env_extra: dict | None = None) -> dict[str, list[float]]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "T0": repr(time.time()),
           "PYTHONPYCACHEPREFIX": str(PYCACHE), **(env_extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([python, "-c", code, *args], env=env, capture_output=True, text=True)
    values: dict[str, list[float]] = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        try:
            values.setdefault(key, []).append(float(value))
        except ValueError:
            pass
    if not values or out.returncode:
        raise SystemExit(f"child failed ({' '.join(args)}): {out.stdout[-2000:]} {out.stderr[-2000:]}")
    return values


def ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


def absolute(bench_id: str, label: str, ours: list[float], target: str, base: list[float] | None = None) -> str:
    text = f"{bench_id:<7} {label:<44} ours p50 {statistics.median(ours):9.1f} ms"
    if base:
        text += f" | B31 p50 {statistics.median(base):7.1f} ms ({statistics.median(ours) / statistics.median(base):.1f}x)"
    return text + f"  (target {target})"


def peer_python(arg: str | None) -> str | None:
    venv = Path(arg or os.environ.get("LABELDESK_PEER_VENV") or "~/.cache/labeldesk/bench-venv-labelme").expanduser()
    py = venv / "bin" / "python"
    if not py.exists():
        return None
    ok = subprocess.run([str(py), "-c", "import labelme, PyQt5"], capture_output=True)
    return str(py) if ok.returncode == 0 else None


def edited_copy(project: Path, copy: Path) -> Path:
    """A private copy of a bench project (the shared one stays unchanged), its snapshot written."""
    import shutil
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("*.lock"))
    return copy


def edit_one(root: Path) -> None:
    """One op on the copy, as a user's edit: the first annotation's outline moved by a pixel."""
    sys.path.insert(0, str(ROOT))
    from labeldesk.core.ops import OpDraft
    from labeldesk.core.project import Project
    p = Project.open(root)
    try:
        aid, geometry = p.conn.execute("SELECT id, geometry FROM annotations WHERE deleted = 0 LIMIT 1").fetchone()
        import json
        g = json.loads(geometry)
        g["shell"] = [[x + 1, y] for x, y in g["shell"]]
        p.apply(OpDraft("annotation.update", aid, {"set": {"geometry": g}}))
    finally:
        p.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, nargs="*", default=[10000, 100000], help="image sizes (none: APP-1 only)")
    ap.add_argument("--peer-venv", help="venv with labelme installed (default $LABELDESK_PEER_VENV or "
                                        "~/.cache/labeldesk/bench-venv-labelme)")
    ap.add_argument("--peer-repeats", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where benchmark data is cached")
    ap.add_argument("--only", default="APP-1,APP-2,APP-3,APP-4,PEER-1")
    ap.add_argument("--edited", action="store_true", help="APP-3 also after one edit since the document "
                    "snapshot (on a private copy of the project: the snapshot is caught up)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    global PYCACHE
    PYCACHE = a.dir / "pycache"
    print(machine())
    print("load average at start:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    small = Path("/tmp/labeldesk-bench-app")
    if not Path(small, "project.labeldesk").exists():
        subprocess.run([sys.executable, "-m", "labeldesk", "demo", "--no-gui", "--small", "--dir", str(small)],
                       check=True, capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    empty = a.dir / "empty"
    if not Path(empty, "project.labeldesk").exists():
        subprocess.run([sys.executable, "-m", "labeldesk", "init", str(empty)], check=True, capture_output=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    spawn(BARE)                                              # warm the page cache
    spawn(OURS_SHOWN, str(small))                            # and compile the bytecode
    bare, app1, empty_shown, floor_numpy, floor_enums = [], [], [], [], []
    for _ in range(a.repeats):
        bare += ms(spawn(BARE)["shown"])
        if "APP-1" in only:
            floor_numpy += ms(spawn(FLOOR_NUMPY)["shown"])
            floor_enums += ms(spawn(FLOOR_ENUMS)["shown"])
        app1 += ms(spawn(OURS_SHOWN, str(small))["shown"])
        empty_shown += ms(spawn(OURS_SHOWN, str(empty))["shown"])
    if "APP-1" in only:
        print(row("APP-1", "start to main window with a project open", app1, bare, "<= 1.5x B31"))
        print(row("APP-1", "floor: bare window, numpy imported first", floor_numpy, bare, "-"))
        print(row("APP-1", "floor: same, and the Qt namespace's enums", floor_enums, bare, "-"))
    peer = peer_python(a.peer_venv)
    if "PEER-1" in only and peer is None:
        print("PEER-1  skipped: no labelme venv (create one: python -m venv ~/.cache/labeldesk/bench-venv-labelme && "
              "~/.cache/labeldesk/bench-venv-labelme/bin/pip install labelme; or pass --peer-venv)")
    for n in a.n:
        folder = prepare(n, a.dir)
        project = str(folder / "project")
        spawn(OURS_PAINT, project, str(n), "0")              # warm the page cache; saves the snapshot
        cold = {"LABELDESK_NO_DOCUMENT_CACHE": "1"}
        shown, painted, reopen, rss, painted_cold, reopen_cold = [], [], [], [], [], []
        for _ in range(a.repeats):
            if "APP-2" in only:
                shown += ms(spawn(OURS_SHOWN, project)["shown"])
            v = spawn(OURS_PAINT, project, str(n), "2", env_extra=cold)
            painted_cold += ms(v["painted"])
            reopen_cold += ms(v["reopen"][1:])               # the first reopen warms the window's caches
            rss += v["rss"]
            v = spawn(OURS_PAINT, project, str(n), "2")
            painted += ms(v["painted"])
            reopen += ms(v["reopen"][1:])
            rss += v["rss"]
        edited = []
        if "APP-3" in only and a.edited:
            copy = edited_copy(Path(project), a.dir / f"edited-{n}")
            for _ in range(a.repeats):
                edit_one(copy)                                # one op since the snapshot
                edited += ms(spawn(OURS_PAINT, str(copy), str(n), "0")["painted"])
        if "APP-2" in only:
            print(row("APP-2", f"window shown, {n:,} polygons open", shown, empty_shown, "<= 1.5x APP-1 (empty)"))
        if "APP-3" in only:
            target = {10000: "<= 400 ms", 100000: "<= 1500 ms"}.get(n, "-")
            print(absolute("APP-3", f"spawn to first complete paint, {n:,}, cold", painted_cold, target, bare))
            print(absolute("APP-3", f"  same, unchanged project (snapshot)", painted, target, bare))
            if edited:
                print(absolute("APP-3", f"  same, one edit since the snapshot (caught up)", edited, target, bare))
            print(absolute("APP-3", f"reopen in the running window, {n:,}, cold", reopen_cold,
                           "<= 1000 ms" if n == 100000 else "-"))
            print(absolute("APP-3", f"  same, unchanged project (snapshot)", reopen,
                           "<= 1000 ms" if n == 100000 else "-"))
        if "APP-4" in only:
            print(f"APP-4   peak RSS with {n:,} open: {max(rss) / GIB:.3f} GiB  (target <= 0.6 GiB at 100k)")
            fresh = a.dir / f"import-{n}"
            if fresh.exists():
                import shutil
                shutil.rmtree(fresh)
            subprocess.run([sys.executable, "-m", "labeldesk", "init", str(fresh)], check=True, capture_output=True,
                           cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            subprocess.run([sys.executable, "-m", "labeldesk", "add", str(fresh), str(folder / "image.png")],
                           check=True, capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            v = spawn(IMPORT, str(fresh), str(folder / "image.json"))
            print(f"APP-4   labelme import of {n:,}: peak RSS {v['rss'][0] / GIB:.3f} GiB, {v['done'][0]:.1f} s "
                  f"(target <= 0.5 GiB at 100k)")
        if "PEER-1" in only and peer is not None:
            theirs, their_rss = [], []
            for _ in range(a.peer_repeats):
                v = spawn(PEER, str(folder / "image.json"), str(n), python=peer, env_extra={"PYTHONPATH": ""})
                theirs += ms(v["painted"])
                their_rss += v["rss"]
            t, o = statistics.median(theirs), statistics.median(painted_cold)
            print(f"PEER-1  labelme spawn to first paint, {n:,}: {t:,.0f} ms vs labeldesk {o:,.0f} ms -> "
                  f"labelme / labeldesk {t / o:.1f}x; peak RSS {max(their_rss) / GIB:.2f} GiB vs "
                  f"{max(rss) / GIB:.2f} GiB  (goal >= 40x at 100k)")
    print("load average at end:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
