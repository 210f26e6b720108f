"""Synthetic CT series as real DICOM files (no patient data): a body ellipse of soft tissue, two
lungs, a spine and a liver with a lesion, in Hounsfield units stored as int16 with intercept -1024."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SYNTAXES = {
    "explicit": "1.2.840.10008.1.2.1",
    "implicit": "1.2.840.10008.1.2",
    "rle": "1.2.840.10008.1.2.5",
    "jpegls": "1.2.840.10008.1.2.4.80",
    "j2k": "1.2.840.10008.1.2.4.90",
}
INTERCEPT = -1024


def phantom_hu(size: int, n_slices: int, seed: int = 0) -> np.ndarray:
    """(Z, Y, X) int16 HU volume."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:n_slices, 0:size, 0:size].astype(np.float32)
    cy, cx = size / 2, size / 2
    zf = (z / max(1, n_slices - 1)) - 0.5
    hu = np.full((n_slices, size, size), -1000, dtype=np.float32)
    body = ((x - cx) / (0.42 * size)) ** 2 + ((y - cy) / (0.32 * size)) ** 2 <= 1
    hu[body] = 40
    for side in (-1, 1):
        lung = ((x - cx - side * 0.18 * size) / (0.12 * size)) ** 2 + ((y - cy + 0.03 * size) / (0.18 * size)) ** 2 <= 1
        hu[lung & (zf < 0.1)] = -820
    liver = ((x - cx + 0.15 * size) / (0.16 * size)) ** 2 + ((y - cy - 0.05 * size) / (0.13 * size)) ** 2 <= 1
    hu[liver & (zf >= 0.1)] = 60
    lesion = ((x - cx + 0.17 * size) ** 2 + (y - cy - 0.06 * size) ** 2 + ((zf - 0.3) * n_slices * 1.5) ** 2) <= (0.04 * size) ** 2
    hu[lesion] = 110
    spine = ((x - cx) ** 2 + (y - cy - 0.2 * size) ** 2) <= (0.05 * size) ** 2
    hu[spine] = 700
    hu += rng.normal(0, 8, hu.shape).astype(np.float32)
    return np.clip(np.round(hu), -1024, 3071).astype(np.int16)


def write_ct_series(dest_dir: str | Path, n_slices: int = 64, size: int = 256,
                    spacing: tuple[float, float, float] = (0.7, 0.7, 2.5), transfer_syntax: str = "explicit",
                    oblique: bool = False, shuffle_instance_numbers: bool = True, seed: int = 0,
                    monochrome1: bool = False, series_description: str = "Synthetic abdomen") -> list[Path]:
    """Write one CT series; returns the file paths in slice order (inferior to superior)."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    hu = phantom_hu(size, n_slices, seed)
    stored = (hu.astype(np.int32) - INTERCEPT).astype(np.int16)      # stored = HU + 1024
    if monochrome1:
        stored = (4095 - stored).astype(np.int16)
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    if oblique:
        a = np.radians(20)
        row, col = np.array([1.0, 0, 0]), np.array([0, np.cos(a), -np.sin(a)])
    else:
        row, col = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    normal = np.cross(row, col)
    order = np.arange(n_slices)
    rng = np.random.default_rng(seed + 1)
    instance_numbers = rng.permutation(n_slices) + 1 if shuffle_instance_numbers else order + 1
    ts = SYNTAXES[transfer_syntax]
    paths = []
    for k in order:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        path = dest / f"slice-{int(instance_numbers[k]):04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_of_ref
        ds.PatientName, ds.PatientID = "LABELDESK^DEMO", "DEMO-0001"
        ds.Modality, ds.SeriesNumber, ds.SeriesDescription = "CT", 3, series_description
        ds.InstanceNumber = int(instance_numbers[k])
        ds.ImageOrientationPatient = [float(v) for v in (*row, *col)]
        ds.ImagePositionPatient = [float(v) for v in (np.array([-size * spacing[0] / 2, -size * spacing[1] / 2, -200.0])
                                                      + normal * k * spacing[2])]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 16, 15
        ds.PixelRepresentation = 1
        ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = INTERCEPT, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = stored[k].tobytes()
        if ts == SYNTAXES["implicit"]:
            meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        elif ts != SYNTAXES["explicit"]:
            ds.compress(ts, encoding_plugin="pylibjpeg" if transfer_syntax == "rle" else "")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_multiframe(path: str | Path, n_frames: int = 8, size: int = 64, seed: int = 0) -> Path:
    """One enhanced-style multi-frame CT file with per-frame positions (frames stored reversed)."""
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    hu = phantom_hu(size, n_frames, seed)
    stored = (hu.astype(np.int32) - INTERCEPT).astype(np.int16)[::-1]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"   # Enhanced CT Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.SeriesNumber, ds.PatientName = "CT", 9, "LABELDESK^DEMO"
    ds.Rows = ds.Columns = size
    ds.NumberOfFrames = n_frames
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 16, 15, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.RescaleIntercept, ds.RescaleSlope = INTERCEPT, 1
    shared = Dataset()
    orient, measures = Dataset(), Dataset()
    orient.ImageOrientationPatient = [1.0, 0, 0, 0, 1.0, 0]
    measures.PixelSpacing, measures.SliceThickness = [0.5, 0.5], 1.5
    shared.PlaneOrientationSequence, shared.PixelMeasuresSequence = Sequence([orient]), Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for f in range(n_frames):
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [0.0, 0.0, 1.5 * (n_frames - 1 - f)]
        item.PlanePositionSequence = Sequence([pos])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)
