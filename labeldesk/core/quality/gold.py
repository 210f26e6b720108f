"""Gold standards and qualification.

A gold item is an asset whose answer is known: the annotations of one layer on it (a
``quality.gold`` op names the layer). Gold items are seeded into annotators' queues as ordinary
assignments — nothing in an annotator's queue says which items are gold, and annotators do not
see other layers before review — and each annotator's layer on a gold item is scored against the
gold once they have started on it (submitted, or holding annotations):

* detection F1 of shapes matched at an IoU threshold (class ignored), mean IoU and Dice of those
  matches, class accuracy over them, attribute accuracy over the same-class matches;
* ``score`` = panoptic quality: Σ IoU of same-class matches / (TP + ½ FP + ½ FN), in [0, 1].

Qualification (project setting ``qualification``: pilot batch, minimum mean score, minimum number
of scored gold items): an annotator who meets it is allowed into production (assignment by filter
with ``only_qualified``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import Applied, OpDraft
from labeldesk.core.quality import records

SETTING = "qualification"
STARTED = ("submitted", "approved", "returned", "disputed", "adjudicated")


@dataclass
class GoldScore:
    asset_id: str
    asset_name: str
    user_id: str | None
    user_name: str
    layer_id: str
    n_gold: int
    n_user: int
    f1: float | None
    iou: float | None
    dice: float | None
    class_accuracy: float | None
    attribute_accuracy: float | None
    score: float
    when: str                       # wall time of the latest op on the user's layer (for dashboards)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Qualification:
    user_id: str
    user_name: str
    items: int
    mean_score: float | None
    qualified: bool
    reason: str


def mark(project: Any, asset_id: str, layer_id: str, *, user: str | None = None) -> Applied:
    return project.apply(OpDraft("quality.gold", asset_id, {"layer": layer_id}), user=user)


def unmark(project: Any, asset_id: str, *, user: str | None = None) -> Applied:
    if asset_id not in records.load(project.conn).gold:
        raise LabeldeskError(f"asset {asset_id} is not a gold item")
    return project.apply(OpDraft("quality.gold", asset_id, {"removed": True}), user=user)


def seed(project: Any, users: list[str] | None = None, count: int | None = None, *,
         user: str | None = None) -> list[Any]:
    """Put gold items into annotators' queues (as plain assignments) that they do not have yet."""
    from labeldesk.core.review.assignment import annotators, assign, assignments
    gold = records.load(project.conn).gold
    if not gold:
        raise LabeldeskError("this project has no gold items yet (`labeldesk gold mark ASSET --layer L`)")
    owners = {r[0]: r[1] for r in project.conn.execute("SELECT id, owner FROM layers")}
    made = []
    for u in users or annotators(project.conn):
        have = {a.asset_id for a in assignments(project.conn, user_id=u)}
        todo = [a for a, rec in gold.items() if a not in have and owners.get(rec.payload["layer"]) != u]
        if count is not None:
            todo = todo[:count]
        if todo:
            made += assign(project, todo, to=[u], user=user)
    return made


def _attr_accuracy(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> float | None:
    total = agree = 0
    for gold_attrs, user_attrs in pairs:
        for k, v in gold_attrs.items():
            total += 1
            agree += user_attrs.get(k) == v
    return agree / total if total else None


def scores(project: Any, threshold: float = 0.5) -> list[GoldScore]:
    """Every annotator layer that has started on a gold item, scored against the gold."""
    from labeldesk.core.review.matching import match_annotations
    from labeldesk.core.review.workflow import item_states
    gold = records.load(project.conn).gold
    users = {u.id: u.name for u in project.users()}
    out = []
    for asset_id, rec in gold.items():
        gold_layer = rec.payload["layer"]
        ref = project.annotations(asset_id, layer_id=gold_layer)
        for item in item_states(project.conn, asset_id):
            if item.layer_id == gold_layer:
                continue
            mine = project.annotations(asset_id, layer_id=item.layer_id)
            if item.state not in STARTED and not mine:
                continue
            res = match_annotations(ref, mine, threshold)
            spatial = res.matches + res.class_mismatches
            n = res.n_a + res.n_b
            tp, fp, fn = len(res.matches), res.n_b - len(res.matches), res.n_a - len(res.matches)
            pq = sum(m.iou for m in res.matches) / (tp + fp / 2 + fn / 2) if (tp + fp + fn) else 1.0
            by_id = {a.id: a for a in ref + mine}
            ious = [m.iou for m in spatial]
            when = project.conn.execute("SELECT MAX(wall) FROM ops WHERE entity IN (SELECT id FROM annotations "
                                        "WHERE asset_id = ? AND layer_id = ?)", (asset_id, item.layer_id)).fetchone()[0]
            out.append(GoldScore(
                asset_id, item.asset_name, item.owner_id, users.get(item.owner_id or "", item.owner_name),
                item.layer_id, res.n_a, res.n_b, 2 * len(spatial) / n if n else None,
                sum(ious) / len(ious) if ious else None,
                sum(2 * i / (1 + i) for i in ious) / len(ious) if ious else None,
                len(res.matches) / len(spatial) if spatial else None,
                _attr_accuracy([(by_id[m.a].attributes, by_id[m.b].attributes) for m in res.matches]),
                round(pq, 6), when or ""))
    return out


def settings(project: Any) -> dict[str, Any]:
    row = project.conn.execute("SELECT value FROM meta WHERE key = ?", ("setting." + SETTING,)).fetchone()
    return {"batch": None, "min_score": 0.7, "min_items": 3, **(json.loads(row[0]) if row else {})}


def set_gate(project: Any, min_score: float, min_items: int, batch: str | None, *,
             user: str | None = None) -> Applied:
    if not 0 <= min_score <= 1:
        raise LabeldeskError("--min-score must be between 0 and 1")
    if min_items < 1:
        raise LabeldeskError("--min-items must be at least 1")
    if batch is not None and records.load(project.conn).batch_by_name(batch) is None:
        raise LabeldeskError(f"no batch named {batch!r} (see `labeldesk batch list`)")
    return project.apply(OpDraft("project.settings", None, {"set": {SETTING: {
        "batch": batch, "min_score": min_score, "min_items": min_items}}}), user=user)


def qualification(project: Any, gold_scores: list[GoldScore] | None = None) -> list[Qualification]:
    """Each annotator against the gate: mean gold score over the pilot batch's gold items."""
    from labeldesk.core.review.assignment import annotators
    gate = settings(project)
    recs = records.load(project.conn)
    pilot = None
    if gate.get("batch"):
        b = recs.batch_by_name(gate["batch"])
        pilot = set(b.payload["assets"]) if b else set()
    all_scores = gold_scores if gold_scores is not None else scores(project)
    names = {u.id: u.name for u in project.users()}
    out = []
    for uid in annotators(project.conn):
        mine = [s.score for s in all_scores if s.user_id == uid and (pilot is None or s.asset_id in pilot)]
        mean = sum(mine) / len(mine) if mine else None
        if len(mine) < gate["min_items"]:
            ok, why = False, f"{len(mine)} of {gate['min_items']} pilot gold item(s) scored"
        elif mean is not None and mean >= gate["min_score"]:
            ok, why = True, f"mean gold score {mean:.2f} ≥ {gate['min_score']:.2f}"
        else:
            ok, why = False, f"mean gold score {mean:.2f} < {gate['min_score']:.2f}"
        out.append(Qualification(uid, names.get(uid, uid), len(mine), mean, ok, why))
    return out
