"""One numbering for people: slices and frames are counted from 1 wherever a person reads them
(the viewer, CLI output, metrics tables, issue and audit texts); indexes inside the data (ops,
``Plane``, ``Plane.key()``, JSON fields named ``z``/``t``) stay 0-based. The CLI's ``--slice`` and
``--frame`` options take the numbers people read."""
from __future__ import annotations

from typing import Any

from labeldesk.core.model import Plane


def plane_label(plane: Plane | None, kind: str | None = None) -> str:
    """'axial 36', 'axial 36, frame 2', 'frame 12' (video), '' (a 2-D image's only plane)."""
    if plane is None:
        return "whole asset"
    if kind == "video":
        return f"frame {plane.t + 1}"
    if kind == "image" and plane == Plane():
        return ""
    text = f"{plane.axis} {plane.z + 1}"
    return text + (f", frame {plane.t + 1}" if plane.t else "")


def key_label(key: str) -> str:
    """The label of a ``Plane.key()`` ('axial:35:0' -> 'axial 36'); other strings unchanged."""
    try:
        axis, z, t = key.split(":")
        return plane_label(Plane(int(z), int(t), axis))
    except ValueError:
        return key


def plane_dict_label(d: dict[str, Any] | None) -> str:
    return plane_label(Plane.from_dict(d)) if d is not None else "whole asset"


def index_from_number(number: int, what: str = "slice") -> int:
    """The 0-based index of a 1-based number a person typed (refused below 1)."""
    if number < 1:
        raise ValueError(f"{what} numbers start at 1 (got {number})")
    return number - 1
