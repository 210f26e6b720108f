"""De-identification of DICOM on import (PS3.15 Annex E, Basic Application Level Confidentiality
Profile) through dicognito, with what dicognito leaves to us.

* One ``dicognito.Anonymizer`` per import, seeded with a random secret kept in the local store
  (meta ``deid_secret``, never synced: it would let a reader undo the date shift): names, IDs and
  UIDs are replaced consistently across a series and across the imports of one store, dates are
  shifted by one offset (order and intervals kept), so a series imported twice is recognised as
  the same asset. Another machine has another secret: de-identify a series on one machine.
* On top of dicognito: private attributes are removed, free-text descriptions and comments that
  the basic profile removes (X) are removed, overlays and icon images are removed;
  PatientIdentityRemoved = YES, LongitudinalTemporalInformationModified = MODIFIED,
  DeidentificationMethod and DeidentificationMethodCodeSequence (CID 7050: 113100 basic profile,
  113107 modified dates, 113108 patient characteristics kept) are written into each file.
* Pixels are not cleaned. A file with Burned In Annotation = YES, a secondary capture or an
  ultrasound image is reported as *needs pixel review* (and the asset says so in its meta).
* The de-identified copies are written to the project's local cache
  (``cache/deid/<new series UID>/<new SOP instance UID>.dcm``); the asset's locator points at
  them, so the asset's identity (a keyed hash of its UIDs) is computed on the new UIDs.
* The re-identification map (original <-> new UIDs, the original patient identifiers, the
  original file paths) is written next to the copies as ``reidentification.json`` (mode 0600):
  local only, never in an op, never synced. The PHI guard (:mod:`labeldesk.core.privacy`) reads it
  to refuse publishing the originals.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from labeldesk.core.errors import InputError, LabeldeskError
from labeldesk.core.store import repo
from labeldesk.core.tasks import NO_PROGRESS, Progress

DEID_DIR = "deid"
SECRET_KEY = "deid_secret"          # meta key (local store, never synced)
MAP_NAME = "reidentification.json"
CODES = (("113100", "Basic Application Confidentiality Profile"),
         ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
         ("113108", "Retain Patient Characteristics Option"))
METHOD = ("PS3.15 E.1.1 Basic Profile", "DICOGNITO", "LABELDESK")
# Attributes the basic profile removes (X) that dicognito keeps (free text, descriptions, comments).
REMOVE = (
    "StudyDescription", "SeriesDescription", "ImageComments", "PatientComments", "AdditionalPatientHistory",
    "DerivationDescription", "ProtocolName", "RequestedProcedureDescription", "PerformedProcedureStepDescription",
    "AdmittingDiagnosesDescription", "AcquisitionComments", "RequestAttributesSequence", "IconImageSequence",
    "MedicalAlerts", "Allergies", "PatientState", "ReasonForStudy", "RequestedContrastAgent", "StudyComments",
    "InterpretationText", "TextComments", "VisitComments", "ServiceEpisodeDescription",
    "ScheduledProcedureStepDescription", "ContentSequence", "PatientBirthName", "PatientMotherBirthName",
    "EthnicGroup", "PatientSexNeutered", "ResponsiblePerson", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "InstitutionAddress", "InstitutionalDepartmentName",
    "PersonAddress", "PersonTelephoneNumbers", "OtherPatientIDsSequence", "IssuerOfPatientID",
    "PatientBirthTime", "CountryOfResidence", "RegionOfResidence", "PerformedProcedureStepID",
    "DeviceSerialNumber", "PlateID", "CassetteID", "GantryID", "DetectorID",
)
# Kept in the local map so the PHI guard can recognise them later.
PATIENT_FIELDS = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "OtherPatientIDs",
                  "OtherPatientNames", "PatientAddress", "PatientTelephoneNumbers", "ReferringPhysicianName",
                  "PerformingPhysicianName", "OperatorsName", "StudyID", "MedicalRecordLocator",
                  "PatientBirthName", "PatientMotherBirthName")
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ULTRASOUND_CLASSES = {"1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.6.2", "1.2.840.10008.5.1.4.1.1.3.1"}
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


def method_text() -> str:
    """What the asset's meta records about the method (no identifiers in it)."""
    import dicognito
    codes = ", ".join(f"{c} {m}" for c, m in CODES)
    return f"DICOM PS3.15 basic profile via dicognito {dicognito.__version__}; codes: {codes}"


def pixel_review(ds: Any) -> str | None:
    """Why the pixels of ``ds`` may carry burned-in identifiers, or None."""
    sop = str(ds.get("SOPClassUID", ""))
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        return "Burned In Annotation is YES"
    if sop.startswith(SECONDARY_CAPTURE):
        return "secondary capture image (often screenshots with text)"
    if sop in ULTRASOUND_CLASSES or str(ds.get("Modality", "")) in ("US", "IVUS"):
        return "ultrasound image (text is usually burned into the pixels)"
    return None


