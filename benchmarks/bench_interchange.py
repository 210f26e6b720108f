"""ANN-8: bulk import of 100,000 annotations (COCO; labelme and YOLO with --all); ANN-9: the COCO
dataset export of the same project (B28: the rows read and dumped as COCO JSON by hand).

    python benchmarks/bench_interchange.py [--n 100000] [--images 500] [--all] [--repeats 3] [--profile]
    python benchmarks/bench_interchange.py --app4 100000      # APP-4: peak RSS of the labelme import

B27 = ``json.loads`` of the same file + building the same rows (op log, outbox, annotations) in
plain Python + ``executemany`` of them into the same schema in one transaction (with the cyclic
garbage collector off, as during labeldesk's import). labeldesk's import
does the parse, matching, class lookup, per-item checks, op validation (clipping, polygon
validity), the hash chain and the undo drafts on top; target <= 1.5x B27.

Half the annotations are boxes, half 12-vertex polygons, spread over ``--images`` images.
"""
from __future__ import annotations

import argparse
import os
import cProfile
import gc
import json
import math
import pstats
import shutil
import statistics
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.interchange import import_file  # noqa: E402
from labeldesk.core.ops import OpDraft, canonical_json  # noqa: E402
from labeldesk.core.project import STORE_NAME, Project  # noqa: E402

W, H = 1024, 768
CPU: list[float] = []        # process CPU seconds of each timed run, in order (less swayed by load)


def _polygon(i: int) -> list[list[float]]:
    cx, cy, r = 40 + (i * 37) % (W - 80), 40 + (i * 53) % (H - 80), 10 + i % 25
    return [[round(cx + r * math.cos(k * math.pi / 6), 2), round(cy + r * math.sin(k * math.pi / 6), 2)]
            for k in range(12)]


