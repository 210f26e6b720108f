"""The files of an import or export: one file, a folder or a zip archive.

Imports read zip archives in place (nothing is extracted) and refuse hostile members: absolute
paths, ``..`` segments, drive letters, symlinks, and members that would inflate beyond sane
limits (zip bombs). Folder imports do not follow links out of the folder. JSON and XML come with
the line and column of the first problem; XML with entity declarations (billion laughs, external
entities) is refused.

Exports are written to a temporary sibling and moved into place when complete, so a cancelled
or failed export leaves no half-written output behind.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

from labeldesk.core.errors import InputError, LabeldeskError

MAX_MEMBER_BYTES = 2 << 30          # one member inflated
MAX_TOTAL_BYTES = 8 << 30           # the whole archive inflated
MAX_RATIO = 1000                    # inflated / compressed, for members over 1 MB
MAX_MEMBERS = 2_000_000
IGNORED = {".ds_store", "thumbs.db", "desktop.ini", "__macosx"}


def member_problem(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if not name or "\0" in name:
        return "empty or NUL in the name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "absolute path"
    if any(part == ".." for part in posix.split("/")):
        return "path leaves the archive (..)"
    return None


def _clean(name: str) -> str:
    return str(PurePosixPath(*[p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]))


class InputTree:
    """Named files of an import (relative POSIX names), from a file, a folder or a zip."""

    def __init__(self, path: str | os.PathLike[str], report: Any = None) -> None:
        self.path = Path(path)
        self.report = report
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, Any] = {}
        if not self.path.exists():
            raise InputError(self.path, "no such file or folder")
        if self.path.is_dir():
            self._scan_folder()
        elif zipfile.is_zipfile(self.path) and self.path.suffix.lower() == ".zip":
            self._scan_zip()
        else:
            self._members[self.path.name] = self.path

    @property
    def is_single_file(self) -> bool:
        return self._zip is None and not self.path.is_dir()

    def _refuse(self, name: str, reason: str) -> None:
        if self.report is not None:
            self.report.refuse(f"{self.path.name}:{name}", reason + "; skipped")

    def _scan_folder(self) -> None:
        root = self.path.resolve()
        for top, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d.lower() not in IGNORED)
            for f in sorted(files):
                if f.startswith(".") or f.lower() in IGNORED:
                    continue
                full = Path(top) / f
                rel = full.relative_to(root).as_posix()
                if full.is_symlink() and not full.resolve().is_relative_to(root):
                    self._refuse(rel, "a link that points outside the folder")
                    continue
                self._members[rel] = full

    def _scan_zip(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(self.path, f"not a readable zip archive ({exc})") from None
        if len(infos) > MAX_MEMBERS:
            raise InputError(self.path, f"the archive has {len(infos)} members (at most {MAX_MEMBERS})")
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            problem = member_problem(info.filename)
            mode = info.external_attr >> 16
            if problem is None and stat.S_ISLNK(mode):
                problem = "a symbolic link"
            if problem is None and info.file_size > MAX_MEMBER_BYTES:
                problem = f"inflates to {info.file_size} bytes (limit {MAX_MEMBER_BYTES})"
            if problem is None and info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(1, info.compress_size):
                problem = "compression ratio is implausible (a zip bomb?)"
            if problem is not None:
                self._refuse(info.filename, problem)
                continue
            name = _clean(info.filename)
            if any(p.startswith(".") or p.lower() in IGNORED for p in name.split("/")):
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise InputError(self.path, f"the archive inflates to more than {MAX_TOTAL_BYTES} bytes")
            if name in self._members:
                self._refuse(info.filename, "a second member with the same name")
                continue
            self._members[name] = info

    # ---- reading -----------------------------------------------------------------------------
    def names(self, suffix: str | tuple[str, ...] | None = None) -> list[str]:
        names = sorted(self._members)
        if suffix is None:
            return names
        suffixes = (suffix,) if isinstance(suffix, str) else suffix
        return [n for n in names if n.lower().endswith(tuple(s.lower() for s in suffixes))]

    def location(self, name: str) -> str:
        """How a member is named in messages."""
        if self._zip is not None:
            return f"{self.path.name}:{name}"
        return name if self.path.is_dir() else self.path.name

    def read(self, name: str) -> bytes:
        member = self._members[name]
        try:
            if self._zip is not None:
                with self._zip.open(member) as fh:
                    data = fh.read(MAX_MEMBER_BYTES + 1)
                if len(data) > MAX_MEMBER_BYTES:
                    raise InputError(self.location(name), "inflates beyond its declared size")
                return data
            return Path(member).read_bytes()
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(self.location(name), f"cannot be read ({exc})") from None

    def text(self, name: str) -> str:
        data = self.read(name)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(self.location(name), f"not UTF-8 text (byte {exc.start})") from None

    def json(self, name: str, items: dict[str, Any] | None = None) -> Any:
        """The decoded JSON of a member; ``items``: functions that each item of the top-level
        object's lists of those names goes through as it is decoded (formats/json_items.py)."""
        text = self.text(name)
        try:
            if items:
                from labeldesk.core.formats.json_items import loads
                return loads(text, items)
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(self.location(name), f"malformed JSON at line {exc.lineno}, column {exc.colno}: "
                                                  f"{exc.msg}") from None
        except RecursionError:
            raise InputError(self.location(name), "malformed JSON: nested too deeply") from None

    def xml(self, name: str) -> ET.Element:
        return parse_xml(self.read(name), self.location(name))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> "InputTree":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_entities(*_: Any) -> None:
    raise ValueError("entity declarations are not allowed")


