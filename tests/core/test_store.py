from __future__ import annotations

import sqlite3

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError, ProjectLocked, StoreLocationError
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.store import location
from labeldesk.core.store.connection import connect
from labeldesk.core.store.migrations import MIGRATIONS, SCHEMA_VERSION, migrate, user_version


def test_store_pragmas(project):
    conn = project.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1      # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert user_version(conn) == SCHEMA_VERSION


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_migrations_from_every_earlier_version(tmp_path, start):
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=start)
    assert user_version(conn) == start
    migrate(conn)
    assert user_version(conn) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"ops", "outbox", "assets", "annotations", "classes", "layers", "meta"} <= tables


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(LabeldeskError, match="newer labeldesk"):
        connect(path)


def test_op_log_is_append_only_and_chained(project, image_asset):
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        project.conn.execute("UPDATE ops SET reason = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        project.conn.execute("DELETE FROM ops")
    report = project.verify_chain()
    assert report.ok and report.count == project.counts()["ops"]
    assert project.counts()["outbox"] == report.count


def test_tampering_breaks_the_chain(project, image_asset):
    conn = project.conn
    conn.execute("DROP TRIGGER ops_no_update")
    conn.execute("UPDATE ops SET payload = '{\"asset\":{}}' WHERE type = 'asset.add'")
    report = project.verify_chain()
    assert not report.ok and report.problem == "op content does not match its hash"


def test_single_instance_lock(tmp_path):
    root = tmp_path / "p"
    first = Project.create(root)
    with pytest.raises(ProjectLocked, match="already open"):
        Project.open(root)
    first.close()
    Project.open(root).close()


def test_backup_uses_backup_api_and_is_complete(project, image_asset, tmp_path):
    dest = project.backup(tmp_path / "backup.labeldesk")
    copy = sqlite3.connect(dest)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT COUNT(*) FROM ops").fetchone()[0] == project.counts()["ops"]


def test_refuses_network_filesystem(tmp_path, monkeypatch):
    monkeypatch.delenv(location.OVERRIDE_ENV, raising=False)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nserver:/share {tmp_path}/net nfs4 rw 0 0\n")
    real = location.mount_fstype
    monkeypatch.setattr(location, "mount_fstype", lambda p, mounts_file="": real(p, str(mounts)))
    (tmp_path / "net").mkdir()
    with pytest.raises(StoreLocationError, match=r"network filesystem \(nfs4\).*--allow-unsafe-location"):
        Project.create(tmp_path / "net" / "proj")
    assert not (tmp_path / "net" / "proj").exists()
    Project.create(tmp_path / "net" / "proj", allow_unsafe_location=True).close()


def test_mount_table_parsing(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\n//nas/team /mnt/team cifs rw 0 0\n")
    assert location.mount_fstype(location.Path("/mnt/team/x"), str(mounts)) == "cifs"
    assert location.mount_fstype(location.Path("/home/u"), str(mounts)) == "ext4"
    assert location.unsafe_reason("/mnt/team/proj", str(mounts)) == "it is on a network filesystem (cifs)"


def test_refuses_synced_folders(tmp_path, monkeypatch):
    monkeypatch.delenv(location.OVERRIDE_ENV, raising=False)
    (tmp_path / "Dropbox").mkdir()
    (tmp_path / "Dropbox" / ".dropbox").write_text("{}")
    with pytest.raises(StoreLocationError, match=r"synced folder \(Dropbox: .*\.dropbox\)"):
        Project.create(tmp_path / "Dropbox" / "proj")
    st = tmp_path / "team"
    st.mkdir()
    (st / ".stfolder").mkdir()
    with pytest.raises(StoreLocationError, match=r"\.stfolder"):
        Project.create(st / "a" / "proj")
    monkeypatch.setenv(location.OVERRIDE_ENV, "1")
    Project.create(st / "a" / "proj").close()


def test_copied_store_gets_a_new_device_identity(tmp_path, monkeypatch):
    root = tmp_path / "p"
    p = Project.create(root)
    old_device = p.device_id
    p.close()
    moved = tmp_path / "copy"
    root.rename(moved)
    q = Project.open(moved)
    assert q.device_id != old_device
    applied = q.apply(OpDraft("project.settings", None, {"set": {"k": 1}}))
    assert applied.op.op_id == f"{q.device_id}:{1:012d}"
    assert q.verify_chain().ok
    q.close()


def test_open_non_project_says_how_to_create(tmp_path):
    with pytest.raises(LabeldeskError, match="labeldesk init"):
        Project.open(tmp_path)


def test_disk_full_is_reported_and_store_unharmed(project, image_asset):
    conn = project.conn
    n = project.counts()["ops"]
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {page_count}")
    big = {"kind": "polygon", "shell": [[i % 90 + 0.5, (i * 7) % 70 + 0.25] for i in range(3)]}
    with pytest.raises(LabeldeskError, match="disk is full|store refused"):
        for _ in range(10000):
            project.apply(OpDraft("project.settings", None, {"set": {"blob": "x" * 50000}}))
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert project.integrity_check() == "ok"
    assert project.verify_chain().ok
    assert project.counts()["ops"] >= n
    assert big


def test_ids_are_time_ordered():
    a = [ids.new_id() for _ in range(2000)]
    assert a == sorted(a) and len(set(a)) == len(a)


def test_v1_store_with_data_migrates_to_current(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute("INSERT INTO meta VALUES ('project_id', 'p1')")
    conn.execute("INSERT INTO assets (id, kind, name, content_hash, width, height, dtype, revision) "
                 "VALUES ('a1', 'image', 'x.png', 'h', 4, 4, 'uint8', 'd:1')")
    conn.close()
    conn = connect(path)
    assert user_version(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM assets").fetchone()[0] == "x.png"
    assert conn.execute("SELECT COUNT(*) FROM classifications").fetchone()[0] == 0


def test_op_canonical_form_equals_canonical_json_of_the_record():
    from labeldesk.core.ops import Op, canonical_json
    op = Op(op_id="d:000000000001", dev="d", seq=1, hlc=(5, 2), wall="2026-01-01T00:00:00.000Z", user=None,
            type="annotation.create", entity="e", payload={"b": [1.5, "é"], "a": {"z": None, "y": True}},
            base=("x:1",), reason="why")
    assert op.canonical() == canonical_json(op.to_dict())
