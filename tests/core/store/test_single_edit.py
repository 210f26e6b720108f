"""``Project.apply`` (store/single.py) is ``apply_all([draft])[0]`` written for latency: the
same payloads, rows, inverse drafts and op-log order, the same refusals with the same messages,
nothing written by a refused edit, and a verifiable hash chain."""
from __future__ import annotations

import json
import sqlite3

import pytest

from labeldesk.core.errors import OpRejected
from labeldesk.core.ops import OpDraft, canonical_json
from labeldesk.core.project import Project
from labeldesk.core.store import repo

ASSET, LAYER, CLASS, TAGGED, ANN = "a" * 26, "l" * 26, "c" * 26, "t" * 26, "n" * 26
SHELL = [[10.5, 10], [60, 12.25], [55, 50], [12, 45]]


def _project(path) -> Project:
    p = Project.create(path, "single", user_name="alice")
    p.apply_all([
        OpDraft("asset.add", ASSET, {"asset": {"kind": "image", "name": "img", "content_hash": "sha256:x",
                                                "width": 100, "height": 80, "depth": 3}}),
        OpDraft("layer.create", LAYER, {"layer": {"name": "mine", "kind": "annotator", "owner": p.user_id}}),
        OpDraft("ontology.class.create", CLASS, {"class": {"name": "car", "color": "#123456"}}),
        OpDraft("ontology.class.create", TAGGED, {"class": {
            "name": "tagged", "color": "#654321", "kinds": ["box", "polygon"],
            "attributes": [{"key": "n", "type": "number"}]}}),
        OpDraft("user.add", "b" * 26, {"name": "bob"}),
    ])
    return p


def _edits() -> list[OpDraft]:
    """A create and then edits of every field the window changes, the last two refused."""
    return [
        OpDraft("annotation.create", ANN, {"annotation": {"asset_id": ASSET, "layer_id": LAYER, "class_id": CLASS,
                                                          "geometry": {"kind": "polygon", "shell": SHELL}}}),
        OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "polygon", "shell": [[x + 1, y] for x, y in SHELL]}}}),
        # a shape to clip: what is stored (and logged) is the clipped one
        OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "polygon", "shell": [[80, 10], [130, 10], [130, 60]]}}},
                reason="moved"),
        OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "box", "xyxy": [1, 2, 30, 40]}, "z_order": 3}}),
        OpDraft("annotation.update", ANN, {"set": {"class_id": TAGGED, "attributes": {"n": 2}}}),
        OpDraft("annotation.update", ANN, {"set": {"plane": {"z": 2, "t": 0, "axis": "axial"}}}),
        OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "ellipse", "cxcyrxrya": [50, 40, 10, 5, 0.0]},
                                                   "class_id": None, "attributes": {}}}),
        OpDraft("annotation.delete", ANN, {}),
        OpDraft("annotation.restore", ANN, {}),
    ]


REFUSED = [
    OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "polygon", "shell": [[0, 0], [10, 10], [10, 0], [0, 10]]}}}),
    OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "polygon", "shell": [[500, 500], [600, 500], [600, 600]]}}}),
    OpDraft("annotation.update", ANN, {"set": {"class_id": TAGGED, "attributes": {"n": "many"}}}),
    OpDraft("annotation.update", ANN, {"set": {"colour": "red"}}),
    OpDraft("annotation.update", "x" * 26, {"set": {"z_order": 1}}),
]


def _log(p: Project) -> list[tuple]:
    return [tuple(r) for r in p.conn.execute(
        "SELECT type, entity, payload, base, reason, user FROM ops WHERE type LIKE 'annotation.%' ORDER BY local_order")]


def _rows(p: Project) -> list[tuple]:
    p.conn.row_factory = sqlite3.Row
    cols = [c[1] for c in p.conn.execute("PRAGMA table_info(annotations)") if c[1] not in ("author", "revision")]
    return [tuple(r) for r in p.conn.execute(f"SELECT {', '.join(cols)} FROM annotations ORDER BY rowid")]


def _normalise(log: list[tuple], p: Project) -> list[tuple]:
    """Op ids (in ``base``) and the user differ between two projects: compare the rest."""
    revs = {r[0]: i for i, r in enumerate(p.conn.execute("SELECT op_id FROM ops ORDER BY local_order"))}
    out = []
    for kind, entity, payload, base, reason, user in log:
        out.append((kind, entity, payload, [revs.get(b) for b in json.loads(base)], reason, user == p.user_id))
    return out


