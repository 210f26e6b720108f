"""Every op type: apply, then apply its inverse, and the materialised state is back where it was."""
from __future__ import annotations

import sqlite3

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import OpDraft

TABLES = ("assets", "layers", "classes", "annotations", "users", "roles", "meta", "classifications")


def snapshot(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    out = {}
    for t in TABLES:
        rows = conn.execute(f"SELECT * FROM {t}").fetchall()
        cols = [d[0] for d in conn.execute(f"SELECT * FROM {t} LIMIT 0").description]
        # revisions, seq counters and clocks move forward on undo by design
        keep = [i for i, c in enumerate(cols) if c not in ("revision", "ontology_version")]
        # creations are undone by tombstones (nothing is ever hard-deleted): compare live rows
        flag = {"assets": "removed", "layers": "removed", "annotations": "deleted", "classes": "deprecated",
                "classifications": "deleted"}.get(t)
        if flag:
            rows = [r for r in rows if not r[cols.index(flag)]]
        rows = [tuple(r[i] for i in keep) for r in rows]
        if t == "meta":
            rows = [r for r in rows if r[0] not in ("next_seq", "hlc", "ontology_version")]
        out[t] = sorted(rows, key=repr)
    return out


def assert_round_trip(project, draft):
    before = snapshot(project.conn)
    applied = project.apply(draft)
    assert applied.changes, f"{draft.type} reported no changes"
    assert snapshot(project.conn) != before, f"{draft.type} changed nothing"
    assert applied.inverse is not None
    project.apply(applied.inverse)
    assert snapshot(project.conn) == before, f"inverse of {draft.type} did not restore the state"
    return applied


def _class(project, **extra):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": "lesion", **extra}}))
    return cid


def _annotation(project, asset_id, class_id=None, geometry=None):
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset_id, "layer_id": project.my_layer_id, "class_id": class_id,
        "geometry": geometry or {"kind": "box", "xyxy": [1, 2, 30, 40]}}}))
    return aid


def test_round_trip_every_op_type(project, image_asset):
    cid = _class(project, attributes=[{"key": "grade", "type": "enum", "options": ["1", "2"]}])
    other = _class(project)
    ann = _annotation(project, image_asset, cid)
    uid = ids.new_id()
    project.apply(OpDraft("user.add", uid, {"name": "bob"}))
    drafts = [
        OpDraft("asset.add", ids.new_id(), {"asset": {"kind": "image", "name": "x.png", "content_hash": "h",
                                                      "width": 4, "height": 4}}),
        OpDraft("asset.remove", image_asset, {}),
        OpDraft("asset.rename", image_asset, {"name": "renamed.png"}),
        OpDraft("layer.create", ids.new_id(), {"layer": {"name": "bob", "owner": uid}}),
        OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": "new"}}),
        OpDraft("ontology.class.update", cid, {"set": {"name": "Lesion", "color": "#00ff00", "hotkey": "l"}}),
        OpDraft("ontology.class.merge", other, {"into": cid}),
        OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id, "class_id": cid,
            "geometry": {"kind": "polygon", "shell": [[0, 0], [10, 0], [5, 8]]}, "attributes": {"grade": "2"}}}),
        OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [5, 5, 9, 9]},
                                                  "attributes": {"grade": "1"}}}),
        OpDraft("annotation.delete", ann, {}),
        OpDraft("role.grant", uid, {"role": "reviewer"}),
        OpDraft("project.settings", None, {"set": {"guide_url": "guide.html"}}),
        OpDraft("classification.add", ids.new_id(), {"asset_id": image_asset, "layer_id": project.my_layer_id,
                                                      "scope": "asset", "class_id": cid}),
    ]
    for draft in drafts:
        assert_round_trip(project, draft)


def test_changes_name_exactly_the_ids(project, image_asset):
    ann = _annotation(project, image_asset)
    applied = project.apply(OpDraft("annotation.update", ann, {"set": {"geometry": {"kind": "box", "xyxy": [0, 0, 3, 3]}}}))
    assert applied.changes.annotations == {ann}
    assert not applied.changes.assets and not applied.changes.classes


