"""Ontology as JSON: export, validate (with the path of the first error), import as ops that never
delete (classes missing from the file are left alone and reported), and the list of annotations
that need a second look after ontology changes."""
from __future__ import annotations

from typing import Any

from labeldesk.core import ids
from labeldesk.core.ontology import SchemaError, check_class_fields, missing_required
from labeldesk.core.ops import OpDraft

FORMAT = "labeldesk-ontology/1"
FIELDS = ("name", "color", "parent_id", "hotkey", "kinds", "attributes", "guide", "deprecated", "sort_order",
          "value", "code", "concept", "keypoints")


def export_ontology(project: Any) -> dict[str, Any]:
    classes = []
    for c in project.classes():
        classes.append({"id": c.id, "name": c.name, "color": c.color, "parent_id": c.parent_id,
                        "hotkey": c.hotkey, "kinds": list(c.kinds), "attributes": list(c.attributes),
                        "guide": c.guide, "deprecated": c.deprecated, "merged_into": c.merged_into,
                        "sort_order": c.sort_order, "value": c.value, "code": c.code, "concept": c.concept,
                        "keypoints": c.keypoints})
    return {"format": FORMAT, "version": project.ontology_version, "classes": classes}


def validate_ontology_json(data: Any) -> None:
    """Raise SchemaError naming the first problem, e.g. ``classes[3].attributes[0].options``."""
    if not isinstance(data, dict):
        raise SchemaError("$", "must be an object with a 'classes' list")
    if data.get("format", FORMAT) != FORMAT:
        raise SchemaError("format", f"unknown format {data.get('format')!r}; expected {FORMAT!r}")
    classes = data.get("classes")
    if not isinstance(classes, list):
        raise SchemaError("classes", "must be a list")
    names: set[str] = set()
    seen_ids: set[str] = set()
    hotkeys: dict[str, str] = {}
    values: dict[int, str] = {}
    for i, c in enumerate(classes):
        path = f"classes[{i}]"
        if not isinstance(c, dict):
            raise SchemaError(path, "must be an object")
        if "name" not in c:
            raise SchemaError(f"{path}.name", "is required")
        check_class_fields(c, path)
        if c.get("id") is not None:
            if not isinstance(c["id"], str) or c["id"] in seen_ids:
                raise SchemaError(f"{path}.id", "must be a unique string")
            seen_ids.add(c["id"])
        key = (c.get("parent_id") or c.get("parent") or "") + "/" + c["name"]
        if key in names:
            raise SchemaError(f"{path}.name", f"duplicate class name {c['name']!r} under the same parent")
        names.add(key)
        if c.get("hotkey"):
            if c["hotkey"] in hotkeys:
                raise SchemaError(f"{path}.hotkey", f"hotkey {c['hotkey']!r} is used by {hotkeys[c['hotkey']]!r} too")
            hotkeys[c["hotkey"]] = c["name"]
        if c.get("value") is not None:
            if c["value"] in values:
                raise SchemaError(f"{path}.value", f"label value {c['value']} is used by {values[c['value']]!r} too")
            values[c["value"]] = c["name"]
        if "deprecated" in c and not isinstance(c["deprecated"], bool):
            raise SchemaError(f"{path}.deprecated", "must be true or false")


def import_ontology(project: Any, data: Any) -> tuple[list[OpDraft], list[str]]:
    """Drafts that bring the project's ontology up to ``data`` (one transaction for the caller), and
    notes (e.g. classes in the project that the file lacks: kept)."""
    validate_ontology_json(data)
    existing = {c.id: c for c in project.classes()}
    by_name = {(c.parent_id, c.name): c.id for c in existing.values()}
    drafts: list[OpDraft] = []
    name_to_id: dict[str, str] = {}
    mentioned: set[str] = set()
    for i, c in enumerate(data["classes"]):
        parent = c.get("parent_id")
        if parent is None and c.get("parent"):
            parent = name_to_id.get(c["parent"])
        cid = c.get("id") or by_name.get((parent, c["name"])) or ids.new_id()
        name_to_id[c["name"]] = cid
        mentioned.add(cid)
        fields = {k: c[k] for k in FIELDS if k in c and k != "parent_id"
                  and not (k in ("value", "code") and c[k] is None)}     # a missing value is never cleared
        fields["parent_id"] = parent
        fields.setdefault("sort_order", float(i))
        if cid not in existing:
            drafts.append(OpDraft("ontology.class.create", cid, {"class": fields}))
            continue
        old = existing[cid]
        current = {"name": old.name, "color": old.color, "parent_id": old.parent_id, "hotkey": old.hotkey,
                   "kinds": list(old.kinds), "attributes": list(old.attributes), "guide": old.guide,
                   "deprecated": old.deprecated, "sort_order": old.sort_order, "value": old.value,
                   "code": old.code, "concept": old.concept, "keypoints": old.keypoints}
        changed = {k: v for k, v in fields.items() if current.get(k) != v}
        if changed:
            drafts.append(OpDraft("ontology.class.update", cid, {"set": changed}))
        if c.get("merged_into") and not old.merged_into:
            drafts.append(OpDraft("ontology.class.merge", cid, {"into": c["merged_into"]}))
    notes = [f"class {existing[cid].name!r} is not in the file: kept unchanged"
             for cid in existing if cid not in mentioned]
    return drafts, notes


def flagged_annotations(project: Any, asset_id: str | None = None) -> list[tuple[Any, str]]:
    """Annotations that need a look: deprecated or merged class, made against an older ontology
    version than their class's last change, or missing required attribute values."""
    classes = {c.id: c for c in project.classes()}
    changed_at = {}
    for row in project.conn.execute(
            "SELECT entity, MAX(local_order) FROM ops WHERE type LIKE 'ontology.%' GROUP BY entity"):
        changed_at[row[0]] = row[1]
    assets = [asset_id] if asset_id else [a.id for a in project.assets()]
    out = []
    for aid in assets:
        rows = {r[0]: r[1] for r in project.conn.execute(
            "SELECT id, ontology_version FROM annotations WHERE asset_id = ? AND deleted = 0", (aid,))}
        from labeldesk.core.tracks import track_flags
        anns = project.annotations(aid)
        per_track = track_flags(anns, {c.id: c.attributes for c in classes.values()})   # once per track
        for ann in anns:
            cls = classes.get(ann.class_id)
            if cls is None:
                continue
            if cls.merged_into:
                out.append((ann, f"class {cls.name!r} was merged into {classes[cls.merged_into].name!r}"))
            elif cls.deprecated:
                out.append((ann, f"class {cls.name!r} is deprecated"))
            elif rows.get(ann.id, 0) < _version_of_change(project, changed_at.get(cls.id)):
                out.append((ann, f"class {cls.name!r} changed after this annotation was made"))
            if ann.track_id:
                if ann.id in per_track:
                    out.append((ann, per_track[ann.id]))
                continue
            missing = missing_required(list(cls.attributes), ann.attributes)
            if missing:
                out.append((ann, "missing required: " + ", ".join(missing)))
    return out


def _version_of_change(project: Any, local_order: int | None) -> int:
    """Ontology version right after the op at ``local_order`` (count of ontology ops up to it)."""
    if local_order is None:
        return 0
    row = project.conn.execute("SELECT COUNT(*) FROM ops WHERE type LIKE 'ontology.%' AND local_order <= ?",
                               (local_order,)).fetchone()
    return int(row[0])
