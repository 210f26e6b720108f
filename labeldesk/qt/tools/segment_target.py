"""Where a mask made by a semi-automatic tool (magic wand, threshold, GrabCut) goes: on a volume,
into the active segment's label map (one ``segment.paint`` op, one undo step); elsewhere, a mask
annotation as before."""
from __future__ import annotations

from typing import Any


def commit_mask(session: Any, mask: Any, text: str) -> bool:
    """True when the mask went into a segment (the caller makes a mask annotation otherwise)."""
    view = session.viewport
    state = getattr(view, "segment_state", None)
    if state is None or view.source is None or view.source.info.kind != "volume":
        return False
    segment_id, first = state.target(view)
    if segment_id is None:
        return True
    w, h = view.plane_size()
    state.editor(view.asset_id).set_plane(segment_id, view.plane.axis, view.plane.z, mask.paste(w, h))
    state.finish(view.asset_id, segment_id, first, text)
    view.update()
    return True
