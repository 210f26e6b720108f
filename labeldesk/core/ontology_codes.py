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


def parse_concept(text: str) -> dict[str, str]:
    """``SCT:10200004:Liver`` (scheme:code:meaning) as a coded concept; ValueError says why not."""
    parts = [p.strip() for p in str(text).split(":", 2)]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{text!r} is not SCHEME:CODE:MEANING (e.g. SCT:10200004:Liver)")
    return {"value": parts[1], "scheme": parts[0], "meaning": parts[2]}


def identity_changes(cls: Any, *, value: int | None = None, code: str | None = None,
                     concept_type: str | None = None, concept_category: str | None = None,
                     keypoints: str | None = None, skeleton: str | None = None) -> dict[str, Any]:
    """The ``ontology.class.update`` set for the given edits of a class's interchange identity.
    ``keypoints`` is a comma-separated list of names, ``skeleton`` pairs like ``1-2,1-3``; an
    empty text clears code, concepts or keypoints."""
    out: dict[str, Any] = {}
    if value is not None and value != cls.value:
        out["value"] = int(value)
    if code is not None and (code.strip() or None) != cls.code:
        out["code"] = code.strip() or None
    if concept_type is not None or concept_category is not None:
        concept = dict(cls.concept or {})
        for key, text in (("type", concept_type), ("category", concept_category)):
            if text is None:
                continue
            if text.strip():
                concept[key] = parse_concept(text)
            else:
                concept.pop(key, None)
        if concept.get("category") and not concept.get("type"):
            raise ValueError("a coded category needs a coded type too")
        if concept != (cls.concept or {}):
            out["concept"] = concept
    if keypoints is not None or skeleton is not None:
        kp = dict(cls.keypoints or {})
        if keypoints is not None:
            kp["names"] = [n.strip() for n in keypoints.split(",") if n.strip()]
        if skeleton is not None:
            pairs = []
            for item in skeleton.replace(";", ",").split(","):
                if item.strip():
                    a, sep, b = item.partition("-")
                    if not sep:
                        raise ValueError(f"skeleton edge {item.strip()!r} is not i-j (1-based point numbers)")
                    pairs.append([int(a), int(b)])
            kp["skeleton"] = pairs
        kp = {k: v for k, v in kp.items() if v}
        if kp != (cls.keypoints or {}):
            out["keypoints"] = kp
    return out


def value_collisions(classes: Any) -> list[tuple[int, list[Any]]]:
    """(label value, the classes that share it) for every value two or more live classes carry: two
    devices that each made a class while apart can both pick the next free value, and sync keeps
    both. Nothing is renumbered: exports that write label values refuse until one is changed
    (``labeldesk classes PROJECT --set NAME --value N``, or Class ▸ Label value…)."""
    by_value: dict[int, list[Any]] = {}
    for c in classes:
        if c.value is not None and not c.merged_into:
            by_value.setdefault(int(c.value), []).append(c)
    return [(v, sorted(cs, key=lambda c: c.name)) for v, cs in sorted(by_value.items()) if len(cs) > 1]


def collision_text(value: int, classes: list[Any]) -> str:
    names = " and ".join(repr(c.name) for c in classes)
    return (f"label value {value} is shared by classes {names} (made on two devices while apart): give one of "
            f"them its own value (labeldesk classes PROJECT --set {classes[-1].name!r} --value N)")