def _uids(ds: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, value) of every instance UID in ``ds`` (class and transfer syntax UIDs excluded)."""
    from pydicom.datadict import keyword_for_tag
    for elem in ds:
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                yield from _uids(item, prefix + (elem.tag, i))
        elif elem.VR == "UI" and elem.value:
            kw = keyword_for_tag(elem.tag)
            if kw.endswith("ClassUID") or kw == "TransferSyntaxUID":
                continue
            values = elem.value if isinstance(elem.value, (list, tuple)) or hasattr(elem.value, "append") \
                else [elem.value]
            for j, v in enumerate(values):
                yield prefix + (elem.tag, j), str(v)


def _strip(ds: Any) -> None:
    ds.remove_private_tags()
    for kw in REMOVE:
        if kw in ds:
            delattr(ds, kw)
    for elem in list(ds):
        if 0x6000 <= elem.tag.group <= 0x601E and elem.tag.group % 2 == 0:     # overlays
            del ds[elem.tag]
        elif elem.VR == "SQ":
            for item in elem.value or ():
                _strip(item)


def _record_method(ds: Any) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethod = list(METHOD)
    items = []
    for code, meaning in CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)


def _values(ds: Any, keyword: str) -> list[str]:
    if keyword not in ds or ds.data_element(keyword) is None:
        return []
    value = ds.data_element(keyword).value
    values = list(value) if hasattr(value, "append") or isinstance(value, (list, tuple)) else [value]
    return [str(v) for v in values if str(v).strip()]


@dataclass
class SeriesMap:
    """What one de-identified series maps back to (local only)."""

    folder: Path
    uids: dict[str, str] = field(default_factory=dict)          # original -> new
    patient: dict[str, list[str]] = field(default_factory=dict)  # keyword -> original values
    files: dict[str, str] = field(default_factory=dict)          # new file name -> original path
    review: set[str] = field(default_factory=set)

    def write(self) -> Path:
        """Write the map, merged with what an earlier import of the same series recorded."""
        path = self.folder / MAP_NAME
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        self.uids = {**(old.get("uids") or {}), **self.uids}
        self.files = {**(old.get("files") or {}), **self.files}
        for kw, values in (old.get("patient") or {}).items():
            mine = self.patient.setdefault(kw, [])
            mine[:0] = [v for v in values if v not in mine]
        self.review.update(old.get("pixel_review") or ())
        tmp = path.with_suffix(".tmp")
        data = {"format": "labeldesk-reidentification/1", "local_only": True, "uids": self.uids,
                "patient": self.patient, "files": self.files, "pixel_review": sorted(self.review)}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
        return path


def read_maps(cache_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every re-identification map under a project's cache (for the PHI guard)."""
    root = Path(cache_dir) / DEID_DIR
    out = []
    for path in sorted(root.glob(f"*/{MAP_NAME}")) if root.is_dir() else []:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def _secret(project: Any) -> str:
    """The seed of this store's de-identification: a random secret kept in the local store only
    (whoever knows it can recompute the date shift), made on first use."""
    secret = repo.get_meta(project.conn, SECRET_KEY)
    if not secret:
        with project.transaction():
            secret = repo.get_meta(project.conn, SECRET_KEY) or os.urandom(32).hex()
            repo.set_meta(project.conn, SECRET_KEY, secret)
    return hmac.new(bytes.fromhex(secret), b"labeldesk de-identification", hashlib.sha256).hexdigest()


