"""apply_all remembers asset, layer and class rows and the ontology version while a batch applies
annotation ops; an op of any other type inside the same batch must make the later ops see the
store again (a class deprecated, an asset or a layer removed, the ontology version bumped)."""
from __future__ import annotations

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.op_types import annotations
from labeldesk.core.ops import OpDraft


def _box(asset, layer, class_id=None, x=1):
    ann = {"asset_id": asset, "layer_id": layer, "geometry": {"kind": "box", "xyxy": [x, x, x + 10, x + 10]}}
    if class_id is not None:
        ann["class_id"] = class_id
    return OpDraft("annotation.create", ids.new_id(), {"annotation": ann})


def _class(project, name="cat", kinds=None):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": name, "kinds": kinds or []}}))
    return cid


def _refused_whole(project, drafts, match):
    before = project.counts()
    with pytest.raises(OpRejected, match=match):
        project.apply_all(drafts)
    assert project.counts() == before                  # all or nothing
    assert not annotations._BATCHES                   # the batch's memory ends with it


def test_a_class_deprecated_inside_the_batch_refuses_later_creates(project, image_asset):
    layer, cid = project.my_layer_id, _class(project)
    _refused_whole(project, [_box(image_asset, layer, cid, 1),
                             OpDraft("ontology.class.update", cid, {"set": {"deprecated": True}}),
                             _box(image_asset, layer, cid, 2)], "deprecated")


def test_a_class_merged_inside_the_batch_refuses_later_creates(project, image_asset):
    layer, cid, other = project.my_layer_id, _class(project), _class(project, "dog")
    _refused_whole(project, [_box(image_asset, layer, cid, 1),
                             OpDraft("ontology.class.merge", cid, {"into": other}),
                             _box(image_asset, layer, cid, 2)], "merged")


def test_a_class_kind_narrowed_inside_the_batch_refuses_later_creates(project, image_asset):
    layer, cid = project.my_layer_id, _class(project)
    _refused_whole(project, [_box(image_asset, layer, cid, 1),
                             OpDraft("ontology.class.update", cid, {"set": {"kinds": ["polygon"]}}),
                             _box(image_asset, layer, cid, 2)], "allows")


def test_an_asset_removed_inside_the_batch_refuses_later_creates(project, image_asset):
    layer = project.my_layer_id
    _refused_whole(project, [_box(image_asset, layer, None, 1), OpDraft("asset.remove", image_asset, {}),
                             _box(image_asset, layer, None, 2)], "was removed")


def test_a_layer_removed_inside_the_batch_refuses_later_creates(project, image_asset):
    layer = project.my_layer_id
    other = ids.new_id()
    project.apply(OpDraft("layer.create", other, {"layer": {"name": "second", "kind": "annotator",
                                                            "owner": project.user_id}}))
    _refused_whole(project, [_box(image_asset, other, None, 1), _box(image_asset, layer, None, 1),
                             OpDraft("layer.remove", other, {}), _box(image_asset, other, None, 2)],
                   "was removed")


def test_the_ontology_version_bumped_inside_the_batch_is_recorded_by_later_creates(project, image_asset):
    layer, cid = project.my_layer_id, _class(project)
    first, second = _box(image_asset, layer, cid, 1), _box(image_asset, layer, cid, 2)
    v0 = project.ontology_version
    project.apply_all([first, OpDraft("ontology.class.update", cid, {"set": {"color": "#00ff00"}}), second])
    assert _version(project, first.entity) == v0
    assert _version(project, second.entity) == v0 + 1 == project.ontology_version


def _version(project, annotation_id):
    return project.conn.execute("SELECT ontology_version FROM annotations WHERE id = ?", (annotation_id,)).fetchone()[0]


def test_remembered_rows_give_the_same_results_as_single_applies(project, image_asset):
    layer, cid = project.my_layer_id, _class(project)
    batch = [_box(image_asset, layer, cid, x) for x in range(1, 20)]
    project.apply_all(batch)
    single = [_box(image_asset, layer, cid, x) for x in range(1, 20)]
    for d in single:
        project.apply(d)
    for a, b in zip(batch, single):
        ra, rb = project.annotation(a.entity), project.annotation(b.entity)
        assert (ra.asset_id, ra.layer_id, ra.class_id, ra.geometry, _version(project, a.entity)) == \
               (rb.asset_id, rb.layer_id, rb.class_id, rb.geometry, _version(project, b.entity))
    assert not annotations._BATCHES


