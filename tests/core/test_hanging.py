"""Hanging protocols: which protocol a series gets (the most specific match)."""
from __future__ import annotations

import pytest

from labeldesk.core.hanging import HangingProtocol, best_match, for_series
from labeldesk.core.model import Asset


def _asset(modality, description, body_part=""):
    return Asset("a", "volume", "x", "h", 10, 10, meta={"modality": modality, "series_description": description,
                                                         "body_part": body_part})


def test_most_specific_protocol_wins():
    any_ct = HangingProtocol("CT", modality="CT", layout="1x1", window=(40, 400))
    head_ct = HangingProtocol("CT head", modality="CT", series_pattern="*head*", layout="mpr", window=(40, 80))
    mr = HangingProtocol("MR", modality="MR", layout="2x2")
    items = [head_ct, any_ct, mr]
    assert best_match(items, _asset("CT", "Head CT 5mm")) is head_ct
    assert best_match(items, _asset("CT", "Abdomen")) is any_ct
    assert best_match(items, _asset("MR", "T1 sag")) is mr
    assert best_match(items, _asset("US", "liver")) is None
    assert HangingProtocol.from_dict(head_ct.to_dict()) == head_ct


def test_made_from_a_series_and_validated():
    p = for_series(_asset("CT", "Head CT", "HEAD"), "mine", "mpr", (40, 80), {"window": True})
    assert (p.modality, p.body_part, p.series_pattern) == ("CT", "HEAD", "Head CT")
    assert p.matches(_asset("ct", "head ct", "head")) and not p.matches(_asset("CT", "Chest", "HEAD"))
    with pytest.raises(ValueError, match="layout must be one of"):
        HangingProtocol("x", layout="3x3")
