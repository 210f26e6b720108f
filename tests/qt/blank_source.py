"""A blank pyramid image source for canvas tests (no file, no decoding): what is painted is only
the annotations."""
from __future__ import annotations

import numpy as np

from labeldesk.core.io.base import ImageSource, SourceInfo


class Blank(ImageSource):
    def __init__(self, side: int = 1024) -> None:
        self.path = "blank"
        self.info = SourceInfo(kind="pyramid", width=side, height=side,
                               levels=tuple((side >> k, side >> k) for k in range(3)))

    def read_region(self, level, x, y, w, h, plane=None):  # noqa: ANN001
        return np.zeros((max(1, h), max(1, w)), np.uint8)
