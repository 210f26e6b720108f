"""The editing state of the window: current asset and plane, active tool and class, selection,
and the undo stack. Tools call ``create``/``move``/``delete_selected``; every change becomes core
ops pushed as one undo command and saved as it happens (there is no save button)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core import ids
from labeldesk.core.document import Document
from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import ChangeSet, OpDraft
from labeldesk.qt.commands import push
from labeldesk.qt.tools.assist_tools import GrabCutTool, ThresholdTool, WandTool
from labeldesk.qt.tools.base import Tool
from labeldesk.qt.tools.box_tool import BoxTool
from labeldesk.qt.tools.brush_tool import BrushTool, EraserTool
from labeldesk.qt.tools.polygon_tool import PointsTool, PolygonTool, PolylineTool
from labeldesk.qt.tools.scissors_tool import ScissorsTool
from labeldesk.qt.tools.select_tool import SelectTool
from labeldesk.qt.tools.shape_tools import EllipseTool, RotatedBoxTool
from labeldesk.qt.viewer.annotation_painter import AnnotationPainter

TOOLS: tuple[type[Tool], ...] = (SelectTool, BoxTool, RotatedBoxTool, EllipseTool, PolygonTool, PolylineTool,
                                 PointsTool, BrushTool, EraserTool, WandTool, GrabCutTool, ThresholdTool,
                                 ScissorsTool)


_executor: Any = None


def _loader() -> Any:
    """One worker thread that reads documents (OpenCV decodes pixels on its own threads)."""
    global _executor
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="document")
    return _executor


def _discard(future: Any) -> None:
    """A document read for a project that was closed meanwhile: let its connection go."""
    if not future.cancelled() and future.exception() is None:
        future.result().conn.close()


class _AfterFirstPaint(QtCore.QObject):
    """Calls ``fn`` (from the event loop) once ``widget`` has painted for the first time."""

    def __init__(self, widget: Any, fn: Any) -> None:
        super().__init__(widget)
        self.fn = fn
        widget.installEventFilter(self)

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Paint:
            obj.removeEventFilter(self)
            obj._painted_once = True
            QtCore.QTimer.singleShot(0, self.fn)
            self.deleteLater()
        return False


def after_first_paint(widget: Any, fn: Any) -> None:
    """Call ``fn()`` from the event loop once ``widget`` has painted for the first time (the
    window is up): work the first paint does not need waits for it."""
    _AfterFirstPaint(widget, fn)


class EditSession(QtCore.QObject):
    sig_annotations_changed = QtCore.Signal()
    sig_document_changed = QtCore.Signal(object, object)     # Document, DocumentChange
    _sig_changes_elsewhere = QtCore.Signal(object)           # a ChangeSet applied on a worker thread
    sig_document_ready = QtCore.Signal(str)                  # an asset's document read on a worker is in
    _sig_document_read = QtCore.Signal(str)                  # (from the worker thread)
    sig_selection_changed = QtCore.Signal(object)
    sig_message = QtCore.Signal(str)
    sig_tool_changed = QtCore.Signal(str)
    sig_class_changed = QtCore.Signal(object)

    def __init__(self, viewport: Any, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.viewport = viewport
        self.project: Any = None
        self.asset_id: str | None = None
        self.active_class_id: str | None = None
        self.undo_stack = QtGui.QUndoStack(self)
        self.documents: dict[str, Document] = {}          # asset id -> open document
        self._loading: dict[str, Any] = {}                # asset id -> Future of a document being read
        self._wanted: dict[str, dict] = {}                # asset id -> the overlay its reading worker draws
        self._sig_changes_elsewhere.connect(self.apply_changes, QtCore.Qt.ConnectionType.QueuedConnection)
        self._sig_document_read.connect(self._on_document_read, QtCore.Qt.ConnectionType.QueuedConnection)
        self._when_ready: dict[str, list[Any]] = {}
        self._layers: dict[str, list[str]] = {}           # asset id -> layers this user may see
        self._colours: dict[Any, str] = {}
        self.brush_radius = 8.0
        self.brush_sphere = False
        self.wand_tolerance = 12
        self._threshold: tuple[float, float] | None = None
        self.clipboard: list[Any] = []
        self.locked: set[str] = set()
        self.tools = {cls.name: cls(self) for cls in TOOLS}
        self.tool: Tool = self.tools["select"]
        self.views = lambda: [self.viewport]       # every viewport that shows annotations
        self.viewport = None
        self.attach(viewport)

    def attach(self, viewport: Any) -> None:
        """Make ``viewport`` the one tools and keys act on (the active viewport of the grid)."""
        if viewport is self.viewport:
            return
        if self.viewport is not None:
            self.tool.cancel()
            self.viewport.tool = None
            try:
                self.viewport.sig_plane_changed.disconnect(self._on_viewport_plane_changed)
            except (RuntimeError, TypeError):
                pass
        self.viewport = viewport
        if viewport.overlay is None:
            viewport.overlay = AnnotationPainter()
        self.painter = viewport.overlay
        viewport.tool = self.tool
        viewport.sig_plane_changed.connect(self._on_viewport_plane_changed)
        self.asset_id = getattr(viewport, "asset_id", None)

    def _on_viewport_plane_changed(self, _plane: Any) -> None:
        self.tool.cancel()           # a half-drawn shape belongs to the plane it was started on
        self.refresh_view(self.viewport)

    # ---- context ------------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        if self.project is not None and self.apply_changes in self.project.on_applied:
            self.project.on_applied.remove(self.apply_changes)
        self.project = project
        self.asset_id = None
        self.documents.clear()
        for future in self._loading.values():             # read for a project no longer open
            future.add_done_callback(_discard)
        self._loading.clear()
        self._when_ready.clear()
        self._layers.clear()
        self.undo_stack.clear()
        if project is not None:
            project.on_applied.append(self.apply_changes)
        self.refresh_classes()
        self.refresh()

    def set_asset(self, asset_id: str | None) -> None:
        if asset_id is not None and self.project is not None and asset_id not in self.documents:
            # once the viewport has painted (the window is up), so that the read does not hold the
            # window back; or when a view needs the document, whichever comes first
            start = (lambda a=asset_id: self.preload(a) if self.asset_id == a else None)
            if getattr(self.viewport, "_painted_once", True):
                QtCore.QTimer.singleShot(0, self, start)
            else:
                after_first_paint(self.viewport, start)
        self.tool.cancel()
        self.asset_id = asset_id
        self.viewport.asset_id = asset_id
        self.painter.selected = set()
        self.refresh()

    def preload(self, asset_id: str) -> None:
        """Start reading an asset's document on a worker thread (its own read-only connection)
        while its pixels decode; :meth:`document` takes it over when a view first needs it."""
        if self.project is None or asset_id in self.documents or asset_id in self._loading:
            return
        main = [row[2] for row in self.project.conn.execute("PRAGMA database_list") if row[1] == "main"]
        if not main or not main[0]:
            return                                  # an in-memory store: read when needed
        db = Path(main[0])
        # the worker draws the overlay the active view will want once the document is in: what it
        # wants (size, zoom…) is known once the pixels are in, so refresh_view keeps it up to date
        from labeldesk.qt.viewer import overlay_cache
        wanted = self._wanted[asset_id] = {"spec": self._overlay_spec(asset_id)}

        def then(doc: Document) -> None:
            spec = wanted["spec"]
            if spec is not None:
                overlay_cache.prepare(doc, spec)
        future = self._loading[asset_id] = Document.open_in_background(db, asset_id, _loader(), then)
        future.add_done_callback(lambda _f, a=asset_id: self._sig_document_read.emit(a))

    def _overlay_spec(self, asset_id: str, ahead: bool = False) -> dict[str, Any] | None:
        """What the active view will ask of its zoomed-out overlay of ``asset_id`` (plane, layers,
        size, zoom, colours, opacity), so that the worker reading the document can draw it; None
        when the view does not show the asset or is zoomed in too far for the overlay. ``ahead``:
        what it would ask once it shows the asset (fitted, or as last seen), shown or not."""
        view = self.viewport
        painter = getattr(view, "overlay", None)
        if painter is None or (not ahead and getattr(view, "asset_id", None) != asset_id):
            return None
        if ahead or view.source is None:
            view = self._fitted_stand_in(asset_id)
            if view is None:
                return None
        try:
            if not painter._raster_fits(view):
                return None
            w, h = view.plane_size()
            layer_id = getattr(view, "layer_id", None)
            visible = self.visible_layers(asset_id)
            layers = ([layer_id] if layer_id in visible else []) if layer_id is not None else visible
            return {"plane": view.plane, "layers": list(layers), "width": w, "height": h,
                    "scale": painter._raster_scale(view, w, h), "opacity": painter.opacity,
                    "colours": dict(self._colours)}
        except Exception:  # noqa: BLE001 - a view not ready yet: the overlay is drawn when painted
            return None

    def _fitted_stand_in(self, asset_id: str) -> Any:
        """What the active view will be once the pixels of a plain image are in (its plane, size
        and zoom: fitted as ``set_source`` fits it, or the remembered one that will be restored), so
        that the worker reading the document can draw the overlay while the pixels still decode;
        None for other kinds, or before the view is laid out. A wrong guess costs only
        the worker's drawing: the painter takes the overlay when its own fingerprint matches."""
        from types import SimpleNamespace

        from labeldesk.core.model import Plane
        from labeldesk.qt import window_state
        from labeldesk.qt.viewer.viewport_view import fit_zoom
        view = self.viewport
        if view.width() < 2 or view.height() < 2 or self.project is None:
            return None
        asset = self.project.asset(asset_id)
        if asset is None or asset.kind != "image" or asset.width < 1 or asset.height < 1:
            return None
        w, h = asset.width, asset.height
        zoom, plane = fit_zoom(view.width(), view.height(), w, h), Plane()
        state = window_state.remembered_view_state(self.project, asset_id)
        if state is not None:                         # restored once the pixels are in
            try:
                zoom, plane = min(64.0, max(1e-4, float(state["zoom"]))), Plane.from_dict(state["plane"])
            except (KeyError, TypeError, ValueError):
                return None
        return SimpleNamespace(plane=plane, zoom=zoom, layer_id=getattr(view, "layer_id", None),
                               plane_size=lambda: (w, h), width=view.width, height=view.height)

    def loading(self, asset_id: str) -> bool:
        """The asset's document is being read on the worker (its views show the pixels meanwhile)."""
        return asset_id in self._loading and asset_id not in self.documents

    def when_ready(self, asset_id: str, fn: Any) -> None:
        """Call ``fn()`` once the asset's document is in (at once when it is)."""
        if self.loading(asset_id):
            self._when_ready.setdefault(asset_id, []).append(fn)
        else:
            fn()

    def _on_document_read(self, asset_id: str) -> None:
        """A document read on the worker is in: the views showing its asset draw it, panels follow
        (also when a reader took it over first)."""
        self._wanted.pop(asset_id, None)
        if asset_id in self._loading:
            shown = {getattr(v, "asset_id", None) for v in self.views()} | {self.asset_id}
            if self.project is None or getattr(self.project, "conn", None) is None or asset_id not in shown:
                self._loading.pop(asset_id).add_done_callback(_discard)     # closed, or shown no more
                self._when_ready.pop(asset_id, None)
                return
            self.document(asset_id)
        elif asset_id not in self.documents:
            return
        for view in self.views():
            shown = self.asset_id if view is self.viewport else getattr(view, "asset_id", None)
            if shown == asset_id:
                self.refresh_view(view)
        self.sig_annotations_changed.emit()
        self.sig_document_ready.emit(asset_id)
        for fn in self._when_ready.pop(asset_id, []):
            fn()

    def document(self, asset_id: str, wait: bool = True) -> Document | None:
        """The open document of an asset: loaded on first use (or taken over from :meth:`preload`),
        then kept in step by ChangeSets (never reloaded). Documents of assets no viewport shows
        any more are let go."""
        doc = self.documents.get(asset_id)
        if doc is None and not wait:
            self.preload(asset_id)                  # a view needs it: read it on the worker now
            if asset_id in self._loading and not self._loading[asset_id].done():
                return None                         # still being read: the caller shows the pixels alone
        if doc is None:
            shown = {getattr(v, "asset_id", None) for v in self.views()} | {self.asset_id}
            for other in [a for a in self.documents if a not in shown]:
                del self.documents[other]
            doc = self._take_preloaded(asset_id) or Document(self.project.conn, asset_id)
            self.documents[asset_id] = doc
            doc.subscribe(lambda change, d=doc: self._on_document_changed(d, change))
        return doc

    def _take_preloaded(self, asset_id: str) -> Document | None:
        future = self._loading.pop(asset_id, None)
        if future is None:
            return None
        try:
            doc = future.result()
        except Exception:                  # noqa: BLE001 - read again on this thread, which reports it
            return None
        return doc if doc.adopt(self.project.conn) else None      # an op landed meanwhile: read again

    def visible_layers(self, asset_id: str) -> list[str]:
        """Layers this user may see on the asset (blind labeling), remembered until reviews,
        layers or roles change."""
        layers = self._layers.get(asset_id)
        if layers is None:
            from labeldesk.core.review.assignment import visible_layers
            layers = self._layers[asset_id] = visible_layers(self.project, self.project.user_id, asset_id)
        return layers

    def refresh_classes(self) -> None:
        classes = self.project.classes() if self.project else []
        by_id = {c.id: c for c in classes}
        colours = {}
        for c in classes:            # a merged class is drawn in its target's colour
            target = by_id.get(c.merged_into) if c.merged_into else c
            colours[c.id] = (target or c).color
        self._colours = colours
        for view in self.views():
            if view.overlay is not None:
                view.overlay.colours = colours
                view.update()

    def refresh(self, changes: ChangeSet | None = None) -> None:
        """Show each viewport's plane from the open documents (nothing is reloaded); who may see
        which layer is asked again (a review or role change outside the session)."""
        if changes is None:
            self._layers.clear()
        for view in self.views():
            self.refresh_view(view)
        self.sig_annotations_changed.emit()

    def refresh_view(self, view: Any, change: Any = None) -> None:
        """Give one viewport the rows of its plane (its asset, its layer) from the document."""
        if view.overlay is None:
            view.overlay = AnnotationPainter()
        painter = view.overlay
        painter.colours = self._colours
        asset_id = self.asset_id if view is self.viewport else getattr(view, "asset_id", None)
        if self.project is None or asset_id is None or view.source is None:
            painter.show(None, np.zeros(0, np.int64))
        elif (doc := self.document(asset_id, wait=False)) is None:
            painter.show(None, np.zeros(0, np.int64))     # drawn when the worker's read is in
            wanted = self._wanted.get(asset_id)
            if wanted is not None and view is self.viewport:
                wanted["spec"] = self._overlay_spec(asset_id)
        else:
            layer_id = getattr(view, "layer_id", None)
            layers = [layer_id] if layer_id is not None else self.visible_layers(asset_id)
            if layer_id is not None and layer_id not in self.visible_layers(asset_id):
                layers = []
            painter.show(doc, doc.rows_on(view.plane, layers), change, source=(view.plane, layers))
        view.update()

    def visible_annotations(self, asset_id: str, plane: Any = None, layer_id: str | None = None,
                            attribute: str | None = None, kind: str | None = None) -> list[Any]:
        """What this user may see (blind labeling hides other annotators' layers until review),
        as Annotation objects built from the open document. Panels that want a few of them say
        which (``attribute``: rows whose attributes name it; ``kind``: a geometry kind), so that
        only those are built, not one object per annotation of the asset. Nothing while the
        document is still being read (panels refresh when it is in)."""
        doc = self.document(asset_id, wait=False)
        if doc is None:
            return []
        layers = [l for l in self.visible_layers(asset_id) if layer_id is None or l == layer_id]
        if attribute is not None or kind is not None:
            rows = doc.rows_with_attribute(attribute, layers) if attribute is not None else doc.rows_of_kind(kind, layers)
            if kind is not None and attribute is not None:
                rows = rows[np.isin(rows, doc.rows_of_kind(kind, layers))]
            if plane is not None:
                rows = rows[np.isin(rows, doc.rows_on(plane, layers))]
        else:
            rows = doc.rows_on(plane, layers) if plane is not None else doc.live_rows(layers)
        return [doc.annotation(int(r)) for r in rows]

    def apply_changes(self, changes: ChangeSet) -> None:
        """Every applied ChangeSet (local edits, undo, review, sync merges) reaches the open
        documents here; they update themselves and tell the views which rows changed."""
        if changes.reviews or changes.layers or changes.users:
            self._layers.clear()
            for view in self.views():
                self.refresh_view(view)
        for doc in list(self.documents.values()):
            doc.apply_changes(changes)
        from labeldesk.core import document_snapshot
        if len(changes.annotations) >= document_snapshot.AHEAD_MIN:
            self.write_ahead(changes.annotations)

    def write_ahead(self, annotation_ids: Any) -> list[str]:
        """After a bulk change (an import, a sync round): the large assets it changed that are not
        open get their document snapshot and the zoomed-out overlay the active view would show of
        each written on a background thread (document_snapshot.write_ahead_later), so that the
        user's first open of one is not a cold read. Returns those assets."""
        import json

        from labeldesk.core import document_snapshot as snapshot
        from labeldesk.qt.viewer import overlay_cache
        if self.project is None or not snapshot.enabled():
            return []
        db = snapshot.store_file(self.project.conn)
        if db is None:
            return []
        try:
            found = [a for (a,) in self.project.conn.execute(
                "SELECT DISTINCT asset_id FROM annotations WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(annotation_ids)),))]
        except sqlite3.Error:                  # (SQLite without JSON functions: the first open reads)
            return []
        assets = snapshot.large(self.project.conn, [a for a in found if a not in self.documents
                                                    and a not in self._loading])
        specs = {a: self._overlay_spec(a, ahead=True) for a in assets}

        def overlay(doc: Document) -> None:
            spec = specs.get(doc.asset_id)
            if spec is not None:
                overlay_cache.prepare(doc, spec)
        snapshot.write_ahead_later(db, assets, each=overlay)
        return assets

    def _on_document_changed(self, doc: Document, change: Any) -> None:
        for view in self.views():
            asset_id = self.asset_id if view is self.viewport else getattr(view, "asset_id", None)
            if asset_id == doc.asset_id and view.source is not None:
                self.refresh_view(view, change)
        self.sig_document_changed.emit(doc, change)

    def _on_changed(self, changes: ChangeSet) -> None:
        if changes.classes:
            self.refresh_classes()
        self.sig_annotations_changed.emit()

    # ---- tool and class -----------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        self.tool.deactivate()
        self.tool = self.tools[name]
        self.viewport.tool = self.tool
        self.tool.activate()
        self.sig_tool_changed.emit(name)

    def set_active_class(self, class_id: str | None) -> None:
        self.active_class_id = class_id
        self.sig_class_changed.emit(class_id)

    def message(self, text: str) -> None:
        self.sig_message.emit(text)

    # ---- edits --------------------------------------------------------------------------------
    def commit(self, drafts: list[OpDraft], text: str, merge_key: str | None = None) -> bool:
        try:
            push(self.undo_stack, self.project, drafts, text, self._on_changed, merge_key)
        except OpRejected as exc:
            self.message(f"{text}: not saved: {exc}")
            return False
        return True

    def create(self, geometry: dict[str, Any], text: str) -> str | None:
        if self.project is None or self.asset_id is None:
            return None
        class_id = self.active_class_id
        if class_id is not None:
            cls = next((c for c in self.project.classes() if c.id == class_id), None)
            if cls is not None and cls.kinds and geometry["kind"] not in cls.kinds:
                self.message(f"class {cls.name!r} allows {', '.join(cls.kinds)}, not {geometry['kind']}")
                return None
        ann_id = ids.new_id()
        draft = OpDraft("annotation.create", ann_id, {"annotation": {
            "asset_id": self.asset_id, "layer_id": self.project.my_layer_id, "class_id": class_id,
            "plane": self.viewport.plane.to_dict(), "geometry": geometry, "attributes": {}}})
        if self.commit([draft], text):
            self.select({ann_id})
            return ann_id
        return None

    def _edit_drafts(self, changes: dict[str, Any]) -> list[OpDraft]:
        """Geometry updates plus, for track members, the keyframe flag and re-interpolation."""
        from labeldesk.core.tracks import after_edit
        drafts = [OpDraft("annotation.update", ann_id, {"set": {"geometry": geom.to_dict()}})
                  for ann_id, geom in changes.items()]
        for ann_id, geom in changes.items():
            ann = self.project.annotation(ann_id)
            if ann is not None and ann.track_id:
                drafts += after_edit(self.project, ann, geom)
        return drafts

    def move(self, originals: dict[str, Any], dx: float, dy: float, merge_key: str) -> None:
        self.commit(self._edit_drafts({a: g.translate(dx, dy) for a, g in originals.items()}), "Move", merge_key)

    def reorder(self, to_front: bool) -> None:
        """Bring the selection to the front of its plane, or send it to the back."""
        chosen = sorted(self.painter.selected)
        if not chosen:
            return
        doc, rows = self.painter.doc, self.painter.rows
        zs = doc.z_order[rows].tolist() if doc is not None and len(rows) else [0.0]
        base = max(zs) + 1 if to_front else min(zs) - len(chosen)
        self.commit([OpDraft("annotation.update", a, {"set": {"z_order": base + i}}) for i, a in enumerate(chosen)],
                    "Bring to front" if to_front else "Send to back")

    def delete_selected(self) -> None:
        chosen = sorted(self.painter.selected - self.locked)
        if len(chosen) < len(self.painter.selected):
            self.message("locked annotations were not deleted (unlock them in the Annotations panel)")
        if chosen:
            self.commit([OpDraft("annotation.delete", a, {}) for a in chosen], f"Delete {len(chosen)}")
            self.select(set())

    def set_class_of_selected(self, class_id: str | None) -> bool:
        chosen = sorted(self.painter.selected)
        if chosen:
            return self.commit([OpDraft("annotation.update", a, {"set": {"class_id": class_id}}) for a in chosen],
                               "Change class")
        return False

    def replace_vertices(self, annotation: Any, points: list[tuple[float, float]], text: str,
                         merge_key: str | None = None) -> None:
        from labeldesk.core.geometry import GeometryError, Polygon, Polyline
        try:
            geom = (Polygon(tuple(points), annotation.geometry.holes) if annotation.geometry.kind == "polygon"
                    else Polyline(tuple(points)))
        except GeometryError as exc:
            self.message(f"{text}: {exc}")
            return
        self.commit(self._edit_drafts({annotation.id: geom}), text, merge_key)

    def update_geometry(self, annotation_id: str, geometry: Any, text: str) -> None:
        self.commit(self._edit_drafts({annotation_id: geometry}), text)

    def delete(self, annotation_ids: list[str], text: str) -> None:
        self.commit([OpDraft("annotation.delete", a, {}) for a in annotation_ids], text)

    def set_attributes(self, annotation_id: str, values: dict[str, Any]) -> bool:
        return self.commit([OpDraft("annotation.update", annotation_id, {"set": {"attributes": values}})],
                           "Edit attributes")

    # ---- settings of the semi-automatic tools ---------------------------------------------------
    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = float(min(200.0, max(0.5, radius)))
        self.message(f"brush size {2 * self.brush_radius:.0f} px")

    @property
    def threshold_range(self) -> tuple[float, float]:
        """The threshold tool's range (physical units); by default the current window."""
        if self._threshold is not None:
            return self._threshold
        c, w = self.viewport.window
        return (c - w / 2, c + w / 2)

    def set_threshold_range(self, low: float, high: float) -> None:
        self._threshold = (min(low, high), max(low, high))

    # ---- clipboard, copy to the next plane, interpolation ---------------------------------------
    def selected_annotations(self) -> list[Any]:
        return self.painter.selected_annotations()

    def copy(self) -> None:
        self.clipboard = self.selected_annotations()
        self.message(f"copied {len(self.clipboard)} annotation(s)")

    def paste(self) -> None:
        from labeldesk.core.interpolation import copy_to_plane
        if not self.clipboard or self.asset_id is None:
            return
        plane = self.viewport.plane.to_dict()
        drafts = [copy_to_plane(a, plane, self.project.my_layer_id) for a in self.clipboard
                  if a.asset_id == self.asset_id]
        if drafts and self.commit(drafts, f"Paste {len(drafts)}"):
            self.select({d.entity for d in drafts})

    def copy_to_next(self, step: int = 1) -> None:
        """Copy the selection to the next slice (volumes) or frame (video) and go there."""
        from dataclasses import replace

        from labeldesk.core.interpolation import copy_to_plane
        chosen = self.selected_annotations()
        if not chosen:
            self.message("select annotations to copy to the next slice or frame")
            return
        info = self.viewport.source.info
        field = "t" if info.kind == "video" or (info.frames > 1 and info.kind != "volume") else "z"
        target = replace(self.viewport.plane, **{field: getattr(self.viewport.plane, field) + step})
        drafts = [copy_to_plane(a, target.to_dict(), self.project.my_layer_id) for a in chosen]
        if self.commit(drafts, "Copy to next"):
            self.viewport.set_plane(target)
            self.select({d.entity for d in drafts})

    def interpolate_selection(self) -> None:
        """Link the two selected annotations (on different frames or slices) as keyframes of one
        track and interpolate between them (one undo step). Editing an in-between later makes it a
        keyframe and re-interpolates its neighbours."""
        from labeldesk.core.errors import LabeldeskError
        from labeldesk.core.geometry import GeometryError
        from labeldesk.core.tracks import link_many
        chosen = [self.project.annotation(a) for a in sorted(self.painter.selected)]
        if len(chosen) < 2:
            self.message("a track needs two or more annotations on different slices or frames: "
                         "pick them in the Annotations list (Ctrl+click), then Ctrl+I")
            return
        try:
            drafts = link_many(self.project, chosen)
        except (GeometryError, LabeldeskError) as exc:
            self.message(f"interpolation: {exc}")
            return
        made = sum(d.type == "annotation.create" for d in drafts)
        if drafts and self.commit(drafts, f"Interpolate {made} planes"):
            self.message(f"interpolated {made} planes")

    def classify(self, scope: str) -> None:
        """Give the active class to the whole asset (scope 'asset') or to the current slice/frame."""
        if self.asset_id is None or self.active_class_id is None:
            self.message("pick a class first (keys 1–9 or the Classes panel), then classify")
            return
        payload = {"asset_id": self.asset_id, "layer_id": self.project.my_layer_id, "scope": scope,
                   "class_id": self.active_class_id}
        if scope == "plane":
            payload["plane"] = self.viewport.plane.to_dict()
        if self.commit([OpDraft("classification.add", ids.new_id(), payload)],
                       "Classify asset" if scope == "asset" else "Classify slice/frame"):
            self.sig_annotations_changed.emit()

    def select(self, annotation_ids: set[str]) -> None:
        self.painter.selected = set(annotation_ids)
        self.viewport.update()
        self.sig_selection_changed.emit(set(annotation_ids))
