"""The shape every op from another device must have before it is logged or applied.

One malformed op must harm no one: it is checked against its op type's schema here, and an op
that fails makes the merge refuse its whole segment (alert naming the device and the seq) while
every other device's segments merge as usual. The schema checks the structure the op types rely
on (field presence and JSON types); the op types still check meaning against the store, and an
op type that fails on a value it did not expect is caught by the reducer as the same refusal.

A schema is ``{field: spec}`` for the payload; a spec is a type name (``str``, ``int``, ``num``,
``bool``, ``dict``, ``list``, ``ids``: a list of strings, ``plane``, ``geometry``, ``any``), a
trailing ``?`` when the field may be absent (or null), or a nested schema (a dict that must be
there). ``ENTITY_OPTIONAL`` lists the types whose ops need no entity id.
"""
from __future__ import annotations

from typing import Any

from labeldesk.core.errors import LabeldeskError


class InvalidOp(LabeldeskError):
    """An op from the share that does not have its op type's shape."""


_PLANE_AXES = ("axial", "coronal", "sagittal")

SCHEMAS: dict[str, dict[str, Any]] = {
    "user.add": {"name": "str"},
    "role.grant": {"role": "str"},
    "role.revoke": {"role": "str"},
    "key.enrol": {"key_id": "str", "public_key": "str"},
    "key.revoke": {"key_id": "str", "cut": "dict?"},
    "project.settings": {"set": "dict"},
    "ontology.class.create": {"class": {"name": "str", "parent_id": "str?"}},
    "ontology.class.update": {"set": "dict"},
    "ontology.class.merge": {"into": "str"},
    "asset.add": {"asset": {"kind": "str", "name": "str", "content_hash": "str", "width": "int", "height": "int",
                            "depth": "int?", "frames": "int?", "channels": "int?", "dtype": "str?",
                            "spacing": "list?", "meta": "dict?"}},
    "asset.remove": {}, "asset.restore": {},
    "asset.rename": {"name": "str"},
    "layer.create": {"layer": {"name": "str", "kind": "str?", "owner": "str?"}},
    "layer.remove": {}, "layer.restore": {},
    "annotation.create": {"annotation": {"asset_id": "str", "layer_id": "str", "class_id": "str?",
                                         "geometry": "geometry", "plane": "plane", "attributes": "dict?"}},
    "annotation.update": {"set": "dict"},
    "annotation.delete": {}, "annotation.restore": {},
    "classification.add": {"restore": "bool?", "scope": "str?", "asset_id": "str?", "layer_id": "str?",
                           "class_id": "str?", "plane": "plane?"},
    "classification.remove": {},
    "task.assign": {"asset_id": "str", "user_id": "str", "layer_id": "str", "mode": "str?"},
    "task.unassign": {},
    "review.submit": {"asset_id": "str", "layer_id": "str", "target_rev": "str"},
    "review.decide": {"asset_id": "str", "layer_id": "str", "target_rev": "str", "decision": "str",
                      "supersedes": "ids?", "final_layer_id": "str?"},
    "review.adjudicate": {"asset_id": "str", "final_layer_id": "str", "mode": "str?", "outcome": "str?",
                          "sources": "dict?", "closes": "ids?", "chosen": "list?", "copies": "dict?"},
    "issue.open": {"asset_id": "str", "text": "str", "plane": "plane?", "image_xy": "list?", "layer_id": "str?",
                   "annotation_id": "str?"},
    "issue.comment": {"text": "str?"},
    "issue.resolve": {}, "issue.reopen": {},
    "conflict.resolve": {"conflict": "str", "choice": "str", "entity_kind": "str?", "field": "str?",
                         "candidates": "ids?", "candidate_values": "list?"},
    "prediction.accept": {"prediction_id": "str", "copy_id": "str", "reason": "str?"},
    "prediction.reject": {"prediction_id": "str", "reason": "str?"},
    "prediction.retract": {"target": "str", "prediction_id": "str"},
    "release.create": {"release": "dict"},
}
ENTITY_OPTIONAL = frozenset({"project.settings"})
_KINDS = {"str": str, "dict": dict, "list": list, "bool": bool}


def _number(v: Any, integer: bool) -> bool:
    if isinstance(v, bool):
        return False
    if integer:
        return isinstance(v, int)
    return isinstance(v, (int, float)) and v == v and v not in (float("inf"), float("-inf"))


