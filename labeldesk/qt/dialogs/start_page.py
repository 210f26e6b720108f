"""The page the window shows when no project is open: New project…, Open project…, Open the demo,
and the recent projects (double-click or Enter opens one)."""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from labeldesk.qt.icons import icon

PATH_ROLE = QtCore.Qt.ItemDataRole.UserRole


class StartPage(QtWidgets.QWidget):
    sig_new = QtCore.Signal()
    sig_open = QtCore.Signal()
    sig_demo = QtCore.Signal()
    sig_open_path = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("start_page")
        title = QtWidgets.QLabel("labeldesk")
        title.setObjectName("start_title")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setBold(True)
        title.setFont(font)
        subtitle = QtWidgets.QLabel("Annotate images, video, DICOM and NIfTI on this computer; "
                                    "work with a team through a shared folder.")
        subtitle.setWordWrap(True)
        self.new_button = self._button("New project…", "new-project", "Create a project in a folder of your choice")
        self.open_button = self._button("Open project…", "open-project", "Open a project folder")
        self.demo_button = self._button("Open the demo", "demo", "A small project with an image, a video, "
                                        "a CT series and a NIfTI volume, made on this computer")
        self.new_button.clicked.connect(self.sig_new)
        self.open_button.clicked.connect(self.sig_open)
        self.demo_button.clicked.connect(self.sig_demo)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.new_button, self.open_button, self.demo_button):
            buttons.addWidget(b)
        self.recent_label = QtWidgets.QLabel("Recent projects")
        self.recent = QtWidgets.QListWidget()
        self.recent.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.recent.setObjectName("recent_projects")
        self.recent.setMaximumHeight(260)
        self.recent.itemActivated.connect(lambda item: self.sig_open_path.emit(item.data(PATH_ROLE)))
        hint = QtWidgets.QLabel("Tip: drop files or folders onto this window to add them to the open project.")
        hint.setEnabled(False)
        column = QtWidgets.QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(16)
        column.addLayout(buttons)
        column.addSpacing(16)
        column.addWidget(self.recent_label)
        column.addWidget(self.recent, 3)
        column.addWidget(hint)
        column.addStretch(1)
        box = QtWidgets.QWidget()
        box.setLayout(column)
        box.setMaximumWidth(720)
        outer = QtWidgets.QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 4)
        outer.addStretch(1)
        self.refresh()

    def refresh_icons(self) -> None:
        """After a theme change: the icons are drawn in the new text colour."""
        for b in (self.new_button, self.open_button, self.demo_button):
            b.setIcon(icon(b.property("icon_name")))
        self.refresh()

    @staticmethod
    def _button(text: str, icon_name: str, tip: str) -> QtWidgets.QToolButton:
        b = QtWidgets.QToolButton()
        b.setProperty("icon_name", icon_name)
        b.setText(text)
        b.setIcon(icon(icon_name))
        b.setIconSize(QtCore.QSize(40, 40))
        b.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        b.setToolTip(tip)
        b.setMinimumSize(170, 96)
        b.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        return b

    def refresh(self) -> None:
        from labeldesk.core.project import Project  # noqa: F401 - the store module names projects
        from labeldesk.qt.preferences import recent_projects
        self.recent.clear()
        paths = recent_projects()
        for path in paths:
            item = QtWidgets.QListWidgetItem(icon("project"), f"{Path(path).name}    {path}")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            self.recent.addItem(item)
        self.recent_label.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))
        if paths:
            self.recent.setCurrentRow(0)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter) and self.recent.currentItem():
            self.sig_open_path.emit(self.recent.currentItem().data(PATH_ROLE))
            return
        super().keyPressEvent(event)
