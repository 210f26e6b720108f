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
identifier. Ops are immutable, so the better place to stop an identifier is before the op is
applied: :class:`PhiGuard` checks OpDrafts the same way (``PhiGuard(project).check(drafts)``).
It takes Op objects, op dicts, rows of the ``ops`` table (payload as JSON text) and OpDrafts;
give it the ops themselves, not segment lines (large payloads are moved out of those into blobs).

Which drafts ``Project.apply_all`` checks (:func:`holds_free_text`): the op types in
:data:`FREE_TEXT_OPS` (their payload or reason holds text a person typed: names, notes, comments,
tag values, the reason of a role change), and those of :data:`FREE_TEXT_WHEN` whose payload holds
typed text this time (an annotation's *text* attributes). The op type modules declare their own
types there. Text a program wrote (an import's reason naming its file, an asset named after its
file) is checked when it is published, where it stops publishing at that op.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

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


UID_TOKEN = re.compile(r"\d+(?:\.\d+)+")

# Op types whose payload holds text a person typed (the op type modules add theirs).
FREE_TEXT_OPS: set[str] = {"issue.open", "issue.comment", "issue.resolve", "issue.reopen", "review.decide",
                           "review.adjudicate", "review.submit", "prediction.reject", "conflict.resolve",
                           "ontology.class.create", "ontology.class.update", "layer.create", "release.create",
                           "user.add", "role.grant", "role.revoke"}
# Op types whose payload holds typed text only sometimes: (connection, draft) -> whether it does.
FREE_TEXT_WHEN: dict[str, Callable[[Any, Any], bool]] = {}


def holds_free_text(conn: Any, draft: Any) -> bool:
    """Whether ``draft`` carries text a person typed, so the PHI guard must read it first."""
    if draft.type in FREE_TEXT_OPS:
        return True
    when = FREE_TEXT_WHEN.get(draft.type)
    return when is not None and bool(when(conn, draft))


@dataclass(frozen=True)
class Identifier:
    kind: str                                   # "patient name", "patient ID", "original UID", ...
    pattern: re.Pattern[str] | None = None
    values: frozenset[str] = frozenset()        # exact UIDs (a set: thousands per series)
    needles: tuple[str, ...] = ()               # lower-case fragments every match contains

    def found_in(self, text: str, low: str | None = None) -> bool:
        if self.values and any(tok in self.values for tok in UID_TOKEN.findall(text)):
            return True
        if self.pattern is None:
            return False
        low = text.lower() if low is None else low
        if self.needles and not any(n in low for n in self.needles):
            return False                        # the cheap test first: most strings hold no fragment
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
                needle = next((p.strip() for p in value.split("^") if p.strip()), value)
                needles = (needle.lower(),)
            elif kw == "PatientBirthDate":
                pats = _date_patterns(value)
                needles = tuple({v[:4], v[-4:]} if len(v := value.strip()) == 8 else {v.lower()})
            else:
                pats = [_token(value)] if len(value) >= 4 else []
                needles = (value.lower(),)
            out += [Identifier(kind, p, needles=needles) for p in pats]
    values = frozenset(u for u in (str(v).strip() for v in uids) if len(u) >= 8)
    if values:
        out.append(Identifier("original UID", values=values))
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


def combine(identifiers: Iterable[Identifier]) -> list[Identifier]:
    """One pattern per kind (one regex search per string and kind, however many identifiers)."""
    pats: dict[str, list[str]] = {}
    values: dict[str, set[str]] = {}
    needles: dict[str, set[str] | None] = {}
    for ident in identifiers:
        pats.setdefault(ident.kind, [])
        values.setdefault(ident.kind, set()).update(ident.values)
        if ident.pattern is not None:
            pats[ident.kind].append(ident.pattern.pattern)
            have = needles.setdefault(ident.kind, set())
            if have is not None:             # one pattern without needles: always run the regex
                needles[ident.kind] = have | set(ident.needles) if ident.needles else None
    return [Identifier(kind, re.compile("|".join(f"(?:{p})" for p in dict.fromkeys(ps)), re.IGNORECASE)
                       if ps else None, frozenset(values[kind]), tuple(sorted(needles.get(kind) or ())))
            for kind, ps in pats.items()]


_CACHE: dict[str, tuple[Any, list[Identifier]]] = {}


def known_identifiers(project: Any) -> list[Identifier]:
    """Everything this project knows to identify a patient (from local data only), one pattern per
    kind; cached until the project's assets or re-identification maps change."""
    from labeldesk.core.deid import DEID_DIR, MAP_NAME
    root = Path(project.cache_dir) / DEID_DIR
    maps = sorted(root.glob(f"*/{MAP_NAME}")) if root.is_dir() else []
    key = (_assets_fingerprint(project.conn), tuple((str(p), p.stat().st_mtime_ns) for p in maps))
    cached = _CACHE.get(str(project.store_path))
    if cached is not None and cached[0] == key:
        return cached[1]
    found = combine(_gather(project, project.assets(include_removed=True)))
    _CACHE[str(project.store_path)] = (key, found)
    return found


def _assets_fingerprint(conn: Any) -> tuple[Any, ...]:
    """Changes whenever an asset or its local locator is added, replaced or removed (the rows
    identifiers are gathered from; a replaced row gets a new rowid): one query, not every asset
    read, so a bulk change of typed text (tags of 10,000 assets) checks each op cheaply."""
    return tuple(conn.execute(
        "SELECT (SELECT COUNT(*) FROM assets), (SELECT COALESCE(MAX(rowid), 0) FROM assets), "
        "(SELECT TOTAL(length(meta)) FROM assets), (SELECT COUNT(*) FROM asset_local), "
        "(SELECT COALESCE(MAX(rowid), 0) FROM asset_local), (SELECT TOTAL(length(locator)) FROM asset_local)"
    ).fetchone())


def _gather(project: Any, assets: list[Any]) -> list[Identifier]:
    from labeldesk.core.deid import read_maps
    out: list[Identifier] = []
    for m in read_maps(project.cache_dir):
        out += identifiers_from(m.get("patient") or {}, (m.get("uids") or {}).keys())
    for asset in assets:
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


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _walk(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        if not value or _numeric(value[0]) or (isinstance(value[0], (list, tuple)) and value[0]
                                               and _numeric(value[0][0])):
            return                                     # coordinates, point lists, RLE counts
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def phi_findings(payload_or_text: Any, known_identifiers: Iterable[Identifier | str] = ()) -> list[str]:
    """``"<field>: <kind>"`` for every string in ``payload_or_text`` that holds an identifier."""
    known = combine(k if isinstance(k, Identifier) else
                    Identifier("patient identifier", _token(str(k).strip()), needles=(str(k).strip().lower(),))
                    for k in known_identifiers if isinstance(k, Identifier) or str(k).strip())
    return _findings(payload_or_text, known)


def _findings(payload_or_text: Any, known: list[Identifier]) -> list[str]:
    out: list[str] = []
    root = "text" if isinstance(payload_or_text, str) else ""
    for path, text in _walk(payload_or_text, root):
        if len(text) < 4:
            continue
        low = text.lower()
        kinds = sorted({k.kind for k in known if k.found_in(text, low)})
        if PERSON_NAME.search(text) and "patient name" not in kinds:
            kinds.append("a DICOM-style person name (FAMILY^GIVEN)")
        out += [f"{path or 'value'}: {kind}" for kind in kinds]
    return out


def _op_fields(op: Any) -> tuple[str, str, dict[str, Any]]:
    """(op id, type, {payload, reason}) of an Op, an op dict, an ``ops`` table row or an OpDraft."""
    if hasattr(op, "to_dict"):
        d = op.to_dict()
    elif isinstance(op, dict):
        d = op
    elif hasattr(op, "keys"):                                   # sqlite3.Row of the ops table
        d = {k: op[k] for k in op.keys()}
    else:                                                       # an OpDraft (not applied yet)
        d = {"type": getattr(op, "type", "?"), "entity": getattr(op, "entity", None),
             "payload": getattr(op, "payload", None), "reason": getattr(op, "reason", None)}
    payload = d.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            pass
    name = d.get("op_id") or f"(draft for {d.get('entity')})"
    return str(name), str(d.get("type", "?")), {"payload": payload, "reason": d.get("reason")}


class PhiGuard:
    """The identifiers of one project, gathered once, for checking many ops."""

    def __init__(self, project: Any) -> None:
        self.identifiers = known_identifiers(project)

    def _could_match(self, raw: str) -> bool:
        """False when no identifier can be in this raw JSON text (then it need not be parsed):
        every pattern has a fragment each match contains, and UIDs are whole tokens."""
        if "^" in raw:
            return True
        low = raw.lower()
        tokens: set[str] | None = None
        for ident in self.identifiers:
            if ident.values:
                tokens = set(UID_TOKEN.findall(raw)) if tokens is None else tokens
                if not ident.values.isdisjoint(tokens):
                    return True
            elif ident.pattern is not None and (not ident.needles or any(n in low for n in ident.needles)):
                return True
        return False

    def problems(self, ops: Iterable[Any]) -> list[str]:
        out = []
        for op in ops:
            if hasattr(op, "keys") and not isinstance(op, dict) and isinstance(op["payload"], str) \
                    and not self._could_match(op["payload"] + "\n" + (op["reason"] or "")):
                continue                                  # an ops-table row that cannot hold one
            op_id, kind, fields = _op_fields(op)
            for f in _findings(fields, self.identifiers):
                out.append(f"op {op_id} ({kind}) field {f}")
        return out

    def check(self, ops: Iterable[Any]) -> None:
        for op in ops:
            op_id, kind, fields = _op_fields(op)
            found = _findings(fields, self.identifiers)
            if found:
                raise LabeldeskError(
                    f"op {op_id} ({kind}) was not published: it would put patient identifiers in the shared "
                    f"folder ({'; '.join('field ' + f for f in found)}). Edit or undo that change; "
                    "the op stays in the local outbox.")


def check_publishable(project: Any, ops: Iterable[Any]) -> None:
    """Raise LabeldeskError naming the first op (and its fields) that carries a patient identifier."""
    PhiGuard(project).check(ops)