def test_apply_writes_what_apply_all_writes(tmp_path):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    applied_one = [one.apply(d) for d in _edits()]
    applied_many = [many.apply_all([d])[0] for d in _edits()]
    assert _normalise(_log(one), one) == _normalise(_log(many), many)
    assert _rows(one) == _rows(many)
    for a, b in zip(applied_one, applied_many):
        assert (a.op.type, a.op.entity, a.op.payload, a.op.reason) == (b.op.type, b.op.entity, b.op.payload, b.op.reason)
        assert a.inverse == b.inverse
        assert a.changes.annotations == b.changes.annotations
    # the encoded payload is the canonical JSON of the op (what the chain hashes)
    for (payload,) in one.conn.execute("SELECT payload FROM ops"):
        assert payload == canonical_json(json.loads(payload))
    clipped = json.loads(_log(one)[2][2])["set"]["geometry"]
    assert max(x for x, _ in clipped["shell"]) == 100.0
    for p in (one, many):
        assert p.verify_chain().ok
        assert repo.next_seq(p.conn, p.device_id) == 1 + p.conn.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
        p.close()


@pytest.mark.parametrize("draft", REFUSED, ids=["self-intersecting", "outside", "attribute", "field", "missing"])
def test_apply_refuses_as_apply_all_does_and_writes_nothing(tmp_path, draft):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    for p in (one, many):
        p.apply(_edits()[0])
    before = (one.counts(), _rows(one), one.conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())
    with pytest.raises(OpRejected) as single:
        one.apply(draft)
    with pytest.raises(OpRejected) as batch:
        many.apply_all([draft])
    assert str(single.value) == str(batch.value)
    assert (one.counts(), _rows(one), one.conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall()) == before
    assert one.verify_chain().ok
    one.close()
    many.close()


def test_a_user_without_the_role_is_refused_with_the_same_message(tmp_path):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    edit = OpDraft("annotation.update", ANN, {"set": {"z_order": 4}})
    for p in (one, many):
        p.apply(_edits()[0])
    with pytest.raises(OpRejected) as single:
        one.apply(edit, user="b" * 26)
    with pytest.raises(OpRejected) as batch:
        many.apply_all([edit], user="b" * 26)
    assert str(single.value) == str(batch.value)
    assert "'bob'" in str(single.value) and "needs role" in str(single.value)
    with pytest.raises(OpRejected, match="not a member"):
        one.apply(edit, user="z" * 26)
    one.close()
    many.close()


def test_undo_of_geometry_edits_restores_each_shape(project, image_asset):
    """The inverse of an edit is taken from the row as it was before it, also for two edits of
    one annotation in one transaction (the row noted for the first is not reused)."""
    layer = project.my_layer_id
    a = project.apply(OpDraft("annotation.create", ANN, {"annotation": {
        "asset_id": image_asset, "layer_id": layer, "geometry": {"kind": "polygon", "shell": SHELL}}}))
    moved = [[x + 2, y + 1] for x, y in SHELL]
    e1 = project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "polygon", "shell": moved}}}))
    assert e1.inverse.payload == {"set": {"geometry": {"kind": "polygon", "shell": [[float(x), float(y)] for x, y in SHELL]}}}
    e2, e3 = project.apply_all([
        OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}),
        OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "box", "xyxy": [2, 2, 8, 8]}}}),
    ])
    assert e3.inverse.payload["set"]["geometry"] == {"kind": "box", "xyxy": [1.0, 1.0, 9.0, 9.0]}
    assert e2.inverse.payload["set"]["geometry"]["shell"] == [[float(x), float(y)] for x, y in moved]
    for applied in (e3, e2, e1, a):
        project.apply(applied.inverse)
    assert project.annotation(ANN).deleted
    project.apply(OpDraft("annotation.restore", ANN, {}))
    assert project.annotation(ANN).geometry.to_dict()["shell"] == [[float(x), float(y)] for x, y in SHELL]
    row = project.conn.execute("SELECT x0, y0, x1, y1, verts FROM annotations WHERE id = ?", (ANN,)).fetchone()
    assert tuple(row[:4]) == (10.5, 10.0, 60.0, 50.0) and len(row[4]) == 16 * len(SHELL)
    assert project.verify_chain().ok


def test_on_applied_sees_one_edit(project, image_asset):
    seen = []
    project.on_applied.append(lambda changes: seen.append(set(changes.annotations)))
    project.apply(OpDraft("annotation.create", ANN, {"annotation": {
        "asset_id": image_asset, "layer_id": project.my_layer_id, "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}}}))
    assert seen == [{ANN}]


def _create(project, image_asset):
    project.apply(OpDraft("annotation.create", ANN, {"annotation": {
        "asset_id": image_asset, "layer_id": project.my_layer_id, "geometry": {"kind": "polygon", "shell": SHELL}}}))


def _move(project, dx):
    return project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": {
        "kind": "polygon", "shell": [[x + dx, y] for x, y in SHELL]}}}))


