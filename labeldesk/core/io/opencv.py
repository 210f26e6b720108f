"""The one place that imports OpenCV (quiet logging; a home for environment workarounds)."""
from __future__ import annotations

import os

# FFmpeg inside OpenCV prints its own lines ("moov atom not found") on stderr; our readers turn
# each failure into one message naming the file, so FFmpeg stays quiet (AV_LOG_QUIET).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2 as _cv2  # noqa: E402 - after the environment above

# opencv-python (non-headless) sets these and breaks PySide6 on a real display.
for _var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
    if _var in os.environ and "cv2" in os.environ[_var]:
        os.environ.pop(_var)
try:
    _cv2.utils.logging.setLogLevel(_cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # pragma: no cover - older builds
    pass

cv2 = _cv2
