"""One viewport: shows one plane of an asset with pan, zoom, slice/frame stepping and W/L.

Coordinates: ``view_xy`` are widget pixels; ``image_xy`` are level-0 pixels of the current plane.
Large pyramid assets are read as the visible region at the level the zoom needs, never level 0
whole. Display pixels come from ``core.display.window_level`` and are wrapped by a QImage without
a copy (the array is kept alive beside it).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.core.display import CT_PRESETS, auto_window, window_level
from labeldesk.core.io.tiles import level_for_scale
from labeldesk.core.model import Plane
from labeldesk.qt.viewer import corner_overlay, measurement_overlay, segment_overlay

ZOOM_STEP = 1.25
COLOURMAPS = ("grey", "hot", "bone", "viridis", "jet")
OVERVIEW_SIDE = 180



def fit_zoom(view_width: int, view_height: int, width: int, height: int, aspect: float = 1.0) -> float:
    """The zoom at which a ``width`` x ``height`` plane fits a view of that size (with a margin)."""
    return max(1e-4, min(view_width / width, view_height / (height * aspect)) * 0.98)

class ViewportView(QtWidgets.QWidget):
    sig_readout = QtCore.Signal(str)
    sig_plane_changed = QtCore.Signal(object)
    sig_window_changed = QtCore.Signal(float, float)
    sig_crosshair_requested = QtCore.Signal(object, object)      # this view, image_xy
    sig_view_changed = QtCore.Signal()                           # pan or zoom moved
    sig_escape = QtCore.Signal()                                 # Esc that no tool used (cancels loading)
    sig_clicked = QtCore.Signal(object, object)                  # this view, image_xy (where issues are pinned)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 200)
        self.source: Any = None
        self.plane = Plane()
        self.zoom = 1.0                     # view px per displayed image px (before aspect)
        self.center = (0.0, 0.0)            # image_xy at the widget centre
        self.window: tuple[float, float] = (127.5, 255.0)
        self.invert = False
        self.message = "No asset selected"
        self._painted_once = False          # set by the edit session's first-paint watch
        self._plane_pixels: np.ndarray | None = None
        self._drag: tuple[str, QtCore.QPointF, Any] | None = None
        self._display: tuple[np.ndarray, QtGui.QImage, QtCore.QRectF] | None = None
        self.colourmap = "grey"
        self.crosshair_ijk: tuple[int, int, int] | None = None
        self._overview: tuple[Any, QtGui.QImage, np.ndarray] | None = None
        self.overlay: Any = None            # draws annotations (AnnotationPainter)
        self.pins: list[tuple[Any, tuple[float, float], bool]] = []   # review issues: (plane, image_xy, open)
        self.tool: Any = None               # the active annotation tool, fed image_xy events
        self.tile_loader: Any = None        # decodes pyramid tiles off the GUI thread when set

    # ---- source and state ----------------------------------------------------------------------
    def set_source(self, source: Any) -> None:
        """Show ``source`` (the window owns sources and may share one among viewports)."""
        self.source = source
        self._overview = None
        self.crosshair_ijk = None
        self.sig_readout.emit("")            # the readout of the asset shown before is stale
        self.plane = Plane()
        if source is not None and source.info.kind == "volume":
            self.plane = Plane(z=source.plane_count("axial") // 2)
        self._load_plane()
        self.reset_window()
        self.fit()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    @property
    def rescale(self) -> tuple[float, float]:
        return tuple(self.source.info.rescale) if self.source is not None else (1.0, 0.0)  # type: ignore[return-value]

    def plane_size(self) -> tuple[int, int]:
        return self.source.plane_size(self.plane) if self.source is not None else (1, 1)

    def _load_plane(self) -> None:
        self._display = None
        if self.source is None or self.source.info.kind == "pyramid":
            self._plane_pixels = None
        else:
            self._plane_pixels = self.source.read_plane(self.plane)
        self.update()
        self.sig_plane_changed.emit(self.plane)

    def set_plane(self, plane: Plane) -> None:
        if self.source is None:
            return
        info = self.source.info
        n = self.source.plane_count(plane.axis)
        frames = info.frames
        plane = Plane(min(max(plane.z, 0), n - 1), min(max(plane.t, 0), frames - 1), plane.axis)
        if plane != self.plane:
            axis_changed = plane.axis != self.plane.axis
            self.plane = plane
            self._load_plane()
            if axis_changed:
                self.fit()

    # aspect: physical height of a displayed pixel row relative to its width; flip for volumes
    def _geometry(self) -> tuple[float, bool]:
        """(aspect, flip down) of the plane on screen."""
        aspect = 1.0
        info = self.source.info if self.source is not None else None
        if info is not None and info.kind == "volume" and info.spacing:
            sx, sy, sz = info.spacing
            aspect = {"axial": sy / sx, "coronal": sz / sx}.get(self.plane.axis, sz / sy)
        return aspect, self.flips()[1]

    def flips(self) -> tuple[bool, bool]:
        """(mirrored left-right, upside down): volumes are shown in the radiological convention
        whatever their storage order (``orientation.display_flips``); images and video never."""
        info = self.source.info if self.source is not None else None
        if info is None or info.kind != "volume" or not info.affine:
            return False, False
        key = (id(info), self.plane.axis)
        if getattr(self, "_flips", (None,))[0] != key:
            from labeldesk.core.orientation import display_flips
            self._flips = (key, display_flips(info.affine, self.plane.axis))
        return self._flips[1]

    # ---- coordinates --------------------------------------------------------------------------
    def _scales(self) -> tuple[float, float]:
        aspect, _ = self._geometry()
        return self.zoom, self.zoom * aspect

    def view_to_image(self, view_xy: QtCore.QPointF) -> tuple[float, float]:
        kx, ky = self._scales()
        flip_x, flip_y = self.flips()
        x_disp = self.center[0] + (view_xy.x() - self.width() / 2) / kx
        y_disp = self.center[1] + (view_xy.y() - self.height() / 2) / ky
        w, h = self.plane_size()
        return (w - x_disp if flip_x else x_disp), (h - y_disp if flip_y else y_disp)

    def image_to_view(self, x: float, y: float) -> QtCore.QPointF:
        kx, ky = self._scales()
        flip_x, flip_y = self.flips()
        w, h = self.plane_size()
        x_disp = w - x if flip_x else x
        y_disp = h - y if flip_y else y
        return QtCore.QPointF((x_disp - self.center[0]) * kx + self.width() / 2,
                              (y_disp - self.center[1]) * ky + self.height() / 2)

    def image_transform(self) -> QtGui.QTransform:
        """The image_xy -> view_xy mapping as a QTransform (for drawing whole paths in C++)."""
        kx, ky = self._scales()
        flip_x, flip_y = self.flips()
        w, h = self.plane_size()
        # view = (disp - c) * k + half, disp = x or (w - x)
        if flip_x:
            m11, dx = -kx, (w - self.center[0]) * kx + self.width() / 2
        else:
            m11, dx = kx, self.width() / 2 - self.center[0] * kx
        if flip_y:
            m22, dy = -ky, (h - self.center[1]) * ky + self.height() / 2
        else:
            m22, dy = ky, self.height() / 2 - self.center[1] * ky
        return QtGui.QTransform(m11, 0, 0, m22, dx, dy)

    def draw_plane_image(self, painter: QtGui.QPainter, x0: float, y0: float, x1: float, y1: float,
                         image: QtGui.QImage) -> None:
        """Draw ``image`` over the image_xy rectangle (x0, y0)-(x1, y1), mirrored as the plane is."""
        p0, p1 = self.image_to_view(x0, y0), self.image_to_view(x1, y1)
        fx, fy = p0.x() > p1.x(), p0.y() > p1.y()
        if fx or fy:
            image = image.mirrored(fx, fy)
        painter.drawImage(QtCore.QRectF(p0, p1).normalized(), image)

    # ---- navigation ---------------------------------------------------------------------------
    def fit(self) -> None:
        w, h = self.plane_size()
        aspect, _ = self._geometry()
        self.zoom = fit_zoom(self.width(), self.height(), w, h, aspect)
        self.center = (w / 2, h / 2)
        self._display = None
        self.update()

    def zoom_by(self, factor: float, anchor: QtCore.QPointF | None = None) -> None:
        anchor = anchor or QtCore.QPointF(self.width() / 2, self.height() / 2)
        before = self.view_to_image(anchor)
        self.zoom = min(64.0, max(1e-4, self.zoom * factor))
        after = self.view_to_image(anchor)
        flip_x, flip_y = self.flips()            # the centre is in displayed (mirrored) coordinates
        dx = (after[0] - before[0]) * (-1 if flip_x else 1)
        dy = (after[1] - before[1]) * (-1 if flip_y else 1)
        self.center = (self.center[0] - dx, self.center[1] - dy)
        self._display = None
        self.update()
        self.sig_view_changed.emit()

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def step_slice(self, n: int) -> None:
        self.set_plane(replace(self.plane, z=max(0, self.plane.z + n)))

    def step_frame(self, n: int) -> None:
        self.set_plane(replace(self.plane, t=max(0, self.plane.t + n)))

    def next_slice(self) -> None: self.step_slice(1)
    def prev_slice(self) -> None: self.step_slice(-1)
    def next_slice_10(self) -> None: self.step_slice(10)
    def prev_slice_10(self) -> None: self.step_slice(-10)
    def next_frame(self) -> None: self.step_frame(1)
    def prev_frame(self) -> None: self.step_frame(-1)
    def next_frame_10(self) -> None: self.step_frame(10)
    def prev_frame_10(self) -> None: self.step_frame(-10)

    def show_axis(self, axis: str) -> None:
        if self.source is None or self.source.info.kind != "volume":
            return
        n = self.source.plane_count(axis)
        self.set_plane(Plane(n // 2, self.plane.t, axis))

    def show_axial(self) -> None: self.show_axis("axial")
    def show_coronal(self) -> None: self.show_axis("coronal")
    def show_sagittal(self) -> None: self.show_axis("sagittal")

    # ---- window / level -----------------------------------------------------------------------
    def set_window(self, center: float, width: float) -> None:
        if (float(center), max(1e-3, float(width))) == self.window:
            return
        self.window = (float(center), max(1e-3, float(width)))
        self._display = None
        self.update()
        self.sig_window_changed.emit(*self.window)

    def reset_window(self) -> None:
        if self.source is None:
            return
        info = self.source.info
        if info.window:
            self.set_window(*info.window)
        elif info.dtype == "uint8":
            self.set_window(127.5, 255.0)
        else:
            sample = self._plane_pixels if self._plane_pixels is not None else \
                self.source.read_plane(self.plane, len(info.levels) - 1 if info.levels else 0)
            self.set_window(*auto_window(sample, *self.rescale))

    def preset(self, name: str) -> None:
        self.set_window(*CT_PRESETS[name])

    def preset_brain(self) -> None: self.preset("brain")
    def preset_lung(self) -> None: self.preset("lung")
    def preset_bone(self) -> None: self.preset("bone")
    def preset_abdomen(self) -> None: self.preset("abdomen")
    def preset_soft(self) -> None: self.preset("soft tissue")

    def preset_auto(self) -> None:
        if self._plane_pixels is not None:
            self.set_window(*auto_window(self._plane_pixels, *self.rescale))

    def toggle_invert(self) -> None:
        self.invert = not self.invert
        self._display = None
        self.update()

    # ---- pixels -------------------------------------------------------------------------------
    def value_at(self, x: float, y: float) -> tuple[Any, Any] | None:
        """(stored, rescaled) value under image_xy, or None outside the plane."""
        if self.source is None:
            return None
        w, h = self.plane_size()
        ix, iy = int(np.floor(x)), int(np.floor(y))
        if not (0 <= ix < w and 0 <= iy < h):
            return None
        if self._plane_pixels is not None:
            v = self._plane_pixels[iy, ix]
        else:
            v = self.source.read_region(0, ix, iy, 1, 1, self.plane)[0, 0]
        if np.ndim(v):
            return tuple(int(c) for c in v), None
        slope, intercept = self.rescale
        stored = v.item()
        return stored, stored * slope + intercept

    def _render(self) -> tuple[np.ndarray, QtGui.QImage, QtCore.QRectF]:
        """Display image of the visible part and the image_xy rect it covers (cached until moved)."""
        if self._display is not None:
            return self._display
        info = self.source.info
        if self._plane_pixels is not None:
            pixels, rect = self._plane_pixels, QtCore.QRectF(0, 0, *self.plane_size())
        else:
            level = level_for_scale(self.zoom, len(info.levels))
            f = 2 ** level
            lw, lh = info.levels[level]
            tl = self.view_to_image(QtCore.QPointF(0, 0))
            br = self.view_to_image(QtCore.QPointF(self.width(), self.height()))
            x0, y0 = max(0, int(tl[0] / f) - 1), max(0, int(tl[1] / f) - 1)
            x1, y1 = min(lw, int(br[0] / f) + 2), min(lh, int(br[1] / f) + 2)
            if self.tile_loader is not None and hasattr(self.source, "read_tile"):
                pixels = self._compose_tiles(level, x0, y0, max(1, x1 - x0), max(1, y1 - y0))
            else:
                pixels = self.source.read_region(level, x0, y0, max(1, x1 - x0), max(1, y1 - y0))
            rect = QtCore.QRectF(x0 * f, y0 * f, pixels.shape[1] * f, pixels.shape[0] * f)
        slope, intercept = self.rescale
        invert = self.invert != (info.photometric == "MONOCHROME1")
        disp = np.ascontiguousarray(window_level(pixels, *self.window, slope=slope, intercept=intercept,
                                                 invert=invert))
        if self.colourmap != "grey" and disp.ndim == 2:
            disp = apply_colourmap(disp, self.colourmap)
        if disp.ndim == 3:
            disp = np.ascontiguousarray(disp[..., :3])
            fmt = QtGui.QImage.Format.Format_RGB888
        else:
            fmt = QtGui.QImage.Format.Format_Grayscale8
        image = QtGui.QImage(disp.data, disp.shape[1], disp.shape[0], disp.strides[0], fmt)
        self._display = (disp, image, rect)
        return self._display

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QtGui.QPainter(self)
        painter.fillRect(self.rect(), QtGui.QColor(18, 18, 20))
        if self.source is None:
            painter.setPen(QtGui.QColor(170, 170, 170))
            painter.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, self.message)
            return
        disp, image, rect = self._render()
        p0 = self.image_to_view(rect.left(), rect.top())
        p1 = self.image_to_view(rect.right(), rect.bottom())
        target = QtCore.QRectF(p0, p1).normalized()
        flip = self.flips()
        blit = self._prescaled(disp, target, flip)
        if blit is not None:                 # OpenCV resizes the visible part; Qt only copies
            painter.drawImage(blit[0], blit[1])
        else:
            painter.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 1)
            if any(flip):
                image = image.mirrored(*flip)
            painter.drawImage(target, image)
        segment_overlay.paint(painter, self)
        if self.overlay is not None:
            self.overlay.paint(painter, self)
            measurement_overlay.paint(painter, self)
        self._draw_crosshair(painter)
        self._draw_pins(painter)
        corner_overlay.paint(painter, self)
        self._draw_scale_bar(painter)
        self._draw_overview(painter)

    def _draw_pins(self, painter: QtGui.QPainter) -> None:
        """Review issues pinned to this plane: a filled marker while open, a ring once resolved."""
        here = [(xy, is_open) for plane, xy, is_open in self.pins if plane == self.plane]
        if not here:
            return
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for (x, y), is_open in here:
            c = self.image_to_view(x, y)
            painter.setPen(QtGui.QPen(QtGui.QColor("white"), 1.5))
            painter.setBrush(QtGui.QColor(255, 140, 0) if is_open else QtCore.Qt.BrushStyle.NoBrush)
            painter.drawEllipse(c, 6.0, 6.0)
            painter.drawLine(c + QtCore.QPointF(0, 6), c + QtCore.QPointF(0, 14))
        painter.restore()

    def _compose_tiles(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """The region from cached tiles; missing ones are drawn from the coarsest level (always in
        memory) and requested from the tile loader, centre first."""
        from labeldesk.core.io.opencv import cv2
        from labeldesk.core.io.tiles import tiles_for_rect
        src, info = self.source, self.source.info
        top = len(info.levels) - 1
        if getattr(self, "_coarse", None) is None or self._coarse[0] is not src:
            self._coarse = (src, src.read_plane(self.plane, top))
        coarse = self._coarse[1]
        t = src.tile
        shape = (h, w) + ((info.channels,) if info.channels > 1 else ())
        out = np.zeros(shape, dtype=np.dtype(info.dtype))
        missing = []
        for key in tiles_for_rect(info.levels[level], t, x, y, x + w, y + h, level):
            tx0, ty0 = key.col * t, key.row * t
            tile = src.cache.get((src.path, level, key.col, key.row))
            sx0, sy0 = max(x, tx0), max(y, ty0)
            if tile is None:
                missing.append(tuple(key))
                lw, lh = info.levels[level]
                sx1, sy1 = min(x + w, tx0 + t, lw), min(y + h, ty0 + t, lh)
                if sx1 <= sx0 or sy1 <= sy0:
                    continue
                k = 2 ** (top - level)             # placeholder: the coarse level, scaled up
                cx0, cy0 = int(sx0 / k), int(sy0 / k)
                cx1, cy1 = max(cx0 + 1, int(np.ceil(sx1 / k))), max(cy0 + 1, int(np.ceil(sy1 / k)))
                patch = coarse[cy0:cy1, cx0:cx1]
                if patch.size:
                    up = cv2.resize(patch, (sx1 - sx0, sy1 - sy0), interpolation=cv2.INTER_LINEAR)
                    out[sy0 - y:sy1 - y, sx0 - x:sx1 - x] = up
                continue
            sx1, sy1 = min(x + w, tx0 + tile.shape[1]), min(y + h, ty0 + tile.shape[0])
            out[sy0 - y:sy1 - y, sx0 - x:sx1 - x] = tile[sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0]
        self.tile_loader.request(src, missing)
        self.missing_tiles = len(missing)
        return out

    def _prescaled(self, disp: np.ndarray, target: QtCore.QRectF, flip: tuple[bool, bool]) -> Any:
        """(top-left, QImage) of the visible part of ``disp`` resized to screen pixels by OpenCV,
        cached until the display image or the view moves; None when Qt should scale instead."""
        from labeldesk.core.io.opencv import cv2
        visible = target.intersected(QtCore.QRectF(self.rect()))
        if visible.isEmpty() or target.width() < 1 or target.height() < 1:
            return None
        # keyed on the display array itself, not its id(): a new array may reuse a freed one's
        # address, and an id key then showed the old window's pixels after a W/L change
        key = (target.getRect(), flip)
        cached = getattr(self, "_blit", None)
        if cached is not None and cached[0] is disp and cached[1] == key:
            return cached[2]
        sx, sy = disp.shape[1] / target.width(), disp.shape[0] / target.height()
        x0, x1 = (visible.left() - target.left()) * sx, (visible.right() - target.left()) * sx
        y0, y1 = (visible.top() - target.top()) * sy, (visible.bottom() - target.top()) * sy
        flip_x, flip_y = flip
        src = cv2.flip(disp, -1 if flip_x and flip_y else (1 if flip_x else 0)) if (flip_x or flip_y) else disp
        cx0, cy0 = int(np.floor(x0)), int(np.floor(y0))
        cx1, cy1 = min(src.shape[1], int(np.ceil(x1))), min(src.shape[0], int(np.ceil(y1)))
        crop = src[cy0:cy1, cx0:cx1]
        if crop.size == 0:
            return None
        # the crop starts at pixel (cx0, cy0): place it where that pixel lands on screen
        left = target.left() + cx0 / sx
        top = target.top() + cy0 / sy
        w, h = max(1, round(crop.shape[1] / sx)), max(1, round(crop.shape[0] / sy))
        interp = cv2.INTER_NEAREST if sx < 1 else cv2.INTER_AREA
        scaled = np.ascontiguousarray(cv2.resize(crop, (w, h), interpolation=interp))
        fmt = QtGui.QImage.Format.Format_RGB888 if scaled.ndim == 3 else QtGui.QImage.Format.Format_Grayscale8
        qimg = QtGui.QImage(scaled.data, w, h, scaled.strides[0], fmt)
        result = (QtCore.QPointF(round(left), round(top)), qimg, scaled)
        self._blit = (disp, key, result)
        return result

    def _on_tile_ready(self) -> None:
        self._display = None
        self.update()

    def cycle_colourmap(self) -> None:
        self.colourmap = COLOURMAPS[(COLOURMAPS.index(self.colourmap) + 1) % len(COLOURMAPS)]
        self._display = None
        self.update()

    def pixel_mm(self) -> float | None:
        """mm per displayed image pixel horizontally, where the asset is calibrated."""
        info = self.source.info if self.source is not None else None
        if info is None or not info.spacing or info.kind != "volume":
            return None
        sx, sy, _ = info.spacing
        return sx if self.plane.axis in ("axial", "coronal") else sy

    def crosshair_xy(self) -> tuple[float, float] | None:
        """Where the crosshair (a voxel ijk) lies in this view's plane, in image_xy."""
        if self.crosshair_ijk is None:
            return None
        i, j, k = self.crosshair_ijk
        return {"axial": (i + 0.5, j + 0.5), "coronal": (i + 0.5, k + 0.5), "sagittal": (j + 0.5, k + 0.5)}[self.plane.axis]

    def _draw_crosshair(self, painter: QtGui.QPainter) -> None:
        xy = self.crosshair_xy()
        if xy is None:
            return
        p = self.image_to_view(*xy)
        painter.setPen(QtGui.QPen(QtGui.QColor(0, 220, 120), 1))
        painter.drawLine(QtCore.QPointF(0, p.y()), QtCore.QPointF(self.width(), p.y()))
        painter.drawLine(QtCore.QPointF(p.x(), 0), QtCore.QPointF(p.x(), self.height()))

    def _draw_scale_bar(self, painter: QtGui.QPainter) -> None:
        mm = self.pixel_mm()
        if mm is None:
            return
        px_per_mm = self.zoom / mm
        target = 120 / px_per_mm                        # about 120 px long, rounded to 1/2/5 × 10^n mm
        step = 10 ** np.floor(np.log10(target))
        length_mm = max(s * step for s in (1, 2, 5) if s * step <= target) if target >= step else step
        length_px = length_mm * px_per_mm
        x0, y = 12, self.height() - 16
        painter.setPen(QtGui.QPen(QtGui.QColor(230, 230, 120), 2))
        painter.drawLine(QtCore.QPointF(x0, y), QtCore.QPointF(x0 + length_px, y))
        painter.drawText(QtCore.QPointF(x0, y - 6), f"{length_mm:g} mm")

    def _draw_overview(self, painter: QtGui.QPainter) -> None:
        """For zoomed-in large images: a small picture of the whole plane with the visible part."""
        if self.source is None or self.source.info.kind != "pyramid":
            return
        w, h = self.plane_size()
        tl = self.view_to_image(QtCore.QPointF(0, 0))
        br = self.view_to_image(QtCore.QPointF(self.width(), self.height()))
        if tl[0] <= 0 and tl[1] <= 0 and br[0] >= w and br[1] >= h:
            return                                       # everything is visible already
        if self._overview is None or self._overview[0] is not self.source:
            level = len(self.source.info.levels) - 1
            pixels = self.source.read_plane(self.plane, level)
            disp = np.ascontiguousarray(window_level(pixels, *self.window)[..., :3] if pixels.ndim == 3
                                        else window_level(pixels, *self.window))
            fmt = QtGui.QImage.Format.Format_RGB888 if disp.ndim == 3 else QtGui.QImage.Format.Format_Grayscale8
            img = QtGui.QImage(disp.data, disp.shape[1], disp.shape[0], disp.strides[0], fmt)
            self._overview = (self.source, img, disp)
        img = self._overview[1]
        scale = OVERVIEW_SIDE / max(w, h)
        box = QtCore.QRectF(self.width() - w * scale - 10, 10, w * scale, h * scale)
        painter.drawImage(box, img)
        painter.setPen(QtGui.QPen(QtGui.QColor(255, 255, 255), 1))
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawRect(box)
        painter.setPen(QtGui.QPen(QtGui.QColor(255, 210, 0), 2))
        painter.drawRect(QtCore.QRectF(box.left() + max(0, tl[0]) * scale, box.top() + max(0, tl[1]) * scale,
                                       (min(w, br[0]) - max(0, tl[0])) * scale, (min(h, br[1]) - max(0, tl[1])) * scale))
        self.overview_rect = box

    def slice_position_mm(self) -> Any:
        """The current slice's centre in patient (LPS) mm, for linking series by position."""
        info = self.source.info if self.source is not None else None
        if info is None or info.kind != "volume" or info.affine is None:
            return None
        w, h = self.plane_size()
        c = {"axial": (w / 2, h / 2, self.plane.z), "coronal": (w / 2, self.plane.z, h / 2),
             "sagittal": (self.plane.z, w / 2, h / 2)}[self.plane.axis]
        return (np.array(info.affine) @ np.array([c[0], c[1], c[2], 1.0]))[:3]

    def go_to_position_mm(self, lps: Any) -> None:
        """Move to the slice nearest to a patient position (same axis)."""
        info = self.source.info if self.source is not None else None
        if info is None or info.kind != "volume" or info.affine is None or lps is None:
            return
        ijk = np.linalg.solve(np.array(info.affine), np.array([lps[0], lps[1], lps[2], 1.0]))[:3]
        index = {"axial": ijk[2], "coronal": ijk[1], "sagittal": ijk[0]}[self.plane.axis]
        self.set_plane(Plane(max(0, int(round(index))), self.plane.t, self.plane.axis))

    def view_state(self) -> dict[str, Any]:
        return {"zoom": self.zoom, "center": list(self.center), "window": list(self.window),
                "invert": self.invert, "plane": self.plane.to_dict(), "colourmap": self.colourmap}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Put back a view state saved with :meth:`view_state` (ignored where it no longer fits)."""
        try:
            self.set_plane(Plane.from_dict(state["plane"]))
            self.zoom, self.center = float(state["zoom"]), (float(state["center"][0]), float(state["center"][1]))
            self.invert = bool(state.get("invert", False))
            self.colourmap = state.get("colourmap", "grey") if state.get("colourmap") in COLOURMAPS else "grey"
            self.set_window(*state["window"])
        except (KeyError, TypeError, ValueError):
            return
        self._display = None
        self.update()

    # ---- input ---------------------------------------------------------------------------------
    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:  # noqa: N802
        """Volumes: the wheel pages slices (toward you: next), Ctrl+wheel zooms; images keep wheel
        zoom (Ctrl+wheel: video frames). The setting in ``navigation`` swaps them on volumes."""
        from labeldesk.qt.viewer.navigation import wheel_pages
        delta = event.angleDelta().y()
        kind = self.source.info.kind if self.source is not None else None
        ctrl = bool(event.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier)
        if not wheel_pages(kind, ctrl):
            self.zoom_by(ZOOM_STEP ** (delta / 120), event.position())
            return
        self._wheel_rest = getattr(self, "_wheel_rest", 0) + delta     # touchpads send small deltas
        steps = int(self._wheel_rest / 120)
        if steps == 0:
            return
        self._wheel_rest -= steps * 120
        if kind == "video":
            self.step_frame(int(np.sign(steps)))
        else:
            self.step_slice(-steps)

    def _tool_event(self, kind: str, event: QtGui.QMouseEvent) -> bool:
        if self.tool is None or self.source is None:
            return False
        return bool(getattr(self.tool, kind)(self.view_to_image(event.position()), event))

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        box = getattr(self, "overview_rect", None)
        if box is not None and self._overview is not None and box.contains(event.position()) \
                and self.source is not None and self.source.info.kind == "pyramid":
            w, h = self.plane_size()        # click in the overview: centre the view there
            scale = box.width() / w
            self.center = ((event.position().x() - box.left()) / scale, (event.position().y() - box.top()) / scale)
            self._display = None
            self.update()
            return
        ctrl = event.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier
        shift = event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self.source is not None:
            self.sig_clicked.emit(self, self.view_to_image(event.position()))
        if event.button() == QtCore.Qt.MouseButton.LeftButton and shift and self.source is not None \
                and self.source.info.kind == "volume":
            self.sig_crosshair_requested.emit(self, self.view_to_image(event.position()))
            self._drag = ("crosshair", event.position(), None)
            return
        if event.button() == QtCore.Qt.MouseButton.LeftButton and ctrl:
            self._drag = ("window", event.position(), self.window)
        elif event.button() == QtCore.Qt.MouseButton.LeftButton and self._tool_event("press", event):
            self._drag = ("tool", event.position(), None)
        elif event.button() in (QtCore.Qt.MouseButton.MiddleButton, QtCore.Qt.MouseButton.RightButton,
                                QtCore.Qt.MouseButton.LeftButton):
            self._drag = ("pan", event.position(), self.center)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None and self._drag[0] == "crosshair":
            self.sig_crosshair_requested.emit(self, self.view_to_image(event.position()))
        elif self._drag is not None and self._drag[0] != "tool":
            mode, start, value = self._drag
            d = event.position() - start
            if mode == "window":
                c, w = value
                self.set_window(c + d.y() * max(1.0, w / 256), w + d.x() * max(1.0, w / 256))
            else:
                kx, ky = self._scales()
                self.center = (value[0] - d.x() / kx, value[1] - d.y() / ky)
                self._display = None
                self.update()
                self.sig_view_changed.emit()
        else:
            self._tool_event("move", event)
        self._emit_readout(event.position())

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None and self._drag[0] == "tool":
            self._tool_event("release", event)
        self._drag = None

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if not self._tool_event("double_click", event):
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802
        if self.tool is not None and self.source is not None and self.tool.key(event):
            return
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.sig_escape.emit()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        self._display = None
        super().resizeEvent(event)

    def leaveEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802 - Qt override
        self.sig_readout.emit("")           # no value is under the pointer any more
        super().leaveEvent(event)

    def _emit_readout(self, view_xy: QtCore.QPointF) -> None:
        if self.source is None:
            return
        x, y = self.view_to_image(view_xy)
        value = self.value_at(x, y)
        if value is None:
            self.sig_readout.emit("")
            return
        text = f"x {int(x)}  y {int(y)}"
        spacing = self.source.info.spacing
        if spacing and self.source.info.kind == "volume":
            across, down = {"axial": (0, 1), "coronal": (0, 2)}.get(self.plane.axis, (1, 2))
            text += f"  ({x * spacing[across]:.1f}, {y * spacing[down]:.1f} mm)"
        stored, physical = value
        text += f"   value {stored}"
        if physical is not None and self.rescale != (1.0, 0.0):
            unit = " HU" if self.source.info.meta.get("modality") == "CT" else ""
            text += f"  → {physical:g}{unit}"
        self.sig_readout.emit(text)


def apply_colourmap(grey: np.ndarray, name: str) -> np.ndarray:
    """RGB display of an 8-bit image through one of OpenCV's colour maps."""
    from labeldesk.core.io.opencv import cv2
    code = {"hot": cv2.COLORMAP_HOT, "bone": cv2.COLORMAP_BONE, "viridis": cv2.COLORMAP_VIRIDIS,
            "jet": cv2.COLORMAP_JET}[name]
    return cv2.cvtColor(cv2.applyColorMap(grey, code), cv2.COLOR_BGR2RGB)
