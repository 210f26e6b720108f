"""The PHI guard: patient identifiers must not leave this machine in op payloads.

:func:`known_identifiers` gathers what this project knows to be identifying: the original patient
names, IDs, birth dates and accession numbers and the original UIDs kept in the local
re-identification maps (:mod:`labeldesk.core.deid`), the same fields read from the first file of
every DICOM asset that was added *without* de-identification, and UID values in asset meta.
:func:`phi_findings` looks for them in a payload (any JSON value) or a text, and also for
strings shaped like a DICOM person name (``FAMILY^GIVEN``). It names the field and the kind of
identifier, never the identifier itself (the finding may be logged).

:func:`check_publishable` is what the sync publisher calls before writing ops to the shared
folder: it raises :class:`LabeldeskError` naming the op and the field when one would publish an
identifier.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from labeldesk.core.errors import LabeldeskError

PLACEHOLDERS = {"", "anonymous", "anon", "unknown", "none", "n/a", "na", "removed", "deidentified"}
PERSON_NAME = re.compile(r"[A-Za-z][A-Za-z'\-]+\^[A-Za-z][A-Za-z'\-]*")
KINDS = {
    "PatientName": "patient name", "OtherPatientNames": "patient name", "PatientBirthName": "patient name",
    "PatientMotherBirthName": "patient name", "ReferringPhysicianName": "physician name",
    "PerformingPhysicianName": "physician name", "OperatorsName": "operator name",
    "PatientID": "patient ID", "OtherPatientIDs": "patient ID", "MedicalRecordLocator": "patient ID",
    "PatientBirthDate": "birth date", "AccessionNumber": "accession number", "StudyID": "study ID",
    "PatientAddress": "patient address", "PatientTelephoneNumbers": "patient telephone number",
}
NAME_FIELDS = {k for k, v in KINDS.items() if v.endswith("name")}
HEADER_FIELDS = tuple(KINDS) + ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


@dataclass(frozen=True)
class Identifier:
    kind: str                 # "patient name", "patient ID", "birth date", "original UID", ...
    pattern: re.Pattern[str]

    def found_in(self, text: str) -> bool:
        return self.pattern.search(text) is not None


def _token(value: str, inner: str = r"A-Za-z0-9") -> re.Pattern[str]:
    return re.compile(rf"(?<![{inner}]){re.escape(value)}(?![{inner}])", re.IGNORECASE)


def _name_patterns(value: str) -> list[re.Pattern[str]]:
    parts = [p.strip() for p in value.split("^") if p.strip()]
    if not parts:
        return []
    if len(parts) == 1:
        return [_token(parts[0])] if len(parts[0]) >= 4 else []
    family, given = parts[0], parts[1]
    sep = r"[\s,^_.\-]+"
    variants = [rf"{re.escape(family)}{sep}{re.escape(given)}", rf"{re.escape(given)}{sep}{re.escape(family)}"]
    return [re.compile(rf"(?<![A-Za-z0-9]){v}(?![A-Za-z0-9])", re.IGNORECASE) for v in variants]


def _date_patterns(value: str) -> list[re.Pattern[str]]:
    v = value.strip()
    if not re.fullmatch(r"\d{8}", v):
        return [_token(v)] if len(v) >= 6 else []
    y, m, d = v[:4], v[4:6], v[6:]
    forms = {v, f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{m}/{d}/{y}", f"{d}/{m}/{y}", f"{y}/{m}/{d}"}
    return [_token(f, r"0-9") for f in forms]


def identifiers_from(fields: dict[str, Iterable[str]], uids: Iterable[str] = ()) -> list[Identifier]:
    """Identifiers for DICOM keyword -> values (as kept in a re-identification map) and UIDs."""
    out: list[Identifier] = []
    for kw, values in fields.items():
        kind = KINDS.get(kw, "patient identifier")
        for raw in values:
            value = str(raw).strip()
            if value.casefold() in PLACEHOLDERS:
                continue
            if kw in NAME_FIELDS:
                pats = _name_patterns(value)
            elif kw == "PatientBirthDate":
                pats = _date_patterns(value)
            else:
                pats = [_token(value)] if len(value) >= 4 else []
            out += [Identifier(kind, p) for p in pats]
    for uid in uids:
        uid = str(uid).strip()
        if len(uid) >= 8:
            out.append(Identifier("original UID", _token(uid, r"0-9.")))
    return out


def _header_fields(path: str) -> tuple[dict[str, list[str]], list[str]]:
    import pydicom
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=list(HEADER_FIELDS))
    except Exception:  # noqa: BLE001 - an unreadable file has nothing to add
        return {}, []
    fields: dict[str, list[str]] = {}
    for kw in KINDS:
        elem = ds.get(kw)
        if elem is None:
            continue
        values = list(elem) if hasattr(elem, "append") or isinstance(elem, (list, tuple)) else [elem]
        fields[kw] = [str(v) for v in values if str(v).strip()]
    uids = [str(ds.get(k)) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if ds.get(k)]
    return fields, uids


def known_identifiers(project: Any) -> list[Identifier]:
    """Everything this project knows to identify a patient (from local data only)."""
    from labeldesk.core.deid import read_maps
    out: list[Identifier] = []
    for m in read_maps(project.cache_dir):
        out += identifiers_from(m.get("patient") or {}, (m.get("uids") or {}).keys())
    for asset in project.assets(include_removed=True):
        uids = [str(v) for k, v in asset.meta.items() if k.lower().endswith("uid") and isinstance(v, str)]
        loc = project.locator(asset.id) or {}
        fields: dict[str, list[str]] = {}
        if loc.get("reader") == "dicom" and not loc.get("deid") and loc.get("files"):
            first = str(loc["files"][0])
            if Path(first).is_file():
                fields, more = _header_fields(first)
                uids += more
        out += identifiers_from(fields, uids)
    return out


def _walk(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) for v in value):
            return                                     # coordinates, RLE counts
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def phi_findings(payload_or_text: Any, known_identifiers: Iterable[Identifier | str] = ()) -> list[str]:
    """``"<field>: <kind>"`` for every string in ``payload_or_text`` that holds an identifier."""
    known = [k if isinstance(k, Identifier) else Identifier("patient identifier", _token(str(k)))
             for k in known_identifiers if isinstance(k, Identifier) or str(k).strip()]
    out: list[str] = []
    root = "text" if isinstance(payload_or_text, str) else ""
    for path, text in _walk(payload_or_text, root):
        kinds = sorted({k.kind for k in known if k.found_in(text)})
        if PERSON_NAME.search(text) and "patient name" not in kinds:
            kinds.append("a DICOM-style person name (FAMILY^GIVEN)")
        out += [f"{path or 'value'}: {kind}" for kind in kinds]
    return out


def _op_fields(op: Any) -> tuple[str, str, dict[str, Any]]:
    d = op.to_dict() if hasattr(op, "to_dict") else dict(op)
    return str(d.get("op_id", "?")), str(d.get("type", "?")), {"payload": d.get("payload"),
                                                                "reason": d.get("reason")}


class PhiGuard:
    """The identifiers of one project, gathered once, for checking many ops."""

    def __init__(self, project: Any) -> None:
        self.identifiers = known_identifiers(project)

    def problems(self, ops: Iterable[Any]) -> list[str]:
        out = []
        for op in ops:
            op_id, kind, fields = _op_fields(op)
            for f in phi_findings(fields, self.identifiers):
                out.append(f"op {op_id} ({kind}) field {f}")
        return out

    def check(self, ops: Iterable[Any]) -> None:
        for op in ops:
            op_id, kind, fields = _op_fields(op)
            found = phi_findings(fields, self.identifiers)
            if found:
                raise LabeldeskError(
                    f"op {op_id} ({kind}) was not published: it would put patient identifiers in the shared "
                    f"folder ({'; '.join('field ' + f for f in found)}). Edit or undo that change; "
                    "the op stays in the local outbox.")


def check_publishable(project: Any, ops: Iterable[Any]) -> None:
    """Raise LabeldeskError naming the first op (and its fields) that carries a patient identifier."""
    PhiGuard(project).check(ops)
