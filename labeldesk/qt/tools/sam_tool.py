"""Interactive segmentation with a SAM-family model (Z): click the object, refine click by click.

* left click: part of the object; right click or Shift+click: not part of it; drag: a box;
* Backspace: take back the last click; Enter: keep the mask (as a mask or a polygon, as set in
  the Models panel) as an ordinary annotation of the active class; Esc: start again.

The image embedding of a plane is computed on the thread pool as soon as the plane is shown (while
a SAM model is chosen) and kept per plane in a memory-bounded cache, so clicks only run the
decoder. :class:`SamAssist` owns the model, the cache and the background work; the tool only turns
mouse and keys into prompts.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui

from labeldesk.core.geometry import GeometryError
from labeldesk.core.models.sam import NEGATIVE, POSITIVE, EmbeddingCache, Prompt, Result, SamModel
from labeldesk.qt.tools.base import Tool


class _EmbedJob(QtCore.QRunnable):
    def __init__(self, assist: "SamAssist", key: Any, model: SamModel, pixels: np.ndarray) -> None:
        super().__init__()
        self.assist, self.key, self.model, self.pixels = assist, key, model, pixels

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            emb = self.model.embed(self.pixels)
        except Exception as exc:  # reported in the status bar, never lost
            self.assist.sig_embed_failed.emit(self.key, str(exc) or type(exc).__name__)
            return
        self.assist.cache.put(self.key, emb)
        self.assist.sig_embedded.emit(self.key)


class _LoadJob(QtCore.QRunnable):
    """Open the encoder and decoder sessions (seconds for the large SAM models) off the GUI thread."""

    def __init__(self, assist: "SamAssist", record: Any, encoder: Any, decoder: Any) -> None:
        super().__init__()
        self.assist, self.record, self.encoder, self.decoder = assist, record, encoder, decoder

    def run(self) -> None:  # noqa: D401 - Qt override
        try:
            model = SamModel(self.record.manifest, self.encoder, self.decoder)
        except Exception as exc:  # reported in the status bar, never lost
            self.assist.sig_embed_failed.emit(None, str(exc) or type(exc).__name__)
            return
        self.assist.sig_loaded.emit(self.record, model)


class SamAssist(QtCore.QObject):
    """The chosen SAM model, its per-plane embeddings and their background computation."""

    sig_embedded = QtCore.Signal(object)          # cache key
    sig_embed_failed = QtCore.Signal(object, str)
    sig_model_changed = QtCore.Signal(object)     # the model record or None, once its sessions are open
    sig_loaded = QtCore.Signal(object, object)    # record, SamModel (from the loading job)

    def __init__(self, parent: QtCore.QObject | None = None, max_bytes: int = 512 << 20) -> None:
        super().__init__(parent)
        self.record: Any = None
        self.model: SamModel | None = None
        self.cache = EmbeddingCache(max_bytes)
        self.output = "mask"                      # or "polygon"
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)            # one encoder at a time: it uses every core already
        self._pending: set[Any] = set()
        self.sig_embedded.connect(lambda key: self._pending.discard(key))
        self.sig_embed_failed.connect(lambda key, _m: self._pending.discard(key))
        self.sig_loaded.connect(self._on_loaded)

    def set_model(self, project: Any, record: Any) -> None:
        """Choose ``record`` (None: no model); its sessions open on the pool, then
        ``sig_model_changed`` fires. Raises LabeldeskError when its files are not here."""
        from labeldesk.core.models.registry import file_path
        self.record, self.model = record, None
        if record is None:
            self.sig_model_changed.emit(None)
            return
        self.pool.start(_LoadJob(self, record, file_path(project, record, "encoder"),
                                 file_path(project, record, "decoder")))

    def _on_loaded(self, record: Any, model: SamModel) -> None:
        if record is self.record:
            self.model = model
            self.sig_model_changed.emit(record)

    @property
    def loading(self) -> bool:
        return self.record is not None and self.model is None

    def key(self, view: Any) -> Any:
        return (self.record.id if self.record else None, view.asset_id, view.plane.key())

    def plane_shown(self, view: Any) -> None:
        """Start computing the embedding of ``view``'s plane unless it is cached or under way."""
        if self.model is None or view.asset_id is None or view._plane_pixels is None:
            return
        key = self.key(view)
        if key in self.cache or key in self._pending:
            return
        self._pending.add(key)
        self.pool.start(_EmbedJob(self, key, self.model, np.array(view._plane_pixels, copy=True)))

    def busy(self, key: Any) -> bool:
        return key in self._pending

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)


