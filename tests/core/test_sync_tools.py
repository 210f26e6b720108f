"""Synced folders are recognised by markers, settings and filesystem types, never by their name;
the shared folder accepts the sync tools' control files and keeps our temp files out of the sync."""
from __future__ import annotations

import pytest

from labeldesk.core import sync_tools
from labeldesk.core.errors import StoreLocationError
from labeldesk.core.project import Project
from labeldesk.core.store import location
from labeldesk.core.sync import engine
from labeldesk.core.sync.layout import OWN_TEMP_RE, ShareError, temp_name


@pytest.fixture(autouse=True)
def no_override(monkeypatch, tmp_path):
    monkeypatch.delenv(location.OVERRIDE_ENV, raising=False)
    for var in ("OneDrive", "OneDriveConsumer", "OneDriveCommercial"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))       # no real sync-tool settings


def test_a_folder_named_like_a_sync_tool_is_an_ordinary_folder(tmp_path):
    for name in ("syncthing", "Dropbox", "OneDrive - Contoso", "Nextcloud"):
        Project.create(tmp_path / name / "proj").close()
        assert location.unsafe_reason(tmp_path / name / "proj") is None


@pytest.mark.parametrize("marker,tool", [(".stfolder", "Syncthing"), (".dropbox", "Dropbox"),
                                         ("._sync_0a1b2c3d.db", "Nextcloud/ownCloud"), (".sync", "Resilio Sync")])
def test_markers_in_any_ancestor_refuse_the_store(tmp_path, marker, tool):
    synced = tmp_path / "work" / "team"
    synced.mkdir(parents=True)
    if marker == ".sync":
        (synced / marker).mkdir()
        (synced / marker / "IgnoreList").write_text("")
    else:
        (synced / marker).write_text("")
    with pytest.raises(StoreLocationError, match=rf"synced folder \({tool}: .*{marker.replace('.', '[.]')}\)"):
        Project.create(synced / "a" / "b" / "proj")
    assert not (synced / "a").exists()


def test_settings_folders_in_home_are_not_markers(tmp_path):
    home = tmp_path / "home"
    (home / ".dropbox").mkdir(parents=True)          # Dropbox's settings, not a Dropbox folder
    (home / ".sync").mkdir()                         # BitTorrent Sync's settings
    Project.create(home / "projects" / "liver").close()


def test_sync_tool_settings_name_synced_folders(tmp_path, monkeypatch):
    home = tmp_path / "home"
    cfg = home / ".config" / "syncthing"
    cfg.mkdir(parents=True)
    cfg.joinpath("config.xml").write_text(f'<configuration><folder id="x" label="t" path="{tmp_path}/st" '
                                          f'type="sendreceive"></folder></configuration>')
    assert "Syncthing" in location.unsafe_reason(tmp_path / "st" / "proj")
    monkeypatch.setenv("OneDrive", str(tmp_path / "od"))
    assert "OneDrive" in location.unsafe_reason(tmp_path / "od" / "x" / "proj")
    assert location.unsafe_reason(tmp_path / "elsewhere") is None


def test_network_filesystems_by_type(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\nnas:/vol /mnt/syncthing nfs4 rw 0 0\n"
                      "dropbox /mnt/db fuse.dbxfs rw 0 0\n")
    assert location.unsafe_reason("/mnt/syncthing/p", str(mounts)) == "it is on a network filesystem (nfs4)"
    assert "fuse.dbxfs" in location.unsafe_reason("/mnt/db/p", str(mounts))


def _syncthing_share(path):
    path.mkdir(parents=True)
    (path / ".stfolder").mkdir()
    (path / ".stversions").mkdir()
    (path / "desktop.ini").write_text("[.ShellClassInfo]")
    return path