def test_rejections_write_nothing(project, image_asset):
    before = snapshot(project.conn)
    n_ops = project.counts()["ops"]
    cid = _class(project, kinds=["box"], attributes=[{"key": "n", "type": "number", "min": 0}])
    n_ops += 1
    before = snapshot(project.conn)
    bad = [
        (OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id,
            "geometry": {"kind": "box", "xyxy": [500, 500, 600, 600]}}}), "wholly outside"),
        (OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id,
            "geometry": {"kind": "box", "xyxy": [1, 1, 1, 5]}}}), "zero area"),
        (OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id, "class_id": cid,
            "geometry": {"kind": "polygon", "shell": [[0, 0], [9, 0], [4, 4]]}}}), "allows"),
        (OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id, "class_id": cid,
            "geometry": {"kind": "box", "xyxy": [0, 0, 4, 4]}, "attributes": {"n": "seven"}}}), "not a number"),
        (OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id,
            "geometry": {"kind": "polygon", "shell": [[0, 0], [10, 10], [10, 0], [0, 10]]}}}), "not valid"),
        (OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": project.my_layer_id, "plane": {"z": 3},
            "geometry": {"kind": "box", "xyxy": [0, 0, 4, 4]}}}), "outside the asset"),
        (OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": "x", "color": "red"}}), "colour"),
        (OpDraft("ontology.class.merge", cid, {"into": cid}), "itself"),
        (OpDraft("no.such.op", None, {}), "unknown op type"),
    ]
    for draft, message in bad:
        with pytest.raises(OpRejected, match=message):
            project.apply(draft)
    assert snapshot(project.conn) == before
    assert project.counts()["ops"] == n_ops


def test_shape_partly_outside_is_clipped_and_logged_clipped(project, image_asset):
    ann = _annotation(project, image_asset, geometry={"kind": "box", "xyxy": [-10, 50, 50, 500]})
    assert project.annotation(ann).geometry.bounds() == (0, 50, 50, 80)
    op = [o for o in project.ops(ann)][0]
    assert op.payload["annotation"]["geometry"]["xyxy"] == [0, 50, 50, 80]


def test_merged_class_keeps_annotations_and_refuses_new_use(project, image_asset):
    a, b = _class(project), _class(project)
    ann = _annotation(project, image_asset, a)
    v0 = project.ontology_version
    project.apply(OpDraft("ontology.class.merge", a, {"into": b}))
    assert project.ontology_version == v0 + 1
    assert project.annotation(ann).class_id == a
    merged = {c.id: c for c in project.classes()}[a]
    assert merged.merged_into == b and merged.deprecated
    with pytest.raises(OpRejected, match="merged"):
        _annotation(project, image_asset, a)


def test_volume_planes_validate_per_axis(project, add_asset):
    vol = add_asset(project, width=64, height=32, depth=10, kind="volume")
    ok = ids.new_id()
    project.apply(OpDraft("annotation.create", ok, {"annotation": {
        "asset_id": vol, "layer_id": project.my_layer_id, "plane": {"axis": "coronal", "z": 31},
        "geometry": {"kind": "box", "xyxy": [0, 0, 100, 100]}}}))
    assert project.annotation(ok).geometry.bounds() == (0, 0, 64, 10)
    with pytest.raises(OpRejected, match="outside"):
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": vol, "layer_id": project.my_layer_id, "plane": {"axis": "sagittal", "z": 64},
            "geometry": {"kind": "box", "xyxy": [0, 0, 4, 4]}}}))


def test_apply_all_is_all_or_nothing(project, image_asset):
    n = project.counts()
    good = OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": image_asset, "layer_id": project.my_layer_id, "geometry": {"kind": "box", "xyxy": [0, 0, 4, 4]}}})
    with pytest.raises(OpRejected):
        project.apply_all([good, OpDraft("annotation.delete", "missing", {})])
    assert project.counts() == n


def test_classification_remove_round_trip_and_plane_scope(project, image_asset):
    cid = _class(project)
    k = ids.new_id()
    project.apply(OpDraft("classification.add", k, {"asset_id": image_asset, "layer_id": project.my_layer_id,
                                                    "scope": "plane", "plane": {"t": 0}, "class_id": cid}))
    assert_round_trip(project, OpDraft("classification.remove", k, {}))
    from labeldesk.core.op_types.classifications import classifications
    assert [c["scope"] for c in classifications(project.conn, image_asset)] == ["plane"]
