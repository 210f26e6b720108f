from __future__ import annotations

import hashlib
import hmac
import json
import shutil

import pydicom
import pytest
from pydicom.data import get_testdata_file

from labeldesk.cli import main
from labeldesk.core.deid import read_maps
from labeldesk.core.importer import add_paths
from labeldesk.core.io import dicom_scan
from labeldesk.core.project import Project
from labeldesk.core.samples.ct import write_ct_series
from labeldesk.core.store import repo

BUNDLED = ("CT_small.dcm", "MR_small.dcm", "SC_rgb_small_odd.dcm")      # files inside the pydicom wheel


def _originals(paths):
    """Every identifying value of the source files: names, IDs, dates of birth, instance UIDs."""
    values = set()
    for p in paths:
        ds = pydicom.dcmread(p)
        for kw in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "StudyID",
                   "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
            v = str(ds.get(kw, "") or "").strip()
            if len(v) >= 4:
                values.add(v)
        values.add(str(ds.file_meta.MediaStorageSOPInstanceUID))
    return values


def _all_text(ds):
    out = []
    for elem in ds.iterall():
        if elem.VR not in ("OB", "OW", "OF", "OD", "UN"):
            out.append(str(elem.value))
    out += [str(e.value) for e in ds.file_meta]
    return "\n".join(out)


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "incoming"
    src.mkdir()
    for n in BUNDLED:
        shutil.copy(get_testdata_file(n), src / n)
    write_ct_series(src / "ct", n_slices=4, size=32)
    return src


def test_deidentified_import_leaves_no_identifier_anywhere(project, sources):
    files = sorted(str(p) for p in sources.rglob("*.dcm"))
    originals = _originals(files)
    assert "CompressedSamples^CT1" in originals and "1CT1" in originals and "LABELDESK^DEMO" in originals
    report = add_paths(project, [sources], deidentify=True)
    assert not report.refused, report.refused
    assert len(report.added) == 4
    # the copies in the cache: none of the originals, the method recorded in the data
    for asset in project.assets():
        loc = project.locator(asset.id)
        assert loc["deid"]["method"] == "ps3.15-basic"
        assert asset.meta["deidentified"].startswith("DICOM PS3.15 basic profile via dicognito")
        for f in loc["files"]:
            assert str(project.cache_dir) in f
            ds = pydicom.dcmread(f)
            text = _all_text(ds)
            assert not [o for o in originals if o in text]
            assert ds.PatientIdentityRemoved == "YES"
            assert "DICOGNITO" in ds.DeidentificationMethod
            assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113107", "113108"]
            assert not [e for e in ds if e.tag.is_private]
            assert "SeriesDescription" not in ds and "ImageComments" not in ds
    # the store: asset rows and every op (payload, reason) are clean
    rows = [json.dumps([tuple(r) for r in project.conn.execute(f"SELECT * FROM {t}")], default=str)
            for t in ("assets", "ops")]
    assert not [o for o in originals if any(o in r for r in rows)]
    assert not any("reidentification" in r for r in rows)
    secret = repo.get_meta(project.conn, "deid_secret")
    assert secret and not any(secret in r for r in rows)          # the seed stays in the local store
    # one series stays one series: the synthetic CT's four slices share their new study/series UIDs
    ct = next(a for a in project.assets() if a.depth == 4)
    headers = [pydicom.dcmread(f) for f in project.locator(ct.id)["files"]]
    assert len({h.SeriesInstanceUID for h in headers}) == 1 and len({h.SOPInstanceUID for h in headers}) == 4
    assert len({h.PatientID for h in headers}) == 1
    # pixel review for the secondary capture only
    sc = [a for a in project.assets() if "pixel_review" in a.meta]
    assert len(sc) == 1 and "secondary capture" in sc[0].meta["pixel_review"]
    assert [name for name, _ in report.review] == [sc[0].name]
    # the identity is the keyed hash of the de-identified UIDs
    scan = dicom_scan.scan(project.locator(ct.id)["files"])
    salt = bytes.fromhex(repo.get_meta(project.conn, "project_salt"))
    expected = "dicom:" + hmac.new(salt, scan.series[0].uid_key.encode(), hashlib.sha256).hexdigest()
    assert ct.content_hash == expected
    # the re-identification map is local (cache) and maps the originals to the new UIDs
    maps = read_maps(project.cache_dir)
    assert len(maps) == 4
    ct_map = next(m for m in maps if "LABELDESK^DEMO" in m["patient"].get("PatientName", []))
    assert ct_map["uids"][str(pydicom.dcmread(files[-1]).SeriesInstanceUID)] == headers[0].SeriesInstanceUID
    assert all(v in ct_map["files"].values() for v in (str(p) for p in (sources / "ct").iterdir()))


