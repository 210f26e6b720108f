"""Sync tools (Syncthing, Dropbox, OneDrive, Nextcloud, …) as labeldesk meets them on disk.

Two uses:

- the *store* location check: a project store must not live in a folder a sync tool copies.
  Such a folder is recognised by the tool's marker files in it or an ancestor (``.stfolder``,
  ``.dropbox``, a Nextcloud journal, …) and by the tools' own configuration (Dropbox's
  ``info.json``, Syncthing's ``config.xml``, Windows' ``OneDrive`` variables) — never by a folder's
  name: a folder called ``syncthing`` that nothing syncs is an ordinary folder.
- the *shared folder*: the tools keep control files there (``.stfolder``, ``.stignore``,
  ``.stversions``, ``desktop.ini``, …). They are not data and do not make a folder "not empty";
  ``share init``/``join`` say which tool they found and write the tool's ignore file so that
  labeldesk's temp files (``.~ld.*``, written and renamed within a second) stay out of the sync.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

# Our temp files: Dropbox skips names starting with ".~" and Nextcloud/ownCloud skip "*.~*" by
# default; Syncthing skips them through the .stignore written below.
TEMP_PREFIX = ".~ld."
STIGNORE_LINES = (
    "// labeldesk: its own temp files live here for a second, then are renamed; never sync them",
    f"(?d){TEMP_PREFIX}*",
    "// (temp names of labeldesk before 0.2)",
    "(?d).seg-*.tmp", "(?d).blob-*.tmp", "(?d).head.*.tmp", "(?d).device.*.tmp", "(?d).snap-*.tmp",
    "// desktop and file-manager litter",
    "(?d).DS_Store", "(?d)Thumbs.db", "(?d)desktop.ini",
)
STIGNORE_KEY = f"(?d){TEMP_PREFIX}*"


@dataclass(frozen=True)
class SyncTool:
    name: str
    markers: tuple[str, ...]          # regexes: a name that shows the tool keeps this folder in step
    control: tuple[str, ...]          # regexes: names the tool keeps in a folder it syncs (not data)


TOOLS: tuple[SyncTool, ...] = (
    SyncTool("Syncthing", (r"\.stfolder",),
             (r"\.stfolder", r"\.stignore", r"\.stversions", r"\.stfolder\.removed-.*",
              r"\.syncthing\..*\.tmp", r"~syncthing~.*\.tmp")),
    SyncTool("Dropbox", (r"\.dropbox", r"\.dropbox\.cache"),
             (r"\.dropbox", r"\.dropbox\.attr", r"\.dropbox\.cache")),
    SyncTool("Nextcloud/ownCloud", (r"\._?sync_[0-9a-f]+\.db", r"\.(owncloud|nextcloud)sync\.log"),
             (r"\._?sync_[0-9a-f]+\.db(-wal|-shm)?", r"\.(owncloud|nextcloud)sync\.log", r"\.sync-exclude\.lst")),
    SyncTool("Resilio Sync", (r"\.sync",), (r"\.sync", r".*\.!sync")),
    SyncTool("Tresorit", (r"\.tresorit",), (r"\.tresorit",)),
    SyncTool("Google Drive", (), (r"\.tmp\.drive(download|upload)",)),
    SyncTool("OneDrive", (), ()),
    SyncTool("the operating system", (),
             (r"desktop\.ini", r"thumbs\.db", r"\.ds_store", "icon\r", r"\.directory", r"\.fseventsd",
              r"\.spotlight-v100", r"\.trashes", r"\.temporaryitems", r"\$recycle\.bin", r"\.trash-\d+")),
)
_CONTROL = [(t, re.compile(f"^(?:{'|'.join(t.control)})$", re.I)) for t in TOOLS if t.control]
_MARKERS = [(t, re.compile(f"^(?:{'|'.join(t.markers)})$", re.I)) for t in TOOLS if t.markers]


def control_tool(name: str) -> str | None:
    """The tool that keeps a file or folder of this name in a synced folder, or None."""
    for tool, pattern in _CONTROL:
        if pattern.match(name):
            return tool.name
    return None


def is_own_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def _is_marker(folder: Path, name: str, tool: str) -> bool:
    """Names that are also the tools' own settings folders in a home directory do not count there:
    Dropbox keeps its settings in ``~/.dropbox/`` (a folder; its synced folder holds a ``.dropbox``
    *file*), and ``~/.sync/`` is an old BitTorrent Sync settings folder (a Resilio folder's ``.sync/``
    holds an ``IgnoreList``)."""
    path = folder / name
    if tool == "Dropbox" and name.lower() == ".dropbox":
        return path.is_file()
    if tool == "Resilio Sync":
        return (path / "IgnoreList").is_file()
    return True


def markers_in(folder: Path) -> list[tuple[str, str]]:
    """(tool, marker name) for every sync-tool marker directly inside ``folder``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [(tool.name, n) for n in sorted(names) for tool, pattern in _MARKERS
            if pattern.match(n) and _is_marker(folder, n, tool.name)]