def _problem(value: Any, spec: Any, where: str) -> str | None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{where} must be an object"
        for key, sub in spec.items():
            optional = isinstance(sub, str) and sub.endswith("?")
            if key not in value or value[key] is None:
                if not optional:
                    return f"{where}.{key} is missing"
                continue
            p = _problem(value[key], sub.rstrip("?") if isinstance(sub, str) else sub, f"{where}.{key}")
            if p:
                return p
        return None
    if spec == "any":
        return None
    if spec in _KINDS:
        if isinstance(value, _KINDS[spec]):
            return None
        return f"{where} must be {'text' if spec == 'str' else ('an object' if spec == 'dict' else 'a ' + spec)}"
    if spec in ("int", "num"):
        return None if _number(value, spec == "int") else f"{where} must be {'an integer' if spec == 'int' else 'a number'}"
    if spec == "ids":
        return None if isinstance(value, list) and all(isinstance(v, str) for v in value) else f"{where} must be a list of ids"
    if spec == "plane":
        if not isinstance(value, dict):
            return f"{where} must be an object"
        for k in ("z", "t"):
            if k in value and not (_number(value[k], True) and value[k] >= 0):
                return f"{where}.{k} must be a whole number >= 0"
        if "axis" in value and value["axis"] not in _PLANE_AXES:
            return f"{where}.axis must be one of {', '.join(_PLANE_AXES)}"
        return None
    if spec == "geometry":
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
            return f"{where} must be an object with a kind"
        return None
    return f"{where}: unknown schema {spec!r}"


_COMPILED: dict[int, tuple[tuple[str, bool, Any, Any], ...]] = {}


def _fields(spec: dict[str, Any]) -> tuple[tuple[str, bool, Any, Any], ...]:
    """(key, optional, sub-spec, its Python type for the plain type names) of a nested schema,
    as ``_problem`` reads them (made once)."""
    out = _COMPILED.get(id(spec))
    if out is None:
        out = _COMPILED[id(spec)] = tuple(
            (k, isinstance(sub, str) and sub.endswith("?"), sub.rstrip("?") if isinstance(sub, str) else sub,
             _KINDS.get(sub.rstrip("?")) if isinstance(sub, str) else None)
            for k, sub in spec.items())
    return out


