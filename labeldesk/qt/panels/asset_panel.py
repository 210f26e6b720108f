"""The project's assets with thumbnails; selecting one shows it in the viewport."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

KIND_COLOURS = {"image": "#4a7", "pyramid": "#47a", "video": "#a74", "volume": "#a47"}
ASSET_ROLE = QtCore.Qt.ItemDataRole.UserRole


def _placeholder(kind: str, size: int = 64) -> QtGui.QPixmap:
    pm = QtGui.QPixmap(size, size)
    pm.fill(QtGui.QColor(KIND_COLOURS.get(kind, "#777")))
    p = QtGui.QPainter(pm)
    p.setPen(QtGui.QColor("white"))
    p.drawText(pm.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, kind)
    p.end()
    return pm


def describe(asset: Any) -> str:
    parts = [f"{asset.width}×{asset.height}"]
    if asset.depth > 1:
        parts.append(f"{asset.depth} slices")
    if asset.frames > 1:
        parts.append(f"{asset.frames} frames")
    return f"{asset.name}\n{asset.kind} · {', '.join(parts)} · {asset.dtype}"


class AssetPanel(QtWidgets.QWidget):
    sig_asset_selected = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QtWidgets.QLineEdit(placeholderText="Filter assets…")
        self.list = _AssetList()
        self.list.setIconSize(QtCore.QSize(64, 64))
        self.list.setUniformItemSizes(True)
        self.list.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)   # "very-long…name-end.png"
        self.list.setWordWrap(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        self.list.currentItemChanged.connect(self._on_list_current_item_changed)

    def set_assets(self, assets: list[Any], thumbnails: dict[str, bytes | None]) -> None:
        self.list.clear()
        for asset in assets:
            item = QtWidgets.QListWidgetItem(describe(asset))
            item.setData(ASSET_ROLE, asset.id)
            item.setToolTip(describe(asset))
            pm = QtGui.QPixmap()
            data = thumbnails.get(asset.id)
            if not data or not pm.loadFromData(data):
                pm = _placeholder(asset.kind)
            item.setIcon(QtGui.QIcon(pm))
            self.list.addItem(item)
        self._on_filter_edit_text_changed(self.filter_edit.text())

    def asset_ids(self) -> list[str]:
        return [self.list.item(i).data(ASSET_ROLE) for i in range(self.list.count())]

    def select(self, asset_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ASSET_ROLE) == asset_id:
                self.list.setCurrentRow(i)
                return

    def step_next(self) -> bool:
        return self.step(+1)

    def step_previous(self) -> bool:
        return self.step(-1)

    def step(self, direction: int) -> bool:
        """Select the next (or previous) asset the filter shows; False at either end of the list."""
        row = self.list.currentRow()
        i = row + direction if row >= 0 else (0 if direction > 0 else self.list.count() - 1)
        while 0 <= i < self.list.count():
            if not self.list.item(i).isHidden():
                self.list.setCurrentRow(i)
                self.list.scrollToItem(self.list.item(i))
                return True
            i += direction
        return False

    def _on_filter_edit_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def _on_list_current_item_changed(self, current: QtWidgets.QListWidgetItem | None, _: Any) -> None:
        if current is not None:
            self.sig_asset_selected.emit(current.data(ASSET_ROLE))


class _AssetList(QtWidgets.QListWidget):
    """Drag an asset into any viewport of the grid."""

    def __init__(self) -> None:
        super().__init__()
        self.setDragEnabled(True)
        self.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DragOnly)

    def mimeData(self, items: Any) -> QtCore.QMimeData:  # noqa: N802 - Qt override
        from labeldesk.qt.viewer.viewport_grid import asset_mime
        return asset_mime(items[0].data(ASSET_ROLE)) if items else QtCore.QMimeData()
