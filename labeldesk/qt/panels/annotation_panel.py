"""The current asset's annotations: class, shape, plane, author and any flag (deprecated class,
missing required attributes…); filter by any of them; visibility (checkbox), opacity, lock;
selection synced with the viewport; double-click jumps to the annotation's plane.

The list is a Qt item model over the open document (``labeldesk.core.document``): rows are
virtual (the view asks for the text of the rows it shows, nothing is built per annotation), and a
DocumentChange inserts, removes or refreshes just the rows it names.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from labeldesk.core.groups import group_of

ANN_ROLE = QtCore.Qt.ItemDataRole.UserRole
BULK = 2000          # more rows than this removed at once: reset the model instead


def _keyframes_only(doc: Any, rows: np.ndarray) -> np.ndarray:
    """A track is listed as its keyframes: its interpolated frames are in the Tracks panel."""
    if not len(rows) or not any(doc.tracks):
        return rows
    keep = np.fromiter((not (doc.tracks[r] and not doc.keyframes[r]) for r in rows.tolist()), bool, len(rows))
    return rows[keep]


class AnnotationModel(QtCore.QAbstractListModel):
    """Rows of one document (ascending document row numbers), text built when asked for."""

    sig_visibility_changed = QtCore.Signal(object)      # set of hidden ids
    sig_repaint = QtCore.Signal()                       # every row's text may have changed

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc: Any = None
        self.rows = np.zeros(0, np.int64)
        self.layer_codes: np.ndarray | None = None      # None: every layer
        self.names: dict[Any, str] = {}
        self.authors: dict[Any, str] = {}
        self.hidden: set[str] = set()
        self.locked: set[str] = set()

    # ---- content ------------------------------------------------------------------------------
    def set_document(self, doc: Any, layers: list[str] | None) -> None:
        self.beginResetModel()
        self.doc = doc
        if doc is None:
            self.rows, self.layer_codes = np.zeros(0, np.int64), None
        else:
            self.rows = _keyframes_only(doc, doc.live_rows(layers))
            self.layer_codes = None if layers is None else np.array(
                [doc.layers.code[lid] for lid in layers if lid in doc.layers.code], np.int32)
            self._layers = layers
        self.endResetModel()

    def _wanted(self, rows: np.ndarray) -> np.ndarray:
        doc = self.doc
        keep = doc.alive[rows]
        if self.layer_codes is not None:
            keep &= np.isin(doc.layer_code[rows], self.layer_codes)
        return _keyframes_only(doc, rows[keep])

    def apply_change(self, doc: Any, change: Any) -> None:
        """Insert, remove or refresh only the rows a DocumentChange names."""
        if doc is not self.doc:
            return
        if change.reloaded:
            self.set_document(doc, self._layers if self.layer_codes is not None else None)
            return
        if self.layer_codes is not None:       # a layer created after the filter was made
            self.layer_codes = np.array([doc.layers.code[lid] for lid in self._layers if lid in doc.layers.code],
                                        np.int32)
        touched = np.unique(np.array(change.added + change.changed + change.removed, np.int64))
        if change.flags:
            self.refresh_all()
        if not len(touched):
            return
        wanted = self._wanted(touched)
        pos = np.searchsorted(self.rows, touched)
        present = (pos < len(self.rows)) & (self.rows[np.minimum(pos, len(self.rows) - 1)] == touched) \
            if len(self.rows) else np.zeros(len(touched), bool)
        gone = touched[present & ~np.isin(touched, wanted)]
        if len(gone) > BULK:
            self.set_document(doc, self._layers if self.layer_codes is not None else None)
            return
        for r in gone[::-1].tolist():
            i = int(np.searchsorted(self.rows, r))
            self.beginRemoveRows(QtCore.QModelIndex(), i, i)
            self.rows = np.delete(self.rows, i)
            self.endRemoveRows()
        new = wanted[~np.isin(wanted, self.rows)]
        if len(new):
            if len(self.rows) == 0 or new.min() > self.rows[-1]:          # the usual case: appended
                self.beginInsertRows(QtCore.QModelIndex(), len(self.rows), len(self.rows) + len(new) - 1)
                self.rows = np.concatenate([self.rows, new])
                self.endInsertRows()
            else:
                for r in new.tolist():
                    i = int(np.searchsorted(self.rows, r))
                    self.beginInsertRows(QtCore.QModelIndex(), i, i)
                    self.rows = np.insert(self.rows, i, r)
                    self.endInsertRows()
        for r in wanted.tolist():
            i = int(np.searchsorted(self.rows, r))
            if i < len(self.rows) and self.rows[i] == r:
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)

    def refresh_all(self) -> None:
        """Texts are built when painted: repainting the rows on screen is enough (a dataChanged
        over every row costs the view a call per row)."""
        self.sig_repaint.emit()

    def position(self, annotation_id: str) -> int | None:
        r = self.doc.row_of.get(annotation_id) if self.doc is not None else None
        if r is None:
            return None
        i = int(np.searchsorted(self.rows, r))
        return i if i < len(self.rows) and self.rows[i] == r else None

    # ---- Qt model -------------------------------------------------------------------------------
    def rowCount(self, parent: QtCore.QModelIndex = QtCore.QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def text(self, r: int) -> str:
        doc = self.doc
        plane = doc.plane_of(r)
        where = f"{plane.axis} {plane.z + 1}" if plane.axis != "axial" or plane.z else ""
        where += f" t{plane.t + 1}" if plane.t else ""
        aid = doc.ids[r]
        text = f"{self.names.get(doc.class_of(r), 'no class')} · {doc.kinds[r]}" + (f" · {where}" if where else "")
        text += f" · {self.authors.get(doc.authors[r], '?')}" + (" · 🔒" if aid in self.locked else "")
        attrs = doc.attributes_json[r]
        if attrs and '"_group"' in attrs:         # an instance group's part (labeldesk.core.groups)
            gid = group_of(doc.attributes(r))
            text += f" · ◫ group {gid[-4:]}" if gid else ""
        flag = doc.flags[r]
        return text + (f"  ⚠ {flag}" if flag else "")

    def data(self, index: QtCore.QModelIndex, role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        r = int(self.rows[index.row()])
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self.text(r)
        if role == ANN_ROLE:
            return self.doc.ids[r]
        if role == QtCore.Qt.ItemDataRole.CheckStateRole:
            return (QtCore.Qt.CheckState.Unchecked if self.doc.ids[r] in self.hidden
                    else QtCore.Qt.CheckState.Checked)
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return self.doc.flags[r]
        return None

    def flags(self, index: QtCore.QModelIndex) -> QtCore.Qt.ItemFlag:
        return (QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
                | QtCore.Qt.ItemFlag.ItemIsUserCheckable)

    def setData(self, index: QtCore.QModelIndex, value: Any, role: int = QtCore.Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != QtCore.Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        aid = self.doc.ids[int(self.rows[index.row()])]
        checked = QtCore.Qt.CheckState(value) == QtCore.Qt.CheckState.Checked
        self.hidden = (self.hidden - {aid}) if checked else (self.hidden | {aid})
        self.dataChanged.emit(index, index)
        self.sig_visibility_changed.emit(set(self.hidden))
        return True


def _row_list() -> QtWidgets.QTableView:
    """A one-column list of rows of one height. A QTableView with fixed-height rows places a row
    by arithmetic; a QListView lays out every row when the model is reset (0.3 s of GUI time and
    200,000 calls to ``rowCount`` for 100,000 annotations, before the first paint)."""
    view = QtWidgets.QTableView()
    view.horizontalHeader().hide()
    view.horizontalHeader().setStretchLastSection(True)
    rows = view.verticalHeader()
    rows.hide()
    rows.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 4)
    rows.setMinimumSectionSize(1)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setTextElideMode(QtCore.Qt.TextElideMode.ElideRight)
    return view


class AnnotationPanel(QtWidgets.QWidget):
    sig_selection_requested = QtCore.Signal(object)     # set of annotation ids
    sig_jump_requested = QtCore.Signal(object)          # an Annotation
    sig_visibility_changed = QtCore.Signal(object)      # set of hidden ids
    sig_opacity_changed = QtCore.Signal(float)
    sig_lock_requested = QtCore.Signal(bool)            # lock / unlock the selection
    sig_group_requested = QtCore.Signal(bool)           # group / ungroup the selection (instance group)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.classified = QtWidgets.QLabel()
        self.classified.setWordWrap(True)
        self.filter = QtWidgets.QLineEdit(placeholderText="Filter by class, shape, author or flag…")
        self.model = AnnotationModel(self)
        self.proxy = QtCore.QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.list = _row_list()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setModel(self.model)
        self.count = QtWidgets.QLabel()
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(25)
        self.opacity.setToolTip("Fill opacity")
        lock, unlock = QtWidgets.QPushButton("Lock"), QtWidgets.QPushButton("Unlock")
        # the slider on a row of its own: beside four buttons a narrow dock squeezed it to its handle
        shade = QtWidgets.QHBoxLayout()
        shade.addWidget(QtWidgets.QLabel("Opacity"))
        shade.addWidget(self.opacity, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(lock)
        row.addWidget(unlock)
        self.group_button, self.ungroup_button = QtWidgets.QPushButton("Group"), QtWidgets.QPushButton("Ungroup")
        self.group_button.setToolTip("Make the selected annotations one object in parts (an instance group)")
        row.addWidget(self.group_button)
        row.addWidget(self.ungroup_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.classified)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        layout.addLayout(shade)
        layout.addLayout(row)
        layout.addWidget(self.count)
        self.opacity.valueChanged.connect(lambda v: self.sig_opacity_changed.emit(v / 100))
        lock.clicked.connect(lambda: self.sig_lock_requested.emit(True))
        unlock.clicked.connect(lambda: self.sig_lock_requested.emit(False))
        self.group_button.clicked.connect(lambda: self.sig_group_requested.emit(True))
        self.ungroup_button.clicked.connect(lambda: self.sig_group_requested.emit(False))
        self.model.sig_visibility_changed.connect(self.sig_visibility_changed)
        self.model.sig_repaint.connect(self.list.viewport().update)
        self._syncing = False
        self.filter.textChanged.connect(lambda _t: self._apply_filter())
        self.list.doubleClicked.connect(self._on_list_double_clicked)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(lambda *_: self._show_count())
        self._connect_selection()

    # ---- content ------------------------------------------------------------------------------
    def set_document(self, doc: Any, layers: list[str] | None, class_names: dict[Any, str],
                     authors: dict[Any, str], hidden: set[str], locked: set[str]) -> None:
        """Show the live annotations of ``doc`` in ``layers`` (None: all). Setting the same
        document and layers again only refreshes names, visibility and locks (no reload)."""
        m = self.model
        m.names, m.authors, m.hidden, m.locked = class_names, authors, set(hidden), set(locked)
        if doc is not m.doc or layers != getattr(m, "_layers", None) or doc is None:
            m.set_document(doc, layers)
        else:
            m.refresh_all()
        self._show_count()

    def apply_change(self, doc: Any, change: Any) -> None:
        self.model.apply_change(doc, change)
        self._show_count()

    def row_count(self) -> int:
        return self.list.model().rowCount()

    def row_text(self, i: int) -> str:
        return self.list.model().index(i, 0).data()

    def row_id(self, i: int) -> str:
        return self.list.model().index(i, 0).data(ANN_ROLE)

    def set_row_visible(self, i: int, visible: bool) -> None:
        state = QtCore.Qt.CheckState.Checked if visible else QtCore.Qt.CheckState.Unchecked
        self.list.model().setData(self.list.model().index(i, 0), state, QtCore.Qt.ItemDataRole.CheckStateRole)

    def show_classifications(self, rows: list[dict[str, Any]], plane: Any) -> None:
        whole = [r["class_name"] for r in rows if r["scope"] == "asset"]
        here = [r["class_name"] for r in rows if r["scope"] == "plane" and plane is not None
                and (r["plane_axis"], r["plane_z"], r["plane_t"]) == (plane.axis, plane.z, plane.t)]
        parts = ([f"asset: {', '.join(whole)}"] if whole else []) + ([f"this slice/frame: {', '.join(here)}"] if here else [])
        self.classified.setText("Classified — " + "; ".join(parts) if parts else "")

    # ---- selection ------------------------------------------------------------------------------
    def _connect_selection(self) -> None:
        self.list.selectionModel().selectionChanged.connect(self._on_list_selection_changed)

    def show_selection(self, ids: set[str]) -> None:
        """Select the rows of ``ids`` (a handful: each is found through the document's index)."""
        self._syncing = True
        sel = QtCore.QItemSelection()
        view_model = self.list.model()
        for aid in ids:
            i = self.model.position(aid)
            if i is None:
                continue
            idx = self.model.index(i)
            if view_model is self.proxy:
                idx = self.proxy.mapFromSource(idx)
            if idx.isValid():
                sel.select(idx, idx)
        self.list.selectionModel().select(sel, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if sel.indexes():
            self.list.scrollTo(sel.indexes()[0])
        self._syncing = False

    def _on_list_selection_changed(self, *_: Any) -> None:
        if not self._syncing:
            self.sig_selection_requested.emit({i.data(ANN_ROLE) for i in self.list.selectionModel().selectedIndexes()})

    def _on_list_double_clicked(self, index: QtCore.QModelIndex) -> None:
        aid = index.data(ANN_ROLE)
        doc = self.model.doc
        if doc is not None and aid in doc.row_of:
            self.sig_jump_requested.emit(doc.annotation(doc.row_of[aid]))

    # ---- filter ---------------------------------------------------------------------------------
    def _apply_filter(self) -> None:
        """An empty filter shows the model itself (no proxy walking 100,000 rows)."""
        needle = self.filter.text().strip()
        self.proxy.setFilterFixedString(needle)
        wanted = self.proxy if needle else self.model
        if self.list.model() is not wanted:
            self.list.setModel(wanted)
            self._connect_selection()
        self._show_count()

    def _show_count(self) -> None:
        self.count.setText(f"{self.list.model().rowCount()} of {self.model.rowCount()} annotations")
