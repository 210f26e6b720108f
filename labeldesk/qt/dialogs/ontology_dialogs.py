"""Editing the ontology from the app: add, rename, recolour, move, deprecate, merge, import and
export JSON. Each is an op pushed on the undo stack, so nothing is lost and everything is undoable;
annotations keep their class ids."""
from __future__ import annotations

import json
from typing import Any

from PySide6 import QtGui, QtWidgets

from labeldesk.core import ids
from labeldesk.core.ontology import SchemaError
from labeldesk.core.ops import OpDraft
from labeldesk.qt import preferences


def _class(window: Any, class_id: str | None) -> Any:
    return next((c for c in window.project.classes() if c.id == class_id), None)


def add_class(window: Any, parent_id: str | None = None) -> None:
    name, ok = QtWidgets.QInputDialog.getText(window, "Add class", "Name of the new class:")
    if ok and name.strip():
        colour = QtWidgets.QColorDialog.getColor(QtGui.QColor("#3cb44b"), window, "Colour of the class")
        fields = {"name": name.strip(), "color": colour.name() if colour.isValid() else "#3cb44b"}
        if parent_id:
            fields["parent_id"] = parent_id
        window.session.commit([OpDraft("ontology.class.create", ids.new_id(), {"class": fields})], "Add class")


def rename_class(window: Any, class_id: str) -> None:
    cls = _class(window, class_id)
    name, ok = QtWidgets.QInputDialog.getText(window, "Rename class", "New name:", text=cls.name)
    if ok and name.strip() and name.strip() != cls.name:
        window.session.commit([OpDraft("ontology.class.update", class_id, {"set": {"name": name.strip()}})],
                              "Rename class")


def recolour_class(window: Any, class_id: str) -> None:
    cls = _class(window, class_id)
    colour = QtWidgets.QColorDialog.getColor(QtGui.QColor(cls.color), window, f"Colour of {cls.name}")
    if colour.isValid() and colour.name() != cls.color:
        window.session.commit([OpDraft("ontology.class.update", class_id, {"set": {"color": colour.name()}})],
                              "Recolour class")


def set_deprecated(window: Any, class_id: str, deprecated: bool) -> None:
    window.session.commit([OpDraft("ontology.class.update", class_id, {"set": {"deprecated": deprecated}})],
                          "Deprecate class" if deprecated else "Restore class")


def merge_class(window: Any, class_id: str) -> None:
    cls = _class(window, class_id)
    targets = [c for c in window.project.classes() if c.id != class_id and not c.merged_into]
    names = [c.name for c in targets]
    name, ok = QtWidgets.QInputDialog.getItem(window, "Merge class", f"Merge {cls.name!r} into:", names, 0, False)
    if ok:
        target = targets[names.index(name)]
        window.session.commit([OpDraft("ontology.class.merge", class_id, {"into": target.id})], "Merge class")


def move_class(window: Any, class_id: str) -> None:
    cls = _class(window, class_id)
    parents = [c for c in window.project.classes() if c.id != class_id and not c.merged_into]
    names = ["(top level)"] + [c.name for c in parents]
    name, ok = QtWidgets.QInputDialog.getItem(window, "Move class", f"New parent of {cls.name!r}:", names, 0, False)
    if ok:
        parent = None if name == "(top level)" else parents[names.index(name) - 1].id
        window.session.commit([OpDraft("ontology.class.update", class_id, {"set": {"parent_id": parent}})],
                              "Move class")


def export_json(window: Any, path: str | None = None) -> None:
    from labeldesk.core.ontology_io import export_ontology
    if path is None:
        path = preferences.ask_save_file(window, "ontology", "Export ontology", "ontology.json", "JSON (*.json)",
                                         window.project)
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(export_ontology(window.project), fh, indent=2)
        window.statusBar().showMessage(f"ontology exported to {path}", 8000)


def import_json(window: Any, path: str | None = None) -> bool:
    from labeldesk.core.ontology_io import import_ontology
    if path is None:
        path = preferences.ask_open_file(window, "ontology", "Import ontology", "JSON (*.json)", window.project)
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        drafts, notes = import_ontology(window.project, data)
    except (OSError, ValueError, SchemaError) as exc:
        where = f" at {exc.path}" if isinstance(exc, SchemaError) else ""
        QtWidgets.QMessageBox.warning(window, "Ontology not imported",
                                      f"{path}{where}: {getattr(exc, 'problem', exc)}\n\nNothing was changed.")
        window.statusBar().showMessage(f"ontology not imported: {path}{where}: {getattr(exc, 'problem', exc)}", 15000)
        return False
    if drafts:
        window.session.commit(drafts, "Import ontology")
    window.statusBar().showMessage(f"ontology imported: {len(drafts)} change(s)" + (f"; {'; '.join(notes)}" if notes else ""), 15000)
    return True


def context_menu(window: Any, class_id: str | None, global_pos: Any) -> None:
    menu = QtWidgets.QMenu(window)
    menu.addAction("Add class…", lambda: add_class(window))
    if class_id:
        cls = _class(window, class_id)
        menu.addAction("Add subclass…", lambda: add_class(window, class_id))
        menu.addAction("Rename…", lambda: rename_class(window, class_id))
        menu.addAction("Colour…", lambda: recolour_class(window, class_id))
        menu.addAction("Move to…", lambda: move_class(window, class_id))
        if cls.deprecated:
            menu.addAction("Restore (undeprecate)", lambda: set_deprecated(window, class_id, False))
        else:
            menu.addAction("Deprecate", lambda: set_deprecated(window, class_id, True))
        menu.addAction("Merge into…", lambda: merge_class(window, class_id))
        from labeldesk.qt.dialogs import class_identity_dialog
        menu.addAction("Label value, code and concepts…", lambda: class_identity_dialog.edit(window, class_id))
    menu.exec(global_pos)
