"""Coded concepts of classes: SNOMED CT category and type for DICOM SEG (and RTSTRUCT).

A class may carry its own ``concept`` (``{"category": {value, scheme, meaning}, "type": {...}}``),
set by hand or kept from an imported SEG. Classes without one whose name is a common anatomical
structure or finding get the concept of the default table below (the codes of DICOM CID 7150
"Segmentation Property Categories", CID 7166/7151 anatomy and CID 7159 findings); any other class
is written with a private scheme (``99LABELDESK``) whose code is the class's own code or value.
"""
from __future__ import annotations

from typing import Any

SCT = "SCT"
PRIVATE_SCHEME = "99LABELDESK"
ANATOMY = {"value": "123037004", "scheme": SCT, "meaning": "Anatomical Structure"}
ALTERED = {"value": "49755003", "scheme": SCT, "meaning": "Morphologically Altered Structure"}
TISSUE = {"value": "85756007", "scheme": SCT, "meaning": "Tissue"}

_ANATOMY = {
    "liver": ("10200004", "Liver"), "spleen": ("78961009", "Spleen"), "kidney": ("64033007", "Kidney"),
    "lung": ("39607008", "Lung"), "heart": ("80891009", "Heart"), "pancreas": ("15776009", "Pancreas"),
    "brain": ("12738006", "Brain"), "urinary bladder": ("89837001", "Urinary bladder"),
    "bladder": ("89837001", "Urinary bladder"), "stomach": ("69695003", "Stomach"),
    "aorta": ("15825003", "Aorta"), "gallbladder": ("28231008", "Gallbladder"),
    "prostate": ("41216001", "Prostate"), "esophagus": ("32849002", "Esophagus"),
    "oesophagus": ("32849002", "Esophagus"), "trachea": ("44567001", "Trachea"),
}
_FINDINGS = {
    "lesion": ("52988006", "Lesion"), "tumor": ("108369006", "Neoplasm"), "tumour": ("108369006", "Neoplasm"),
    "neoplasm": ("108369006", "Neoplasm"), "nodule": ("27925004", "Nodule"), "mass": ("4147007", "Mass"),
    "cyst": ("441457006", "Cyst"), "hemorrhage": ("50960005", "Hemorrhage"),
    "haemorrhage": ("50960005", "Hemorrhage"), "edema": ("79654002", "Edema"), "oedema": ("79654002", "Edema"),
}


def default_concept(name: str) -> dict[str, Any] | None:
    key = " ".join(str(name).strip().casefold().replace("_", " ").split())
    if key in _ANATOMY:
        code, meaning = _ANATOMY[key]
        return {"category": dict(ANATOMY), "type": {"value": code, "scheme": SCT, "meaning": meaning}}
    if key in _FINDINGS:
        code, meaning = _FINDINGS[key]
        return {"category": dict(ALTERED), "type": {"value": code, "scheme": SCT, "meaning": meaning}}
    return None


def concept_of(name: str, concept: dict[str, Any] | None, code: str | None, value: int) -> tuple[dict[str, Any], bool]:
    """The (category, type) concept a class is written with, and whether it is a standard one
    (its own or the default table's) rather than the private fallback."""
    if concept and concept.get("type"):
        return {"category": concept.get("category") or dict(TISSUE), "type": concept["type"],
                **({"modifier": concept["modifier"]} if concept.get("modifier") else {})}, True
    found = default_concept(name)
    if found is not None:
        return found, True
    return {"category": dict(TISSUE), "type": {"value": (code or f"LD{value}")[:16], "scheme": PRIVATE_SCHEME,
                                               "meaning": str(name)[:64]}}, False
