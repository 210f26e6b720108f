"""Filters over assets: by tag, batch, kind, name, review state, class present, gold/not gold.

A filter is a JSON object (what a saved filter or queue stores); on the command line it is
written as terms ``tag:site=A tag:complexity batch:pilot kind:volume name:*ct* state:submitted
class:Lesion gold:no`` (all terms must hold). A saved queue is a filter plus an order."""
from __future__ import annotations

import fnmatch
from typing import Any

from labeldesk.core.errors import LabeldeskError

TERMS = ("tag", "batch", "kind", "name", "state", "class", "gold")
ORDERS = ("name", "added", "least_annotated")


def check_filter(value: Any) -> str | None:
    """Why ``value`` is not a valid filter (None: it is)."""
    if not isinstance(value, dict):
        return "a filter must be an object"
    unknown = set(value) - set(TERMS) - {"order"}
    if unknown:
        return f"unknown filter terms {sorted(unknown)} (known: {', '.join(TERMS)})"
    tags = value.get("tag", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                             for k, v in tags.items()):
        return "tag must map keys to a value (or null: any value)"
    for key in ("batch", "kind", "name", "state", "class"):
        if key in value and not isinstance(value[key], str):
            return f"{key} must be a text"
    if "gold" in value and not isinstance(value["gold"], bool):
        return "gold must be true or false"
    if "order" in value and value["order"] not in ORDERS:
        return f"order must be one of {list(ORDERS)}"
    return None


def parse_terms(terms: list[str]) -> dict[str, Any]:
    """``["tag:site=A", "batch:pilot", "gold:no"]`` -> a filter object (errors name the term)."""
    out: dict[str, Any] = {}
    for term in terms:
        key, sep, rest = term.partition(":")
        if not sep or key not in TERMS + ("order",) or not rest:
            raise LabeldeskError(f"bad filter term {term!r}: write KEY:VALUE with KEY one of "
                                 f"{', '.join(TERMS + ('order',))} (e.g. tag:site=A, batch:pilot, gold:no)")
        if key == "tag":
            k, eq, v = rest.partition("=")
            out.setdefault("tag", {})[k] = v if eq else None
        elif key == "gold":
            if rest not in ("yes", "no"):
                raise LabeldeskError(f"bad filter term {term!r}: gold:yes or gold:no")
            out["gold"] = rest == "yes"
        else:
            out[key] = rest
    problem = check_filter(out)
    if problem:
        raise LabeldeskError(f"bad filter: {problem}")
    return out


def describe(flt: dict[str, Any]) -> str:
    parts = [f"tag:{k}" + ("" if v is None else f"={v}") for k, v in (flt.get("tag") or {}).items()]
    parts += [f"{k}:{flt[k]}" for k in ("batch", "kind", "name", "state", "class", "order") if k in flt]
    if "gold" in flt:
        parts.append("gold:" + ("yes" if flt["gold"] else "no"))
    return " ".join(parts) or "(everything)"


def select(project: Any, flt: dict[str, Any], records: Any = None) -> list[str]:
    """Asset ids matching every term of ``flt``, in the filter's order (default: as added)."""
    from labeldesk.core.quality import records as quality_records
    problem = check_filter(flt)
    if problem:
        raise LabeldeskError(f"bad filter: {problem}")
    recs = records or quality_records.load(project.conn)
    conn = project.conn
    assets = [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT id, name, kind FROM assets WHERE removed = 0 ORDER BY rowid")]
    keep = []
    batch_ids: set[str] | None = None
    if "batch" in flt:
        b = recs.batch_by_name(flt["batch"])
        if b is None:
            raise LabeldeskError(f"no batch named {flt['batch']!r} (see `labeldesk batch list`)")
        batch_ids = set(b.payload["assets"])
    with_class: set[str] | None = None
    if "class" in flt:
        row = conn.execute("SELECT id FROM classes WHERE name = ? OR id = ?", (flt["class"], flt["class"])).fetchone()
        if row is None:
            raise LabeldeskError(f"no class named {flt['class']!r}")
        with_class = {r[0] for r in conn.execute(
            "SELECT DISTINCT asset_id FROM annotations WHERE deleted = 0 AND class_id = ?", (row[0],))}
    states: dict[str, set[str]] | None = None
    if "state" in flt:
        from labeldesk.core.review.workflow import item_states
        states = {}
        for it in item_states(conn):
            states.setdefault(it.asset_id, set()).add(it.state)
    for asset_id, name, kind in assets:
        tags = recs.tags.get(asset_id, {})
        if any(k not in tags or (v is not None and tags[k] != v) for k, v in (flt.get("tag") or {}).items()):
            continue
        if batch_ids is not None and asset_id not in batch_ids:
            continue
        if "kind" in flt and kind != flt["kind"]:
            continue
        if "name" in flt and not fnmatch.fnmatch(name.lower(), flt["name"].lower()):
            continue
        if with_class is not None and asset_id not in with_class:
            continue
        if states is not None and flt["state"] not in states.get(asset_id, {"todo"}):
            continue
        if "gold" in flt and (asset_id in recs.gold) != flt["gold"]:
            continue
        keep.append((asset_id, name))
    order = flt.get("order", "added")
    if order == "name":
        keep.sort(key=lambda p: p[1].lower())
    elif order == "least_annotated":
        counts = dict(conn.execute("SELECT asset_id, COUNT(*) FROM annotations WHERE deleted = 0 GROUP BY asset_id"))
        keep.sort(key=lambda p: counts.get(p[0], 0))
    return [a for a, _ in keep]
