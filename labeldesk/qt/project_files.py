"""Projects and files in the window: New / Open / Open recent / Close project, Open the demo,
Add files / Add folder (with de-identification of DICOM), files dropped from the file manager,
and File ▸ Locate files… for a project whose files live elsewhere on this machine.

The window reaches it as ``window.files``; actions use dotted slots (``files.new_project``)."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from labeldesk.qt.preferences import last_folder, remember_folder, remember_project
from labeldesk.qt.tasks import TaskRunner

DICOM_HINT_SUFFIXES = (".dcm", ".dicom", ".ima", "")
# side files of image folders that are never DICOM (annotation files, notes, archives)
NOT_DICOM_SUFFIXES = (".json", ".txt", ".xml", ".csv", ".yaml", ".yml", ".md", ".zip", ".pdf", ".html")


def maybe_dicom(paths: list[str], budget: int = 5000) -> bool:
    """Worth asking about de-identification: a file that may be DICOM (not an image, video or
    NIfTI by name), or a folder holding one. Folders are looked through up to ``budget`` entries;
    a bigger folder is assumed to hold DICOM (asking is the safe side)."""
    import os
    from labeldesk.core.importer import IGNORED_NAMES, kind_of
    seen = 0
    for p in paths:
        if not Path(p).is_dir():
            if kind_of(p) == "dicom" and not p.lower().endswith(NOT_DICOM_SUFFIXES):
                return True
            continue
        for top, dirs, names in os.walk(p):
            if "project.labeldesk" in names:
                dirs[:] = []
                continue
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                seen += 1
                if seen > budget:
                    return True
                if not name.startswith(".") and name.lower() not in IGNORED_NAMES and kind_of(name) == "dicom" \
                        and not name.lower().endswith(NOT_DICOM_SUFFIXES):
                    return True
    return False


def local_paths(mime: QtCore.QMimeData) -> list[str]:
    """The local files and folders of a drag from the file manager (other URLs are left out)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class AddOptionsDialog(QtWidgets.QDialog):
    """Asked before adding a folder or DICOM files: de-identify DICOM first?"""

    def __init__(self, paths: list[str], parent: QtWidgets.QWidget | None = None) -> None:
        from labeldesk.qt import preferences
        super().__init__(parent)
        self.setWindowTitle("Add to the project")
        names = ", ".join(Path(p).name or p for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        label = QtWidgets.QLabel(f"Add {names}?")
        label.setWordWrap(True)
        self.deidentify = QtWidgets.QCheckBox("De-identify DICOM first (PS3.15 basic profile)")
        self.deidentify.setToolTip("The de-identified copies go to the project's cache; the link back to the "
                                   "originals stays on this computer. Images whose pixels may carry text are "
                                   "listed for review.")
        self.deidentify.setChecked(preferences.value("add/deidentify", False, bool))
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        for w in (label, self.deidentify, buttons):
            layout.addWidget(w)

    def accept(self) -> None:
        from labeldesk.qt import preferences
        preferences.set_value("add/deidentify", self.deidentify.isChecked())
        super().accept()


class ProjectFiles:
    def __init__(self, window: Any) -> None:
        self.window = window
        self.ask_options = True          # tests and scripted sessions turn the question off

    # ---- projects --------------------------------------------------------------------------
    def new_project(self) -> bool:
        from labeldesk.qt.dialogs.new_project_dialog import NewProjectDialog
        dialog = NewProjectDialog(self.window)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return False
        try:
            folder = dialog.create()
        except Exception as exc:          # a message naming the folder and the problem
            QtWidgets.QMessageBox.critical(self.window, "Cannot create the project", str(exc))
            return False
        return self.open(folder)

    def open_dialog(self) -> bool:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self.window, "Open a labeldesk project",
                                                            last_folder("projects"))
        if not folder:
            return False
        remember_folder("projects", Path(folder).parent)
        return self.open(folder)

    def open(self, folder: str | Path) -> bool:
        from labeldesk.core.project import is_project
        w = self.window
        if not is_project(folder):
            box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, "Not a labeldesk project",
                                        f"{folder} is not a labeldesk project.", parent=w)
            create = box.addButton("Create a project here…", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() is create:
                return self._new_here(Path(folder))
            return False
        try:
            w.open_project(folder)
        except Exception as exc:
            QtWidgets.QMessageBox.critical(w, "Cannot open the project", str(exc))
            return False
        return True

    def _new_here(self, folder: Path) -> bool:
        from labeldesk.qt.dialogs.new_project_dialog import NewProjectDialog
        dialog = NewProjectDialog(self.window, str(folder.parent))
        dialog.name.setText(folder.name)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return False
        try:
            return self.open(dialog.create())
        except Exception as exc:
            QtWidgets.QMessageBox.critical(self.window, "Cannot create the project", str(exc))
            return False

    def opened(self, root: Path) -> None:
        remember_project(root)
        self.refresh_recent_menu()

    def close_project(self) -> None:
        self.window.close_project()

    def open_demo(self, dest: str | Path | None = None) -> TaskRunner | None:
        """Open the demo project (made on this computer the first time; it takes a moment)."""
        from labeldesk.core.project import is_project
        from labeldesk.core.samples.demo import build_demo
        dest = Path(dest or Path.home() / "labeldesk-demo")
        if is_project(dest):
            self.open(dest)
            return None
        dialog = QtWidgets.QProgressDialog("Making the demo project…", "Cancel", 0, 100, self.window)
        dialog.setWindowTitle("Demo project")
        dialog.setMinimumDuration(0)
        runner = TaskRunner(build_demo, dest)
        self.window._tasks.add(runner)
        runner.signals.sig_progress.connect(lambda d, t, s: (dialog.setMaximum(max(t, 1)), dialog.setValue(d),
                                                             dialog.setLabelText(s)))
        dialog.canceled.connect(runner.cancel)

        def done(path: Any) -> None:
            dialog.reset()
            self.window._tasks.discard(runner)
            self.open(path)

        def failed(message: str) -> None:
            dialog.reset()
            self.window._tasks.discard(runner)
            QtWidgets.QMessageBox.critical(self.window, "Cannot make the demo project", message)
        runner.signals.sig_finished.connect(done)
        runner.signals.sig_failed.connect(failed)
        runner.signals.sig_cancelled.connect(lambda: (dialog.reset(), self.window._tasks.discard(runner)))
        return runner.start()

    def refresh_recent_menu(self) -> None:
        from labeldesk.qt.preferences import recent_projects
        menu = getattr(self.window, "recent_menu", None)
        if menu is None:
            return
        menu.clear()
        paths = recent_projects()
        for i, path in enumerate(paths):
            act = menu.addAction(f"&{i + 1}  {Path(path).name}  —  {path}" if i < 9 else path)
            act.triggered.connect(lambda _=False, p=path: self.open(p))
        if not paths:
            menu.addAction("No recent projects").setEnabled(False)
        start = getattr(self.window, "_start_page", None)      # when built: it refreshes when first shown
        if start is not None:
            start.refresh()

    # ---- adding files ----------------------------------------------------------------------
    def add_files(self) -> None:
        w = self.window
        if not self._need_project():
            return
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(
            w, "Add files to the project", last_folder("add", w.project.root),
            "Images, videos, DICOM, NIfTI (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.mp4 *.m4v *.mov *.avi *.mkv "
            "*.webm *.dcm *.nii *.nii.gz *.hdr);;All files (*)")
        if files:
            remember_folder("add", files[0])
            self.add(files)

    def add_folder(self) -> None:
        w = self.window
        if not self._need_project():
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(w, "Add a folder to the project",
                                                            last_folder("add", w.project.root))
        if folder:
            remember_folder("add", Path(folder).parent)
            self.add([folder])

    def add(self, paths: list[str], deidentify: bool | None = None) -> TaskRunner | None:
        """Add with the de-identify question for folders and DICOM (unless ``deidentify`` is given)."""
        if not self._need_project() or not paths:
            return None
        if deidentify is None:
            deidentify = False
            if self.ask_options and maybe_dicom(paths):
                dialog = AddOptionsDialog(paths, self.window)
                if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
                    return None
                deidentify = dialog.deidentify.isChecked()
        return self.window.add_paths(paths, deidentify=deidentify)

    def drop(self, paths: list[str]) -> TaskRunner | None:
        """Files and folders dropped on the window: added to the open project; with no project
        open, the start page offers to make one first."""
        if not paths:
            return None
        if self.window.project is None:
            if QtWidgets.QMessageBox.question(
                    self.window, "No project is open",
                    "Create a new project for these files?") != QtWidgets.QMessageBox.StandardButton.Yes \
                    or not self.new_project():
                return None
        return self.add(paths)

    def _need_project(self) -> bool:
        if self.window.project is None:
            QtWidgets.QMessageBox.information(self.window, "No project",
                                              "Open a project or make a new one first (File ▸ New project…).")
            return False
        return True

    # ---- locating files --------------------------------------------------------------------
    def locate_files(self, folder: str | None = None) -> TaskRunner | None:
        """File ▸ Locate files…: look for the files of assets not on this machine under a folder;
        those with the same content are linked (nothing is added)."""
        from labeldesk.core.relink import locate
        w = self.window
        if not self._need_project():
            return None
        folder = folder or QtWidgets.QFileDialog.getExistingDirectory(
            w, "Where are this project's files?", last_folder("locate", w.project.root))
        if not folder:
            return None
        remember_folder("locate", folder)
        dialog = QtWidgets.QProgressDialog("Looking for files…", "Cancel", 0, 100, w)
        dialog.setWindowTitle("Locate files")
        dialog.setMinimumDuration(300)
        runner = TaskRunner(partial(locate, w.project, [folder]))
        w._tasks.add(runner)
        runner.signals.sig_progress.connect(lambda d, t, s: (dialog.setMaximum(max(t, 1)), dialog.setValue(d),
                                                             dialog.setLabelText(s)))
        dialog.canceled.connect(runner.cancel)

        def done(report: Any) -> None:
            dialog.reset()
            w._tasks.discard(runner)
            w.refresh_assets()
            w.statusBar().showMessage(report.summary(), 15000)
            self.last_locate = report
            if w.current_asset_id:
                w.show_asset(w.current_asset_id)
            if report.missing and w.offer_guide:
                QtWidgets.QMessageBox.information(w, "Locate files", report.summary() + "\n\n"
                                                  + "\n".join(report.missing[:20]))
        runner.signals.sig_finished.connect(done)
        runner.signals.sig_failed.connect(lambda m: (dialog.reset(), w._tasks.discard(runner),
                                                     QtWidgets.QMessageBox.critical(w, "Locate files", m)))
        return runner.start()

    def link_recorded_paths(self) -> TaskRunner | None:
        """On opening: assets whose files are at their recorded path on this computer are linked
        (content checked) in the background; the asset list updates when it is done."""
        from labeldesk.core.relink import auto_link, missing_assets, source_path
        w = self.window
        if w.project is None or getattr(self, "linking", None) in w._tasks:
            return None
        tried = self.__dict__.setdefault("_tried", set())       # each asset once per session
        todo = [a.id for a in missing_assets(w.project)
                if a.id not in tried and (p := source_path(a)) and Path(p).exists()]
        if not todo:
            return None
        tried.update(todo)
        runner = TaskRunner(partial(auto_link, w.project))
        w._tasks.add(runner)
        project = w.project

        def done(report: Any) -> None:
            w._tasks.discard(runner)
            if w.project is not project or not report.linked:
                return
            w.refresh_assets()
            w.statusBar().showMessage(f"{report.summary()} (at the paths they were added from)", 10000)
            if w.current_asset_id in {a.id for a in report.linked}:
                w.show_asset(w.current_asset_id)
        runner.signals.sig_finished.connect(done)
        runner.signals.sig_failed.connect(lambda _m: w._tasks.discard(runner))
        self.linking = runner
        return runner.start()
