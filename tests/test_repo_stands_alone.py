"""The repository stands alone: nothing in it points at documents outside it.

Someone who clones labeldesk gets the whole description of it: comments, docstrings, tests and
docs name in-repo documents (docs/sync.md §…, docs/architecture.md, BENCHMARKS.md), never a design
folder or a shared folder next to the checkout. Links between the markdown documents resolve.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".sql", ".sh", ".spec", ".toml", ".cfg", ".ini", ".txt", ".yml", ".yaml",
                 ".json", ".desktop", ".xml", ".iss", ".rst", ""}

# Written in pieces so that this file does not match its own patterns.
_SHARED = r"\.\./" + "shared"
_DESIGN_DOC = "DESIGN" + r"\.md"
FORBIDDEN = [
    (re.compile(_SHARED + r"\b"), "a folder next to the checkout"),
    (re.compile(r"(?<![\w.~])/" + "work/"), "a path on the machine it was written on"),
    (re.compile(r"\b" + _DESIGN_DOC), "a design document outside the repository"),
    # design/<name>.md anywhere (an in-repo document lives in docs/ and is named docs/<name>.md)
    (re.compile(r"(?<![\w-])" + "design" + r"/[\w.-]+\.md"), "a design note outside the repository"),
    # the outside notes by their bare names: in-repo docs are named with their folder
    (re.compile(r"(?<![\w/.-])(?:ecosystem|performance|anchors)" + r"\.md\b"), "a design note outside the repository"),
    (re.compile(r"(?<![\w/.-])sync" + r"\.md\b"), "a bare sync note: say docs/sync.md"),
]
MD_LINK = re.compile(r"\]\(([^)\s]+?\.md)(#[^)]*)?\)")
DOCS_MENTION = re.compile(r"(?<![\w/.-])docs/[\w./-]+?\.md\b")


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    except (OSError, subprocess.CalledProcessError):      # not a git checkout (an unpacked sdist)
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    files = []
    for name in names:
        path = ROOT / name
        if path.suffix.lower() in TEXT_SUFFIXES and path.is_file() and path != Path(__file__).resolve():
            files.append(path)
    return files


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return None                                         # binary
    return data.decode("utf-8", "replace")


def outside_pointers(text: str, in_docs: bool = False) -> list[tuple[int, str, str]]:
    """(line number, the text that points outside, why) for every pointer in ``text``; documents in
    docs/ may name their neighbours by bare name (``sync.md``)."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for pattern, why in FORBIDDEN:
            if in_docs and "bare sync" in why:
                continue
            for m in pattern.finditer(line):
                found.append((lineno, m.group(0), why))
    return found


def test_the_scanner_finds_what_it_must_and_passes_what_it_may():
    bad = ("see ../" "shared/DESIGN.md", "(design/" "sync.md §2.5)", "performance" ".md §0.3",
           "ecosystem" ".md §1.1", '"""sync' '.md failure mode #17."""', "/wo" "rk/main/.venv/bin/python")
    for line in bad:
        assert outside_pointers(line), line
    good = ("(docs/sync.md §5, C1–C7)", "BENCHMARKS.md, DCM-4", "docs/architecture.md",
            "the layers (architecture.md)", "Joplin's readme/dev/spec/sync.md")
    for line in good:
        assert not outside_pointers(line), line
    assert outside_pointers("see [sync](sync.md)")
    assert not outside_pointers("see [sync](sync.md)", in_docs=True)


def test_no_tracked_file_points_outside_the_repository():
    files = tracked_files()
    assert len(files) > 50, "the scan found too few files to be the repository"
    problems = []
    for path in files:
        text = text_of(path)
        if text is None:
            continue
        rel = path.relative_to(ROOT)
        in_docs = rel.parts[0] == "docs" and path.suffix == ".md"
        for lineno, what, why in outside_pointers(text, in_docs):
            problems.append(f"{rel}:{lineno}: {what!r} ({why})")
    assert not problems, "pointers outside the repository:\n" + "\n".join(problems)


def test_named_docs_and_markdown_links_exist():
    missing = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        rel = path.relative_to(ROOT)
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in DOCS_MENTION.finditer(line):
                if not (ROOT / m.group(0)).is_file():
                    missing.append(f"{rel}:{lineno}: {m.group(0)}")
            if path.suffix == ".md":
                for m in MD_LINK.finditer(line):
                    target = m.group(1)
                    if "://" in target:
                        continue
                    if not (path.parent / target).resolve().is_file():
                        missing.append(f"{rel}:{lineno}: link to {target}")
    assert not missing, "documents named but not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize("doc", ["docs/sync.md", "docs/architecture.md", "BENCHMARKS.md", "CONTRIBUTING.md"])
def test_the_documents_pointed_to_are_here(doc):
    assert (ROOT / doc).is_file()


def test_sync_doc_numbers_every_failure_mode_a_test_is_named_after():
    table = (ROOT / "docs" / "sync.md").read_text(encoding="utf-8")
    rows = {int(n) for n in re.findall(r"^\| (\d+) \| P\d \|", table, re.M)}
    named = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        named |= {int(n) for n in re.findall(r"def test_fm(\d+)_", path.read_text(encoding="utf-8"))}
    assert named, "no test_fm<NN>_ tests found"
    assert named <= rows, f"failure modes tested but not in docs/sync.md: {sorted(named - rows)}"
