"""Adjudication: an adjudicator closes a dispute or a dual-labeled item and writes the final layer.

Per item (Encord "Determine consensus"): the final layer of the asset becomes a copy of one chosen
annotator layer. Per object ("Review and refine"): chosen annotations from any layers are copied
in. Copies are ordinary ``annotation.create`` ops into the ``final`` layer whose payload carries
``source`` (annotation id, layer, revision, adjudication record): the provenance stays in the op
log. The ``review.adjudicate`` record names the decisions it closes and the revision of every
annotator layer it saw, so a later edit of a layer re-opens that layer for review.
"""
from __future__ import annotations

from typing import Any, Iterable

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.model import Annotation
from labeldesk.core.ops import Applied, OpDraft
from labeldesk.core.review import workflow

FINAL_LAYER_NAME = "final"


def final_layer(project: Any) -> tuple[str, list[OpDraft]]:
    """The project's final layer id, and the draft that creates it when there is none yet."""
    for layer in project.layers():
        if layer.kind == "final":
            return layer.id, []
    layer_id = ids.new_id()
    return layer_id, [OpDraft("layer.create", layer_id, {"layer": {"name": FINAL_LAYER_NAME, "kind": "final"}})]


def copies_in_final(conn: Any, asset_id: str, final_id: str) -> list[dict[str, Any]]:
    """Live annotations of the final layer on an asset with the source each was copied from."""
    rows = conn.execute(
        "SELECT o.entity, json_extract(o.payload, '$.annotation.source.layer_id'),"
        " json_extract(o.payload, '$.annotation.source.annotation_id') FROM ops o"
        " JOIN annotations a ON a.id = o.entity AND a.deleted = 0 AND a.layer_id = ? AND a.asset_id = ?"
        " WHERE o.type = 'annotation.create'", (final_id, asset_id))
    return [{"id": r[0], "source_layer": r[1], "source_annotation": r[2]} for r in rows]


def replace_drafts(conn: Any, asset_id: str, final_id: str, layers: set[str] | None,
                   annotations: set[str]) -> list[OpDraft]:
    """Deletes of final-layer annotations that earlier copies from ``layers`` / ``annotations``
    put there (``layers=None``: every annotation of the final layer on the asset)."""
    out = []
    for c in copies_in_final(conn, asset_id, final_id):
        if layers is None or c["source_layer"] in layers or c["source_annotation"] in annotations:
            out.append(OpDraft("annotation.delete", c["id"], {}))
    return out


def copy_drafts(annotations: Iterable[Annotation], final_id: str, provenance: dict[str, Any]) -> list[OpDraft]:
    out = []
    for a in annotations:
        d: dict[str, Any] = {"asset_id": a.asset_id, "layer_id": final_id, "class_id": a.class_id,
                             "plane": a.plane.to_dict(), "geometry": a.geometry.to_dict(),
                             "attributes": dict(a.attributes), "z_order": a.z_order, "keyframe": a.keyframe,
                             "source": {**provenance, "annotation_id": a.id, "layer_id": a.layer_id,
                                        "annotation_revision": a.revision, "author": a.author}}
        if a.track_id:
            d["track_id"] = a.track_id
        out.append(OpDraft("annotation.create", ids.new_id(), {"annotation": d}))
    return out


def classification_drafts(conn: Any, asset_id: str, source_layer: str, final_id: str) -> list[OpDraft]:
    """Per item: the final layer's classifications of the asset become the source layer's."""
    from labeldesk.core.op_types.classifications import classifications
    rows = classifications(conn, asset_id)
    out = [OpDraft("classification.remove", c["id"], {}) for c in rows if c["layer_id"] == final_id]
    for c in rows:
        if c["layer_id"] != source_layer:
            continue
        d: dict[str, Any] = {"asset_id": asset_id, "layer_id": final_id, "scope": c["scope"], "class_id": c["class_id"]}
        if c["scope"] == "plane":
            d["plane"] = {"axis": c["plane_axis"], "z": c["plane_z"], "t": c["plane_t"]}
        out.append(OpDraft("classification.add", ids.new_id(), d))
    return out


def adjudicate(project: Any, asset_id: str, *, reason: str, user: str | None = None,
               from_layer: str | None = None, annotation_ids: Iterable[str] = (),
               outcome: str = "accept") -> list[Applied]:
    """Close the asset's open decisions and write its final layer.

    ``from_layer``: per item, the final layer becomes a copy of that layer (its annotations and
    its asset and plane classifications). ``annotation_ids``:
    per object, those annotations (from any layer of the asset) are copied in. ``outcome="return"``
    closes a dispute by returning the item, copying nothing."""
    if not (reason or "").strip():
        raise LabeldeskError("an adjudication needs a reason (--reason)")
    conn = project.conn
    chosen_ids = list(dict.fromkeys(annotation_ids))
    if outcome == "accept" and not from_layer and not chosen_ids:
        raise LabeldeskError("choose what becomes final: a layer (--from-layer) or annotations (--annotation)")
    items = workflow.item_states(conn, asset_id)
    if not items:
        raise LabeldeskError("nothing to adjudicate: the asset has no annotator layers")
    recs = workflow.records(conn, asset_id)
    closes = sorted(d.id for item in items for d in workflow.head_decisions(recs, item.layer_id))
    sources = {item.layer_id: item.revision for item in items}
    final_id, drafts = final_layer(project)
    record_id = ids.new_id()
    provenance = {"adjudication": record_id}
    chosen: list[Annotation] = []
    mode = "item"
    if outcome == "accept" and from_layer:
        if from_layer not in sources:
            raise LabeldeskError(f"layer {from_layer} has nothing on this asset")
        chosen = project.annotations(asset_id, layer_id=from_layer)
        drafts += replace_drafts(conn, asset_id, final_id, None, set())
    elif outcome == "accept":
        mode = "object"
        for aid in chosen_ids:
            ann = project.annotation(aid)
            if ann is None or ann.deleted or ann.asset_id != asset_id or ann.layer_id not in sources:
                raise LabeldeskError(f"annotation {aid} is not a live annotation of an annotator layer on this asset")
            chosen.append(ann)
        drafts += replace_drafts(conn, asset_id, final_id, set(), {a.id for a in chosen})
    copies = copy_drafts(chosen, final_id, provenance)
    drafts += copies
    if outcome == "accept" and from_layer:
        drafts += classification_drafts(conn, asset_id, from_layer, final_id)
    drafts.append(OpDraft("review.adjudicate", record_id, {
        "asset_id": asset_id, "final_layer_id": final_id, "mode": mode, "outcome": outcome,
        "closes": closes, "sources": sources, "chosen": [a.id for a in chosen],
        "copies": {a.id: d.entity for a, d in zip(chosen, copies)}}, reason=reason))
    return project.apply_all(drafts, user=user)
