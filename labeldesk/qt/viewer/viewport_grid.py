"""A grid of viewports: layouts 1x1, 1x2, 2x1, 2x2 and 1x3. One viewport is active (the last one
clicked or focused): tools, keys and panels act on it. Assets can be dragged from the asset panel
into any viewport."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.qt.viewer.tile_loader import TileLoader
from labeldesk.qt.viewer.viewport_view import ViewportView

LAYOUTS: dict[str, tuple[int, int]] = {"1x1": (1, 1), "1x2": (1, 2), "2x1": (2, 1), "2x2": (2, 2), "1x3": (1, 3)}
ASSET_MIME = "application/x-labeldesk-asset"


class ViewportGrid(QtWidgets.QWidget):
    sig_active_changed = QtCore.Signal(object)          # the new active ViewportView
    sig_asset_dropped = QtCore.Signal(object, str)      # viewport, asset id

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.views: list[ViewportView] = []
        self.tile_loader = TileLoader(parent=self)
        self._grid = QtWidgets.QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.layout_name = "1x1"
        self.active: ViewportView = self._new_view()
        self.set_layout("1x1")

    def _new_view(self) -> ViewportView:
        view = ViewportView()
        view.tile_loader = self.tile_loader
        self.tile_loader.sig_tile_ready.connect(view._on_tile_ready)
        view.asset_id = None
        view.layer_id = None            # None: every layer; else only that layer's annotations
        view.setAcceptDrops(True)
        view.installEventFilter(self)
        self.views.append(view)
        return view

    def set_layout(self, name: str) -> None:
        rows, cols = LAYOUTS[name]
        while len(self.views) < rows * cols:
            self._new_view()
        for v in self.views:
            self._grid.removeWidget(v)
            v.hide()
        for i in range(rows * cols):
            self._grid.addWidget(self.views[i], i // cols, i % cols)
            self.views[i].show()
        self.layout_name = name
        if self.views.index(self.active) >= rows * cols:
            self.set_active(self.views[0])

    def visible_views(self) -> list[ViewportView]:
        rows, cols = LAYOUTS[self.layout_name]
        return self.views[: rows * cols]

    def set_active(self, view: ViewportView) -> None:
        if view is self.active:
            return
        self.active = view
        for v in self.views:
            v.setStyleSheet("border: 2px solid #e0b000;" if v is view and len(self.visible_views()) > 1 else "")
        self.sig_active_changed.emit(view)

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind in (QtCore.QEvent.Type.MouseButtonPress, QtCore.QEvent.Type.FocusIn) and obj in self.views:
            self.set_active(obj)
        elif kind in (QtCore.QEvent.Type.DragEnter, QtCore.QEvent.Type.DragMove):
            if event.mimeData().hasFormat(ASSET_MIME):
                event.acceptProposedAction()
                return True
        elif kind == QtCore.QEvent.Type.Drop and event.mimeData().hasFormat(ASSET_MIME):
            asset_id = bytes(event.mimeData().data(ASSET_MIME)).decode()
            self.set_active(obj)
            self.sig_asset_dropped.emit(obj, asset_id)
            event.acceptProposedAction()
            return True
        return super().eventFilter(obj, event)


def asset_mime(asset_id: str) -> Any:
    data = QtCore.QMimeData()
    data.setData(ASSET_MIME, QtCore.QByteArray(asset_id.encode()))
    return data
