"""File ▸ New project…: a name, where to keep it, and your name in it. The project folder is
<location>/<name>; it must not exist yet or be empty."""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from labeldesk.qt.preferences import last_folder, remember_folder


class NewProjectDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None, location: str | None = None) -> None:
        from labeldesk.core.project import default_user_name
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.name = QtWidgets.QLineEdit(placeholderText="e.g. Liver study")
        self.location = QtWidgets.QLineEdit(location or last_folder("projects"))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.user = QtWidgets.QLineEdit(default_user_name())
        self.classes = QtWidgets.QComboBox()
        self.classes.addItem("None yet (add classes later)", None)
        from labeldesk.paths import resources_dir
        for path in sorted((resources_dir() / "ontologies").glob("*.json")):
            self.classes.addItem(f"Example classes ({path.stem}: anatomy, scene, defects)", str(path))
        self.classes.setToolTip("Classes can be added, renamed and merged later (Edit ▸ Add class…, "
                                "Edit ▸ Import ontology JSON…)")
        self.folder_label = QtWidgets.QLabel()
        self.folder_label.setWordWrap(True)
        self.problem = QtWidgets.QLabel()
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #d9534f")
        self.problem.setWordWrap(True)
        where = QtWidgets.QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(browse)
        form = QtWidgets.QFormLayout()
        form.addRow("Project name", self.name)
        form.addRow("Create in", where)
        form.addRow("", self.folder_label)
        form.addRow("Your name", self.user)
        form.addRow("Classes", self.classes)
        note = QtWidgets.QLabel("You become the project's admin. The project store stays on this computer; "
                                "share it with a team later (Team ▸ Share this project…).")
        note.setWordWrap(True)
        self.buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                                  | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        for edit in (self.name, self.location, self.user):
            edit.textChanged.connect(self._check)
        self.resize(560, 0)
        self._check()

    def folder(self) -> Path:
        return Path(self.location.text().strip()).expanduser() / self.name.text().strip()

    def problem_text(self) -> str:
        name, loc = self.name.text().strip(), self.location.text().strip()
        if not name:
            return "Give the project a name."
        if any(c in name for c in "/\\:*?\"<>|"):
            return "The name is used as the folder name: leave out / \\ : * ? \" < > |"
        if not loc or not Path(loc).expanduser().is_dir():
            return f"{loc or 'The location'}: no such folder."
        folder = self.folder()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            return f"{folder} exists and is not empty: choose another name or location."
        if not self.user.text().strip():
            return "Your name in the project is needed (it is shown to your team)."
        return ""

    def _check(self) -> None:
        text = self.problem_text()
        self.problem.setText(text if self.name.text() else "")
        self.folder_label.setText(f"Folder: {self.folder()}" if self.name.text().strip() else "")
        self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setEnabled(not text)

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Create the project in", self.location.text())
        if folder:
            self.location.setText(folder)

    def create(self) -> Path:
        """Create the project (the caller opens it); raises LabeldeskError with the reason."""
        from labeldesk.core.project import Project
        folder = self.folder()
        with Project.create(folder, self.name.text().strip(), user_name=self.user.text().strip()) as project:
            if self.classes.currentData():
                import json

                from labeldesk.core.ontology_io import import_ontology
                with open(self.classes.currentData(), encoding="utf-8") as fh:
                    drafts, _notes = import_ontology(project, json.load(fh))
                project.apply_all(drafts)
        remember_folder("projects", folder.parent)
        return folder