def test_the_sequence_and_chain_head_kept_in_memory_give_way_to_any_other_write(project, image_asset, tmp_path):
    """An edit reuses the sequence number and chain head the previous edit committed only while
    nothing else wrote: a write through the project's connection by another path, or a commit by
    another connection, makes it read them from the store."""
    _create(project, image_asset)
    a = _move(project, 1)
    b = _move(project, 2)                      # (kept in memory: the next number and the chain go on)
    assert b.op.seq == a.op.seq + 1
    with project.transaction() as conn:        # another path through the same connection
        conn.execute("UPDATE meta SET value = '500' WHERE key = 'next_seq'")
    assert _move(project, 3).op.seq == 500
    other = sqlite3.connect(project.store_path, isolation_level=None)
    other.execute("UPDATE meta SET value = '900' WHERE key = 'next_seq'")      # another connection
    other.close()
    assert _move(project, 4).op.seq == 900
    assert _move(project, 5).op.seq == 901
    project.apply_all([OpDraft("annotation.update", ANN, {"set": {"z_order": 2}})])   # the batch path
    assert _move(project, 6).op.seq == 903
    assert project.verify_chain().ok
    assert repo.next_seq(project.conn, project.device_id) == 904


def test_a_refused_edit_leaves_the_next_one_reading_the_store(project, image_asset):
    _create(project, image_asset)
    a = _move(project, 1)
    with pytest.raises(OpRejected):
        project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": {
            "kind": "polygon", "shell": [[0, 0], [10, 10], [10, 0], [0, 10]]}}}))
    assert _move(project, 2).op.seq == a.op.seq + 1
    assert project.verify_chain().ok


def test_undo_geometry_of_the_next_edit_is_the_stored_one(project, image_asset):
    """The undo draft of an edit of the shape the previous edit wrote is taken from that edit,
    never shared with it (changing one op's payload changes no other draft), and only while the
    row holds what it wrote."""
    _create(project, image_asset)
    a = _move(project, 1)
    b = _move(project, 2)
    assert b.inverse.payload == {"set": {"geometry": a.op.payload["set"]["geometry"]}}
    assert b.inverse.payload["set"]["geometry"] is not a.op.payload["set"]["geometry"]
    b.op.payload["set"]["geometry"]["shell"][0][0] = -1.0            # (a caller changing a payload)
    c = _move(project, 3)
    assert c.inverse.payload["set"]["geometry"]["shell"][0] == [12.5, 10.0]
    with pytest.raises(OpRejected):              # refused after its undo draft was made
        project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}}}),
                      user="z" * 26)
    twice = _move(project, 4)
    assert twice.inverse.payload == c.op.payload and twice.inverse.payload["set"]["geometry"] is not \
        c.op.payload["set"]["geometry"]
    with project.transaction() as conn:         # the row written by another path
        conn.execute("UPDATE annotations SET geometry = ? WHERE id = ?",
                     (canonical_json({"kind": "polygon", "shell": SHELL}), ANN))
    d = _move(project, 5)
    assert d.inverse.payload["set"]["geometry"] == {"kind": "polygon", "shell": SHELL}
    project.apply(d.inverse)
    assert project.annotation(ANN).geometry.to_dict()["shell"] == [[float(x), float(y)] for x, y in SHELL]


def test_the_role_memo_and_rows_kept_between_edits_give_way_to_any_other_write(project, image_asset):
    """The role check and the asset row of an edit are taken from the edit before only while
    nothing else wrote: a role revoked by an op, or changed by another connection, and an asset
    changed by another connection, are seen by the very next edit."""
    bob = "b" * 26
    project.apply_all([OpDraft("user.add", bob, {"name": "bob"}),
                       OpDraft("role.grant", bob, {"role": "annotator"}, reason="joins"),
                       OpDraft("layer.create", LAYER, {"layer": {"name": "bob's", "kind": "annotator", "owner": bob}})])
    project.apply(OpDraft("annotation.create", ANN, {"annotation": {
        "asset_id": image_asset, "layer_id": LAYER, "geometry": {"kind": "polygon", "shell": SHELL}}}), user=bob)

    def move(dx, who=bob):
        return project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": {
            "kind": "polygon", "shell": [[x + dx, y] for x, y in SHELL]}}}), user=who)

    move(1)
    move(2)                                         # (allowed: remembered)
    project.apply(OpDraft("role.revoke", bob, {"role": "annotator"}, reason="leaves"))
    with pytest.raises(OpRejected, match="needs role annotator"):
        move(3)
    project.apply(OpDraft("role.grant", bob, {"role": "annotator"}, reason="back"))
    move(4)
    move(5)
    other = sqlite3.connect(project.store_path, isolation_level=None)
    other.execute("DELETE FROM roles WHERE user_id = ?", (bob,))          # another connection
    with pytest.raises(OpRejected, match="needs role annotator"):
        move(6)
    other.execute("INSERT INTO roles (user_id, role) VALUES (?, 'annotator')", (bob,))
    move(7)
    move(8)
    other.execute("UPDATE assets SET width = 50 WHERE id = ?", (image_asset,))
    other.close()
    shell = move(9).op.payload["set"]["geometry"]["shell"]
    assert max(x for x, _ in shell) == 50.0          # clipped to the asset as it is now
    assert project.verify_chain().ok


