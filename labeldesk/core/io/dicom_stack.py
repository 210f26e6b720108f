"""From header records of one series to geometrically sorted stacks (one Discovered each)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from labeldesk.core.errors import InputError
from labeldesk.core.io.base import Discovered, SourceInfo


def stored_dtype(rec: dict[str, Any]) -> str:
    bits, signed = rec["bits"], rec["pixrep"] == 1
    if rec["samples"] > 1 or bits == 8:
        return "uint8" if bits == 8 else "uint16"
    if bits == 16:
        return "int16" if signed else "uint16"
    if bits == 32:
        return "int32" if signed else "uint32"
    if bits == 1:
        return "uint8"
    raise ValueError(f"{bits}-bit pixels are not supported")


def _stack_key(rec: dict[str, Any]) -> tuple[Any, ...]:
    iop = tuple(round(v, 3) for v in rec["iop"]) if rec["iop"] else None
    return (iop, rec["rows"], rec["cols"], rec["samples"], rec["bits"], rec["ts"], rec["photometric"])


def _normal(iop: list[float]) -> np.ndarray:
    row, col = np.array(iop[:3]), np.array(iop[3:])
    n = np.cross(row, col)
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def build_stacks(recs: list[dict[str, Any]]) -> tuple[list[Discovered], list[InputError]]:
    out: list[Discovered] = []
    errors: list[InputError] = []
    seen: dict[str, str] = {}
    unique = []
    for r in recs:       # the same instance twice (e.g. copies in other encodings) is added once
        if r["sop_uid"] in seen:
            errors.append(InputError(r["path"], f"same SOP Instance UID as {seen[r['sop_uid']]}; duplicate not added"))
        else:
            seen[r["sop_uid"]] = r["path"]
            unique.append(r)
    recs = unique
    singles = [r for r in recs if r["frames"] == 1]
    multis = [r for r in recs if r["frames"] > 1]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in singles:
        groups[_stack_key(r)].append(r)
    parts = list(groups.values()) + [[m] for m in multis]
    for i, part in enumerate(parts):
        try:
            out.append(_discover(part, i + 1 if len(parts) > 1 else 0, len(parts)))
        except (ValueError, KeyError) as exc:
            errors.append(InputError(part[0]["path"], f"series could not be assembled: {exc}"))
    return out, errors


def _positions(part: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, list[float] | None]]:
    """(record, frame index, position) for every slice of the part."""
    if len(part) == 1 and part[0]["frames"] > 1:
        rec = part[0]
        fp = rec["frame_ipp"] or [None] * rec["frames"]
        return [(rec, f, fp[f]) for f in range(rec["frames"])]
    return [(r, 0, r["ipp"]) for r in part]


def _discover(part: list[dict[str, Any]], index: int, count: int) -> Discovered:
    first = part[0]
    slices = _positions(part)
    iop = first["iop"]
    geometric = iop is not None and all(p is not None for _, _, p in slices)
    if geometric:
        n = _normal(iop)
        keyed = [(float(np.dot(p, n)), r["instance"], f, r, p) for r, f, p in slices]
        keyed.sort(key=lambda k: (round(k[0], 3), k[1], k[2]))
    else:   # no patient geometry (e.g. secondary capture, cine): instance/frame order is all there is
        keyed = sorted(((0.0, r["instance"], f, r, p) for r, f, p in slices), key=lambda k: (k[1], k[2]))
    distinct = sorted({round(k[0], 3) for k in keyed}) if geometric else []
    t_count = 1
    if geometric and len(distinct) < len(keyed) and len(keyed) % len(distinct) == 0:
        counts = defaultdict(int)
        for k in keyed:
            counts[round(k[0], 3)] += 1
        if len(set(counts.values())) == 1:
            t_count = len(keyed) // len(distinct)      # 4-D: the same positions at several times
    depth = len(keyed) // t_count
    if t_count > 1:    # order (t, z): within one position, instance order gives time
        by_pos: dict[float, list[Any]] = defaultdict(list)
        for k in keyed:
            by_pos[round(k[0], 3)].append(k)
        keyed = [by_pos[z][t] for t in range(t_count) for z in distinct]
    spacing_px = first["spacing"] or [1.0, 1.0]
    dy, dx = float(spacing_px[0]), float(spacing_px[1])
    irregular = False
    if geometric and depth > 1:
        steps = np.diff([k[0] for k in keyed[:depth]])
        dz = float(np.median(steps))
        irregular = bool(np.max(np.abs(steps - dz)) > 0.1 * abs(dz) + 1e-3) if dz else True
        dz = abs(dz) or float(first["thickness"] or 1.0)
    else:
        dz = float(first["thickness"] or 1.0)
    affine = None
    if geometric:
        row, col, nrm = np.array(iop[:3]), np.array(iop[3:]), _normal(iop)
        origin = np.array(keyed[0][4], dtype=float)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = row * dx, col * dy, nrm * dz, origin
        affine = tuple(tuple(float(v) for v in r) for r in m)
    slopes = [k[3]["slope"] for k in keyed]
    intercepts = [k[3]["intercept"] for k in keyed]
    varying = len(set(slopes)) > 1 or len(set(intercepts)) > 1
    dtype = "float32" if varying else stored_dtype(first)
    window = (first["wc"], first["ww"]) if first["wc"] is not None and first["ww"] else None
    files = [k[3]["path"] for k in keyed]
    locator = {
        "reader": "dicom", "files": files, "frames": [k[2] for k in keyed], "t": t_count,
        "ts": first["ts"], "rows": first["rows"], "cols": first["cols"], "samples": first["samples"],
        "bits": first["bits"], "stored_dtype": stored_dtype(first), "photometric": first["photometric"],
        "planar": first["planar"],
        "offsets": [k[3]["pixel_offset"] for k in keyed] if all(k[3]["pixel_offset"] for k in keyed) else None,
        "slopes": slopes if varying else None, "intercepts": intercepts if varying else None,
    }
    info = SourceInfo(
        kind="volume", width=first["cols"], height=first["rows"], depth=depth, frames=t_count,
        channels=first["samples"], dtype=dtype, levels=((first["cols"], first["rows"]),),
        spacing=(dx, dy, dz), affine=affine,
        rescale=(1.0, 0.0) if varying else (float(first["slope"]), float(first["intercept"])),
        photometric=first["photometric"], window=window,
        meta={"modality": first["modality"], "transfer_syntax": first["ts"],
              "series_number": first["series_number"], "series_description": first["series_desc"],
              "irregular_spacing": irregular, "geometry": "patient" if geometric else "none"})
    label = " ".join(x for x in (first["modality"] or "DICOM", "series", first["series_number"],
                                 first["series_desc"]) if x)
    if count > 1:
        label += f" (stack {index} of {count})"
    locator["geometry"] = {"spacing": list(info.spacing), "affine": [list(r) for r in affine] if affine else None,
                           "rescale": list(info.rescale), "window": list(window) if window else None,
                           "modality": first["modality"]}
    uid_key = first["series_uid"] + "\n" + "\n".join(sorted(f"{k[3]['sop_uid']}#{k[2]}" for k in keyed))
    return Discovered(name=label, info=info, locator=locator, files=tuple(dict.fromkeys(files)), uid_key=uid_key)