class SamTool(Tool):
    name, label, shortcut = "sam", "AI segment (SAM)", "Z"

    def __init__(self, session: Any, assist: SamAssist) -> None:
        super().__init__(session)
        self.assist = assist
        self.prompt = Prompt()
        self.result: Result | None = None
        self._key: Any = None
        self._press: tuple[tuple[float, float], Any] | None = None
        self.last_accepted: tuple[Any, Any, np.ndarray] | None = None      # (asset id, plane, mask)
        assist.sig_embedded.connect(self._on_embedded)
        assist.sig_embed_failed.connect(lambda _k, text: self.session.message(f"SAM: {text}"))

    # ---- prompts ------------------------------------------------------------------------------
    def activate(self) -> None:
        super().activate()
        if self.assist.model is None:
            self.session.message("AI segment: opening the model…" if self.assist.loading else
                                 "AI segment: choose a SAM model in the Models panel (Models ▸ Add model… first)")
            return
        if self.view._plane_pixels is None:
            self.session.message("AI segment works on images, frames and slices, not on tiled large images yet")
            return
        self.assist.plane_shown(self.view)

    def press(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self.assist.model is None or event.button() not in (QtCore.Qt.MouseButton.LeftButton,
                                                               QtCore.Qt.MouseButton.RightButton):
            return False
        self._press = (image_xy, event.button())
        return True

    def move(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self._press is None or self._press[1] != QtCore.Qt.MouseButton.LeftButton:
            return False
        (x0, y0), (x1, y1) = self._press[0], image_xy
        if abs(x1 - x0) + abs(y1 - y0) > 4:
            from labeldesk.core.geometry import Box
            try:
                self.painter.preview = Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            except GeometryError:
                pass
            self.view.update()
        return True

    def release(self, image_xy: tuple[float, float], event: Any) -> bool:
        if self._press is None:
            return False
        (x0, y0), button = self._press
        self._press = None
        x1, y1 = image_xy
        if self._key != self.assist.key(self.view):
            self.prompt, self.result = Prompt(), None
        if button == QtCore.Qt.MouseButton.LeftButton and abs(x1 - x0) + abs(y1 - y0) > 4:
            self.prompt.box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        else:
            negative = button == QtCore.Qt.MouseButton.RightButton or bool(
                event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
            self.prompt.points.append((x0, y0, NEGATIVE if negative else POSITIVE))
        self.refresh()
        return True

    def key(self, event: QtGui.QKeyEvent) -> bool:
        k = event.key()
        if k in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            self.accept()
            return True
        if k == QtCore.Qt.Key.Key_Backspace and self.prompt.points:
            self.prompt.points.pop()
            self.result = None                   # refine from scratch without the last click
            self.refresh()
            return True
        return super().key(event)

    def cancel(self) -> None:
        self.prompt, self.result, self._press = Prompt(), None, None
        super().cancel()

    # ---- decode -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Decode the current prompt on the cached embedding (or wait for it)."""
        model = self.assist.model
        if model is None or self.prompt.empty:
            self.painter.preview = None
            self.view.update()
            return
        self._key = self.assist.key(self.view)
        emb = self.assist.cache.get(self._key)
        if emb is None:
            self.assist.plane_shown(self.view)
            self.session.message("AI segment: computing this plane's embedding… your clicks are kept")
            return
        previous = self.result.low_res if self.result is not None and len(self.prompt.points) > 1 else None
        try:
            self.result = model.decode(emb, self.prompt, previous)
        except GeometryError as exc:
            self.session.message(f"AI segment: {exc}")
            return
        self.painter.preview = self.result.geometry() if self.result.mask.any() else None
        self.view.update()
        n_pos = sum(1 for p in self.prompt.points if p[2] == POSITIVE)
        self.session.message(f"AI segment: {n_pos} + / {len(self.prompt.points) - n_pos} − click(s), "
                             f"score {self.result.score:.2f} — Enter keeps it, right-click excludes, Backspace undoes")

    def _on_embedded(self, key: Any) -> None:
        if key == self._key and not self.prompt.empty and self.result is None:
            self.refresh()

    def accept(self) -> str | None:
        if self.result is None or not self.result.mask.any():
            self.session.message("AI segment: nothing to keep yet (click on the object)")
            return None
        geom = self.result.geometry()
        if self.assist.output == "polygon":
            from labeldesk.core.assist.contours import mask_to_polygons
            polys = mask_to_polygons(geom)
            if polys:
                geom = max(polys, key=lambda p: p.area())
        ann_id = self.session.create(geom.to_dict(), f"AI segment ({self.assist.record.name})")
        if ann_id is not None:
            self.last_accepted = (self.view.asset_id, self.view.plane, self.result.mask.copy())
        self.cancel()
        return ann_id
