"""Ontology rules: class records, typed attribute schemas and value validation.

Classes have stable UUIDs; names are mutable fields. Classes are renamed, deprecated or merged by
ops and never deleted, so no annotation is ever orphaned. Every ontology op bumps the version.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from labeldesk.core.geometry import KINDS

ATTRIBUTE_TYPES = ("enum", "multi", "bool", "number", "text")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class SchemaError(ValueError):
    """Carries the JSON path of the first problem, e.g. ``classes[2].attributes[0].type``."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class LabelClass:
    id: str
    name: str
    color: str = "#ff0000"
    parent_id: str | None = None
    hotkey: str | None = None
    kinds: tuple[str, ...] = ()              # allowed geometry kinds; empty = any
    attributes: tuple[dict[str, Any], ...] = ()
    guide: dict[str, Any] = field(default_factory=dict)   # definition, do, dont, examples
    deprecated: bool = False
    merged_into: str | None = None
    sort_order: float = 0.0
    revision: str | None = None
    # Interchange identity (see ontology_codes): a stable numeric label value (NIfTI voxel value,
    # COCO category id, YOLO index + 1) and code, coded concepts and a keypoint schema.
    value: int | None = None
    code: str | None = None
    concept: dict[str, Any] = field(default_factory=dict)     # {"category": {...}, "type": {...}}
    keypoints: dict[str, Any] = field(default_factory=dict)   # {"names": [...], "skeleton": [[1, 2], ...]}


def check_attribute_defs(defs: Any, path: str = "attributes") -> list[dict[str, Any]]:
    """Validate an attribute schema list; raises SchemaError naming the first bad element."""
    if not isinstance(defs, list):
        raise SchemaError(path, "must be a list")
    keys: set[str] = set()
    for i, d in enumerate(defs):
        p = f"{path}[{i}]"
        if not isinstance(d, dict):
            raise SchemaError(p, "must be an object")
        key = d.get("key")
        if not isinstance(key, str) or not key.isidentifier():
            raise SchemaError(f"{p}.key", "must be an identifier (letters, digits, _)")
        if key in keys:
            raise SchemaError(f"{p}.key", f"duplicate attribute key {key!r}")
        keys.add(key)
        if d.get("type") not in ATTRIBUTE_TYPES:
            raise SchemaError(f"{p}.type", f"must be one of {list(ATTRIBUTE_TYPES)}")
        if d["type"] in ("enum", "multi"):
            opts = d.get("options")
            if not isinstance(opts, list) or not opts or not all(isinstance(o, str) for o in opts):
                raise SchemaError(f"{p}.options", "must be a non-empty list of strings")
        if "required" in d and not isinstance(d["required"], bool):
            raise SchemaError(f"{p}.required", "must be true or false")
        cond = d.get("shown_when")
        if cond is not None and (not isinstance(cond, dict) or "key" not in cond or "equals" not in cond):
            raise SchemaError(f"{p}.shown_when", 'must be {"key": ..., "equals": ...}')
    return defs


def check_attribute_values(defs: list[dict[str, Any]], values: Any) -> None:
    """Refuse values of the wrong type or unknown keys (required values are checked at review)."""
    if not isinstance(values, dict):
        raise SchemaError("attributes", "must be an object")
    by_key = {d["key"]: d for d in defs}
    for key, value in values.items():
        d = by_key.get(key)
        if d is None:
            raise SchemaError(f"attributes.{key}", "is not an attribute of this class")
        if value is None:
            continue
        t = d["type"]
        ok = {
            "enum": lambda v: isinstance(v, str) and v in d["options"],
            "multi": lambda v: isinstance(v, list) and all(isinstance(o, str) and o in d["options"] for o in v),
            "bool": lambda v: isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
            and (d.get("min") is None or v >= d["min"]) and (d.get("max") is None or v <= d["max"]),
            "text": lambda v: isinstance(v, str),
        }[t](value)
        if not ok:
            expected = f"one of {d['options']}" if t in ("enum", "multi") else f"a {t}"
            raise SchemaError(f"attributes.{key}", f"{value!r} is not {expected}")