def test_share_init_accepts_a_syncthing_folder_and_writes_stignore(tmp_path, capsys):
    from labeldesk.cli import main
    share = _syncthing_share(tmp_path / "Sync" / "liver")
    assert main(["init", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["share", "init", str(tmp_path / "a"), str(share)]) == 0
    out = capsys.readouterr().out
    assert "found a Syncthing folder" in out and f"wrote {share / '.stignore'}" in out
    lines = (share / ".stignore").read_text().splitlines()
    assert sync_tools.STIGNORE_KEY in lines
    assert (share / "labeldesk-project.json").exists()
    # a second device: .stignore is never synced, join writes its own; an existing one is extended
    other = _syncthing_share(tmp_path / "B" / "liver")
    for item in share.iterdir():
        if item.name not in (".stfolder", ".stversions", "desktop.ini", ".stignore"):
            import shutil
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, other / item.name)
    other.joinpath(".stignore").write_text("// mine\n*.bak")
    assert main(["share", "join", str(other), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert f"added labeldesk lines to {other / '.stignore'}" in out
    assert other.joinpath(".stignore").read_text().startswith("// mine\n*.bak\n")
    assert main(["share", "join", str(other), str(tmp_path / "c")]) == 0
    assert "already keeps labeldesk's temp files out of Syncthing" in capsys.readouterr().out
    assert other.joinpath(".stignore").read_text().count(sync_tools.STIGNORE_KEY) == 1


def test_share_in_a_subfolder_of_a_syncthing_folder_puts_stignore_at_its_root(tmp_path):
    root = _syncthing_share(tmp_path / "Sync")
    share = root / "projects" / "liver"
    assert any("Syncthing" in n for n in sync_tools.describe(share))
    assert sync_tools.STIGNORE_KEY in (root / ".stignore").read_text().splitlines()
    assert not (share / ".stignore").exists()


def test_a_folder_with_other_content_is_still_refused(tmp_path, capsys):
    from labeldesk.cli import main
    share = _syncthing_share(tmp_path / "s")
    (share / "notes.txt").write_text("x")
    assert main(["init", str(tmp_path / "a")]) == 0
    assert main(["share", "init", str(tmp_path / "a"), str(share)]) == 1
    assert "not empty (notes.txt)" in capsys.readouterr().err


def test_join_of_a_syncthing_folder_before_its_first_sync_says_so(tmp_path):
    share = _syncthing_share(tmp_path / "s")
    with pytest.raises(ShareError, match="This is a Syncthing folder: .*wait until the first sync"):
        engine.join_share(share, tmp_path / "b")


def test_temp_files_have_a_name_sync_tools_skip(tmp_path):
    name = temp_name(tmp_path / "head.json", "head").name
    assert name.startswith(sync_tools.TEMP_PREFIX) and OWN_TEMP_RE.match(name)
    assert OWN_TEMP_RE.match(".head.0a1b2c3d.tmp")         # written by labeldesk 0.1: still swept
    assert sync_tools.control_tool(".stfolder") == "Syncthing"
    assert sync_tools.control_tool("seg-000000000001-000000000001-0123456789ab.jsonl") is None


def _shared(tmp_path):
    from labeldesk.cli import main
    assert main(["init", str(tmp_path / "a")]) == 0
    assert main(["share", "init", str(tmp_path / "a"), str(tmp_path / "share")]) == 0
    return tmp_path / "a", tmp_path / "share"


def _add_class(root, name):
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    with Project.open(root) as p:
        p.apply(OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": name}}))


def test_head_json_is_rewritten_at_most_once_a_minute(tmp_path, monkeypatch):
    import json
    root, share = _shared(tmp_path)
    head = next((share / "devices").glob("*/head.json"))
    first = json.loads(head.read_text())
    _add_class(root, "liver")
    with Project.open(root) as p:
        engine.sync_round(p)
    assert json.loads(head.read_text()) == first          # published, but head.json was just written
    monkeypatch.setattr(engine, "HEAD_MIN_INTERVAL_S", 0)  # …a minute later
    with Project.open(root) as p:
        engine.sync_round(p)
    assert json.loads(head.read_text())["last_seq"] > first["last_seq"]


def test_sync_tool_leftovers_are_listed_once(tmp_path, capsys):
    from labeldesk.cli import main
    root, share = _shared(tmp_path)
    other = share / "devices" / ("ab" * 16)       # another device's folder, as Syncthing left it
    other.mkdir()
    (other / ".syncthing..head.0a1b2c3d.tmp.tmp").write_text("")
    (share / ".DS_Store").write_text("")
    capsys.readouterr()
    assert main(["sync", str(root)]) == 0
    out = capsys.readouterr().out
    assert "problem" not in out
    assert main(["share", "status", str(root)]) == 0
    out = capsys.readouterr().out
    assert ".syncthing..head.0a1b2c3d.tmp.tmp (syncthing temp file) (not data; listed once)" in out
    assert ".DS_Store" in out
    assert main(["share", "status", str(root)]) == 0
    out = capsys.readouterr().out
    assert ".syncthing..head" not in out and "2 sync-tool files listed before" in out