def _ok(value: Any, spec: Any) -> bool:
    """``_problem(value, spec, ...) is None`` without building the location of every field (the
    message is made only for a value that fails)."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return False
        for key, optional, sub, kind in _fields(spec):
            v = value.get(key)
            if v is None:
                if not optional:
                    return False
                continue
            if kind is not None:
                if not isinstance(v, kind):
                    return False
            elif not _ok(v, sub):
                return False
        return True
    if spec == "geometry":
        return type(value) is dict and type(value.get("kind")) is str
    if spec == "plane":
        if type(value) is not dict:
            return False
        for k in ("z", "t"):
            v = value.get(k, 0)
            if type(v) is not int or v < 0:
                return False
        return "axis" not in value or value["axis"] in _PLANE_AXES
    return _problem(value, spec, "") is None


def _compile(schema: dict[str, Any], name: str) -> Any:
    """``lambda payload: _ok(payload, schema)`` as straight-line code, made once per op type: the
    same tests in the same order, the nesting unrolled (a merge checks every op of a segment)."""
    body: list[str] = []
    consts: dict[str, Any] = {"_ok": _ok, "_PLANE_AXES": _PLANE_AXES}

    def emit(var: str, spec: Any, depth: int) -> None:
        pad = "    " * depth
        if isinstance(spec, dict):
            body.append(f"{pad}if not isinstance({var}, dict): return False")
            for i, (key, optional, sub, kind) in enumerate(_fields(spec)):
                v = f"{var}_{i}"
                body.append(f"{pad}{v} = {var}.get({key!r})")
                body.append(f"{pad}if {v} is None:")
                body.append(f"{pad}    {'pass' if optional else 'return False'}")
                body.append(f"{pad}else:")
                if kind is not None:
                    body.append(f"{pad}    if not isinstance({v}, {kind.__name__}): return False")
                elif isinstance(sub, dict) or sub in ("geometry", "plane"):
                    emit(v, sub, depth + 1)
                else:
                    consts[f"spec_{v}"] = sub
                    body.append(f"{pad}    if not _ok({v}, spec_{v}): return False")
        elif spec == "geometry":
            body.append(f"{pad}if not (type({var}) is dict and type({var}.get('kind')) is str): return False")
        else:                                   # plane
            body.append(f"{pad}if type({var}) is not dict: return False")
            for k in ("z", "t"):
                body.append(f"{pad}{var}_{k} = {var}.get({k!r}, 0)")
                body.append(f"{pad}if type({var}_{k}) is not int or {var}_{k} < 0: return False")
            body.append(f"{pad}if 'axis' in {var} and {var}['axis'] not in _PLANE_AXES: return False")

    emit("p", schema, 1)
    source = "def check(p):\n" + "\n".join(body) + "\n    return True\n"
    exec(compile(source, f"<payload schema of {name}>", "exec"), consts)
    return consts["check"]


_PAYLOAD_OK: dict[str, tuple[Any, Any]] = {}      # op type -> (its schema, the schema's compiled check)


def payload_ok(op_type: str, schema: dict[str, Any], payload: Any) -> bool:
    """``_ok(payload, schema)`` by the compiled check of ``op_type``'s schema (compiled when first
    needed: op type modules add their schemas to SCHEMAS when they are imported)."""
    held = _PAYLOAD_OK.get(op_type)
    if held is None or held[0] is not schema:
        held = _PAYLOAD_OK[op_type] = (schema, _compile(schema, op_type))
    return bool(held[1](payload))


def _line_ok(line: Any) -> bool:
    """True when :func:`_check_line` would find nothing wrong (the usual case, checked without
    building anything); False when it may (it then says what)."""
    if type(line) is not dict:
        return False
    get = line.get
    op_type = get("type")
    if not (type(get("op_id")) is str and type(op_type) is str and type(get("wall")) is str
            and type(get("sha256")) is str):
        return False
    hlc = get("hlc")
    if type(hlc) is not list or len(hlc) != 2 or type(hlc[0]) is not int or type(hlc[1]) is not int:
        return False
    base = get("base", [])
    if type(base) is not list:
        return False
    for b in base:
        if type(b) is not str:
            return False
    entity, v, r = get("entity"), get("user"), get("reason")
    if (v is not None and type(v) is not str) or (entity is not None and type(entity) is not str) or \
            (r is not None and type(r) is not str):
        return False
    if "seen" in line:
        seen = line["seen"]
        if type(seen) is not dict:
            return False
        for v in seen.values():
            if type(v) is not int:
                return False
    schema = SCHEMAS.get(op_type)
    if schema is None:
        return True
    if entity is None and op_type not in ENTITY_OPTIONAL:
        return False
    payload = get("payload")
    if payload is None and get("blob"):
        return True
    held = _PAYLOAD_OK.get(op_type)
    if held is not None and held[0] is schema:
        return bool(held[1](payload))
    return payload_ok(op_type, schema, payload)


def check_line(line: Any) -> None:
    """InvalidOp if an op line from the share does not have the shape of its op type."""
    if not _line_ok(line):
        _check_line(line)


def _check_line(line: Any) -> None:
    if not isinstance(line, dict):
        raise InvalidOp("an op line is not an object")
    where = _Where(line)
    for key, kind in (("op_id", str), ("type", str), ("wall", str), ("sha256", str)):
        if not isinstance(line.get(key), kind):
            raise InvalidOp(f"{where}: the op line's {key} is missing or not text")
    if not (isinstance(line.get("hlc"), list) and len(line["hlc"]) == 2 and all(_number(v, True) for v in line["hlc"])):
        raise InvalidOp(f"{where}: the op line's hlc is not two integers")
    if not isinstance(line.get("base", []), list) or not all(isinstance(b, str) for b in line.get("base") or []):
        raise InvalidOp(f"{where}: base is not a list of op ids")
    for key in ("user", "entity", "reason"):
        if line.get(key) is not None and not isinstance(line[key], str):
            raise InvalidOp(f"{where}: {key} is not text")
    if "seen" in line and not (isinstance(line["seen"], dict) and all(_number(v, True) for v in line["seen"].values())):
        raise InvalidOp(f"{where}: seen is not a map of device seqs")
    op_type = line["type"]
    schema = SCHEMAS.get(op_type)
    if schema is None:
        return              # a type this app does not know: kept, not applied (needs a newer app)
    if line.get("entity") is None and op_type not in ENTITY_OPTIONAL:
        raise InvalidOp(f"{where}: {op_type} without an entity id")
    payload = line.get("payload")
    if line.get("blob") and payload is None:
        return              # checked when its blob arrives (check_payload)
    check_payload(op_type, payload, where)


class _Where:
    """"op <id> (seq <n>)", formatted only when a message needs it."""

    def __init__(self, line: dict[str, Any]) -> None:
        self.line = line

    def __str__(self) -> str:
        return f"op {self.line.get('op_id')} (seq {self.line.get('seq')})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def check_payload(op_type: str, payload: Any, where: Any) -> None:
    schema = SCHEMAS.get(op_type)
    if schema is None or _ok(payload, schema):
        return
    problem = _problem(payload, schema, "payload")
    if problem:
        raise InvalidOp(f"{where}: {op_type}: {problem}")
