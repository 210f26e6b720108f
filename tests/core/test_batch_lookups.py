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
