"""A team of devices on one temporary share, and a fault-injecting view of the share (helpers
for tests/core/sync and tests/qt/test_sync_panel.py)."""
from __future__ import annotations

import shutil
from pathlib import Path

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.sync import engine, enrolment
from labeldesk.core.sync.status import state_digest


class Team:
    """Device 0 founds the project and the share; the others join as their own users."""

    def __init__(self, root: Path, n: int = 2, roles: tuple[str, ...] = ("admin", "annotator")) -> None:
        self.root = root
        self.share = root / "share"
        first = Project.create(root / "dev0", "team", user_name="u0")
        self.asset = ids.new_id()
        self.cls = ids.new_id()
        drafts = [OpDraft("asset.add", self.asset, {"asset": {"kind": "image", "name": "a", "content_hash": "h0",
                                                             "width": 200, "height": 200}}),
                  OpDraft("ontology.class.create", self.cls, {"class": {"name": "lesion"}})]
        self.user_ids = [first.user_id]
        for i in range(1, n):
            uid = ids.new_id()
            self.user_ids.append(uid)
            drafts += [OpDraft("user.add", uid, {"name": f"u{i}"})]
            drafts += [OpDraft("role.grant", uid, {"role": r}) for r in roles]
        first.apply_all(drafts)
        engine.init_share(first, self.share)
        self.devices = [first]
        for i in range(1, n):
            p, _ = engine.join_share(self.share, root / f"dev{i}", user=f"u{i}")
            self.devices.append(p)
        # each member's key, made on their machine at join, is enrolled by the admin (signed op)
        for i in range(1, n):
            enrolment.enrol(first, f"u{i}")
        for p in self.devices:
            p.my_layer_id      # each user's own layer
        self.sync_all()

    def sync_all(self, rounds: int = 2) -> list:
        out = []
        for _ in range(rounds):
            out += [engine.sync_round(p) for p in self.devices]
        return out

    def digests(self) -> list[str]:
        return [state_digest(p.conn) for p in self.devices]

    def box(self, p: Project, x: float = 10, layer: str | None = None, ann: str | None = None) -> str:
        ann = ann or ids.new_id()
        p.apply(OpDraft("annotation.create", ann, {"annotation": {
            "asset_id": self.asset, "layer_id": layer or p.my_layer_id, "class_id": self.cls,
            "geometry": {"kind": "box", "xyxy": [x, x, x + 20, x + 20]}}}))
        return ann

    def move(self, p: Project, ann: str, x: float) -> None:
        p.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [x, x, x + 20, x + 20]}}}))

    def close(self) -> None:
        for p in self.devices:
            if p.conn is not None:
                p.close()


class FaultyShare:
    """Faults a sync tool or a network filesystem produces, applied to the real share folder."""

    def __init__(self, share: Path, limbo: Path) -> None:
        self.share = share
        self.limbo = limbo
        limbo.mkdir(exist_ok=True)

    def segments(self, dev: str) -> list[Path]:
        return sorted((self.share / "devices" / dev / "segments").glob("seg-*.jsonl"))

    def truncate(self, path: Path, keep: int) -> bytes:
        data = path.read_bytes()
        path.write_bytes(data[:keep])
        return data

    def flip(self, path: Path, at: int = 200) -> None:
        data = bytearray(path.read_bytes())
        data[at] = ord("x") if data[at] != ord("x") else ord("y")
        path.write_bytes(bytes(data))

    def delay(self, path: Path) -> "Delayed":
        """The file vanishes until ``.deliver()`` (out-of-order delivery by a sync tool)."""
        hidden = self.limbo / f"{path.parent.parent.name}-{path.name}"
        shutil.move(str(path), hidden)
        return Delayed(hidden, path)

    def conflict_copy(self, path: Path, style: str = "syncthing") -> Path:
        stem, ext = path.name.rsplit(".", 1)
        name = (f"{stem}.sync-conflict-20251123-044811-ABCDEF1.{ext}" if style == "syncthing"
                else f"{stem} (bob's conflicted copy 2025-11-23).{ext}")
        dest = path.with_name(name)
        data = bytearray(path.read_bytes())
        data[-5] = ord("0") if data[-5] != ord("0") else ord("1")
        dest.write_bytes(bytes(data))
        return dest

    def temp_files(self, dev: str) -> list[Path]:
        d = self.share / "devices" / dev / "segments"
        out = [d / ".syncthing.seg-000000000099-000000000099-aaaaaaaaaaaa.jsonl.tmp",
               d / "~syncthing~seg-000000000100-000000000100-bbbbbbbbbbbb.jsonl.tmp",
               self.share / "desktop.ini", self.share / "devices" / ".DS_Store", d / "Thumbs.db"]
        for p in out:
            p.write_bytes(b'{"kind":"header"}\n')
        return out


class Delayed:
    def __init__(self, hidden: Path, final: Path) -> None:
        self.hidden, self.final = hidden, final

    def deliver(self) -> None:
        shutil.move(str(self.hidden), self.final)