class Deidentifier:
    """One de-identification session (one import): ``run`` the DICOM files, then ``describe`` each
    series the scan found in the copies."""

    def __init__(self, project: Any) -> None:
        try:
            from dicognito.anonymizer import Anonymizer
        except ImportError:
            raise LabeldeskError("de-identification needs dicognito, which is not installed "
                                 "(pip install 'labeldesk[medical]'); nothing was added") from None
        self.anonymizer = Anonymizer(seed=_secret(project))
        self.root = Path(project.cache_dir) / DEID_DIR
        self.series: dict[str, SeriesMap] = {}          # new series UID -> map
        self.originals: dict[str, str] = {}              # new path -> original path

    def run(self, files: list[str], report: Any, progress: Progress = NO_PROGRESS) -> list[str]:
        """De-identified copies of the DICOM files (other files are returned as they are, for the
        scan to report); a DICOM file that cannot be de-identified is refused, never passed on."""
        out: list[str] = []
        queue = list(dict.fromkeys(files))
        seen = set(queue)
        i = 0
        while i < len(queue):
            path = queue[i]
            i += 1
            if i % 8 == 0:
                progress.report(i, len(queue), "de-identifying DICOM")
            try:
                result = self._one(path)
            except InputError as exc:
                report.refused.append((path, exc.problem))
                continue
            if result is None:
                out.append(path)                       # not DICOM: the scan says what it is
            elif isinstance(result, list):             # a DICOMDIR: de-identify what it lists
                queue += [p for p in result if p not in seen]
                seen.update(result)
            else:
                out.append(result)
        for m in self.series.values():
            m.write()
        progress.report(len(queue), len(queue), "de-identified")
        return out

    def _one(self, path: str) -> str | list[str] | None:
        import pydicom
        from pydicom.errors import InvalidDicomError
        try:
            with open(path, "rb") as fh:
                head = fh.read(132)
                fh.seek(0)
                try:
                    ds = pydicom.dcmread(fh, force=head[128:132] != b"DICM")
                except InvalidDicomError:
                    return None
        except OSError as exc:
            raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
        except Exception as exc:  # noqa: BLE001 - a parser failure refuses the file
            raise InputError(path, f"not a valid DICOM file, not de-identified and not added "
                                   f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
        meta = getattr(ds, "file_meta", None)
        if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_CLASS:
            from labeldesk.core.io.dicom_scan import _dicomdir_files
            return _dicomdir_files(path)
        if "SOPClassUID" not in ds and "Modality" not in ds:
            if head[128:132] != b"DICM":
                return None
            raise InputError(path, "no SOP class or modality: truncated or not an image object; not added")
        try:
            return self._anonymize(ds, path)
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"could not be de-identified ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:160]}); not added") from None

    def _anonymize(self, ds: Any, path: str) -> str:
        before = dict(_uids(ds))
        if getattr(ds, "file_meta", None) is not None:
            before.update({("meta",) + k: v for k, v in _uids(ds.file_meta)})
        flag = pixel_review(ds)
        originals = {kw: _values(ds, kw) for kw in PATIENT_FIELDS}
        _strip(ds)
        self.anonymizer.anonymize(ds)
        _record_method(ds)
        after = dict(_uids(ds))
        if getattr(ds, "file_meta", None) is not None:
            after.update({("meta",) + k: v for k, v in _uids(ds.file_meta)})
        series_uid = str(ds.get("SeriesInstanceUID", "") or "no-series")
        sop_uid = str(ds.get("SOPInstanceUID", "") or hashlib.sha256(path.encode()).hexdigest()[:32])
        m = self.series.get(series_uid)
        if m is None:
            folder = self.root / hashlib.sha256(series_uid.encode()).hexdigest()[:24]
            m = self.series[series_uid] = SeriesMap(folder)
        for key, old in before.items():
            new = after.get(key)
            if new is not None and new != old:
                m.uids[old] = new
        for kw, vals in originals.items():
            for v in vals:
                if v not in m.patient.setdefault(kw, []):
                    m.patient[kw].append(v)
        if flag:
            m.review.add(flag)
        m.folder.mkdir(parents=True, exist_ok=True)
        dest = m.folder / f"{sop_uid}.dcm"
        ds.save_as(dest, enforce_file_format=False)
        m.files[dest.name] = str(path)
        self.originals[str(dest.resolve())] = str(path)
        return str(dest.resolve())

    # ---- after the scan ------------------------------------------------------------------------
    def _map_for(self, found: Any) -> SeriesMap | None:
        files = {str(Path(f).resolve()) for f in getattr(found, "files", ())}
        for m in self.series.values():
            if any(str((m.folder / n).resolve()) in files for n in m.files):
                return m
        return None

    def describe(self, found: Any, report: Any) -> Any:
        """``found`` with the method in its meta, the map in its locator and pixel review reported."""
        m = self._map_for(found)
        if m is None:
            return found
        meta = dict(found.info.meta)
        meta["deidentified"] = method_text()
        if m.review:
            meta["pixel_review"] = "needed: " + "; ".join(sorted(m.review))
            review = getattr(report, "review", None)
            if review is not None:
                review.append((found.name, "needs pixel review: " + "; ".join(sorted(m.review))))
        locator = dict(found.locator)
        locator["deid"] = {"map": str((m.folder / MAP_NAME).relative_to(self.root.parent)), "method": "ps3.15-basic"}
        return replace(found, info=replace(found.info, meta=meta), locator=locator)

    def original(self, path: str) -> str:
        """The original path of a de-identified copy (for messages on this machine only)."""
        return self.originals.get(str(Path(path).resolve()), path)
