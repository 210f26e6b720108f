"""`labeldesk self-test`: proves an installation (or a frozen bundle) works end to end, offline.

Builds a small demo project in a temporary folder, opens one asset of every kind through its
reader, decodes compressed DICOM with every bundled codec, checks the op log, and (unless
``gui=False``) opens the main window offscreen and grabs it. Prints one JSON line; exit 0 = pass.
"""
from __future__ import annotations

import faulthandler
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from labeldesk import __version__
from labeldesk.core.model import Plane


def _check(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> None:
    t0 = time.perf_counter()
    try:
        detail = fn()
        results[name] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 1),
                         **({"detail": detail} if detail is not None else {})}
    except Exception as exc:  # report every failure, keep checking the rest
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                         "trace": traceback.format_exc(limit=4)}


def run_self_test(screenshot: str | None = None, gui: bool = True) -> int:
    if sys.stderr is not None:
        faulthandler.enable()
    from labeldesk.core.project import Project
    from labeldesk.core.samples.demo import build_demo

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="labeldesk-selftest-") as tmp:
        root = Path(tmp) / "demo"
        _check(results, "demo_project", lambda: build_demo(root, small=True) and None)
        if not results["demo_project"]["ok"]:
            return _finish(results)
        with Project.open(root) as project:
            kinds: dict[str, str] = {}
            for asset in project.assets():
                kinds.setdefault(asset.kind if asset.kind != "volume" else
                                 f"volume-{project.locator(asset.id)['reader']}", asset.id)

            def read(asset_id: str) -> str:
                src = project.open_source(asset_id)
                try:
                    plane = Plane(z=src.plane_count("axial") // 2) if src.info.kind == "volume" else Plane()
                    level = len(src.info.levels) - 1 if src.info.kind == "pyramid" else 0
                    px = src.read_plane(plane, level)
                    return f"{src.info.kind} {px.shape} {px.dtype}"
                finally:
                    src.close()

            for kind in ("image", "pyramid", "video", "volume-dicom", "volume-nifti"):
                if kind in kinds:
                    _check(results, f"read_{kind}", lambda a=kinds[kind]: read(a))
                else:
                    results[f"read_{kind}"] = {"ok": False, "error": "demo project has no such asset"}
            _check(results, "op_log_chain", lambda: _chain(project))
        _check(results, "dicom_codecs", lambda: _codecs(Path(tmp) / "codecs"))
        if gui:
            _check(results, "main_window", lambda: _window(root, screenshot))
    return _finish(results)


def _chain(project: Any) -> str:
    report = project.verify_chain()
    if not report.ok:
        raise RuntimeError(f"op log hash chain broken at {report.first_bad}: {report.problem}")
    return f"{report.count} ops verified"


def _codecs(dest: Path) -> list[str]:
    import numpy as np

    from labeldesk.core.io import dicom, dicom_scan
    from labeldesk.core.samples.ct import write_ct_series
    done = []
    reference = None
    for syntax in ("explicit", "rle", "jpegls", "j2k"):
        folder = dest / syntax
        write_ct_series(folder, n_slices=3, size=64, transfer_syntax=syntax, seed=1)
        scan = dicom_scan.scan([str(folder)])
        if len(scan.series) != 1:
            raise RuntimeError(f"{syntax}: expected one series, got {len(scan.series)} ({scan.errors})")
        vol = dicom.open_locator(scan.series[0].locator).voxels
        if reference is None:
            reference = vol
        elif not np.array_equal(vol, reference):
            raise RuntimeError(f"{syntax}: decoded pixels differ from the uncompressed series")
        done.append(syntax)
    return done


def _window(root: Path, screenshot: str | None) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from labeldesk.qt.app import main as gui_main
    shot = screenshot or str(root.parent / "self-test.png")
    code = gui_main(["labeldesk", str(root), "--screenshot", shot])
    if code != 0 or not Path(shot).is_file() or Path(shot).stat().st_size < 1000:
        raise RuntimeError(f"main window check failed (exit {code}, screenshot {shot})")
    return shot


def _finish(results: dict[str, Any]) -> int:
    ok = all(r["ok"] for r in results.values())
    out = {"labeldesk": __version__, "frozen": bool(getattr(sys, "frozen", False)), "ok": ok, "checks": results}
    if sys.stdout is not None:
        print(json.dumps(out, indent=1))
    return 0 if ok else 1
