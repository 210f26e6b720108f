"""What the viewer prints in the corners of a volume or image: series description, slice n/N with
its position in mm, window/level, zoom, and patient and study facts.

Patient and study facts are shown only where the data holds them and the asset was not
de-identified (the import recorded a de-identification method, or the DICOM header says
``PatientIdentityRemoved = YES``); they are read from the first file's header, never stored."""
from __future__ import annotations

from typing import Any

PATIENT_KEYWORDS = (("PatientName", "{}"), ("PatientID", "ID {}"), ("PatientBirthDate", "born {}"),
                    ("StudyDescription", "{}"), ("StudyDate", "study {}"))


def patient_lines(asset: Any, locator: dict[str, Any] | None) -> list[str]:
    """Patient and study lines for the top-right corner, or [] (de-identified, not DICOM, absent)."""
    if asset is None or asset.meta.get("deidentified") or not locator or locator.get("reader") != "dicom":
        return []
    files = locator.get("files") or []
    if not files:
        return []
    import pydicom
    try:
        ds = pydicom.dcmread(files[0], stop_before_pixels=True,
                             specific_tags=[k for k, _ in PATIENT_KEYWORDS] + ["PatientIdentityRemoved"])
    except Exception:              # the header is reported by the header dialog, not here
        return []
    if str(ds.get("PatientIdentityRemoved", "")).upper() == "YES":
        return []
    lines = []
    for keyword, fmt in PATIENT_KEYWORDS:
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            lines.append(fmt.format(value.replace("^", " ").strip()))
    return lines


def slice_position_label(axis: str, lps: Any) -> str:
    """The slice's position along its axis as radiologists read it (e.g. 'S 45.0 mm')."""
    if lps is None:
        return ""
    index = {"axial": 2, "coronal": 1, "sagittal": 0}[axis]
    value = float(lps[index])
    letters = {"axial": ("S", "I"), "coronal": ("P", "A"), "sagittal": ("L", "R")}[axis]
    return f"{letters[0] if value >= 0 else letters[1]} {abs(value):.1f} mm"


def series_line(asset: Any) -> str:
    if asset is None:
        return ""
    meta = asset.meta
    parts = [str(meta.get(k) or "") for k in ("modality", "series_description")]
    text = " ".join(p for p in parts if p).strip()
    return text or asset.name