def test_same_series_twice_is_recognised_and_pixels_are_kept(project, sources):
    first = add_paths(project, [sources / "CT_small.dcm"], deidentify=True)
    again = add_paths(project, [sources / "CT_small.dcm"], deidentify=True)
    assert len(first.added) == 1 and not again.added
    assert "already in the project" in again.refused[0][1]
    assert again.refused[0][0] == str(sources / "CT_small.dcm")      # named by its original path
    src = pydicom.dcmread(sources / "CT_small.dcm")
    copy = pydicom.dcmread(project.locator(first.added[0].id)["files"][0])
    assert (copy.pixel_array == src.pixel_array).all()


def test_burned_in_annotation_and_bad_files(project, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    ds.save_as(src / "burned.dcm")
    data = (src / "burned.dcm").read_bytes()
    (src / "broken.dcm").write_bytes(data[:128] + b"DICM" + b"\x02\x00\x10\x00UI\xff")   # truncated header
    (src / "notes.txt").write_text("not an image")
    import nibabel as nib
    import numpy as np
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.eye(4)), str(src / "doe_jane.nii"))
    report = add_paths(project, [src], deidentify=True)
    assert len(report.added) == 2
    assert ("doe_jane.nii", "not DICOM: added as it is (its file name and header are not de-identified)") \
        in report.review
    report.added = [a for a in report.added if a.kind == "volume" and "pixel_review" in a.meta]
    assert len(report.added) == 1
    assert report.added[0].meta["pixel_review"] == "needed: Burned In Annotation is YES"
    reasons = dict(report.refused)
    assert str(src / "broken.dcm") in reasons and str(src / "notes.txt") in reasons
    cached = list((project.cache_dir / "deid").rglob("*.dcm"))
    assert len(cached) == 1


def test_cli_add_deidentify(tmp_path, capsys):
    root = tmp_path / "proj"
    assert main(["init", str(root), "--user", "alice"]) == 0
    src = tmp_path / "sc"
    src.mkdir()
    shutil.copy(get_testdata_file("SC_rgb_small_odd.dcm"), src / "a.dcm")
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "b.dcm")
    assert main(["add", str(root), str(src), "--deidentify", "-q"]) == 0
    out = capsys.readouterr().out
    assert "review   OT series" in out and "needs pixel review" in out
    with Project.open(root) as p:
        assert all("deidentified" in a.meta for a in p.assets())
        text = json.dumps([tuple(r) for r in p.conn.execute("SELECT payload FROM ops")])
        assert "CompressedSamples" not in text and "1CT1" not in text


def test_a_dicomdir_alone_brings_its_files_deidentified(project, tmp_path):
    src = tmp_path / "in"
    shutil.copytree(get_testdata_file("DICOMDIR").rsplit("/", 1)[0], src)     # pydicom's dicomdirtests
    names = {str(pydicom.dcmread(f, stop_before_pixels=True, force=True).get("PatientName", ""))
             for f in src.rglob("*") if f.is_file() and not f.name.startswith("DICOMDIR") and f.parent != src}
    assert {"Doe^Peter", "Citizen^Jan"} <= names
    report = add_paths(project, [src / "DICOMDIR"], deidentify=True)
    assert report.added and not report.refused
    assert all(str(project.cache_dir) in f for a in project.assets() for f in project.locator(a.id)["files"])
    text = json.dumps([tuple(r) for r in project.conn.execute("SELECT * FROM ops")])
    assert not [n for n in names if n and n in text]


def test_a_series_added_in_two_parts_keeps_one_map(project, tmp_path):
    paths = write_ct_series(tmp_path / "ct", n_slices=4, size=16)
    originals = [str(pydicom.dcmread(p).SOPInstanceUID) for p in paths]
    add_paths(project, paths[:2], deidentify=True)
    add_paths(project, paths[2:], deidentify=True)
    (m,) = read_maps(project.cache_dir)
    assert all(u in m["uids"] for u in originals) and len(m["files"]) == 4


def test_without_dicognito_the_error_says_what_to_install(project, sources, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "dicognito.anonymizer", None)       # import fails
    from labeldesk.core.errors import LabeldeskError
    with pytest.raises(LabeldeskError, match=r"needs dicognito.*labeldesk\[medical\]"):
        add_paths(project, [sources / "CT_small.dcm"], deidentify=True)
    assert project.assets() == []
