"""The manifest of a model: what it is, what it expects, which ontology classes it speaks of.

A manifest is a JSON file that travels with the ONNX file(s)::

    {"name": "yolo11n-cells", "version": "2026.1", "task": "detector",
     "files": {"model": {"path": "yolo11n.onnx", "sha256": "9f…"}},
     "input_size": [640, 640],
     "normalisation": {"scale": 255.0, "mean": [0, 0, 0], "std": [1, 1, 1]},
     "classes": {"cell": "Cell", "nucleus": "Nucleus"},
     "licence": "AGPL-3.0", "source": "exported from ultralytics 8.3 with format=onnx"}

``task`` is one of :data:`TASKS`. SAM-family models have two files, ``encoder`` and ``decoder``; the
others one, ``model``. ``classes`` maps each class the model outputs (in output order; a list when
the names are the same as the ontology's) to an ontology class name; SAM has none (the class is the
one the person picks). Pixel values are mapped as ``(pixel / scale - mean) / std`` per channel.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeldesk.core.errors import InputError

TASKS = ("sam", "detector", "segmenter", "pixel-classifier")
ROLES = {"sam": ("encoder", "decoder"), "detector": ("model",), "segmenter": ("model",),
         "pixel-classifier": ("model",)}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,79}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Normalisation:
    scale: float = 255.0
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std)}


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    task: str
    files: dict[str, dict[str, str]]            # role -> {"path", "sha256"}
    input_size: tuple[int, int] = (0, 0)        # (width, height); SAM: the longest side twice
    normalisation: Normalisation = Normalisation()
    classes: dict[str, str] = field(default_factory=dict)   # model class -> ontology class name
    licence: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)     # task settings (e.g. score threshold)

    @property
    def class_names(self) -> list[str]:
        return list(self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "task": self.task, "files": self.files,
                "input_size": list(self.input_size), "normalisation": self.normalisation.to_dict(),
                "classes": dict(self.classes), "licence": self.licence, "source": self.source,
                "extra": self.extra}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _numbers(value: Any, n: int | None, what: str, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or (n is not None and len(value) != n) or not value or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise InputError(where, f"{what} must be a list of {n or 'some'} finite numbers, got {value!r}")
    return tuple(float(v) for v in value)


def parse(d: Any, where: str = "manifest") -> Manifest:
    """A validated :class:`Manifest` from its JSON object; any problem names the field."""
    if not isinstance(d, dict):
        raise InputError(where, "a manifest must be a JSON object")
    for key in ("name", "version", "task", "licence"):
        if not isinstance(d.get(key), str) or not d[key].strip():
            raise InputError(where, f"the manifest has no {key!r} (text)" + (
                " — name the licence the weights are under, e.g. Apache-2.0" if key == "licence" else ""))
    if not NAME_RE.match(d["name"]):
        raise InputError(where, f"model name {d['name']!r}: use 1-80 letters, digits, '.', '_', '+' or '-'")
    task = d["task"]
    if task not in TASKS:
        raise InputError(where, f"unknown task {task!r}; one of: {', '.join(TASKS)}")
    files = d.get("files")
    if not isinstance(files, dict):
        raise InputError(where, "the manifest has no 'files' object {role: {path, sha256}}")
    want = ROLES[task]
    if sorted(files) != sorted(want):
        raise InputError(where, f"a {task} model has the file(s) {', '.join(want)}; the manifest lists "
                                f"{', '.join(sorted(files)) or 'none'}")
    clean: dict[str, dict[str, str]] = {}
    for role, entry in files.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"]:
            raise InputError(where, f"files.{role} needs a 'path'")
        sha = entry.get("sha256")
        if not isinstance(sha, str) or not SHA_RE.match(sha.lower()):
            raise InputError(where, f"files.{role} needs a 'sha256' (64 hex digits; `sha256sum FILE`)")
        clean[role] = {"path": entry["path"], "sha256": sha.lower()}
    size = d.get("input_size", [0, 0])
    if isinstance(size, int):
        size = [size, size]
    sz = _numbers(size, 2, "input_size", where)
    if task != "pixel-classifier" and (sz[0] < 1 or sz[1] < 1 or sz[0] != int(sz[0]) or sz[1] != int(sz[1])):
        raise InputError(where, f"input_size must be [width, height] in pixels, got {size!r}")
    norm = d.get("normalisation") or {}
    if not isinstance(norm, dict):
        raise InputError(where, "normalisation must be an object {scale, mean, std}")
    scale = float(norm.get("scale", 255.0))
    mean = _numbers(norm.get("mean", [0.0, 0.0, 0.0]), None, "normalisation.mean", where)
    std = _numbers(norm.get("std", [1.0, 1.0, 1.0]), len(mean), "normalisation.std", where)
    if scale <= 0 or any(s <= 0 for s in std):
        raise InputError(where, "normalisation.scale and every normalisation.std must be > 0")
    classes = d.get("classes", {})
    if isinstance(classes, list):
        classes = {str(c): str(c) for c in classes}
    if not isinstance(classes, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in classes.items()):
        raise InputError(where, "classes must map each model class name to an ontology class name")
    if task in ("detector", "segmenter") and not classes:
        raise InputError(where, f"a {task} needs 'classes': the model's class names in output order, "
                                "each mapped to an ontology class")
    extra = d.get("extra") or {}
    if not isinstance(extra, dict):
        raise InputError(where, "extra must be an object")
    return Manifest(d["name"], d["version"], task, clean, (int(sz[0]), int(sz[1])), Normalisation(scale, mean, std),
                    dict(classes), d["licence"], str(d.get("source", "")), extra)


def load(path: str | Path) -> Manifest:
    p = Path(path)
    try:
        d = json.loads(p.read_text("utf-8"))
    except OSError as exc:
        raise InputError(p, f"cannot read the manifest ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(p, f"not a JSON manifest ({exc})") from None
    return parse(d, str(p))
