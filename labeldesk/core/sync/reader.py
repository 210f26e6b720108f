"""Reading other devices' segments from the share (docs/sync.md §6, R1–R3). Share I/O only.

Per device: list the folder, accept only strict segment names, take segments strictly in seq
order from the cursor (a gap means wait; never skip), verify each (footer, name hash, header,
hash chain to the previous one). An incomplete file stops that device for this round (retry); a
corrupt one too, with an alert. Sync-tool artefacts are never parsed, only reported.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from labeldesk.core.sync import blobs as blob_store
from labeldesk.core.sync.layout import (DEVICE_RE, OWN_TEMP_RE, SEGMENT_MAX, HostileFile, SegmentName, ShareLayout,
                                        artefact_kind, is_segment_artefact, read_capped)
from labeldesk.core.sync.segment import GENESIS, Segment, SegmentProblem, parse


@dataclass
class DeviceScan:
    dev: str
    segments: list[Segment] = field(default_factory=list)
    waiting_for: int | None = None
    problems: list[str] = field(default_factory=list)
    artefacts: list[str] = field(default_factory=list)
    more: bool = False
    rivals: dict[int, list[Segment]] = field(default_factory=dict)   # other candidates from one first seq
    waiting_key: bool = False        # stopped at a segment signed by a key not enrolled here yet


def _entries(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def read_segment(layout: ShareLayout, dev: str, sn: SegmentName, project_id: str) -> Segment:
    """Read (capped, never through a link) and verify one segment file."""
    path = layout.segments_dir(dev) / sn.name
    try:
        data = read_capped(path, SEGMENT_MAX)
    except HostileFile as exc:
        raise SegmentProblem("corrupt", f"{dev[:8]}/{sn.name}: {str(exc).split(': ', 1)[-1]}") from None
    seg = parse(data, sn, dev, project_id)
    try:
        mtime = os.stat(path, follow_symlinks=False).st_mtime_ns
    except OSError:
        mtime = 0
    return replace(seg, mtime_ns=mtime)


def artefacts_in(path: Path, names: list[str], owner: str | None) -> tuple[list[str], list[str]]:
    """(artefacts, problems) among ``names``: recognised sync-tool files. A conflict copy of one of
    a device's files is compared with the file it copies: byte-identical, it is ignored; different,
    it is one line among the sync-tool files (the sync tool kept two versions; ours is the one the
    name's hash or the device's own writes vouch for) -- not a device identity alert, which comes
    from what a device publishes (two different segments from one seq), never from a copy."""
    found: list[str] = []
    for name in names:
        kind = artefact_kind(name)
        if kind is None:
            continue
        if kind.endswith("conflict copy") or kind.endswith("conflicted copy"):
            original = original_name(name)
            if original != name and is_segment_artefact(name) and owner:
                try:
                    same = read_capped(path / name, SEGMENT_MAX) == read_capped(path / original, SEGMENT_MAX)
                except (OSError, HostileFile):
                    same = False
                if same:
                    continue
                found.append(f"{path.name}/{name} ({kind} of {original}, different: ignored)")
                continue
        found.append(f"{path.name}/{name} ({kind})")
    return found, []


def original_name(name: str) -> str:
    """The file a sync tool's conflict copy copies (Syncthing and Dropbox naming)."""
    out = re.sub(r"\.sync-conflict-\d{8}-\d{6}(-[A-Z0-9]+)?", "", name, flags=re.I)
    return re.sub(r" \([^()]*conflicted copy[^()]*\)", "", out, flags=re.I)


def scan_device(layout: ShareLayout, dev: str, cursor: tuple[int, str], project_id: str,
                budget: int, ours: set[str] | frozenset[str] = frozenset(),
                merged_firsts: dict[int, str] | None = None) -> DeviceScan:
    """``ours``: names this store published under a previous identity of its own; when another
    segment competes for the same seqs, the other writer's is preferred (ours are known here)."""
    out = DeviceScan(dev)
    merged_firsts = merged_firsts or {}
    try:
        layout.real_dir(layout.segments_dir(dev))
    except HostileFile as exc:
        out.problems.append(f"device {dev[:8]}: {exc}")
        return out
    for path in (layout.device_dir(dev), layout.segments_dir(dev)):
        names = _entries(path)
        a, p = artefacts_in(path, names, dev)
        out.artefacts += a
        out.problems += p
    by_first: dict[int, list[SegmentName]] = {}
    for name in _entries(layout.segments_dir(dev)):
        if OWN_TEMP_RE.match(name):
            continue
        sn = SegmentName.parse(name)
        if sn is not None:
            by_first.setdefault(sn.first, []).append(sn)
            taken = merged_firsts.get(sn.first)
            if taken is not None and taken != name:
                out.problems.append(f"fork: device {dev[:8]} has segment {name} from seq {sn.first}, where {taken} "
                                    f"was merged here: two different segments from one seq (the device that wrote "
                                    f"them must remove the one it did not record)")
    last_seq, last_sha = cursor
    while True:
        expected = last_seq + 1
        cands = by_first.get(expected, [])
        if not cands:
            if any(f > expected for f in by_first):
                out.waiting_for = expected
            return out
        if budget <= 0:
            out.more = True
            return out
        chosen, problems, rivals = None, [], []
        for sn in sorted(cands, key=lambda s: (s.name in ours, s.name)):
            try:
                seg = read_segment(layout, dev, sn, project_id)
            except OSError as exc:
                problems.append(f"{dev[:8]}/{sn.name}: cannot read ({exc.strerror or exc}); will retry")
                continue
            except SegmentProblem as exc:
                problems.append(f"{exc.kind}: {exc}")
                continue
            if seg.prev_sha != last_sha:
                problems.append(f"corrupt: {dev[:8]}/{sn.name}: does not chain to the previous segment "
                                f"(expected {last_sha[:12]}, names {seg.prev_sha[:12]})")
                continue
            if chosen is None:
                chosen = seg
            else:
                rivals.append(seg)
        out.problems += problems
        if chosen is None:
            return out
        out.segments.append(chosen)
        if rivals:               # the merge picks the one it accepts (signature), then reads on
            out.rivals[expected] = rivals
            return out
        budget -= len(chosen.lines)
        last_seq, last_sha = chosen.last, chosen.sha256


