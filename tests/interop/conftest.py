"""Opt-in interop tests: labeldesk's exports read by the real loaders (datumaro, torchvision,
Ultralytics, label-studio-converter) in a separate venv named by LABELDESK_INTEROP_PYTHON.
See CONTRIBUTING.md ("Interop tests")."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "interop: reads exports with the real loaders of other tools "
                                      "(needs LABELDESK_INTEROP_PYTHON)")


@pytest.fixture(scope="session")
def interop_python() -> str:
    exe = os.environ.get("LABELDESK_INTEROP_PYTHON", "")
    if not exe:
        pytest.skip("set LABELDESK_INTEROP_PYTHON to a Python with datumaro, torchvision, ultralytics and "
                    "label-studio-converter (CONTRIBUTING.md: Interop tests)")
    if not Path(exe).is_file():
        pytest.fail(f"LABELDESK_INTEROP_PYTHON={exe} is not a file")
    return exe
