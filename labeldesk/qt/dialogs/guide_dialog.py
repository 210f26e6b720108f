"""Editing the labeling guides in the app, and showing a class's guide card in context.

* The project labeling guide (project setting ``labeling_guide``: title and rich text).
* A class's guide card (the class's ``guide``: definition as rich text — ``html`` — and plain
  text, do / don't lists, and example images marked do or don't with a caption). Saved with
  ``ontology.class.update``, so the guide is versioned with the ontology and synced.

Example images are stored in the guide itself as small PNGs (base64, at most 320 px a side), so
they travel with the ontology to every replica."""
from __future__ import annotations

import base64
import dataclasses
import html
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

EXAMPLE_SIDE = 320
KINDS = (("do", "Do"), ("dont", "Don't"))


def example_image(ex: dict[str, Any]) -> QtGui.QImage:
    img = QtGui.QImage()
    img.loadFromData(base64.b64decode(ex.get("png", "")), "PNG")
    return img


def encode_image(path: str) -> str:
    """A file's picture as a base64 PNG no larger than EXAMPLE_SIDE (error names the file)."""
    img = QtGui.QImage(path)
    if img.isNull():
        raise ValueError(f"{path}: not an image Qt can read")
    if max(img.width(), img.height()) > EXAMPLE_SIDE:
        img = img.scaled(EXAMPLE_SIDE, EXAMPLE_SIDE, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                         QtCore.Qt.TransformationMode.SmoothTransformation)
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return base64.b64encode(bytes(buf.data())).decode("ascii")


def card_html(cls: Any) -> str:
    """The guide card: colour and name, definition (rich), do / don't lists, examples."""
    from labeldesk.qt.panels.ontology_panel import guide_html
    g = cls.guide or {}
    if not g.get("html") and not g.get("examples"):
        return guide_html(cls)
    plain = dict(g)
    plain.pop("definition", None)
    base = guide_html(dataclasses.replace(cls, guide=plain))
    head, _, rest = base.partition("</h3>")
    body = g.get("html") or (f"<p>{html.escape(g['definition'])}</p>" if g.get("definition") else "")
    parts = [head + "</h3>", body, rest]
    examples = g.get("examples") or []
    if examples:
        cells = []
        for i, ex in enumerate(examples):
            colour = "#2ca02c" if ex.get("kind") == "do" else "#d62728"
            word = "DO" if ex.get("kind") == "do" else "DON'T"
            cells.append(f"<td style='padding:4px' valign='top'><img src='guide://example/{i}' width='140'><br>"
                         f"<b style='color:{colour}'>{word}</b> {html.escape(ex.get('caption', ''))}</td>")
        parts.append("<p><b>Examples</b></p><table><tr>" + "".join(cells) + "</tr></table>")
    return "".join(parts)


def show_card(browser: QtWidgets.QTextBrowser, cls: Any | None) -> None:
    """Put a class's guide card, example images included, into a text browser."""
    if cls is None:
        browser.setHtml("")
        return
    doc = browser.document()
    for i, ex in enumerate((cls.guide or {}).get("examples") or []):
        doc.addResource(QtGui.QTextDocument.ResourceType.ImageResource, QtCore.QUrl(f"guide://example/{i}"),
                        example_image(ex))
    browser.setHtml(card_html(cls))


