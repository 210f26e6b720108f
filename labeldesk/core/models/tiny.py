"""Tiny ONNX models with the inputs and outputs of the real families, built with the ``onnx``
helper: for the tests, the benchmarks and trying the app without downloading weights.

* SAM (as segment-anything / MobileSAM export them): an encoder ``image`` [1, 3, S, S] ->
  ``image_embeddings`` [1, 8, S/16, S/16] (mean intensity per 16-pixel cell) and a decoder with the
  SAM prompt inputs whose mask is "bright (embedding > 0.5) and within ``S/4`` of the first click",
  as low-resolution logits in the padded input frame.
* A YOLO-style detector: ``images`` [1, 3, S, S] -> ``output0`` [1, 4 + classes, boxes] (fixed boxes).
* A semantic segmenter: ``input`` [1, 3, S, S] -> ``logits`` [1, 2, S, S], background first;
  the object channel is ``mean intensity - 0.5`` (inputs normalised to 0..1).

Needs the ``onnx`` package (a test-time dependency); nothing here is used by the app itself.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 18


def _onnx() -> Any:
    import onnx
    return onnx


def _save(graph: Any, path: Path) -> Path:
    onnx = _onnx()
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _const(name: str, arr: np.ndarray) -> Any:
    return _onnx().numpy_helper.from_array(np.asarray(arr), name)


def sam_encoder(path: Path, size: int = 256, channels: int = 8) -> Path:
    h = _onnx().helper
    T = _onnx().TensorProto
    nodes = [h.make_node("ReduceMean", ["image", "axes_c"], ["grey"], keepdims=1),
             h.make_node("AveragePool", ["grey"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),
             h.make_node("Conv", ["pooled", "w"], ["image_embeddings"])]
    graph = h.make_graph(nodes, "tiny_sam_encoder",
                         [h.make_tensor_value_info("image", T.FLOAT, [1, 3, size, size])],
                         [h.make_tensor_value_info("image_embeddings", T.FLOAT, [1, channels, size // 16, size // 16])],
                         [_const("axes_c", np.array([1], np.int64)),
                          _const("w", np.ones((channels, 1, 1, 1), np.float32))])
    return _save(graph, path)


def sam_decoder(path: Path, size: int = 256, channels: int = 8, work_layers: int = 0) -> Path:
    """``work_layers``: 1x1 convolutions (channels -> channels) over the embedding whose result is
    multiplied by zero, so the decoder costs about what a real one does (benchmarks)."""
    h = _onnx().helper
    T = _onnx().TensorProto
    e = size // 16
    low = 4 * e
    centres = (np.arange(low, dtype=np.float32) + 0.5) * (size / low)
    gx = np.broadcast_to(centres[None, :], (low, low)).reshape(1, 1, low, low).astype(np.float32)
    gy = np.broadcast_to(centres[:, None], (low, low)).reshape(1, 1, low, low).astype(np.float32)
    nodes = [
        h.make_node("Slice", ["image_embeddings", "s0", "s1", "ax1"], ["e0"]),
        h.make_node("Resize", ["e0", "", "scales"], ["e_up"], mode="linear"),
        h.make_node("Sub", ["e_up", "half"], ["e_c"]),
        h.make_node("Mul", ["e_c", "k"], ["bright"]),
        h.make_node("Slice", ["point_coords", "p0", "px1", "ax_all"], ["px"]),
        h.make_node("Slice", ["point_coords", "py0", "py1", "ax_all"], ["py"]),
        h.make_node("Reshape", ["px", "shape4"], ["px4"]),
        h.make_node("Reshape", ["py", "shape4"], ["py4"]),
        h.make_node("Sub", ["gx", "px4"], ["dx"]),
        h.make_node("Sub", ["gy", "py4"], ["dy"]),
        h.make_node("Mul", ["dx", "dx"], ["dx2"]),
        h.make_node("Mul", ["dy", "dy"], ["dy2"]),
        h.make_node("Add", ["dx2", "dy2"], ["d2"]),
        h.make_node("Sqrt", ["d2"], ["dist"]),
        h.make_node("Sub", ["radius", "dist"], ["near"]),
        h.make_node("Min", ["near", "bright"], ["logits0"]),
        # the other prompt inputs take part (times zero), as in a real decoder they all do
        h.make_node("ReduceSum", ["mask_input"], ["msum"], keepdims=0),
        h.make_node("Mul", ["msum", "has_mask_input"], ["mh"]),
        h.make_node("ReduceSum", ["point_labels"], ["lsum"], keepdims=0),
        h.make_node("ReduceSum", ["orig_im_size"], ["osum"], keepdims=0),
        h.make_node("Add", ["mh", "lsum"], ["z0"]),
        h.make_node("Add", ["z0", "osum"], ["z1"]),
        h.make_node("Mul", ["z1", "zero"], ["z"]),
        h.make_node("Add", ["logits0", "z"], ["low_res_masks"]),
        h.make_node("Identity", ["low_res_masks"], ["masks"]),
        h.make_node("Add", ["iou0", "z"], ["iou_predictions"]),
    ]
    inits = [_const("s0", np.array([0], np.int64)), _const("s1", np.array([1], np.int64)),
             _const("ax1", np.array([1], np.int64)), _const("scales", np.array([1, 1, 4, 4], np.float32)),
             _const("half", np.array(0.5, np.float32)), _const("k", np.array(float(size), np.float32)),
             _const("p0", np.array([0, 0, 0], np.int64)), _const("px1", np.array([1, 1, 1], np.int64)),
             _const("py0", np.array([0, 0, 1], np.int64)), _const("py1", np.array([1, 1, 2], np.int64)),
             _const("ax_all", np.array([0, 1, 2], np.int64)), _const("shape4", np.array([1, 1, 1, 1], np.int64)),
             _const("gx", gx), _const("gy", gy), _const("radius", np.array(size / 4.0, np.float32)),
             _const("zero", np.array(0.0, np.float32)), _const("iou0", np.array([[0.9]], np.float32))]
    inputs = [h.make_tensor_value_info("image_embeddings", T.FLOAT, [1, channels, e, e]),
              h.make_tensor_value_info("point_coords", T.FLOAT, [1, "N", 2]),
              h.make_tensor_value_info("point_labels", T.FLOAT, [1, "N"]),
              h.make_tensor_value_info("mask_input", T.FLOAT, [1, 1, low, low]),
              h.make_tensor_value_info("has_mask_input", T.FLOAT, [1]),
              h.make_tensor_value_info("orig_im_size", T.FLOAT, [2])]
    outputs = [h.make_tensor_value_info("masks", T.FLOAT, [1, 1, low, low]),
               h.make_tensor_value_info("iou_predictions", T.FLOAT, [1, 1]),
               h.make_tensor_value_info("low_res_masks", T.FLOAT, [1, 1, low, low])]
    if work_layers:
        work, prev = [], "image_embeddings"
        for i in range(work_layers):
            inits.append(_const(f"ww{i}", (np.random.default_rng(i).standard_normal((channels, channels, 1, 1)) * 0.05)
                                .astype(np.float32)))
            work += [h.make_node("Conv", [prev, f"ww{i}"], [f"work{i}"]), h.make_node("Relu", [f"work{i}"], [f"workr{i}"])]
            prev = f"workr{i}"
        work += [h.make_node("ReduceMean", [prev], ["wmean"], keepdims=0), h.make_node("Mul", ["wmean", "zero"], ["wz"]),
                 h.make_node("ReduceSum", ["point_labels"], ["lsum0"], keepdims=0),
                 h.make_node("Add", ["lsum0", "wz"], ["lsum"])]
        nodes = work + [n for n in nodes if list(n.output) != ["lsum"]]
    return _save(h.make_graph(nodes, "tiny_sam_decoder", inputs, outputs, inits), path)


def detector(path: Path, boxes: list[tuple[float, float, float, float, int, float]], classes: int,
             size: int = 64) -> Path:
    """``boxes``: (cx, cy, w, h, class index, score) in model input pixels."""
    h = _onnx().helper
    T = _onnx().TensorProto
    out = np.zeros((1, 4 + classes, max(1, len(boxes))), np.float32)
    for i, (cx, cy, w, hh, c, s) in enumerate(boxes):
        out[0, :4, i] = (cx, cy, w, hh)
        out[0, 4 + c, i] = s
    nodes = [h.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             h.make_node("Mul", ["m", "zero"], ["z"]),
             h.make_node("Add", ["boxes", "z"], ["output0"])]
    graph = h.make_graph(nodes, "tiny_yolo", [h.make_tensor_value_info("images", T.FLOAT, [1, 3, size, size])],
                         [h.make_tensor_value_info("output0", T.FLOAT, list(out.shape))],
                         [_const("boxes", out), _const("zero", np.array(0.0, np.float32))])
    return _save(graph, path)


def segmenter(path: Path, size: int = 64) -> Path:
    h = _onnx().helper
    T = _onnx().TensorProto
    w = np.full((2, 3, 1, 1), 1.0 / 3.0, np.float32)
    w[0] *= -1
    b = np.array([0.5, -0.5], np.float32)
    graph = h.make_graph([h.make_node("Conv", ["input", "w", "b"], ["logits"])], "tiny_segmenter",
                         [h.make_tensor_value_info("input", T.FLOAT, [1, 3, size, size])],
                         [h.make_tensor_value_info("logits", T.FLOAT, [1, 2, size, size])],
                         [_const("w", w), _const("b", b)])
    return _save(graph, path)


def write_manifest(path: Path, task: str, files: dict[str, Path], **fields: Any) -> Path:
    from labeldesk.core.models.manifest import sha256_file
    d = {"name": fields.pop("name", f"tiny-{task}"), "version": fields.pop("version", "1"), "task": task,
         "licence": fields.pop("licence", "CC0-1.0"),
         "files": {role: {"path": str(p.relative_to(path.parent)) if p.parent == path.parent else str(p),
                          "sha256": sha256_file(p)} for role, p in files.items()}}
    d.update(fields)
    path.write_text(json.dumps(d, indent=2))
    return path


def sam_pair(folder: Path, size: int = 256, channels: int = 8, work_layers: int = 0) -> Path:
    """Encoder, decoder and manifest of a tiny SAM in ``folder``; returns the manifest path."""
    enc = sam_encoder(folder / "tiny_sam_encoder.onnx", size, channels)
    dec = sam_decoder(folder / "tiny_sam_decoder.onnx", size, channels, work_layers)
    return write_manifest(folder / "tiny_sam.json", "sam", {"encoder": enc, "decoder": dec},
                          input_size=[size, size], normalisation={"scale": 255.0, "mean": [0, 0, 0], "std": [1, 1, 1]})
