"""The project's model registry: add a model from its file(s) and manifest, list, find, open.

Adding checks, in order, and refuses with the reason on the first problem: the manifest itself,
each file's SHA-256 against the manifest, that ONNX Runtime loads it, that its inputs and outputs
are those of its task (:data:`CHECKS`) and agree with the manifest's input size and class count,
and that every class it maps to exists in the project's ontology. The file(s) are then copied into
``models/`` under their hash and a ``model.register`` op records the manifest. Nothing is ever
fetched from a network.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from labeldesk.core import ids
from labeldesk.core.errors import InputError, LabeldeskError
from labeldesk.core.models import runner
from labeldesk.core.models.manifest import Manifest, load, parse, sha256_file
from labeldesk.core.op_types.models import MODEL_PREFIX, records
from labeldesk.core.ops import OpDraft

MODELS_DIR = "models"
SAM_DECODER_INPUTS = ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input",
                      "orig_im_size")
SAM_DECODER_OUTPUTS = ("masks", "iou_predictions", "low_res_masks")


@dataclass(frozen=True)
class ModelRecord:
    id: str
    manifest: Manifest
    record: dict[str, Any]

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def task(self) -> str:
        return self.manifest.task

    @property
    def retired(self) -> bool:
        return bool(self.record.get("retired"))

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


# ---- what each task's ONNX graph must look like ---------------------------------------------------
def _check_image_input(ins: list[runner.Port], m: Manifest, what: str) -> list[str]:
    if len(ins) != 1 or len(ins[0].shape) != 4:
        return [f"the {what} must have one image input [1, 3, H, W]; it has "
                + ", ".join(f"{p.name}{list(p.shape)}" for p in ins)]
    p = ins[0]
    out = []
    if p.dim(1) not in (None, 3):
        out.append(f"input {p.name!r} has {p.dim(1)} channels; 3 (RGB) expected")
    h, w = p.dim(2), p.dim(3)
    if (h is not None and h != m.input_size[1]) or (w is not None and w != m.input_size[0]):
        out.append(f"input {p.name!r} is {w}x{h} but the manifest says input_size {m.input_size[0]}x{m.input_size[1]}")
    return out


def _check_detector(ins: list[runner.Port], outs: list[runner.Port], m: Manifest) -> list[str]:
    problems = _check_image_input(ins, m, "detector")
    if not outs or len(outs[0].shape) != 3:
        return problems + ["a YOLO-style detector has one output [1, 4 + classes, boxes]"]
    o = outs[0]
    nc = len(m.classes)
    a, b = o.dim(1), o.dim(2)
    if a is not None and a != 4 + nc and b is not None and b != 4 + nc:
        problems.append(f"output {o.name!r} {list(o.shape)} does not hold 4 + {nc} values per box "
                        f"(the manifest lists {nc} classes)")
    return problems


def _check_segmenter(ins: list[runner.Port], outs: list[runner.Port], m: Manifest) -> list[str]:
    problems = _check_image_input(ins, m, "segmenter")
    if not outs or len(outs[0].shape) != 4:
        return problems + ["a segmenter has one output [1, classes, H, W] (scores or logits per class)"]
    c, nc = outs[0].dim(1), len(m.classes)
    if c is not None and c not in (nc, nc + 1):
        problems.append(f"output {outs[0].name!r} has {c} channels; the manifest lists {nc} classes "
                        f"(expected {nc}, or {nc + 1} with background first)")
    return problems


def _check_sam(sessions: dict[str, Any], m: Manifest) -> list[str]:
    ins, outs = runner.signature(sessions["encoder"])
    problems = _check_image_input(ins, m, "SAM encoder")
    if not outs or len(outs[0].shape) != 4:
        problems.append("the SAM encoder's first output must be the image embedding [1, C, h, w]")
    dins, douts = runner.signature(sessions["decoder"])
    names = {p.name for p in dins}
    missing = [n for n in SAM_DECODER_INPUTS if n not in names]
    if missing:
        problems.append("the decoder lacks the SAM inputs " + ", ".join(missing)
                        + " (export it with segment-anything's scripts/export_onnx_model.py)")
    onames = {p.name for p in douts}
    if not {"masks", "iou_predictions"} <= onames:
        problems.append("the decoder must output 'masks' and 'iou_predictions'")
    emb = next((p for p in dins if p.name == "image_embeddings"), None)
    if emb is not None and outs and len(outs[0].shape) == 4:
        a, b = outs[0].shape[1:], emb.shape[1:]
        if all(isinstance(x, int) for x in a + b) and tuple(a) != tuple(b):
            problems.append(f"the encoder's embedding {list(a)} is not what the decoder takes {list(b)}: "
                            "not a matching encoder/decoder pair")
    return problems


CHECKS: dict[str, Callable[..., list[str]]] = {"detector": _check_detector, "segmenter": _check_segmenter}


# ---- add / list / find ----------------------------------------------------------------------------
def models_dir(project: Any) -> Path:
    return Path(project.root) / MODELS_DIR


def stored_path(project: Any, sha256: str, suffix: str = ".onnx") -> Path:
    return models_dir(project) / f"{sha256}{suffix}"


def validate(project: Any, m: Manifest, paths: dict[str, Path]) -> None:
    """Raise :class:`InputError` naming the first way the files do not match ``m``."""
    where = str(paths.get("model") or paths.get("decoder") or m.name)
    for role, p in paths.items():
        if not p.is_file():
            raise InputError(p, f"{role} file not found")
        actual = sha256_file(p)
        if actual != m.files[role]["sha256"]:
            raise InputError(p, f"refused: SHA-256 {actual} does not match the manifest's {m.files[role]['sha256']} "
                                "(a different or damaged file)")
    if m.task != "pixel-classifier":
        sessions = {role: runner.session(p) for role, p in paths.items()}
        if m.task == "sam":
            problems = _check_sam(sessions, m)
        else:
            problems = CHECKS[m.task](*runner.signature(sessions["model"]), m)
        if problems:
            raise InputError(where, "refused: the model does not match its manifest: " + "; ".join(problems))
    known = {c.name for c in project.classes()}
    unknown = sorted({v for v in m.classes.values() if v not in known})
    if unknown:
        raise InputError(where, "refused: the manifest maps to classes this project's ontology lacks: "
                                + ", ".join(repr(u) for u in unknown) + " (add them or change the mapping)")


def _copy_in(src: Path, dest: Path) -> None:
    if dest.is_file() and dest.stat().st_size == src.stat().st_size:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + f".{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def add(project: Any, manifest_path: str | Path, files: dict[str, str | Path] | None = None) -> ModelRecord:
    """Register the model described by ``manifest_path``; file paths in the manifest are relative
    to it unless ``files`` gives them ({role: path})."""
    mpath = Path(manifest_path)
    m = load(mpath)
    paths = {role: Path(files[role]) if files and role in files else (mpath.parent / entry["path"])
             for role, entry in m.files.items()}
    validate(project, m, paths)
    stored = {}
    for role, p in paths.items():
        dest = stored_path(project, m.files[role]["sha256"], p.suffix or ".onnx")
        _copy_in(p, dest)
        stored[role] = {"path": dest.name, "sha256": m.files[role]["sha256"]}
    return register(project, m, stored)


def register(project: Any, m: Manifest, stored: dict[str, dict[str, str]],
             training: dict[str, Any] | None = None) -> ModelRecord:
    d = dict(m.to_dict(), files=stored)
    if training is not None:
        d["training"] = training
    model_id = ids.new_id()
    project.apply(OpDraft("model.register", model_id, {"model": d}))
    return get(project, model_id)


def _to_record(d: dict[str, Any]) -> ModelRecord:
    return ModelRecord(d["id"], parse(d, f"model {d.get('name')}"), d)


def list_models(project: Any, task: str | None = None, include_retired: bool = False) -> list[ModelRecord]:
    out = [_to_record(d) for d in records(project.conn, MODEL_PREFIX)]
    out = [r for r in out if (include_retired or not r.retired) and (task is None or r.task == task)]
    return sorted(out, key=lambda r: (r.name, tuple(r.record.get("hlc") or (0, 0))))


def get(project: Any, model_id: str) -> ModelRecord:
    for r in list_models(project, include_retired=True):
        if r.id == model_id:
            return r
    raise LabeldeskError(f"no model with id {model_id}")


def find(project: Any, ref: str, task: str | None = None) -> ModelRecord:
    """By id, ``name`` (its newest version) or ``name@version``."""
    name, _, version = ref.partition("@")
    chosen = [r for r in list_models(project, task) if ref == r.id or (r.name == name and version in ("", r.version))]
    if not chosen:
        have = ", ".join(sorted({f"{r.name}@{r.version}" for r in list_models(project, task)})) or "none"
        raise LabeldeskError(f"no {task + ' ' if task else ''}model {ref!r} in this project (models: {have}); "
                             "add one with `labeldesk model add`")
    return chosen[-1]


def file_path(project: Any, rec: ModelRecord, role: str = "model") -> Path:
    p = models_dir(project) / rec.manifest.files[role]["path"]
    if not p.is_file():
        raise LabeldeskError(f"model {rec.label}: its {role} file {p.name} is not on this machine; add the same "
                             f"file with `labeldesk model add` (SHA-256 {rec.manifest.files[role]['sha256'][:12]}…)")
    return p