class GuideDialog(QtWidgets.QDialog):
    """Edit the project guide (``class_id`` None) or one class's guide card."""

    def __init__(self, parent: Any, project: Any, class_id: str | None = None) -> None:
        super().__init__(parent)
        self.project, self.class_id = project, class_id
        self.cls = next((c for c in project.classes() if c.id == class_id), None) if class_id else None
        self.setWindowTitle(f"Guide card: {self.cls.name}" if self.cls else "Project labeling guide")
        self.resize(720, 560)
        form = QtWidgets.QVBoxLayout(self)
        self.title = QtWidgets.QLineEdit()
        self.text = QtWidgets.QTextEdit()
        self.text.setAcceptRichText(True)
        tools = QtWidgets.QHBoxLayout()
        for label, slot in (("B", self._bold), ("I", self._italic), ("• list", self._bullets)):
            b = QtWidgets.QToolButton(text=label)
            b.clicked.connect(slot)
            tools.addWidget(b)
        tools.addStretch(1)
        self.do_list, self.dont_list = QtWidgets.QPlainTextEdit(), QtWidgets.QPlainTextEdit()
        self.examples: list[dict[str, Any]] = []
        self.example_list = QtWidgets.QListWidget()
        self.example_list.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        self.example_list.setIconSize(QtCore.QSize(96, 96))
        self.example_list.setMinimumHeight(130)
        if self.cls is None:
            form.addWidget(QtWidgets.QLabel("Title"))
            form.addWidget(self.title)
            guide = self._project_guide()
            self.title.setText(guide.get("title", "Labeling guide"))
            self.text.setHtml(guide.get("text", "")) if "<" in guide.get("text", "") else self.text.setPlainText(
                guide.get("text", ""))
            form.addWidget(QtWidgets.QLabel("Guide (rich text)"))
            form.addLayout(tools)
            form.addWidget(self.text, 1)
        else:
            g = self.cls.guide or {}
            if g.get("html"):
                self.text.setHtml(g["html"])
            else:
                self.text.setPlainText(g.get("definition", ""))
            self.do_list.setPlainText("\n".join(g.get("do") or []))
            self.dont_list.setPlainText("\n".join(g.get("dont") or []))
            self.examples = [dict(e) for e in g.get("examples") or []]
            form.addWidget(QtWidgets.QLabel("Definition (rich text)"))
            form.addLayout(tools)
            form.addWidget(self.text, 2)
            lists = QtWidgets.QHBoxLayout()
            for title, edit in (("Do (one per line)", self.do_list), ("Don't (one per line)", self.dont_list)):
                box = QtWidgets.QVBoxLayout()
                box.addWidget(QtWidgets.QLabel(title))
                box.addWidget(edit)
                lists.addLayout(box)
            form.addLayout(lists, 1)
            form.addWidget(QtWidgets.QLabel("Example images"))
            form.addWidget(self.example_list)
            ex_row = QtWidgets.QHBoxLayout()
            for label, kind in (("Add a DO example…", "do"), ("Add a DON'T example…", "dont")):
                b = QtWidgets.QPushButton(label)
                b.clicked.connect(lambda _=False, k=kind: self.add_example_dialog(k))
                ex_row.addWidget(b)
            remove = QtWidgets.QPushButton("Remove selected")
            remove.clicked.connect(self.remove_example)
            ex_row.addWidget(remove)
            ex_row.addStretch(1)
            form.addLayout(ex_row)
            self._fill_examples()
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Save
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form.addWidget(buttons)

    def _project_guide(self) -> dict[str, Any]:
        import json
        row = self.project.conn.execute("SELECT value FROM meta WHERE key = 'setting.labeling_guide'").fetchone()
        return json.loads(row[0]) if row else {}

    # ---- rich text -----------------------------------------------------------------------------
    def _bold(self) -> None:
        fmt = QtGui.QTextCharFormat()
        bold = self.text.fontWeight() != QtGui.QFont.Weight.Bold
        fmt.setFontWeight(QtGui.QFont.Weight.Bold if bold else QtGui.QFont.Weight.Normal)
        self.text.mergeCurrentCharFormat(fmt)

    def _italic(self) -> None:
        fmt = QtGui.QTextCharFormat()
        fmt.setFontItalic(not self.text.fontItalic())
        self.text.mergeCurrentCharFormat(fmt)

    def _bullets(self) -> None:
        self.text.textCursor().createList(QtGui.QTextListFormat.Style.ListDisc)

    # ---- examples ------------------------------------------------------------------------------
    def _fill_examples(self) -> None:
        self.example_list.clear()
        for ex in self.examples:
            word = "DO" if ex.get("kind") == "do" else "DON'T"
            item = QtWidgets.QListWidgetItem(QtGui.QIcon(QtGui.QPixmap.fromImage(example_image(ex))),
                                             f"{word}: {ex.get('caption', '')}")
            self.example_list.addItem(item)

    def add_example_dialog(self, kind: str) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Example image", "", "Images (*.png *.jpg *.jpeg *.bmp *.tif)")
        if not path:
            return
        caption, ok = QtWidgets.QInputDialog.getText(self, "Caption", "What does this example show?")
        if ok:
            try:
                self.add_example(path, kind, caption)
            except ValueError as exc:
                QtWidgets.QMessageBox.warning(self, "Example image", str(exc))

    def add_example(self, path: str, kind: str, caption: str) -> None:
        self.examples.append({"kind": kind, "caption": caption, "png": encode_image(path)})
        self._fill_examples()

    def remove_example(self) -> None:
        rows = sorted({i.row() for i in self.example_list.selectedIndexes()}, reverse=True)
        for r in rows:
            del self.examples[r]
        self._fill_examples()

    # ---- saving --------------------------------------------------------------------------------
    def drafts(self) -> list[Any]:
        from labeldesk.core.ops import OpDraft
        body = self.text.toHtml()
        if self.cls is None:
            return [OpDraft("project.settings", None, {"set": {"labeling_guide": {
                "title": self.title.text().strip() or "Labeling guide", "text": body}}})]
        lines = lambda e: [x.strip() for x in e.toPlainText().splitlines() if x.strip()]  # noqa: E731
        guide = {**(self.cls.guide or {}), "definition": self.text.toPlainText().strip(), "html": body,
                 "do": lines(self.do_list), "dont": lines(self.dont_list), "examples": self.examples}
        return [OpDraft("ontology.class.update", self.cls.id, {"set": {"guide": guide}})]

    def save(self) -> None:
        from labeldesk.core.errors import LabeldeskError
        try:
            self.project.apply_all(self.drafts())
        except LabeldeskError as exc:
            QtWidgets.QMessageBox.warning(self, "Guide", str(exc))
            return
        self.accept()