def configured_roots(home: Path | None = None, env: dict[str, str] | None = None) -> list[tuple[str, Path]]:
    """Folders the tools' own configuration names as synced: Dropbox (``~/.dropbox/info.json``),
    Syncthing (``config.xml`` folder paths), OneDrive on Windows (``OneDrive*`` variables)."""
    home = Path.home() if home is None else home
    env = dict(os.environ) if env is None else env
    roots: list[tuple[str, Path]] = []
    for var in ("OneDrive", "OneDriveConsumer", "OneDriveCommercial"):
        if env.get(var):
            roots.append(("OneDrive", Path(env[var])))
    try:
        info = json.loads((home / ".dropbox" / "info.json").read_text(encoding="utf-8"))
        roots += [("Dropbox", Path(v["path"])) for v in info.values() if isinstance(v, dict) and v.get("path")]
    except (OSError, ValueError, TypeError):
        pass
    local = env.get("LOCALAPPDATA")
    for cfg in (home / ".local/state/syncthing/config.xml", home / ".config/syncthing/config.xml",
                home / "Library/Application Support/Syncthing/config.xml",
                *([Path(local) / "Syncthing" / "config.xml"] if local else [])):
        try:
            text = cfg.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for m in re.finditer(r"<folder\b[^>]*\bpath=\"([^\"]+)\"", text):
            path = m.group(1).replace("&amp;", "&")
            roots.append(("Syncthing", Path(os.path.expanduser(path))))
    return roots


def synced_by(directory: Path, home: Path | None = None, env: dict[str, str] | None = None) -> str | None:
    """Why ``directory`` (which may not exist yet) is inside a synced folder, or None."""
    path = Path(directory).resolve()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    for parent in (existing, *existing.parents):
        found = markers_in(parent)
        if found:
            tool, marker = found[0]
            return f"it is inside a synced folder ({tool}: {parent} holds {marker})"
    for tool, root in configured_roots(home, env):
        try:
            root = root.resolve()
        except OSError:
            continue
        if path == root or root in path.parents:
            return f"it is inside a synced folder ({tool}: {root}, from {tool}'s settings)"
    return None


# ---- the shared folder ----------------------------------------------------------------------------
def tools_at(share: Path) -> list[str]:
    """Sync tools seen at the share: markers or control files in it, or a marker in an ancestor."""
    names: list[str] = []
    try:
        for entry in os.listdir(share):
            tool = control_tool(entry)
            if tool and tool != "the operating system" and tool not in names:
                names.append(tool)
    except OSError:
        pass
    share = Path(share).resolve()
    for parent in share.parents:
        for tool, _ in markers_in(parent):
            if tool not in names:
                names.append(tool)
    for tool, root in configured_roots():
        if tool not in names and (share == root or root in share.parents):
            names.append(tool)
    return names


def syncthing_root(share: Path) -> Path | None:
    """The Syncthing folder holding ``share`` (the nearest folder with ``.stfolder``), or None."""
    share = Path(share).resolve()
    for parent in (share, *share.parents):
        if (parent / ".stfolder").exists():
            return parent
    return None


def write_ignore_files(share: Path) -> list[str]:
    """Keep our temp files out of the sync tools' way; returns what was done, for the user.

    Syncthing reads ``.stignore`` only at the root of its folder (and never syncs it, so each
    device writes its own): it is written there, or our lines are appended to an existing one.
    Dropbox and Nextcloud skip the temp names by default; OneDrive has no ignore file."""
    done: list[str] = []
    root = syncthing_root(share)
    if root is not None:
        stignore = root / ".stignore"
        try:
            old = stignore.read_text(encoding="utf-8") if stignore.exists() else None
        except OSError as exc:
            return [f"could not read {stignore} ({exc.strerror}); add the line {STIGNORE_KEY} to it"]
        if old is not None and STIGNORE_KEY in old.splitlines():
            return [f"{stignore} already keeps labeldesk's temp files out of Syncthing"]
        try:
            with open(stignore, "a", encoding="utf-8") as f:
                if old and not old.endswith("\n"):
                    f.write("\n")
                f.write("\n".join(STIGNORE_LINES) + "\n")
        except OSError as exc:
            return [f"could not write {stignore} ({exc.strerror}); add the line {STIGNORE_KEY} to it"]
        done.append(f"{'added labeldesk lines to' if old is not None else 'wrote'} {stignore} "
                    f"(keeps labeldesk's temp files out of Syncthing)")
    return done


def describe(share: Path) -> list[str]:
    """One line per sync tool found at ``share``, plus what was done about it."""
    tools = tools_at(share)
    lines = [f"found a {', '.join(tools)} folder" if tools else ""]
    lines += write_ignore_files(share)
    if "Dropbox" in tools or "OneDrive" in tools or "Nextcloud/ownCloud" in tools:
        lines.append("keep this folder available offline (Dropbox: Make available offline; OneDrive: "
                     "Always keep on this device), or labeldesk sees placeholders instead of files")
    return [line for line in lines if line]


# ---- leftovers ------------------------------------------------------------------------------------
REPORTED_KEY = "sync.tool_files_reported"


def report_once(project, names: list[str]) -> tuple[list[str], int]:
    """(names not listed to this user before, how many were): sync-tool leftovers are not data,
    so `share status` lists each once instead of on every call. Remembered in the store's meta."""
    from labeldesk.core.store import repo
    try:
        seen = set(json.loads(repo.get_meta(project.conn, REPORTED_KEY) or "[]"))
    except ValueError:
        seen = set()
    current = list(dict.fromkeys(names))
    fresh = [n for n in current if n not in seen]
    if set(current) != seen:
        with project.transaction() as conn:
            # only what is still there is remembered: a file that comes back is listed again
            repo.set_meta(conn, REPORTED_KEY, json.dumps(sorted(set(current))))
    return fresh, len(current) - len(fresh)
