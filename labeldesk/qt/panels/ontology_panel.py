"""Ontology side panel: the class tree (colour, hotkey, name) with search, the active class, and
the active class's guide card (definition, do, don't). Keys 1–9 pick the class with that hotkey."""
from __future__ import annotations

import html
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

CLASS_ROLE = QtCore.Qt.ItemDataRole.UserRole


def guide_html(cls: Any) -> str:
    g = cls.guide or {}
    parts = [f"<h3 style='margin:0'><span style='color:{cls.color}'>■</span> {html.escape(cls.name)}</h3>"]
    if cls.deprecated:
        parts.append("<p><b>Deprecated</b>: do not use for new annotations.</p>")
    if g.get("definition"):
        parts.append(f"<p>{html.escape(g['definition'])}</p>")
    for key, title in (("do", "Do"), ("dont", "Don't")):
        items = g.get(key) or []
        if items:
            parts.append(f"<p><b>{title}</b></p><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
    if cls.kinds:
        parts.append(f"<p><i>Shapes: {', '.join(cls.kinds)}</i></p>")
    if cls.attributes:
        names = ", ".join(a.get("name", a["key"]) + (" *" if a.get("required") else "") for a in cls.attributes)
        parts.append(f"<p><i>Attributes: {html.escape(names)}</i></p>")
    return "".join(parts)


class OntologyPanel(QtWidgets.QWidget):
    sig_class_activated = QtCore.Signal(object)
    sig_menu_requested = QtCore.Signal(object, object)        # class id or None, global position

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QtWidgets.QLineEdit(placeholderText="Search classes…")
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["Class", "Key"])
        self.tree.setColumnWidth(0, 200)
        self.tree.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(
            lambda pos: self.sig_menu_requested.emit(
                (self.tree.itemAt(pos).data(0, CLASS_ROLE) if self.tree.itemAt(pos) else None),
                self.tree.viewport().mapToGlobal(pos)))
        self.guide = QtWidgets.QTextBrowser()
        self.guide.setMinimumHeight(120)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.guide)
        layout.addWidget(split)
        self.classes: dict[str, Any] = {}
        self.search.textChanged.connect(self._on_search_text_changed)
        self.tree.currentItemChanged.connect(self._on_tree_current_item_changed)

    def set_classes(self, classes: list[Any]) -> None:
        current = self.active_class_id()
        self.classes = {c.id: c for c in classes}
        self.tree.clear()
        items: dict[str, QtWidgets.QTreeWidgetItem] = {}
        for c in classes:                      # sorted by sort_order: parents come first
            if c.merged_into:
                continue
            item = QtWidgets.QTreeWidgetItem([c.name + (" (deprecated)" if c.deprecated else ""), c.hotkey or ""])
            pm = QtGui.QPixmap(12, 12)
            pm.fill(QtGui.QColor(c.color))
            item.setIcon(0, QtGui.QIcon(pm))
            item.setData(0, CLASS_ROLE, c.id)
            parent = items.get(c.parent_id) if c.parent_id else None
            (parent.addChild(item) if parent else self.tree.addTopLevelItem(item))
            items[c.id] = item
        self.tree.expandAll()
        self._items = items
        if current in items:
            self.tree.setCurrentItem(items[current])
        self._on_search_text_changed(self.search.text())

    def active_class_id(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, CLASS_ROLE) if item is not None else None

    def activate(self, class_id: str | None) -> None:
        item = getattr(self, "_items", {}).get(class_id)
        if item is not None:
            self.tree.setCurrentItem(item)

    def activate_hotkey(self, key: str) -> bool:
        for c in self.classes.values():
            if c.hotkey == key and not c.deprecated and not c.merged_into:
                self.activate(c.id)
                return True
        return False

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for cid, item in getattr(self, "_items", {}).items():
            match = not needle or needle in self.classes[cid].name.lower()
            item.setHidden(not match)
            if match:                          # keep the path to a match visible
                parent = item.parent()
                while parent is not None:
                    parent.setHidden(False)
                    parent = parent.parent()

    def _on_tree_current_item_changed(self, current: QtWidgets.QTreeWidgetItem | None, _: Any) -> None:
        cid = current.data(0, CLASS_ROLE) if current is not None else None
        from labeldesk.qt.dialogs.guide_dialog import show_card    # the card with its example images
        show_card(self.guide, self.classes.get(cid))
        self.sig_class_activated.emit(cid)