def test_an_edit_goes_on_where_meta_lacks_the_sequence_and_clock(project, image_asset):
    """An edit writes neither to ``meta``: the sequence number and the clock's floor are derived
    from the log, also where ``meta`` has no row for them."""
    _create(project, image_asset)
    with project.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key IN ('hlc', 'next_seq')")
    a = _move(project, 1)
    b = _move(project, 2)
    assert b.op.seq == a.op.seq + 1 and b.op.hlc > a.op.hlc
    assert project.conn.execute("SELECT COUNT(*) FROM meta WHERE key IN ('hlc', 'next_seq')").fetchone()[0] == 0
    assert repo.next_seq(project.conn, project.device_id) == b.op.seq + 1
    assert repo.clock_floor(project.conn, project.device_id) == b.op.hlc
    assert project.apply_all([OpDraft("annotation.update", ANN, {"set": {"z_order": 2}})])[0].op.seq == b.op.seq + 1


def test_the_role_memo_is_per_layer_of_the_edited_row(project, image_asset):
    """Allowed to edit in one's own layer is remembered for that layer only: the next edit, of an
    annotation in someone else's layer, is checked (and refused) as ever."""
    bob, theirs = "b" * 26, "o" * 26
    project.apply_all([OpDraft("user.add", bob, {"name": "bob"}),
                       OpDraft("role.grant", bob, {"role": "annotator"}, reason="joins"),
                       OpDraft("layer.create", LAYER, {"layer": {"name": "bob's", "kind": "annotator", "owner": bob}})])
    for ann, layer, who in ((ANN, LAYER, bob), (theirs, project.my_layer_id, None)):
        project.apply(OpDraft("annotation.create", ann, {"annotation": {
            "asset_id": image_asset, "layer_id": layer, "geometry": {"kind": "polygon", "shell": SHELL}}}), user=who)
    edit = {"set": {"geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}
    project.apply(OpDraft("annotation.update", ANN, edit), user=bob)
    project.apply(OpDraft("annotation.update", ANN, edit), user=bob)
    with pytest.raises(OpRejected, match="belongs to alice"):
        project.apply(OpDraft("annotation.update", theirs, edit), user=bob)
    project.apply(OpDraft("annotation.update", ANN, edit), user=bob)
    with pytest.raises(OpRejected, match="belongs to alice"):      # moved into a layer not theirs
        project.apply(OpDraft("annotation.update", ANN, {"set": {"layer_id": project.my_layer_id}}), user=bob)
    assert project.annotation(ANN).layer_id == LAYER


def test_the_row_kept_after_a_shape_edit_is_the_stored_row(project, image_asset):
    """After a shape edit the next edit takes the annotation's row from it instead of reading it:
    that row is exactly what reading it gives (every column, value and type)."""
    _create(project, image_asset)
    shapes = [{"kind": "polygon", "shell": [[x + 1, y] for x, y in SHELL]},
              {"kind": "box", "xyxy": [1, 2, 30, 40]},
              {"kind": "polygon", "shell": [[80, 10], [130, 10], [130, 60]]},          # clipped
              {"kind": "ellipse", "cxcyrxrya": [50, 40, 10, 5, 0.0]}]
    kept_rows = 0
    for shape in shapes:
        project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": shape}}))
        head = project.__dict__["_edit_head"]
        stored = project.conn.execute("SELECT * FROM annotations WHERE id = ?", (ANN,)).fetchone()
        if head.row is not None:
            kept_rows += 1
            assert head.row[0] == ANN
            assert head.row[1] == dict(zip(stored.keys(), stored))
            assert [type(v) for v in head.row[1].values()] == [type(v) for v in stored]
    assert kept_rows >= 3
    project.apply(OpDraft("annotation.update", ANN, {"set": {"z_order": 2}}))        # (not a shape edit)
    assert project.__dict__["_edit_head"].row is None
    project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": shapes[0]}}))
    assert project.__dict__["_edit_head"].row is not None
    project.apply(OpDraft("annotation.delete", ANN, {}))             # (takes the kept row)
    assert project.annotation(ANN).deleted
    with pytest.raises(OpRejected, match="deleted"):
        project.apply(OpDraft("annotation.update", ANN, {"set": {"geometry": shapes[1]}}))
    project.apply(OpDraft("annotation.restore", ANN, {}))
    assert not project.annotation(ANN).deleted
    assert project.verify_chain().ok