def missing_required(defs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    """Keys of required attributes that are shown (given ``shown_when``) and have no value."""
    out = []
    for d in defs:
        cond = d.get("shown_when")
        if cond and values.get(cond["key"]) != cond["equals"]:
            continue
        if d.get("required") and values.get(d["key"]) in (None, "", []):
            out.append(d["key"])
    return out


def check_class_fields(values: dict[str, Any], path: str = "class") -> None:
    if "name" in values and (not isinstance(values["name"], str) or not values["name"].strip()):
        raise SchemaError(f"{path}.name", "must be a non-empty string")
    if "color" in values and (not isinstance(values["color"], str) or not COLOR_RE.match(values["color"])):
        raise SchemaError(f"{path}.color", "must be a colour like #1f77b4")
    if values.get("hotkey") is not None and (not isinstance(values["hotkey"], str) or len(values["hotkey"]) != 1):
        raise SchemaError(f"{path}.hotkey", "must be a single key")
    if "kinds" in values:
        kinds = values["kinds"]
        if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
            raise SchemaError(f"{path}.kinds", f"must be a list drawn from {list(KINDS)}")
    if "attributes" in values:
        check_attribute_defs(values["attributes"], f"{path}.attributes")
    check_identity_fields(values, path)
    if "guide" in values and not isinstance(values["guide"], dict):
        raise SchemaError(f"{path}.guide", "must be an object (definition, do, dont, examples)")


MAX_LABEL_VALUE = 65535          # DICOM SEG segment numbers and uint16 label maps


def check_identity_fields(values: dict[str, Any], path: str = "class") -> None:
    """``value`` (1..65535), ``code`` (short text), ``concept`` (coded concepts), ``keypoints``."""
    if values.get("value") is not None:
        v = values["value"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_LABEL_VALUE:
            raise SchemaError(f"{path}.value", f"must be a whole number from 1 to {MAX_LABEL_VALUE}")
    if values.get("code") is not None:
        code = values["code"]
        if not isinstance(code, str) or not code.strip() or len(code) > 64 or "\\" in code:
            raise SchemaError(f"{path}.code", "must be a short text (at most 64 characters, no backslash)")
    if "concept" in values:
        concept = values["concept"]
        if not isinstance(concept, dict):
            raise SchemaError(f"{path}.concept", 'must be an object {"category": {...}, "type": {...}}')
        for key, c in concept.items():
            if key not in ("category", "type", "modifier"):
                raise SchemaError(f"{path}.concept.{key}", "must be category, type or modifier")
            if not isinstance(c, dict) or not all(isinstance(c.get(k), str) and c.get(k) for k in
                                                  ("value", "scheme", "meaning")):
                raise SchemaError(f"{path}.concept.{key}", 'must be {"value": "10200004", "scheme": "SCT", '
                                                           '"meaning": "Liver"}')
    if "keypoints" in values:
        kp = values["keypoints"]
        if not isinstance(kp, dict):
            raise SchemaError(f"{path}.keypoints", 'must be an object {"names": [...], "skeleton": [[1, 2], ...]}')
        names = kp.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names) \
                or len(set(names)) != len(names):
            raise SchemaError(f"{path}.keypoints.names", "must be a list of distinct names")
        skeleton = kp.get("skeleton", [])
        if not isinstance(skeleton, list) or not all(
                isinstance(e, list) and len(e) == 2 and all(isinstance(i, int) and not isinstance(i, bool)
                                                            and 1 <= i <= len(names) for i in e) for e in skeleton):
            raise SchemaError(f"{path}.keypoints.skeleton", "must be a list of [i, j] pairs of 1-based point numbers")


def next_value(classes: Any, wanted: int | None = None) -> int:
    """``wanted`` if no class has it, else the lowest value above every class's value."""
    taken = {c.value for c in classes if c.value is not None}
    if wanted is not None and 1 <= wanted <= MAX_LABEL_VALUE and wanted not in taken:
        return wanted
    return max(taken, default=0) + 1
