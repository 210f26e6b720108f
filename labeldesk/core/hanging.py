"""Hanging protocols: the layout, window/level and links a reader chose for a kind of series
(modality, body part, series description pattern), applied when such a series opens — as PACS
and OHIF do. Pure data and matching; the viewer stores them in the user's settings."""
from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field
from typing import Any

LAYOUTS = ("1x1", "1x2", "2x1", "2x2", "1x3", "mpr")


@dataclass(frozen=True)
class HangingProtocol:
    name: str
    modality: str = ""                 # "" matches any; else e.g. "CT", "MR"
    body_part: str = ""                # "" matches any; compared case-insensitively
    series_pattern: str = ""           # glob on the series description, e.g. "*head*"; "" any
    layout: str = "1x1"                # one of LAYOUTS ("mpr": axial, coronal, sagittal)
    window: tuple[float, float] | None = None      # (centre, width) in physical units
    links: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a hanging protocol needs a name")
        if self.layout not in LAYOUTS:
            raise ValueError(f"hanging protocol {self.name!r}: layout must be one of {', '.join(LAYOUTS)}")

    def matches(self, asset: Any) -> bool:
        meta = asset.meta or {}
        if self.modality and str(meta.get("modality", "")).upper() != self.modality.upper():
            return False
        if self.body_part and str(meta.get("body_part", "")).lower() != self.body_part.lower():
            return False
        if self.series_pattern:
            description = str(meta.get("series_description") or asset.name)
            if not fnmatch.fnmatch(description.lower(), self.series_pattern.lower()):
                return False
        return True

    def specificity(self) -> int:
        return sum(bool(v) for v in (self.modality, self.body_part, self.series_pattern))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window"] = list(self.window) if self.window else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "HangingProtocol":
        w = d.get("window")
        return cls(name=str(d.get("name", "")), modality=str(d.get("modality") or ""),
                   body_part=str(d.get("body_part") or ""), series_pattern=str(d.get("series_pattern") or ""),
                   layout=str(d.get("layout") or "1x1"),
                   window=(float(w[0]), float(w[1])) if w else None,
                   links={str(k): bool(v) for k, v in (d.get("links") or {}).items()})


def best_match(protocols: list[HangingProtocol], asset: Any) -> HangingProtocol | None:
    """The most specific protocol that matches the asset (the later one among equals)."""
    found = [(p.specificity(), i, p) for i, p in enumerate(protocols) if p.matches(asset)]
    return max(found)[2] if found else None


def for_series(asset: Any, name: str, layout: str, window: tuple[float, float] | None,
               links: dict[str, bool]) -> HangingProtocol:
    """A protocol matching this asset's kind of series (modality, body part, its description)."""
    meta = asset.meta or {}
    description = str(meta.get("series_description") or "")
    return HangingProtocol(name=name, modality=str(meta.get("modality") or ""),
                           body_part=str(meta.get("body_part") or ""),
                           series_pattern=description if description else "", layout=layout,
                           window=window, links=dict(links))