def scan_share(layout: ShareLayout, cursors: dict[str, tuple[int, str]], skip: set[str], project_id: str,
               budget: int = 100_000, ours: set[str] | frozenset[str] = frozenset(),
               merged: dict[str, tuple[int, int, str]] | None = None) -> tuple[dict[str, DeviceScan], list[str]]:
    """Every other device's ready segments (up to ``budget`` ops in all) and the artefacts seen."""
    root_artefacts: list[str] = []
    for path in (layout.root, layout.devices, layout.blobs.parent):
        root_artefacts += artefacts_in(path, _entries(path), None)[0]
    scans: dict[str, DeviceScan] = {}
    for dev in _entries(layout.devices):
        if not DEVICE_RE.match(dev) or dev in skip:
            continue
        firsts = {}
        for key in merged or {}:
            d, name = key.split("/", 1)
            if d == dev and (sn := SegmentName.parse(name)) is not None:
                firsts[sn.first] = name
        scan = scan_device(layout, dev, cursors.get(dev, (0, GENESIS)), project_id, budget, ours, firsts)
        budget -= sum(len(s.lines) for s in scan.segments)
        scans[dev] = scan
    return scans, root_artefacts


def read_own_unknown(layout: ShareLayout, dev: str, known: set[str], project_id: str,
                     torn: list[str] | None = None) -> tuple[list[Segment], list[str]]:
    """Segments in our own folder this store did not record publishing (a crash after rename, a
    store restored from backup, or a second writer with our id); the names of those that cannot be
    read whole (torn, damaged) are added to ``torn``."""
    segs, problems = [], []
    torn = torn if torn is not None else []
    layout.real_dir(layout.segments_dir(dev))        # HostileFile: the caller stops publishing
    for name in _entries(layout.segments_dir(dev)):
        sn = SegmentName.parse(name)
        if sn is None or name in known:
            continue
        try:
            segs.append(read_segment(layout, dev, sn, project_id))
        except SegmentProblem as exc:
            problems.append(f"own segment {name}: {exc}")
            torn.append(name)
        except OSError as exc:
            problems.append(f"own segment {name}: {exc}")
    segs.sort(key=lambda s: (s.first, s.name))
    return segs, problems


def wanted_blobs(scans: dict[str, DeviceScan]) -> set[str]:
    return {str(line["blob"]) for s in scans.values() for seg in s.segments for line in seg.lines if line.get("blob")}


def changed_after_merge(layout: ShareLayout, merged: dict[str, tuple[int, int, str]]) -> list[str]:
    """Alerts for segments merged here whose file changed afterwards (or vanished): size and mtime
    first, the hash only when they differ (a touched but identical file is not reported)."""
    out = []
    for key, (size, mtime, sha) in merged.items():
        dev, name = key.split("/", 1)
        path = layout.segments_dir(dev) / name
        try:
            st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            continue            # a removed segment: later joiners wait; nothing merged here changes
        except OSError:
            continue
        if st.st_size == size and st.st_mtime_ns == mtime:
            continue
        try:
            data = read_capped(path, SEGMENT_MAX)
        except (OSError, HostileFile):
            data = b""
        if hashlib.sha256(data).hexdigest() != sha:
            out.append(f"changed: device {dev[:8]}: segment {name} changed on the share after it was merged here "
                       f"(tampering or a damaged copy); what was merged is kept")
    return out


def fetch_blobs(layout: ShareLayout, wanted: set[str]) -> dict[str, bytes | None]:
    return {sha: blob_store.get(layout, sha) for sha in wanted}
