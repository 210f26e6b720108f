"""Plots of a model evaluation, painted with QPainter: precision-recall curves per class and the
confusion matrix (truth rows, predicted columns; darker = more)."""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45")


class PrCurveView(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.evaluation: Any = None
        self.setMinimumSize(220, 180)

    def set_evaluation(self, ev: Any) -> None:
        self.evaluation = ev
        self.update()

    def paintEvent(self, _e: Any) -> None:  # noqa: N802 - Qt override
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QtGui.QColor("white"))
        m = 28
        plot = QtCore.QRectF(m, 8, max(10, self.width() - m - 8), max(10, self.height() - m - 8))
        p.setPen(QtGui.QPen(QtGui.QColor("#888"), 1))
        p.drawRect(plot)
        p.setPen(QtGui.QColor("#333"))
        p.drawText(QtCore.QRectF(plot.left(), plot.bottom() + 2, plot.width(), 16),
                   QtCore.Qt.AlignmentFlag.AlignCenter, "recall")
        p.save()
        p.translate(12, plot.center().y())
        p.rotate(-90)
        p.drawText(QtCore.QRectF(-40, -8, 80, 16), QtCore.Qt.AlignmentFlag.AlignCenter, "precision")
        p.restore()
        if self.evaluation is None:
            return
        for i, c in enumerate(self.evaluation.classes):
            if not c.curve:
                continue
            colour = QtGui.QColor(PALETTE[i % len(PALETTE)])
            p.setPen(QtGui.QPen(colour, 2))
            path = QtGui.QPainterPath(QtCore.QPointF(plot.left(), plot.bottom() - c.curve[0][1] * plot.height()))
            for r, prec, _s in c.curve:
                path.lineTo(plot.left() + r * plot.width(), plot.bottom() - prec * plot.height())
            p.drawPath(path)
            p.drawText(QtCore.QPointF(plot.right() - 110, plot.top() + 14 + 14 * i),
                       f"{c.name}  AP {c.ap:.2f}" if c.ap is not None else c.name)


class ConfusionView(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.evaluation: Any = None
        self.setMinimumSize(220, 160)

    def set_evaluation(self, ev: Any) -> None:
        self.evaluation = ev
        self.update()

    def labels(self) -> tuple[list[str], list[str]]:
        conf = self.evaluation.confusion if self.evaluation else {}
        names = sorted({c.name for c in self.evaluation.classes}) if self.evaluation else []
        rows = names + (["background"] if "background" in conf else [])
        cols = names + (["missed"] if any("missed" in v for v in conf.values()) else [])
        return rows, cols

    def paintEvent(self, _e: Any) -> None:  # noqa: N802 - Qt override
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("white"))
        if self.evaluation is None:
            return
        rows, cols = self.labels()
        if not rows or not cols:
            return
        conf = self.evaluation.confusion
        top = max((v for r in conf.values() for v in r.values()), default=1)
        left, head = 80, 18
        cw = max(8.0, (self.width() - left - 4) / len(cols))
        ch = max(8.0, (self.height() - head - 4) / len(rows))
        p.setPen(QtGui.QColor("#333"))
        for j, c in enumerate(cols):
            p.drawText(QtCore.QRectF(left + j * cw, 0, cw, head), QtCore.Qt.AlignmentFlag.AlignCenter, c[:10])
        for i, r in enumerate(rows):
            p.setPen(QtGui.QColor("#333"))
            p.drawText(QtCore.QRectF(0, head + i * ch, left - 4, ch),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter, r[:12])
            for j, c in enumerate(cols):
                n = conf.get(r, {}).get(c, 0)
                shade = int(255 - 200 * n / top) if top else 255
                cell = QtCore.QRectF(left + j * cw, head + i * ch, cw - 1, ch - 1)
                p.fillRect(cell, QtGui.QColor(shade, shade, 255))
                p.setPen(QtGui.QColor("white" if shade < 120 else "#222"))
                p.drawText(cell, QtCore.Qt.AlignmentFlag.AlignCenter, str(n))
