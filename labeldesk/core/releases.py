"""Releases: immutable, named snapshots of the final labels, with a manifest and a diff.

``create`` writes ``releases/<name>/`` in the project folder:

* ``labels.json``: every annotation (and classification) of the released layers with its id, class,
  plane, geometry in ``image_xy`` pixels of its plane, attributes, author, revision and, where a
  model was involved, its provenance (model, version, score; for a person's accepted copy of a
  prediction also the prediction id and how much the person changed it: IoU, class, attributes);
  plus the assets and the ontology it refers to;
* ``coco.json``: the same annotations as COCO, when the COCO exporter is installed (``coco=True``);
* ``manifest.json``: counts per class and kind, the ontology version, the release op id, the diff
  against the previous release and the SHA-256 and size of every other file.

Everything is written to a temporary folder next to it; the ``release.create`` op (name unique,
never overwritten) records the file hashes; then the manifest is written and the folder renamed.
A crash between the op and the rename is finished on the next ``list``/``create``/``verify``
(the temporary folder's files are checked against the recorded hashes first). Files are made
read-only. ``verify`` recomputes every hash and compares with the manifest and the op record.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeldesk import __version__
from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.op_types.releases import name_problem
from labeldesk.core.ops import OpDraft
from labeldesk.core.tasks import NO_PROGRESS, Progress

RELEASES_DIR = "releases"
LABELS = "labels.json"
COCO = "coco.json"
MANIFEST = "manifest.json"
LABELS_FORMAT = "labeldesk-release-labels/1"
MANIFEST_FORMAT = "labeldesk-release-manifest/1"
NO_CLASS = "(no class)"


@dataclass(frozen=True)
class Release:
    id: str
    name: str
    op_id: str
    wall: str
    user: str | None
    layers: list[dict[str, Any]]
    files: dict[str, dict[str, Any]]
    counts: dict[str, Any]
    previous: str | None
    ontology_version: int
    path: Path
    dev: str = ""
    here: bool = False          # its folder is on this machine (the manifest names this release)
    shadowed: bool = False      # another device made a release of this name earlier (by HLC)


def releases_dir(project: Any) -> Path:
    return Path(project.root) / RELEASES_DIR


def _manifest_id(folder: Path) -> str | None:
    try:
        return json.loads((folder / MANIFEST).read_text("utf-8")).get("release_id")
    except (OSError, ValueError, AttributeError):
        return None


def releases(project: Any, *, finish: bool = True) -> list[Release]:
    """All releases in the order they were made (HLC order, the same on every replica), finishing
    any a crash interrupted."""
    if finish:
        finish_pending(project)
    base = releases_dir(project)
    out: list[Release] = []
    seen: set[str] = set()
    local: dict[str, str | None] = {}
    for r in project.conn.execute("SELECT * FROM releases ORDER BY hlc_ms, hlc_ctr, dev, op_id"):
        name = r["name"]
        if name not in local:
            local[name] = _manifest_id(base / name)
        out.append(Release(r["id"], name, r["op_id"], r["wall"], r["user"], json.loads(r["layers"]),
                           json.loads(r["files"]), json.loads(r["counts"]), r["previous"], r["ontology_version"],
                           base / name, r["dev"], local[name] == r["id"], name in seen))
        seen.add(name)
    return out


def get(project: Any, name: str) -> Release:
    """The release called ``name``: the one whose folder is here, else the earliest of that name."""
    everything = releases(project)
    found = [r for r in everything if r.name == name]
    if not found:
        raise LabeldeskError(f"no release named {name!r}; releases are: "
                             + (", ".join(dict.fromkeys(r.name for r in everything)) or "none yet"))
    return next((r for r in found if r.here), found[0])


# ---- what goes in --------------------------------------------------------------------------------
def release_layers(project: Any, wanted: str | None = None) -> list[Any]:
    layers = project.layers()
    if wanted in (None, "final"):
        finals = [l for l in layers if l.kind == "final"]
        if not finals:
            raise LabeldeskError("the project has no final layer (a layer of kind 'final'); name the layer to "
                                 "release with --layer NAME; layers are: "
                                 + ", ".join(f"{l.name} ({l.kind})" for l in layers))
        return finals
    users = {u.id: u.name for u in project.users()}
    chosen = [l for l in layers if wanted in (l.id, l.name)] or \
             [l for l in layers if l.kind == "annotator" and users.get(l.owner or "") == wanted]
    if not chosen:
        raise LabeldeskError(f"no layer {wanted!r}; layers are: " + ", ".join(f"{l.name} ({l.kind})" for l in layers))
    return chosen


def snapshot(project: Any, layers: list[Any], progress: Progress = NO_PROGRESS) -> dict[str, Any]:
    """The labels document of a release (plain JSON values; deterministic for a given state)."""
    from labeldesk.core.op_types.classifications import classifications
    from labeldesk.core.predictions import change, provenances
    classes = project.classes()
    names = {c.id: c.name for c in classes}
    provs = provenances(project.conn)
    layer_ids = [l.id for l in layers]
    anns: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    assets = project.assets()
    for i, asset in enumerate(assets):
        progress.report(i, len(assets), f"reading {asset.name}")
        for layer_id in layer_ids:
            for a in project.annotations(asset.id, layer_id=layer_id):
                rec: dict[str, Any] = {
                    "id": a.id, "asset_id": a.asset_id, "layer_id": a.layer_id, "class_id": a.class_id,
                    "class": names.get(a.class_id or "", NO_CLASS if a.class_id is None else a.class_id),
                    "plane": a.plane.to_dict(), "geometry": a.geometry.to_dict(), "attributes": a.attributes,
                    "author": a.author, "revision": a.revision, "z_order": a.z_order,
                    "track_id": a.track_id, "keyframe": a.keyframe}
                p = provs.get(a.id)
                if p is not None:
                    rec["provenance"] = {k: v for k, v in (("model", p.model), ("version", p.version),
                                                           ("score", p.score), ("prediction_id", p.prediction_id))
                                         if v is not None}
                    if p.prediction_id and p.original:       # a person's copy: how much they changed it
                        ch = change(a, p.original)
                        rec["provenance"]["change"] = {"iou": ch.iou, "geometry": ch.geometry_changed,
                                                       "class": ch.class_changed, "attributes": ch.attributes_changed}
                anns.append(rec)
        for c in classifications(project.conn, asset.id):
            if c["layer_id"] in layer_ids:
                tags.append({"id": c["id"], "asset_id": c["asset_id"], "layer_id": c["layer_id"],
                             "scope": c["scope"], "class_id": c["class_id"], "class": c["class_name"],
                             "plane": None if c["scope"] == "asset" else
                             {"axis": c["plane_axis"], "z": c["plane_z"], "t": c["plane_t"]}})
    return {
        "format": LABELS_FORMAT, "project_id": project.id, "ontology_version": project.ontology_version,
        "layers": [l.to_dict() for l in layers],
        "classes": [{"id": c.id, "name": c.name, "parent_id": c.parent_id, "color": c.color,
                     "kinds": list(c.kinds), "attributes": list(c.attributes), "deprecated": c.deprecated,
                     "merged_into": c.merged_into} for c in classes],
        "assets": [{"id": a.id, "name": a.name, "kind": a.kind, "content_hash": a.content_hash,
                    "width": a.width, "height": a.height, "depth": a.depth, "frames": a.frames,
                    "spacing": list(a.spacing) if a.spacing is not None else None} for a in assets],
        "annotations": anns, "classifications": tags,
    }


def counts(doc: dict[str, Any]) -> dict[str, Any]:
    by_class: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for a in doc["annotations"]:
        by_class[a["class"]] = by_class.get(a["class"], 0) + 1
        by_kind[a["geometry"]["kind"]] = by_kind.get(a["geometry"]["kind"], 0) + 1
    tags: dict[str, int] = {}
    for c in doc["classifications"]:
        tags[c["class"]] = tags.get(c["class"], 0) + 1
    return {"annotations": len(doc["annotations"]), "by_class": by_class, "by_kind": by_kind,
            "classifications": len(doc["classifications"]), "classifications_by_class": tags,
            "assets": len(doc["assets"]),
            "assets_with_labels": len({a["asset_id"] for a in doc["annotations"]}
                                      | {c["asset_id"] for c in doc["classifications"]}),
            "from_model": sum(1 for a in doc["annotations"] if "provenance" in a),
            "edited_after_model": sum(1 for a in doc["annotations"]
                                      if any((a.get("provenance") or {}).get("change", {}).get(k)
                                             for k in ("geometry", "class", "attributes")))}


# ---- files -----------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _dumps(value: Any) -> bytes:
    """The manifest: small, pretty, deterministic JSON."""
    return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _dumps_labels(value: dict[str, Any]) -> bytes:
    """The labels: deterministic JSON with one record per line (lists of objects), which keeps the
    fast C encoder and gives line-wise text diffs."""
    parts = []
    for k in sorted(value):
        v = value[k]
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            body = "[\n" + ",\n".join(_compact(x) for x in v) + "\n]"
        else:
            body = _compact(v)
        parts.append(_compact(k) + ": " + body)
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode()


def _file_entries(folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {n: {"sha256": sha256_file(folder / n), "bytes": (folder / n).stat().st_size} for n in sorted(names)}


def _read_only(folder: Path) -> None:
    for f in folder.iterdir():
        f.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tmp_prefix(name: str) -> str:
    return f".tmp-{name}-"


def _write_coco(project: Any, layers: list[Any], wanted: str | None, dest: Path) -> bool:
    from labeldesk.core import interchange
    from labeldesk.core.formats.selection import Selection
    layer = "final" if wanted in (None, "final") else layers[0].id
    report = interchange.export(project, "coco", dest, Selection(layer=layer))
    return not report.cancelled and dest.exists()


def create(project: Any, name: str, layer: str | None = None, progress: Progress = NO_PROGRESS,
           coco: bool = True) -> Release:
    """Make release ``name`` of ``layer`` (default: the final layer(s)). Refuses a used name."""
    problem = name_problem(name)
    if problem:
        raise LabeldeskError(problem)
    existing = releases(project)
    if any(r.name == name for r in existing):
        raise LabeldeskError(f"a release named {name!r} exists already (releases are never overwritten); "
                             "choose another name")
    base = releases_dir(project)
    final = base / name
    if final.exists():
        raise LabeldeskError(f"{final}: exists already but is not a release of this project; move it away "
                             "or choose another name")
    layers = release_layers(project, layer)
    base.mkdir(exist_ok=True)
    for stale in base.glob(_tmp_prefix(name) + "*"):      # an earlier attempt that never got recorded
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(name), dir=base))
    try:
        doc = snapshot(project, layers, progress)
        progress.check()
        _write(tmp / LABELS, _dumps_labels(doc))
        written = [LABELS]
        try:
            if coco and _write_coco(project, layers, layer, tmp / COCO):
                written.append(COCO)
        except LabeldeskError as exc:
            raise LabeldeskError(f"release {name!r} was not made: the COCO export failed ({exc}); "
                                 "release labels.json alone with --no-coco") from exc
        progress.check()
        files = _file_entries(tmp, written)
        payload = {"name": name, "layers": [l.to_dict() for l in layers], "files": files, "counts": counts(doc),
                   "previous": existing[-1].name if existing else None,
                   "ontology_version": project.ontology_version}
        try:
            project.apply(OpDraft("release.create", ids.new_id(), {"release": payload}))
        except OpRejected as exc:
            raise LabeldeskError(f"release {name!r} was not made: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finish_pending(project)
    return get(project, name)


def finish_pending(project: Any) -> list[str]:
    """Complete releases whose op was recorded but whose folder was not yet renamed into place."""
    base = releases_dir(project)
    if not base.is_dir():
        return []
    done = []
    for rel in releases(project, finish=False):
        if (base / rel.name).exists():
            continue
        for tmp in sorted(base.glob(_tmp_prefix(rel.name) + "*")):
            if all((tmp / n).is_file() and sha256_file(tmp / n) == e["sha256"] for n, e in rel.files.items()):
                manifest = build_manifest(project, rel, tmp / LABELS)
                (tmp / MANIFEST).unlink(missing_ok=True)
                _write(tmp / MANIFEST, _dumps(manifest))
                _read_only(tmp)
                os.rename(tmp, base / rel.name)
                _fsync_dir(base)
                done.append(rel.name)
                break
    return done


def build_manifest(project: Any, rel: Release, labels_path: Path) -> dict[str, Any]:
    users = {u.id: u.name for u in project.users()}
    diff_summary = None
    if rel.previous:
        prev = releases_dir(project) / rel.previous / LABELS
        if prev.is_file():
            d = diff_docs(load_doc(prev), load_doc(labels_path))
            diff_summary = {"previous": rel.previous, "added": len(d.added), "removed": len(d.removed),
                            "changed": len(d.changed)}
    return {"format": MANIFEST_FORMAT, "name": rel.name, "release_id": rel.id, "op_id": rel.op_id,
            "project_id": project.id, "project_name": project.name, "created": rel.wall,
            "created_by": users.get(rel.user or "", rel.user), "app": f"labeldesk/{__version__}",
            "ontology_version": rel.ontology_version, "layers": rel.layers, "counts": rel.counts,
            "previous": rel.previous, "diff_from_previous": diff_summary, "files": rel.files}


# ---- verify ----------------------------------------------------------------------------------------
@dataclass
class Verification:
    name: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(project: Any, name: str) -> Verification:
    rel = get(project, name)
    out = Verification(name)
    folder = rel.path
    if not folder.is_dir():
        where = "" if rel.dev == project.device_id else f"; it was made on device {rel.dev[:12]}, whose copy has the files"
        out.problems.append(f"{folder}: the release folder is missing (it is recorded by op {rel.op_id}{where})")
        return out
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        out.problems.append(f"{folder / MANIFEST}: cannot be read ({exc})")
        manifest = None
    if manifest is not None:
        for key, want in (("name", rel.name), ("release_id", rel.id), ("op_id", rel.op_id)):
            if manifest.get(key) != want:
                out.problems.append(f"{folder / MANIFEST}: {key} is {manifest.get(key)!r}, the project "
                                    f"recorded {want!r}")
        if manifest.get("files") != rel.files:
            out.problems.append(f"{folder / MANIFEST}: its file list or hashes differ from the ones the "
                                f"project recorded in op {rel.op_id}")
    for n, entry in sorted(rel.files.items()):
        path = folder / n
        if not path.is_file():
            out.problems.append(f"{path}: missing")
            continue
        out.checked += 1
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            out.problems.append(f"{path}: SHA-256 {digest} does not match the recorded {entry['sha256']}")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in rel.files and p.name != MANIFEST)
    for n in extra:
        out.problems.append(f"{folder / n}: not part of the release")
    return out


# ---- diff ------------------------------------------------------------------------------------------
def load_doc(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise LabeldeskError(f"{path}: cannot be read as release labels ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != LABELS_FORMAT:
        raise LabeldeskError(f"{path}: not release labels (format {LABELS_FORMAT})")
    return doc


COMPARED = ("class_id", "geometry", "attributes", "plane", "asset_id", "layer_id", "track_id", "keyframe")


@dataclass
class ReleaseDiff:
    old: str
    new: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)     # (id, fields that changed)
    by_class: dict[str, tuple[int, int]] = field(default_factory=dict)     # class -> (old count, new count)
    classifications_added: list[str] = field(default_factory=list)
    classifications_removed: list[str] = field(default_factory=list)


def diff_docs(old: dict[str, Any], new: dict[str, Any], old_name: str = "", new_name: str = "") -> ReleaseDiff:
    out = ReleaseDiff(old_name, new_name)
    a = {x["id"]: x for x in old["annotations"]}
    b = {x["id"]: x for x in new["annotations"]}
    out.added = sorted(set(b) - set(a))
    out.removed = sorted(set(a) - set(b))
    for i in sorted(set(a) & set(b)):
        x, y = a[i], b[i]
        fields = [k for k in COMPARED if x.get(k) != y.get(k)]      # both parsed from JSON: plain values
        if fields:
            out.changed.append((i, fields))
    ca, cb = counts(old)["by_class"], counts(new)["by_class"]
    out.by_class = {k: (ca.get(k, 0), cb.get(k, 0)) for k in sorted(set(ca) | set(cb))}
    ta = {x["id"] for x in old["classifications"]}
    tb = {x["id"] for x in new["classifications"]}
    out.classifications_added = sorted(tb - ta)
    out.classifications_removed = sorted(ta - tb)
    return out


def diff(project: Any, old: str, new: str | None = None) -> ReleaseDiff:
    """What changed from release ``old`` to ``new``; with one name, from the release before it."""
    if new is None:
        rel = get(project, old)
        if rel.previous is None:
            raise LabeldeskError(f"release {old!r} is the first release: there is nothing before it to compare")
        old, new = rel.previous, old
    ra, rb = get(project, old), get(project, new)
    return diff_docs(load_doc(ra.path / LABELS), load_doc(rb.path / LABELS), ra.name, rb.name)