def make_coco(path: Path, n: int, images: int) -> None:
    anns = []
    for i in range(n):
        rec = {"id": i + 1, "image_id": i % images + 1, "category_id": i % 5 + 1, "iscrowd": 0}
        if i % 2:
            pts = _polygon(i)
            rec["segmentation"] = [[v for p in pts for v in p]]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            rec["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        else:
            x, y = (i * 29) % (W - 60), (i * 31) % (H - 60)
            rec["bbox"] = [x + 0.5, y + 0.25, 20 + i % 40, 10 + i % 50]
        anns.append(rec)
    doc = {"images": [{"id": k + 1, "file_name": f"img{k:05d}.jpg", "width": W, "height": H} for k in range(images)],
           "categories": [{"id": c + 1, "name": f"class{c}"} for c in range(5)], "annotations": anns}
    path.write_text(json.dumps(doc))


def make_project(root: Path, images: int) -> Project:
    p = Project.create(root, "bench", user_name="bench")
    drafts = [OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": f"class{c}", "color": "#123456"}})
              for c in range(5)]
    for k in range(images):
        aid = ids.new_id()
        drafts.append(OpDraft("asset.add", aid, {"asset": {"kind": "image", "name": f"img{k:05d}.jpg",
                                                           "content_hash": "sha256:" + aid, "width": W, "height": H}},
                              local={"locator": {"reader": "raster", "path": f"/data/img{k:05d}.jpg"}}))
    p.apply_all(drafts)
    return p


def baseline(store: Path, src: Path, images: int) -> float:
    """B27: parse + the same rows built in plain Python + executemany in one transaction."""
    conn = sqlite3.connect(store, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    asset_ids = [r[0] for r in conn.execute("SELECT id FROM assets ORDER BY rowid")]
    class_ids = [r[0] for r in conn.execute("SELECT id FROM classes ORDER BY rowid")]
    layer = conn.execute("SELECT id FROM layers").fetchone()[0]
    gc.disable()                     # as labeldesk's import does: the same conditions for both
    t0, c0 = time.perf_counter(), time.process_time()
    doc = json.loads(src.read_text())
    images_by_id = {im["id"]: asset_ids[k] for k, im in enumerate(doc["images"])}
    ops, outbox, rows = [], [], []
    for seq, a in enumerate(doc["annotations"], 1000):
        seg = a.get("segmentation")
        if seg:
            flat = seg[0]
            geom = {"kind": "polygon", "shell": [[flat[j], flat[j + 1]] for j in range(0, len(flat), 2)]}
        else:
            x, y, w, h = a["bbox"]
            geom = {"kind": "box", "xyxy": [x, y, x + w, y + h]}
        x, y, w, h = a["bbox"]
        aid, op_id = ids.new_id(), f"dev:{seq}"
        ann = {"asset_id": images_by_id[a["image_id"]], "layer_id": layer, "class_id": class_ids[a["category_id"] - 1],
               "plane": {"z": 0, "t": 0, "axis": "axial"}, "geometry": geom, "attributes": {}}
        ops.append((op_id, "dev", seq, 0, 0, "2026-01-01T00:00:00.000Z", "u", "annotation.create", aid, "[]",
                    canonical_json({"annotation": ann}), "bench", "", ""))
        outbox.append((op_id,))
        rows.append((aid, ann["asset_id"], layer, ann["class_id"], "axial", 0, 0, geom["kind"], canonical_json(geom),
                     x, y, x + w, y + h, "{}", "u", 0, op_id, 0.0, None, 1))
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO ops (op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload,"
                     " reason, op_hash, chain_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", ops)
    conn.executemany("INSERT INTO outbox (op_id) VALUES (?)", outbox)
    conn.executemany("INSERT INTO annotations (id, asset_id, layer_id, class_id, plane_axis, plane_z, plane_t, kind,"
                     " geometry, x0, y0, x1, y1, attributes, author, ontology_version, deleted, revision, z_order,"
                     " track_id, keyframe) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,?,?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    CPU.append(time.process_time() - c0)
    gc.enable()
    conn.close()
    return elapsed


def ours(project: Project, src: Path, fmt: str, profile: bool) -> tuple[float, int]:
    prof = cProfile.Profile() if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    rep = import_file(project, fmt, src)
    if prof:
        prof.disable()
    elapsed = time.perf_counter() - t0
    CPU.append(time.process_time() - c0)
    if prof:
        pstats.Stats(prof).sort_stats(os.environ.get("ANN8_SORT", "cumulative")).print_stats(30)
    assert not rep.refused, rep.lines(5)
    return elapsed, rep.imported


def export_as(project: Project, fmt: str, dest: Path) -> None:
    from labeldesk.core.interchange import export
    export(project, fmt, dest)


def export_baseline(store: Path, dest: Path) -> float:
    """B28: the annotation rows read with sqlite3 and written as the same COCO document shape
    (a box or polygon segmentation, bbox, area from the row's bounds) with json.dumps: what an
    export costs without per-class ids, conversions, checks and the report."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(store)
    images: dict[str, int] = {}
    anns = []
    for i, (aid, asset, cls, geometry, x0, y0, x1, y1) in enumerate(conn.execute(
            "SELECT id, asset_id, class_id, geometry, x0, y0, x1, y1 FROM annotations WHERE deleted = 0")):
        g = json.loads(geometry)
        seg = [[v for p in g["shell"] for v in p]] if g["kind"] == "polygon" else [[x0, y0, x1, y0, x1, y1, x0, y1]]
        anns.append({"id": i + 1, "image_id": images.setdefault(asset, len(images) + 1), "category_id": 1,
                     "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
                     "segmentation": seg})
    conn.close()
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "instances_default.json").write_text(json.dumps({"images": [{"id": v} for v in images.values()],
                                                             "annotations": anns, "categories": []}))
    return time.perf_counter() - t0


def app4_import_memory(n: int, base: Path) -> None:
    """APP-4 (import memory): peak RSS of ``labeldesk import`` (a fresh process) of the labelme file
    of N 32-vertex stars on a 4096² image that ``bench_app.py`` uses (benchmarks/app_data.py)."""
    import shutil
    import subprocess
    import app_data
    folder = app_data.prepare(n, base, project=False)
    fresh = base / f"import-{n}"
    shutil.rmtree(fresh, ignore_errors=True)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    for args in (["init", str(fresh)], ["add", str(fresh), str(folder / "image.png")]):
        subprocess.run([sys.executable, "-m", "labeldesk", *args], check=True, capture_output=True, env=env, cwd=root)
    # VmHWM (this process's own peak), not ru_maxrss: Linux carries ru_maxrss over fork and exec, so
    # a child of this script (which just drew a 4096² image with numpy) would report the parent's peak
    code = ("import sys, time; t0 = time.perf_counter(); from labeldesk.cli import main; "
            "c = main(['import', '-q', '--create-classes', sys.argv[1], sys.argv[2]]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print('rss', int(hwm) * 1024, 'seconds', time.perf_counter() - t0); sys.exit(c)")
    out = subprocess.run([sys.executable, "-c", code, str(fresh), str(folder / "image.json")], env=env, cwd=root,
                         capture_output=True, text=True, check=True)
    words = out.stdout.split()
    rss, secs = int(words[words.index("rss") + 1]), float(words[words.index("seconds") + 1])
    print(f"APP-4   labelme import of {n:,} (32-vertex stars, {(folder / 'image.json').stat().st_size / 1e6:.0f} MB): "
          f"peak RSS {rss / 2**30:.3f} GiB, {secs:.1f} s  (target <= 0.5 GiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--all", action="store_true", help="also labelme and YOLO-seg (from a COCO import's export)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of labeldesk's import")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved B27/ours pairs (medians reported)")
    ap.add_argument("--app4", type=int, metavar="N", help="only APP-4: peak RSS of `labeldesk import` of the "
                    "labelme file of N stars (bench_app.py's data)")
    args = ap.parse_args()
    if args.app4:
        print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        app4_import_memory(args.app4, Path(os.environ.get("LABELDESK_BENCH_DIR", "/tmp/labeldesk-app-bench")))
        return
    tmp = Path(tempfile.mkdtemp(prefix="ann8-"))
    try:
        run(args, tmp)
    finally:                         # (each run writes ~2.7 GB of projects)
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    src = tmp / "coco.json"
    make_coco(src, args.n, args.images)
    print(f"machine: {machine()}")
    print(f"ANN-8 input: {args.n} annotations ({args.n // 2} boxes, {args.n - args.n // 2} 12-vertex polygons) "
          f"on {args.images} images, {src.stat().st_size / 1e6:.1f} MB of COCO JSON")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ts, bs = [], []
    CPU.clear()
    for r in range(args.repeats):              # interleaved, so that both see the same load
        base_project = make_project(tmp / f"base{r}", args.images)
        base_project.close()
        bs.append(baseline(tmp / f"base{r}" / STORE_NAME, src, args.images))
        shutil.rmtree(tmp / f"base{r}", ignore_errors=True)
        project = make_project(tmp / f"ours{r}", args.images)
        t, n = ours(project, src, "coco", args.profile)
        ts.append(t)
        if r + 1 < args.repeats:
            project.close()
            shutil.rmtree(tmp / f"ours{r}", ignore_errors=True)
    t, b = statistics.median(ts), statistics.median(bs)
    ratios = sorted(x / y for x, y in zip(ts, bs))
    print(f"ANN-8   {'COCO import of ' + str(n) + ' annotations':<44} ours {t:7.2f} s | B27 {b:7.2f} s | "
          f"ratio {t / b:5.2f}x  (target <= 1.5x; per-pair ratios {', '.join(f'{x:.2f}' for x in ratios)})")
    print(f"        CPU seconds: ours {statistics.median(CPU[1::2]):7.2f} s | B27 {statistics.median(CPU[0::2]):7.2f} s"
          f" | ratio {statistics.median(CPU[1::2]) / statistics.median(CPU[0::2]):5.2f}x")
    t0 = time.perf_counter()
    export_as(project, "coco", tmp / "export-coco")
    te = time.perf_counter() - t0
    be = export_baseline(tmp / f"ours{args.repeats - 1}" / STORE_NAME, tmp / "export-base")
    print(f"ANN-9   {'COCO dataset export of ' + str(n) + ' annotations':<44} ours {te:7.2f} s | B28 {be:7.2f} s | "
          f"ratio {te / be:5.2f}x")
    if args.all:
        for fmt in ("labelme", "yolo-seg"):
            dest = tmp / f"out-{fmt}"
            export_as(project, fmt, dest)
            t2s, b2s = [], []
            CPU.clear()
            for r in range(args.repeats):
                base_project = make_project(tmp / f"base-{fmt}{r}", args.images)
                base_project.close()
                b2s.append(baseline(tmp / f"base-{fmt}{r}" / STORE_NAME, src, args.images))
                shutil.rmtree(tmp / f"base-{fmt}{r}", ignore_errors=True)
                other = make_project(tmp / f"ours-{fmt}{r}", args.images)
                t2, n2 = ours(other, dest, fmt, False)
                t2s.append(t2)
                other.close()
                shutil.rmtree(tmp / f"ours-{fmt}{r}", ignore_errors=True)
            t2, b2 = statistics.median(t2s), statistics.median(b2s)
            print(f"ANN-8   {fmt + ' import of ' + str(n2) + ' annotations':<44} ours {t2:7.2f} s | "
                  f"B27 (COCO) {b2:7.2f} s | ratio {t2 / b2:5.2f}x  (per-pair ratios "
                  f"{', '.join(f'{x:.2f}' for x in sorted(x / y for x, y in zip(t2s, b2s)))})")
            print(f"        CPU seconds: ours {statistics.median(CPU[1::2]):7.2f} s | B27 "
                  f"{statistics.median(CPU[0::2]):7.2f} s | ratio "
                  f"{statistics.median(CPU[1::2]) / statistics.median(CPU[0::2]):5.2f}x")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    project.close()


if __name__ == "__main__":
    main()
