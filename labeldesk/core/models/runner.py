"""ONNX Runtime sessions: CPU always, a GPU provider when this machine has one; never a network.

:func:`session` opens (and caches per file) an ``InferenceSession``; :func:`signature` describes
its inputs and outputs so that a model can be checked against what its task needs before it is
registered; :func:`preprocess` turns plane pixels into the model's NCHW float input.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError, LabeldeskError

GPU_PROVIDERS = ("CUDAExecutionProvider", "ROCMExecutionProvider", "DmlExecutionProvider",
                 "CoreMLExecutionProvider")
_lock = threading.Lock()
_sessions: dict[tuple[str, float, int], Any] = {}


def ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise LabeldeskError("model assistance needs onnxruntime: pip install 'labeldesk[models]'") from None
    return onnxruntime


def providers(gpu: bool = True) -> list[str]:
    available = ort().get_available_providers()
    chosen = [p for p in GPU_PROVIDERS if gpu and p in available]
    return chosen + ["CPUExecutionProvider"]


def session(path: str | Path, gpu: bool = True) -> Any:
    """An inference session on ``path`` (shared: ``run`` is thread-safe in ONNX Runtime)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(p, f"model file missing ({exc.strerror or exc})") from None
    key = (str(p.resolve()), st.st_mtime, st.st_size)
    with _lock:
        s = _sessions.get(key)
        if s is None:
            rt = ort()
            opts = rt.SessionOptions()
            opts.log_severity_level = 3
            try:
                s = rt.InferenceSession(str(p), sess_options=opts, providers=providers(gpu))
            except Exception as exc:  # onnxruntime raises its own exception types
                raise InputError(p, f"not a model ONNX Runtime can load: {str(exc).splitlines()[0][:300]}") from None
            _sessions[key] = s
        return s


def forget(path: str | Path) -> None:
    with _lock:
        for key in [k for k in _sessions if k[0] == str(Path(path).resolve())]:
            del _sessions[key]


@dataclass(frozen=True)
class Port:
    name: str
    shape: tuple[Any, ...]        # ints, or None/str for a dynamic dimension
    type: str

    def dim(self, i: int) -> int | None:
        v = self.shape[i] if -len(self.shape) <= i < len(self.shape) else None
        return v if isinstance(v, int) and v > 0 else None


def signature(sess: Any) -> tuple[list[Port], list[Port]]:
    def ports(items: Any) -> list[Port]:
        return [Port(i.name, tuple(d if isinstance(d, int) else None for d in (i.shape or ())), i.type)
                for i in items]
    return ports(sess.get_inputs()), ports(sess.get_outputs())


def to_rgb(pixels: np.ndarray) -> np.ndarray:
    """Plane pixels (grey, grey+alpha, RGB or RGBA; any dtype) as float32 RGB in 0..255: other
    bit depths are stretched between the 0.5th and 99.5th percentiles."""
    img = np.asarray(pixels)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] == 2:
        img = img[..., 0]
    if img.ndim == 3:
        img = img[..., :3]
    img = img.astype(np.float32)
    if pixels.dtype != np.uint8:
        lo, hi = np.percentile(img, [0.5, 99.5])
        img = np.clip((img - lo) * (255.0 / max(float(hi - lo), 1e-6)), 0.0, 255.0)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return img


def normalise(rgb: np.ndarray, norm: Any) -> np.ndarray:
    """HWC 0..255 -> NCHW float32 by ``(x / scale - mean) / std`` (channels beyond the manifest's
    means repeat the last value)."""
    x = rgb.astype(np.float32) * (255.0 / norm.scale) / 255.0
    c = x.shape[2]
    mean = np.array([norm.mean[min(i, len(norm.mean) - 1)] for i in range(c)], np.float32)
    std = np.array([norm.std[min(i, len(norm.std) - 1)] for i in range(c)], np.float32)
    return np.ascontiguousarray(((x - mean) / std).transpose(2, 0, 1)[None])


def letterbox(rgb: np.ndarray, size: tuple[int, int], pad: float = 0.0) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio so the image fits ``size`` (w, h), padded at the right and
    bottom; returns the padded image and the scale (model pixels per image pixel)."""
    from labeldesk.core.io.opencv import cv2
    h, w = rgb.shape[:2]
    s = min(size[0] / w, size[1] / h)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    out = np.full((size[1], size[0], rgb.shape[2]), pad, np.float32)
    out[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else rgb
    return out, s