def parse_xml(data: bytes, where: str) -> ET.Element:
    """Parse XML refusing DTD entity declarations; errors carry the line and column."""
    from xml.parsers import expat as _expat
    # ElementTree's C parser does not expose its expat handlers: a first pass with a bare expat
    # parser refuses entity declarations before ElementTree sees the document.
    check = _expat.ParserCreate()
    check.EntityDeclHandler = _no_entities
    check.UnparsedEntityDeclHandler = _no_entities
    check.ExternalEntityRefHandler = _no_entities
    try:
        check.Parse(data, True)
    except _expat.ExpatError:
        pass                    # reported with its position by the parse below
    except ValueError as exc:
        raise InputError(where, f"refused XML at line {check.CurrentLineNumber}: {exc} "
                                "(possible XML bomb)") from None
    parser = ET.XMLParser()
    try:
        parser.feed(data)
        return parser.close()
    except ET.ParseError as exc:
        line, col = exc.position
        msg = str(exc).split(":")[0]
        raise InputError(where, f"malformed XML at line {line}, column {col + 1}: {msg}") from None


class OutputTree:
    """Files of an export, moved into place at :meth:`commit`.

    ``dest`` ending in ``.zip`` gives a zip archive; one member and a ``dest`` that is not an
    existing folder gives that single file at ``dest``; anything else gives a folder."""

    def __init__(self, dest: str | os.PathLike[str], overwrite: bool = False) -> None:
        self.dest = Path(dest).expanduser().resolve()
        self.overwrite = overwrite
        if self.dest.exists() and not overwrite and not (self.dest.is_dir() and not any(self.dest.iterdir())):
            raise LabeldeskError(f"{self.dest}: exists already; choose another name or allow overwriting")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.", dir=self.dest.parent))
        self.members: list[str] = []

    def path_for(self, name: str) -> Path:
        """A path to write member ``name`` to (for writers that want a file name, e.g. nibabel)."""
        problem = member_problem(name)
        if problem is not None:
            raise LabeldeskError(f"refusing to write {name!r}: {problem}")
        name = _clean(name)
        if name in self.members:
            raise LabeldeskError(f"{name} is written twice in one export")
        self.members.append(name)
        path = self._tmp / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, name: str, data: bytes | str) -> None:
        path = self.path_for(name)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    def commit(self) -> list[str]:
        files = self._tmp / "files"
        files.mkdir(exist_ok=True)
        if self.dest.suffix.lower() == ".zip":
            staged = self._tmp / "out.zip"
            with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(self.members):
                    zf.write(files / name, name)
            out, written = staged, [str(self.dest)]
        elif len(self.members) == 1 and not self.dest.is_dir() and self.dest.suffix:
            out, written = files / self.members[0], [str(self.dest)]
        else:
            out, written = files, [str(self.dest / m) for m in sorted(self.members)]
        self._replace(out)
        shutil.rmtree(self._tmp, ignore_errors=True)
        return written

    def _replace(self, staged: Path) -> None:
        old = None
        if self.dest.exists():
            old = self._tmp / "old"
            os.replace(self.dest, old)
        try:
            os.replace(staged, self.dest)
        except OSError:
            if old is not None:
                os.replace(old, self.dest)
            raise

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "OutputTree":
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()        # after commit() only the emptied temporary folder is left to remove
