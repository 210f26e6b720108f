"""Organising the data: tags (key: value per asset), batches, saved filters and queues, and
assignment by filter. Each change is a ``quality.*`` op, so it is audited and shared by sync."""
from __future__ import annotations

from typing import Any, Iterable

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import Applied, OpDraft
from labeldesk.core.quality import records, selection


def parse_tags(pairs: Iterable[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, eq, value = p.partition("=")
        if not eq or not key.strip():
            raise LabeldeskError(f"bad tag {p!r}: write KEY=VALUE (e.g. site=A, complexity=high)")
        out[key.strip()] = value.strip()
    return out


def set_tags(project: Any, asset_ids: Iterable[str], values: dict[str, str | None], *,
             user: str | None = None) -> list[Applied]:
    """Set (or with None remove) tags on assets, one op per asset, in one transaction."""
    drafts = [OpDraft("quality.tag", a, {"set": dict(values)}) for a in dict.fromkeys(asset_ids)]
    if not drafts:
        raise LabeldeskError("no assets to tag")
    return project.apply_all(drafts, user=user)


def tag_counts(project: Any, recs: records.QualityRecords | None = None) -> dict[str, dict[str, int]]:
    """{key: {value: number of assets}} over the project's live assets."""
    recs = recs or records.load(project.conn)
    live = {r[0] for r in project.conn.execute("SELECT id FROM assets WHERE removed = 0")}
    out: dict[str, dict[str, int]] = {}
    for asset_id, tags in recs.tags.items():
        if asset_id in live:
            for k, v in tags.items():
                out.setdefault(k, {}).setdefault(v, 0)
                out[k][v] += 1
    return out


def save_batch(project: Any, name: str, asset_ids: list[str], note: str = "", *,
               user: str | None = None) -> Applied:
    recs = records.load(project.conn)
    old = recs.batch_by_name(name)
    if not asset_ids:
        raise LabeldeskError(f"batch {name!r}: no assets selected")
    entity = old.id if old is not None else ids.new_id()
    return project.apply(OpDraft("quality.batch", entity, {"name": name, "assets": list(dict.fromkeys(asset_ids)),
                                                           "note": note}), user=user)


def remove_batch(project: Any, name: str, *, user: str | None = None) -> Applied:
    b = records.load(project.conn).batch_by_name(name)
    if b is None:
        raise LabeldeskError(f"no batch named {name!r} (see `labeldesk batch list`)")
    return project.apply(OpDraft("quality.batch", b.id, {"removed": True}), user=user)


def save_view(project: Any, name: str, flt: dict[str, Any], kind: str = "filter", *,
              user: str | None = None) -> Applied:
    problem = selection.check_filter(flt)
    if problem:
        raise LabeldeskError(f"bad filter: {problem}")
    old = records.load(project.conn).view_by_name(name)
    entity = old.id if old is not None else ids.new_id()
    return project.apply(OpDraft("quality.view", entity, {"name": name, "kind": kind, "filter": flt}), user=user)


def remove_view(project: Any, name: str, *, user: str | None = None) -> Applied:
    v = records.load(project.conn).view_by_name(name)
    if v is None:
        raise LabeldeskError(f"no saved filter or queue named {name!r} (see `labeldesk filter list`)")
    return project.apply(OpDraft("quality.view", v.id, {"removed": True}), user=user)


def view_filter(project: Any, name: str) -> dict[str, Any]:
    v = records.load(project.conn).view_by_name(name)
    if v is None:
        raise LabeldeskError(f"no saved filter or queue named {name!r} (see `labeldesk filter list`)")
    return dict(v.payload["filter"])


def assign_by_filter(project: Any, flt: dict[str, Any], *, to: list[str] | None = None, per_asset: int = 1,
                     only_qualified: bool = False, user: str | None = None) -> list[Any]:
    """Assign the assets a filter selects (round-robin over annotators unless ``to``). With
    ``only_qualified``, annotators who have not passed the qualification gate are left out."""
    from labeldesk.core.review.assignment import annotators, assign
    asset_ids = selection.select(project, flt)
    if not asset_ids:
        raise LabeldeskError(f"the filter {selection.describe(flt)} selects no assets")
    if not only_qualified:
        return assign(project, asset_ids, to=to, per_asset=per_asset, user=user)
    from labeldesk.core.quality.gold import qualification
    ok = {q.user_id for q in qualification(project) if q.qualified}
    pool = [u for u in (to or annotators(project.conn)) if u in ok]
    if len(pool) < per_asset:
        raise LabeldeskError(f"{len(pool)} qualified annotator(s) for {per_asset} per asset "
                             f"(see `labeldesk gold qualify`)")
    share: dict[str, list[str]] = {u: [] for u in pool}
    for n, asset_id in enumerate(asset_ids):       # round-robin over the qualified annotators
        for k in range(per_asset):
            share[pool[(n * per_asset + k) % len(pool)]].append(asset_id)
    made: list[Any] = []
    for u, mine in share.items():
        if mine:
            made += assign(project, mine, to=[u], user=user)
    return made
