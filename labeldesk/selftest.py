"""`labeldesk self-test`: proves an installation (or a frozen bundle) works end to end, offline.

Builds a small demo project in a temporary folder, opens one asset of every kind through its
reader, decodes compressed DICOM with every bundled codec, checks the op log, round-trips COCO
and DICOM SEG (highdicom), shares the project and joins it as a second device, de-identifies a
series (dicognito), runs an ONNX model and trains the pixel classifier when the `models` extra is
installed, and (unless
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
            _check(results, "interchange", lambda: _interchange(project, Path(tmp) / "export"))
            _check(results, "share_and_join", lambda: _share(project, Path(tmp)))
        _check(results, "dicom_codecs", lambda: _codecs(Path(tmp) / "codecs"))
        _check(results, "deidentify", lambda: _deidentify(Path(tmp) / "deid"))
        if _has_models_extra():
            _check(results, "models", lambda: _models(Path(tmp) / "models"))
        if gui:
            _check(results, "main_window", lambda: _window(root, screenshot))
    return _finish(results)


def _chain(project: Any) -> str:
    report = project.verify_chain()
    if not report.ok:
        raise RuntimeError(f"op log hash chain broken at {report.first_bad}: {report.problem}")
    return f"{report.count} ops verified"


def _interchange(project: Any, dest: Path) -> str:
    """COCO and DICOM SEG exports (highdicom and its standard tables are in the bundle), read back."""
    import numpy as np

    from labeldesk.core import ids
    from labeldesk.core.formats.selection import Selection
    from labeldesk.core.geometry import Mask
    from labeldesk.core.interchange import export, import_file
    from labeldesk.core.ops import OpDraft
    cls = next((c for c in project.classes() if not c.deprecated and not c.merged_into
                and (not c.kinds or {"box", "mask"} <= set(c.kinds)) and not any(a.get("required") for a in c.attributes)), None)
    if cls is None:
        raise RuntimeError("the demo ontology has no class for boxes and masks")
    drafts = []
    for a in project.assets():
        if a.kind == "image":
            geometry = {"kind": "box", "xyxy": [2.0, 3.0, 20.0, 30.0]}
        elif a.kind == "volume" and (project.locator(a.id) or {}).get("reader") == "dicom":
            m = np.zeros((a.height, a.width), bool)
            m[a.height // 4: a.height // 2, a.width // 4: a.width // 2] = True
            geometry = Mask.from_array(m).to_dict()
        else:
            continue
        drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": a.id, "layer_id": project.my_layer_id, "class_id": cls.id,
            "plane": {"z": a.depth // 2} if a.kind == "volume" else {}, "geometry": geometry}}))
    project.apply_all(drafts)
    coco = export(project, "coco", dest / "coco.json", Selection(layer="mine"))
    seg = export(project, "dicom-seg", dest / "seg", Selection(layer="mine"))
    back = import_file(project, "coco", dest / "coco.json", options={"layer": "self-test import"})
    if back.refused:
        raise RuntimeError(f"COCO read back refused {len(back.refused)}: {back.refused[0]}")
    import highdicom
    segs = [highdicom.seg.segread(f) for f in sorted((dest / "seg").rglob("*.dcm"))] if (dest / "seg").exists() else []
    if not (coco.exported and back.imported and seg.exported and segs):
        raise RuntimeError(f"round trip incomplete: coco {coco.exported} out, {back.imported} back; "
                           f"SEG {seg.exported} masks, {len(segs)} file(s) read ({seg.refused[:1]})")
    return f"coco {coco.exported} out, {back.imported} back; SEG {seg.exported} masks, {len(segs)} file(s) read"


def _share(project: Any, tmp: Path) -> str:
    """Share the project, join it as a second device, and compare the two replicas."""
    from labeldesk.core.sync import engine
    from labeldesk.core.sync.status import state_digest
    engine.init_share(project, tmp / "share")
    joined, _ = engine.join_share(tmp / "share", tmp / "joined")
    try:
        if state_digest(joined.conn) != state_digest(project.conn):
            raise RuntimeError("the joined replica differs from the shared project")
        return f"{joined.counts()['ops']} ops on the joined replica, state digests equal"
    finally:
        joined.close()


def _deidentify(dest: Path) -> str:
    """De-identification on import (dicognito is in the bundle)."""
    from labeldesk.core.importer import add_paths
    from labeldesk.core.project import Project
    from labeldesk.core.samples.ct import write_ct_series
    write_ct_series(dest / "in", n_slices=3, size=32, seed=2)
    with Project.create(dest / "project", user_name="self-test") as project:
        report = add_paths(project, [str(dest / "in")], deidentify=True)
        if len(report.added) != 1 or not project.locator(report.added[0].id).get("deid"):
            raise RuntimeError(f"expected one de-identified series: {report.summary()} {report.refused}")
        return report.summary()


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


def _has_models_extra() -> bool:
    """Whether this installation carries the `models` extra (ONNX Runtime, onnx, scikit-learn)."""
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx", "sklearn"))


def _models(dest: Path) -> str:
    """Model assistance: an ONNX model made here runs in ONNX Runtime, and the pixel classifier
    (a scikit-learn random forest) trains and predicts (what a trimmed bundle must still hold)."""
    import numpy as np

    from labeldesk.core.model import Plane
    from labeldesk.core.models import pixel_classifier, runner, tiny
    sess = runner.session(tiny.segmenter(dest / "segmenter.onnx", size=16), gpu=False)
    (port,), _ = runner.signature(sess)
    logits = sess.run(None, {port.name: np.full((1, 3, 16, 16), 200.0, np.float32)})[0]
    if logits.shape != (1, 2, 16, 16) or not np.all(logits[0, 0] < logits[0, 1]):
        raise RuntimeError(f"ONNX Runtime gave unexpected output {logits.shape}")
    pixels = np.zeros((32, 32), np.uint8)
    pixels[8:24, 8:24] = 200
    labels = (pixels > 0).astype(np.int16)
    clf = pixel_classifier.fit([(pixels, pixel_classifier.LabelledPlane("a", Plane(), labels))], ["object"],
                               per_class=200, trees=3)
    predicted, _, _ = clf.predict(pixels)
    agree = float(np.mean(predicted == labels))
    if agree < 0.95:
        raise RuntimeError(f"the pixel classifier reproduces only {agree:.0%} of its training labels")
    return f"onnxruntime {runner.ort().__version__} ran a segmenter; pixel forest {agree:.0%} on its labels"


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
