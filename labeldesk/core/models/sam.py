"""Interactive segmentation with a SAM-family encoder/decoder pair exported to ONNX.

The encoder runs once per plane (:meth:`SamModel.embed`, slow: run it off the GUI thread and keep
the result in an :class:`EmbeddingCache`); every click then runs only the decoder
(:meth:`SamModel.decode`, fast). Prompts follow segment-anything's ONNX export: points in the
resized frame (longest side = the encoder's input size), labels 1 (object), 0 (not object),
2 and 3 (box corners), -1 (padding when there is no box); the previous low-resolution mask is fed
back so that each click refines the last result.

Supported exports: SAM (ViT-B/L/H) and MobileSAM with segment-anything's
``scripts/export_onnx_model.py`` decoder and an encoder taking ``[1, 3, S, S]`` normalised RGB.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np

from labeldesk.core.geometry import GeometryError, Mask
from labeldesk.core.models import runner
from labeldesk.core.models.manifest import Manifest

POSITIVE, NEGATIVE = 1, 0


@dataclass(frozen=True)
class Embedding:
    features: np.ndarray                  # [1, C, h, w]
    size: tuple[int, int]                 # original plane (height, width)
    scale: float                          # model input pixels per plane pixel

    @property
    def nbytes(self) -> int:
        return int(self.features.nbytes)


@dataclass
class Prompt:
    """Clicks (x, y, label) in plane pixels and an optional box (x0, y0, x1, y1)."""

    points: list[tuple[float, float, int]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    @property
    def empty(self) -> bool:
        return not self.points and self.box is None


@dataclass(frozen=True)
class Result:
    mask: np.ndarray                      # bool, plane size
    score: float                          # the decoder's predicted IoU
    low_res: np.ndarray                   # [1, 1, 4h, 4w] logits, fed back on the next click

    def geometry(self) -> Mask:
        if not self.mask.any():
            raise GeometryError("the model found nothing at this prompt")
        return Mask.from_array(self.mask)


class SamModel:
    def __init__(self, manifest: Manifest, encoder_path: Any, decoder_path: Any, gpu: bool = True) -> None:
        self.manifest = manifest
        self.encoder = runner.session(encoder_path, gpu)
        self.decoder = runner.session(decoder_path, gpu)
        self.input_name = self.encoder.get_inputs()[0].name
        self.side = int(manifest.input_size[0])
        dins = {i.name: i for i in self.decoder.get_inputs()}
        shape = dins["mask_input"].shape
        self.low = tuple(d if isinstance(d, int) else 256 for d in shape[2:4])
        self.output_names = [o.name for o in self.decoder.get_outputs()]

    @classmethod
    def from_record(cls, project: Any, rec: Any, gpu: bool = True) -> "SamModel":
        from labeldesk.core.models.registry import file_path
        return cls(rec.manifest, file_path(project, rec, "encoder"), file_path(project, rec, "decoder"), gpu)

    # ---- the slow part: once per plane --------------------------------------------------------
    def embed(self, pixels: np.ndarray) -> Embedding:
        from labeldesk.core.io.opencv import cv2
        rgb = runner.to_rgb(pixels)
        h, w = rgb.shape[:2]
        scale = self.side / max(h, w)
        nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else rgb
        x = np.zeros((1, 3, self.side, self.side), np.float32)
        x[:, :, :nh, :nw] = runner.normalise(resized, self.manifest.normalisation)
        features = self.encoder.run(None, {self.input_name: x})[0]
        return Embedding(np.ascontiguousarray(features), (h, w), scale)

    # ---- the fast part: every click -----------------------------------------------------------
    def feeds(self, emb: Embedding, prompt: Prompt, previous: np.ndarray | None = None) -> dict[str, np.ndarray]:
        pts = [(x, y) for x, y, _ in prompt.points]
        labels = [float(l) for _, _, l in prompt.points]
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            pts += [(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))]
            labels += [2.0, 3.0]
        else:
            pts.append((0.0, 0.0))
            labels.append(-1.0)
        coords = np.asarray(pts, np.float32)[None] * np.float32(emb.scale)
        has_mask = previous is not None
        mask_input = previous.astype(np.float32) if has_mask else np.zeros((1, 1) + self.low, np.float32)
        return {"image_embeddings": emb.features, "point_coords": coords,
                "point_labels": np.asarray(labels, np.float32)[None], "mask_input": mask_input,
                "has_mask_input": np.array([1.0 if has_mask else 0.0], np.float32),
                "orig_im_size": np.array(emb.size, np.float32)}

    def decode(self, emb: Embedding, prompt: Prompt, previous: np.ndarray | None = None) -> Result:
        if prompt.empty:
            raise GeometryError("click on the object (or drag a box) first")
        out = dict(zip(self.output_names, self.decoder.run(None, self.feeds(emb, prompt, previous))))
        return self.result(emb, out)

    def result(self, emb: Embedding, out: dict[str, np.ndarray]) -> Result:
        masks, ious = out["masks"], out["iou_predictions"]
        best = int(np.argmax(ious[0])) if ious.size > 1 else 0
        low = out.get("low_res_masks", masks)
        low_best = low[:, best:best + 1]
        m = masks[0, best]
        h, w = emb.size
        if m.shape != (h, w):          # low-resolution logits in the padded frame: crop, then resize
            from labeldesk.core.io.opencv import cv2
            lh, lw = m.shape
            ch = max(1, min(lh, int(np.ceil(h * emb.scale * lh / self.side))))
            cw = max(1, min(lw, int(np.ceil(w * emb.scale * lw / self.side))))
            m = cv2.resize(np.ascontiguousarray(m[:ch, :cw]), (w, h), interpolation=cv2.INTER_LINEAR)
        return Result(m > 0.0, float(ious.reshape(-1)[best]), low_best)


class EmbeddingCache:
    """Plane embeddings, least recently used dropped first beyond ``max_bytes``. Thread-safe."""

    def __init__(self, max_bytes: int = 512 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Embedding] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Embedding | None:
        with self._lock:
            emb = self._items.get(key)
            if emb is not None:
                self._items.move_to_end(key)
            return emb

    def put(self, key: Hashable, emb: Embedding) -> None:
        with self._lock:
            self._items[key] = emb
            self._items.move_to_end(key)
            while len(self._items) > 1 and self.nbytes > self.max_bytes:
                self._items.popitem(last=False)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._items.values())

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def prompt_from_mask(mask: np.ndarray, grow: float = 0.1) -> Prompt:
    """A prompt that asks for ``mask``'s object again on a neighbouring slice: its box (grown by
    ``grow`` of its size) and one click at its most interior pixel."""
    from labeldesk.core.io.opencv import cv2
    ys, xs = np.nonzero(mask)
    if not len(xs):
        raise GeometryError("the mask is empty")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    gx, gy = (x1 - x0) * grow, (y1 - y0) * grow
    h, w = mask.shape
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    cy, cx = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return Prompt([(cx + 0.5, cy + 0.5, POSITIVE)],
                  (max(0.0, x0 - gx), max(0.0, y0 - gy), min(float(w), x1 + gx), min(float(h), y1 + gy)))


def propagate(model: SamModel, mask: np.ndarray, planes: Sequence[tuple[Any, np.ndarray]],
              min_overlap: float = 0.2) -> list[tuple[Any, Result]]:
    """Carry an accepted ``mask`` slice by slice through ``planes`` ([(key, pixels)], nearest
    first); each result prompts the next; stops when the object vanishes or jumps away (its
    overlap with the previous slice's mask falls below ``min_overlap``)."""
    out: list[tuple[Any, Result]] = []
    current = mask
    for key, pixels in planes:
        emb = model.embed(pixels)
        try:
            res = model.decode(emb, prompt_from_mask(current))
        except GeometryError:
            break
        inter = np.logical_and(res.mask, current).sum()
        union = np.logical_or(res.mask, current).sum()
        if not res.mask.any() or union == 0 or inter / union < min_overlap:
            break
        out.append((key, res))
        current = res.mask
    return out
