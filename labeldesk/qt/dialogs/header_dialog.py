"""View ▸ Asset header: the DICOM tags of the current series (first file; sequences nested) or the
NIfTI header, searchable; other assets show what their reader knows."""
from __future__ import annotations

from typing import Any

from PySide6 import QtWidgets


def dicom_rows(path: str) -> list[tuple[str, str, str, str, list]]:
    import pydicom

    def walk(ds: Any) -> list[tuple[str, str, str, str, list]]:
        rows = []
        for elem in ds:
            tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
            if elem.VR == "SQ":
                items = [(f"item {i + 1}", "", "", "", walk(item)) for i, item in enumerate(elem.value)]
                rows.append((tag, elem.name, "SQ", f"{len(elem.value)} item(s)", items))
            else:
                value = elem.repval if len(str(elem.value)) > 120 else str(elem.value)
                rows.append((tag, elem.name, str(elem.VR), value, []))
        return rows
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    meta = walk(ds.file_meta) if getattr(ds, "file_meta", None) else []
    return meta + walk(ds)


def plain(value: Any) -> str:
    """A header value as a person reads it: text without b'…' or np.bytes_(…), numbers without
    numpy's type names, short arrays as space-separated numbers."""
    import numpy as np
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).rstrip(b"\x00").decode("latin-1").strip()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SU":
            return " ".join(plain(v) for v in value.ravel())
        if value.ndim == 0:
            return plain(value.item())
        flat = [plain(v) for v in value.ravel()[:64]]
        return " ".join(flat) + (" …" if value.size > 64 else "")
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def nifti_rows(path: str) -> list[tuple[str, str, str, str, list]]:
    import nibabel as nib
    header = nib.load(path).header
    return [("", key, "", plain(value), []) for key, value in header.items()]


def info_rows(info: Any) -> list[tuple[str, str, str, str, list]]:
    fields = ("kind", "width", "height", "depth", "frames", "channels", "dtype", "levels", "spacing", "fps",
              "rescale", "photometric", "window")
    rows = [("", f, "", str(getattr(info, f)), []) for f in fields]
    return rows + [("", k, "", str(v), []) for k, v in info.meta.items()]


class HeaderDialog(QtWidgets.QDialog):
    def __init__(self, title: str, rows: list[tuple[str, str, str, str, list]],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.search = QtWidgets.QLineEdit(placeholderText="Search tags, names or values…")
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Name", "VR", "Value"])
        self._add(self.tree.invisibleRootItem(), rows)
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(1, 260)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.resize(900, 700)

    def _add(self, parent: QtWidgets.QTreeWidgetItem, rows: list) -> None:
        for tag, name, vr, value, children in rows:
            item = QtWidgets.QTreeWidgetItem([tag, name, vr, value])
            parent.addChild(item)
            self._add(item, children)

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()

        def visit(item: QtWidgets.QTreeWidgetItem) -> bool:
            own = not needle or any(needle in item.text(c).lower() for c in range(4))
            child = any([visit(item.child(i)) for i in range(item.childCount())])
            item.setHidden(not (own or child))
            return own or child
        root = self.tree.invisibleRootItem()
        for i in range(root.childCount()):
            visit(root.child(i))

    def matching(self) -> list[str]:
        out = []

        def visit(item: QtWidgets.QTreeWidgetItem) -> None:
            if not item.isHidden():
                out.append(item.text(1))
            for i in range(item.childCount()):
                visit(item.child(i))
        root = self.tree.invisibleRootItem()
        for i in range(root.childCount()):
            visit(root.child(i))
        return out


def header_dialog(parent: QtWidgets.QWidget, asset: Any, locator: dict[str, Any] | None, info: Any) -> HeaderDialog:
    reader = (locator or {}).get("reader")
    if reader == "dicom":
        rows = dicom_rows(locator["files"][0])
        title = f"DICOM tags — {asset.name} (first of {len(locator['files'])} files)"
    elif reader == "nifti":
        rows, title = nifti_rows(locator["path"]), f"NIfTI header — {asset.name}"
    else:
        rows, title = info_rows(info), f"Asset information — {asset.name}"
    return HeaderDialog(title, rows, parent)
