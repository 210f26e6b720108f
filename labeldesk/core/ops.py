"""Ops: the one path for every change.

A tool, panel, CLI command or sync merge builds an :class:`OpDraft`. The project assigns it an
op id (``device:seq``), a hybrid-logical-clock time, the user and the wall time, then the op's
*type* validates it against the current state, writes the materialised rows and reports the ids it
changed (:class:`ChangeSet`), all in the transaction that also appends the op to the hash-chained
log and the sync outbox. Each type also computes the inverse draft (undo applies it).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from labeldesk.core.errors import OpRejected


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_encode_str = json.encoder.encode_basestring     # what _CANONICAL does with a str (ensure_ascii=False)
encode_str = _encode_str


def _not_json(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


# _CANONICAL's own C encoder, made once (``JSONEncoder.encode`` makes a new one on every call:
# most of the cost of encoding a small geometry). No circular-reference markers: the markers of
# a failed call (NaN) would stay behind in a shared one; a cycle ends in RecursionError instead.
_C_ENCODE = (json.encoder.c_make_encoder(None, _not_json, _encode_str, None, ":", ",", True, False, False)
             if json.encoder.c_make_encoder is not None else None)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8, no NaN: the form that is hashed and synced.

    One shared encoder (``json.dumps`` with options builds a new encoder on every call, which
    was a third of the cost of a bulk import's small values); strings take the C fast path."""
    t = type(value)
    if t is str:
        return _encode_str(value)
    if t is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if t is dict and not value:                                # empty attributes
        return "{}"
    if t is list and all(type(v) is int for v in value):       # op bases are [], clocks [ms, counter]
        return "[" + ",".join(map(int.__repr__, value)) + "]"
    if _C_ENCODE is not None and (t is dict or t is list):
        return "".join(_C_ENCODE(value, 0))
    return _CANONICAL.encode(value)


@dataclass(frozen=True)
class OpDraft:
    type: str
    entity: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    base: tuple[str, ...] = ()
    reason: str | None = None
    # Local-only side data (e.g. an asset's file locator): written with the op, never synced.
    local: dict[str, Any] | None = None


def canonical_op(base: Any, dev: Any, entity: Any, hlc: Any, op_id: Any, pj: str, reason: Any, seq: Any,
                 kind: Any, user: Any, wall: Any) -> str:
    """The canonical JSON of an op (what is hashed) from its fields and its encoded payload ``pj``;
    ``Op.canonical`` and the bulk path (store/bulk.py) both build it here."""
    c = canonical_json
    s = _encode_str
    # the usual field types inline (strings, int seq, [int, int] clock); anything else: canonical_json
    return ('{"base":' + ("[]" if base == () else c(list(base)))
            + ',"dev":' + (s(dev) if type(dev) is str else c(dev))
            + ',"entity":' + (s(entity) if type(entity) is str else c(entity))
            + ',"hlc":' + ("[%d,%d]" % hlc if type(hlc) is tuple and len(hlc) == 2 and type(hlc[0]) is int
                           and type(hlc[1]) is int else c(list(hlc)))
            + ',"op_id":' + (s(op_id) if type(op_id) is str else c(op_id)) + ',"payload":' + pj
            + ',"reason":' + (s(reason) if type(reason) is str else c(reason))
            + ',"seq":' + (int.__repr__(seq) if type(seq) is int else c(seq))
            + ',"type":' + (s(kind) if type(kind) is str else c(kind))
            + ',"user":' + (s(user) if type(user) is str else c(user))
            + ',"wall":' + (s(wall) if type(wall) is str else c(wall)) + "}")