def test_lookups_outside_a_batch_read_the_store(project, image_asset):
    # a sync merge applies ops straight through the op type: nothing is remembered there
    layer, cid = project.my_layer_id, _class(project)
    project.apply(_box(image_asset, layer, cid, 1))
    project.apply(OpDraft("ontology.class.update", cid, {"set": {"deprecated": True}}))
    with pytest.raises(OpRejected, match="deprecated"):
        project.apply(_box(image_asset, layer, cid, 2))


def test_an_existing_id_is_refused_first_whatever_else_is_wrong(project, image_asset):
    layer = project.my_layer_id
    first = _box(image_asset, layer, None, 1)
    project.apply(first)
    again = OpDraft("annotation.create", first.entity, first.payload)
    with pytest.raises(OpRejected, match="exists already"):
        project.apply(again)
    # the same id with a layer that does not exist: still "exists already", as the op type always said
    bad = dict(first.payload["annotation"], layer_id="no-such-layer")
    with pytest.raises(OpRejected, match="exists already"):
        project.apply(OpDraft("annotation.create", first.entity, {"annotation": bad}))
    with pytest.raises(OpRejected, match="no layer with id no-such-layer"):
        project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": bad}))
    assert project.annotation(first.entity).geometry.bounds() == (1, 1, 11, 11)


def test_ops_written_together_keep_the_order_and_the_chain(project, image_asset):
    layer, cid = project.my_layer_id, _class(project)
    drafts = [_box(image_asset, layer, cid, x) for x in range(1, 6)]
    drafts.insert(3, OpDraft("ontology.class.update", cid, {"set": {"color": "#00ff00"}}))
    drafts.append(OpDraft("annotation.delete", drafts[0].entity, {}))
    applied = project.apply_all(drafts)
    rows = project.conn.execute("SELECT op_id, seq FROM ops ORDER BY local_order").fetchall()
    tail = [r["op_id"] for r in rows[-len(drafts):]]
    assert tail == [a.op.op_id for a in applied]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    outbox = {r[0] for r in project.conn.execute("SELECT op_id FROM outbox")}
    assert set(tail) <= outbox
    assert project.verify_chain().ok


def test_payloads_encoded_with_the_geometry_once_are_the_canonical_form(project, image_asset):
    import json

    from labeldesk.core.ops import canonical_json
    layer = project.my_layer_id
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": "läsion", "attributes": [
        {"key": "note", "type": "text"}, {"key": "grade", "type": "number"}]}}))
    drafts = [
        _box(image_asset, layer, None, 3),
        OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": layer, "class_id": cid,
            "attributes": {"note": "ünïcode \u2028 \"quoted\"", "grade": 2.5},
            "geometry": {"kind": "polygon", "shell": [[1, 1], [30.25, 2], [20, 40.125], [-5, 10]]},
            "score": 0.75, "z_order": 2}}),
        OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": image_asset, "layer_id": layer,
            "geometry": {"kind": "box", "xyxy": [90, 70, 120, 95]}}}),      # clipped to 100x80
    ]
    applied = project.apply_all(drafts)
    assert project.verify_chain().ok
    for a in applied:
        text = project.conn.execute("SELECT payload FROM ops WHERE op_id = ?", (a.op.op_id,)).fetchone()[0]
        assert text == canonical_json(a.op.payload) == canonical_json(json.loads(text))
        row = project.conn.execute("SELECT geometry, x0, y0, x1, y1 FROM annotations WHERE id = ?",
                                   (a.op.entity,)).fetchone()
        geometry = a.op.payload["annotation"]["geometry"]
        assert row[0] == canonical_json(geometry)
        assert tuple(row[1:]) == project.annotation(a.op.entity).geometry.bounds()
    assert json.loads(project.conn.execute("SELECT geometry FROM annotations WHERE id = ?",
                                           (drafts[2].entity,)).fetchone()[0])["xyxy"] == [90, 70, 100, 80]
