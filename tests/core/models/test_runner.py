from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from labeldesk.core.errors import InputError
from labeldesk.core.models import runner
from labeldesk.core.models.manifest import Normalisation


def test_a_gpu_provider_is_used_when_present_and_cpu_always_last(monkeypatch):
    rt = runner.ort()
    monkeypatch.setattr(rt, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert runner.providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert runner.providers(gpu=False) == ["CPUExecutionProvider"]
    monkeypatch.setattr(rt, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert runner.providers() == ["CPUExecutionProvider"]


def test_a_file_that_is_not_onnx_is_refused_naming_it(tmp_path):
    bad = tmp_path / "weights.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="weights.onnx: not a model ONNX Runtime can load"):
        runner.session(bad)


def test_normalise_and_letterbox():
    rgb = np.full((10, 20, 3), 255.0, np.float32)
    x = runner.normalise(rgb, Normalisation(255.0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    assert x.shape == (1, 3, 10, 20) and np.allclose(x, 1.0)
    out, s = runner.letterbox(rgb, (40, 40), pad=114.0)
    assert s == 2.0 and out.shape == (40, 40, 3) and out[0, 0, 0] == 255 and out[39, 0, 0] == 114
    grey16 = np.linspace(0, 4000, 100).reshape(10, 10).astype(np.uint16)
    assert runner.to_rgb(grey16).max() <= 255 and runner.to_rgb(grey16).shape == (10, 10, 3)


def test_nothing_in_model_assistance_reaches_for_the_network():
    root = Path(runner.__file__).parent
    sources = [p.read_text() for p in root.glob("*.py")]
    sources.append((root.parent.parent / "commands" / "models.py").read_text())
    for text in sources:
        assert not re.search(r"^\s*(import|from)\s+(urllib|requests|http|socket|huggingface_hub)\b", text, re.M)