@dataclass(frozen=True)
class Op:
    op_id: str
    dev: str
    seq: int
    hlc: tuple[int, int]
    wall: str
    user: str | None
    type: str
    entity: str | None
    payload: dict[str, Any]
    base: tuple[str, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"op_id": self.op_id, "dev": self.dev, "seq": self.seq, "hlc": list(self.hlc),
                "wall": self.wall, "user": self.user, "type": self.type, "entity": self.entity,
                "payload": self.payload, "base": list(self.base), "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Op":
        return cls(op_id=d["op_id"], dev=d["dev"], seq=int(d["seq"]), hlc=(int(d["hlc"][0]), int(d["hlc"][1])),
                   wall=d["wall"], user=d.get("user"), type=d["type"], entity=d.get("entity"),
                   payload=dict(d.get("payload") or {}), base=tuple(d.get("base") or ()),
                   reason=d.get("reason"))

    def canonical(self, payload_json: str | None = None) -> str:
        """``canonical_json(self.to_dict())`` built from an already encoded payload (the payload is
        by far the largest part; encoding it once saves a third of a commit)."""
        pj = payload_json if payload_json is not None else canonical_json(self.payload)
        return canonical_op(self.base, self.dev, self.entity, self.hlc, self.op_id, pj, self.reason, self.seq,
                            self.type, self.user, self.wall)

    def digest(self, payload_json: str | None = None) -> str:
        return hashlib.sha256(self.canonical(payload_json).encode()).hexdigest()


class ChangeSet:
    """Exactly which ids an op changed, by entity kind (see :data:`CHANGE_KINDS`).

    Each kind is a ``set`` attribute (``changes.annotations``), created when first read or
    given: most ChangeSets name one kind, and eleven empty sets per op cost ≈ 2.4 KB (240 MB
    over a bulk import of 100,000 annotations)."""

    def __init__(self, **kinds: set[str]) -> None:
        for name, ids in kinds.items():
            if name not in _KINDS:
                raise TypeError(f"ChangeSet got an unexpected keyword argument {name!r}")
            self.__dict__[name] = ids

    def __getattr__(self, name: str) -> set[str]:
        if name not in _KINDS:
            raise AttributeError(name)
        value: set[str] = set()
        self.__dict__[name] = value
        return value

    def kinds(self) -> dict[str, set[str]]:
        """The kinds that name ids (without creating the empty ones)."""
        return {k: v for k, v in self.__dict__.items() if v}

    def update(self, other: "ChangeSet") -> None:
        for name, ids in other.__dict__.items():
            if ids:
                mine = self.__dict__.get(name)
                if mine is None:
                    self.__dict__[name] = set(ids)
                else:
                    mine.update(ids)

    def __bool__(self) -> bool:
        return any(self.__dict__.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChangeSet):
            return NotImplemented
        return self.kinds() == other.kinds()

    def __repr__(self) -> str:
        return "ChangeSet(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self.kinds().items())) + ")"


# assets; annotations; classes; layers; users; settings; reviews = asset ids whose review/task state
# changed; issues = review issue ids (and their comments); conflicts = sync conflict record ids;
# releases; segments = segment ids (3-D label maps)
CHANGE_KINDS = ("assets", "annotations", "classes", "layers", "users", "settings", "reviews", "issues",
          "conflicts", "releases", "segments")
_KINDS = frozenset(CHANGE_KINDS)


@dataclass(frozen=True)
class Applied:
    op: Op
    changes: ChangeSet
    inverse: OpDraft | None


class OpType(Protocol):
    def inverse(self, conn: sqlite3.Connection, draft: OpDraft) -> OpDraft | None:
        """The draft that undoes ``draft`` given the state before it (validates too)."""

    def apply(self, conn: sqlite3.Connection, op: Op, local: dict[str, Any] | None) -> ChangeSet:
        """Validate against the current state and write the materialised rows."""


OP_TYPES: dict[str, OpType] = {}


def op_type(name: str) -> Callable[[type], type]:
    """Class decorator registering an op type under ``name``."""
    def register(cls: type) -> type:
        if name in OP_TYPES:
            raise RuntimeError(f"op type {name!r} registered twice")
        OP_TYPES[name] = cls()
        return cls
    return register


def get_op_type(name: str) -> OpType:
    from labeldesk.core import op_types  # noqa: F401  (registers the built-in types)
    try:
        return OP_TYPES[name]
    except KeyError:
        raise OpRejected(f"unknown op type {name!r}") from None


def require(condition: bool, message: str) -> None:
    if not condition:
        raise OpRejected(message)
