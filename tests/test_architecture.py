"""Rules a script can check: headless core, module size caps."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "labeldesk"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_pyside6_outside_qt_and_core_never_imports_qt():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "qt":
            continue
        for name in _imports(path):
            if name.split(".")[0] == "PySide6" or (rel.parts[0] == "core" and name.startswith("labeldesk.qt")):
                offenders.append(f"{rel}: {name}")
    assert not offenders, offenders


def test_modules_stay_under_800_lines():
    big = [f"{p.relative_to(ROOT)} ({n})" for p in ROOT.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800]
    assert not big, big


def test_opencv_is_imported_in_one_place():
    users = [p.relative_to(ROOT) for p in ROOT.rglob("*.py") if "cv2" in {n.split(".")[0] for n in _imports(p)}]
    assert [str(u) for u in users] == ["core/io/opencv.py"], users
