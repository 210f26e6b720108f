"""Reader lookup by name, imported lazily so start-up does not pay for pydicom, nibabel or cv2.

An asset's *locator* (kept only in the local store, never synced) says which reader opens it and
with what arguments, e.g. ``{"reader": "raster", "path": "/data/a.png"}``.
"""
from __future__ import annotations

import importlib
from typing import Any

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import ImageSource

# reader name -> "module:callable"; the callable takes the locator dict and returns an ImageSource
READERS: dict[str, str] = {
    "raster": "labeldesk.core.io.raster:open_locator",
    "pyramid": "labeldesk.core.io.pyramid:open_locator",
    "video": "labeldesk.core.io.video:open_locator",
    "nifti": "labeldesk.core.io.nifti:open_locator",
    "dicom": "labeldesk.core.io.dicom:open_locator",
}


def open_locator(locator: dict[str, Any], progress: Any = None) -> ImageSource:
    """Open an asset's pixels; readers that take long (DICOM series) report to ``progress`` and
    stop when it is cancelled."""
    import inspect
    name = locator.get("reader")
    target = READERS.get(str(name))
    if target is None:
        raise InputError(locator.get("path"), f"no reader named {name!r}")
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    if progress is not None and "progress" in inspect.signature(func).parameters:
        return func(locator, progress=progress)
    return func(locator)
