"""The open document stays what a fresh load of the store would give, whatever ops are applied
(create, edit, delete, undo, class changes, ops merged by sync), and it never reloads."""
from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from labeldesk.core import document_snapshot, ids
from labeldesk.core.document import Document
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.sync import engine

sys.path.insert(0, str(Path(__file__).parent / "sync"))


def snapshot(doc: Document) -> dict:
    """Everything a reader can see, in a comparable form."""
    live = doc.live_rows()
    planes = {doc.planes.values[int(c)] for c in doc.plane_code[live]}
    return {
        "annotations": sorted((repr(doc.annotation(int(r))) for r in live)),
        "flags": sorted((doc.ids[r], doc.flags[r]) for r in live.tolist()),
        "planes": {p: [doc.ids[r] for r in doc.rows_on(Plane(p[1], p[2], p[0])).tolist()] for p in planes},
        "count": doc.count,
        "per_plane": {p: doc.count_on(Plane(p[1], p[2], p[0])) for p in planes},
        "tracked": [doc.ids[r] for r in doc.tracked_rows().tolist()],
        "with_grade": sorted(doc.ids[r] for r in doc.rows_with_attribute("grade").tolist()),
        "boxes": sorted(doc.ids[r] for r in doc.rows_of_kind("box").tolist()),
        "lines": sorted(doc.ids[r] for r in doc.rows_of_kind("polyline").tolist()),
    }


def same_as_fresh(doc: Document) -> None:
    """Equal to a load from the store (and to a load through the snapshot cache, when it applies)."""
    os.environ["LABELDESK_NO_DOCUMENT_CACHE"] = "1"
    try:
        fresh = Document(doc.conn, doc.asset_id)
    finally:
        del os.environ["LABELDESK_NO_DOCUMENT_CACHE"]
    assert not fresh.from_snapshot and snapshot(doc) == snapshot(fresh)
    document_snapshot.flush()
    assert snapshot(Document(doc.conn, doc.asset_id)) == snapshot(fresh)


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", user_name="ann")
    asset = ids.new_id()
    cls = ids.new_id()
    p.apply_all([OpDraft("asset.add", asset, {"asset": {"kind": "volume", "name": "v", "content_hash": "h",
                                                         "width": 300, "height": 200, "depth": 4}}),
                 OpDraft("ontology.class.create", cls, {"class": {"name": "lesion", "attributes": [
                     {"key": "grade", "type": "enum", "options": ["1", "2"], "required": True}]}})])
    p.test_asset, p.test_class = asset, cls
    yield p
    p.close()


def create(p: Project, shell: list, z: int = 0, cls: str | None = None, attrs: dict | None = None,
           kind: str = "polygon") -> str:
    ann = ids.new_id()
    geometry = {"kind": "polygon", "shell": shell} if kind == "polygon" else {"kind": "box", "xyxy": shell}
    p.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": p.test_asset, "layer_id": p.my_layer_id, "class_id": cls, "plane": {"z": z},
        "geometry": geometry, "attributes": attrs or {}}}))
    return ann


def test_document_follows_every_kind_of_op(project):
    p = project
    a = create(p, [[10, 10], [60, 10], [60, 50]])
    b = create(p, [5, 5, 40, 30], z=1, kind="box")
    doc = Document(p.conn, p.test_asset)
    changes = []
    p.on_applied.append(lambda ch: changes.append(doc.apply_changes(ch)))
    same_as_fresh(doc)

    c = create(p, [[100, 100], [150, 100], [150, 160], [100, 160]], cls=p.test_class, attrs={"grade": "2"})
    assert changes[-1].added == [doc.row_of[c]]
    same_as_fresh(doc)
    undo_move = p.apply(OpDraft("annotation.update", a, {"set": {"geometry": {
        "kind": "polygon", "shell": [[20, 20], [90, 20], [90, 80], [20, 80]], "holes": [[[30, 30], [40, 30], [40, 40]]]}}}))
    same_as_fresh(doc)
    assert doc.ring(doc.row_of[a]) is None and doc.geometry(doc.row_of[a]).holes     # drawn from its geometry
    p.apply(undo_move.inverse)                                                        # undo
    same_as_fresh(doc)
    assert doc.ring(doc.row_of[a]).tolist() == [[10, 10], [60, 10], [60, 50]]
    p.apply(OpDraft("annotation.update", b, {"set": {"plane": {"z": 2}, "z_order": -1}}))
    same_as_fresh(doc)
    deleted = p.apply(OpDraft("annotation.delete", c, {}))
    assert changes[-1].removed == [doc.row_of[c]]
    same_as_fresh(doc)
    p.apply(deleted.inverse)                                                          # restore
    same_as_fresh(doc)
    p.apply(OpDraft("annotation.update", c, {"set": {"attributes": {}}}))           # missing required
    assert "missing required: grade" in doc.flags[doc.row_of[c]]
    same_as_fresh(doc)
    p.apply(OpDraft("ontology.class.update", p.test_class, {"set": {"deprecated": True}}))
    assert changes[-1].flags and "deprecated" in doc.flags[doc.row_of[c]]
    same_as_fresh(doc)
    assert doc.loads == 1


def test_rows_on_a_plane_follow_z_order_then_store_order(project):
    p = project
    first = create(p, [[10, 10], [60, 10], [60, 50]])
    second = create(p, [[10, 10], [60, 10], [60, 50]])
    doc = Document(p.conn, p.test_asset)
    p.on_applied.append(doc.apply_changes)
    assert [doc.ids[r] for r in doc.rows_on(Plane(0))] == [first, second]
    p.apply(OpDraft("annotation.update", first, {"set": {"z_order": 5}}))
    assert [doc.ids[r] for r in doc.rows_on(Plane(0))] == [second, first]
    assert doc.count_on(Plane(0)) == 2 and doc.count_on(Plane(3)) == 0
    assert doc.find(first).z_order == 5


def test_ops_merged_by_sync_reach_the_document(tmp_path):
    from sync_team import Team
    team = Team(tmp_path, 2)
    try:
        mine, theirs = team.devices
        kept = team.box(mine, 10)
        team.sync_all()
        doc = Document(mine.conn, team.asset)
        new = team.box(theirs, 50)
        team.move(theirs, kept, 70)
        gone = team.box(theirs, 90)

        def rounds() -> None:          # the app hands each round's SyncReport.changes over
            for _ in range(2):
                engine.sync_round(theirs)
                doc.apply_changes(engine.sync_round(mine).changes)
        rounds()
        assert doc.alive[doc.row_of[gone]]
        theirs.apply(OpDraft("annotation.delete", gone, {}))
        rounds()
        assert not doc.alive[doc.row_of[gone]]
        assert new in doc.row_of and doc.alive[doc.row_of[new]]
        assert doc.bounds[doc.row_of[kept]].tolist() == [70, 70, 90, 90]
        same_as_fresh(doc)
        assert doc.loads == 1
    finally:
        team.close()


def test_migration_fills_binary_shells_of_existing_polygons(project, tmp_path):
    p = project
    a = create(p, [[10.5, 10], [60, 10.25], [60, 50]])
    p.conn.execute("UPDATE annotations SET verts = NULL")            # as a store from before step 7
    doc = Document(p.conn, p.test_asset)
    assert doc.ring(doc.row_of[a]) is None                          # still drawn, from its JSON
    from labeldesk.core.store.vertices import add_column
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE annotations (id TEXT, kind TEXT, geometry TEXT)")
    conn.execute("CREATE TABLE ops (type TEXT, local_order INTEGER)")
    conn.execute("INSERT INTO annotations VALUES ('x', 'polygon', '{\"kind\":\"polygon\",\"shell\":[[1,2],[3,4],[5,7]]}')")
    add_column(conn)
    import numpy as np
    blob = conn.execute("SELECT verts FROM annotations").fetchone()[0]
    assert np.frombuffer(blob, "<f8").tolist() == [1, 2, 3, 4, 5, 7]


def test_snapshot_is_used_only_while_nothing_changed(project):
    p = project
    create(p, [[10, 10], [60, 10], [60, 50]])
    create(p, [5, 5, 40, 30], z=1, kind="box")
    create(p, [[100, 100], [150, 100], [150, 160]], cls=p.test_class, attrs={"grade": "1"})
    first = Document(p.conn, p.test_asset)
    assert not first.from_snapshot
    document_snapshot.flush()
    again = Document(p.conn, p.test_asset)
    assert again.from_snapshot and snapshot(again) == snapshot(first)
    p.apply(OpDraft("ontology.class.create", ids.new_id(), {"class": {"name": "other"}}))   # any op
    stale = Document(p.conn, p.test_asset)          # an older snapshot, caught up (nothing to read)
    assert stale.from_snapshot and stale.caught_up == 0 and snapshot(stale) == snapshot(first)
    os.environ["LABELDESK_NO_DOCUMENT_CACHE"] = "1"
    try:
        assert not Document(p.conn, p.test_asset).from_snapshot
    finally:
        del os.environ["LABELDESK_NO_DOCUMENT_CACHE"]
    create(p, [[1, 1], [30, 1], [30, 30]])
    p.apply(OpDraft("annotation.update", p.annotations(p.test_asset)[0].id, {"set": {"geometry": {
        "kind": "polygon", "shell": [[20, 20], [90, 20], [90, 80], [20, 80]], "holes": [[[30, 30], [40, 30], [40, 40]]]}}}))
    document_snapshot.flush()
    Document(p.conn, p.test_asset)              # a shape with holes: parsed from JSON, never saved
    document_snapshot.flush()
    holed = Document(p.conn, p.test_asset)      # so the older snapshot is caught up every time
    assert holed.from_snapshot and holed.caught_up == 2
    same_as_fresh(holed)


def test_a_bulk_change_reads_the_document_again(project, monkeypatch):
    from labeldesk.core import document
    p = project
    create(p, [[10, 10], [60, 10], [60, 50]])
    doc = Document(p.conn, p.test_asset)
    seen = []
    doc.subscribe(seen.append)
    p.on_applied.append(doc.apply_changes)
    monkeypatch.setattr(document, "RELOAD_AT", 2)
    p.apply_all([OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": p.test_asset, "layer_id": p.my_layer_id, "geometry": {"kind": "box", "xyxy": [i, i, i + 5, i + 5]}}})
        for i in range(3)])
    assert seen[-1].reloaded and doc.count == 4 and doc.loads == 2
    same_as_fresh(doc)


def test_rows_asked_for_by_panels_come_from_the_rows_that_have_them(project):
    """Tracked rows, rows with an attribute and rows of an odd kind are kept per row: asking for
    them does not walk the document (the walk would see the same rows)."""
    p = project
    create(p, [[10, 10], [60, 10], [60, 50]])
    with_grade = create(p, [[100, 100], [150, 100], [150, 160]], cls=p.test_class, attrs={"grade": "1"})
    line = ids.new_id()
    p.apply(OpDraft("annotation.create", line, {"annotation": {
        "asset_id": p.test_asset, "layer_id": p.my_layer_id, "plane": {"z": 0},
        "geometry": {"kind": "polyline", "points": [[1, 1], [20, 20], [40, 5]]}}}))
    doc = Document(p.conn, p.test_asset)
    p.on_applied.append(doc.apply_changes)
    assert [doc.ids[r] for r in doc.rows_with_attribute("grade")] == [with_grade]
    assert [doc.ids[r] for r in doc.rows_of_kind("polyline")] == [line]
    assert len(doc.attributed) == 1 and not doc.tracked
    p.apply(OpDraft("annotation.update", with_grade, {"set": {"attributes": {}}}))
    assert not len(doc.rows_with_attribute("grade")) and not doc.attributed
    p.apply(OpDraft("annotation.delete", line, {}))
    assert not len(doc.rows_of_kind("polyline"))
    same_as_fresh(doc)


def test_a_document_read_on_another_thread_is_taken_over_unless_an_op_landed(project):
    from concurrent.futures import ThreadPoolExecutor
    p = project
    create(p, [[10, 10], [60, 10], [60, 50]])
    db = p.root / "project.labeldesk"
    with ThreadPoolExecutor(1) as pool:
        doc = Document.open_in_background(db, p.test_asset, pool).result()
        assert doc.conn is not p.conn and doc.count == 1
        assert doc.adopt(p.conn) and doc.conn is p.conn           # nothing changed since the read
        same_as_fresh(doc)
        late = Document.open_in_background(db, p.test_asset, pool).result()
        create(p, [[1, 1], [30, 1], [30, 30]])                     # an op after the read
        assert not late.adopt(p.conn)                              # the caller reads it again


def test_plane_codes_of_a_load_name_each_rows_plane(project):
    """A load codes planes without a tuple per row (one plane: three counts; several: numpy):
    every row's code names its own plane, codes in order of first appearance."""
    p = project
    only = [create(p, [[1, 1], [9, 1], [9, 9]], z=3) for _ in range(3)]
    os.environ["LABELDESK_NO_DOCUMENT_CACHE"] = "1"
    try:
        doc = Document(p.conn, p.test_asset)
        assert doc.planes.values == [("axial", 3, 0)] and doc.plane_code[:3].tolist() == [0, 0, 0]
        made = [(a, 3) for a in only]
        for z in (1, 3, 0, 1, 2, 0):
            made.append((create(p, [[1, 1], [9, 1], [9, 9]], z=z), z))
        doc = Document(p.conn, p.test_asset)
    finally:
        del os.environ["LABELDESK_NO_DOCUMENT_CACHE"]
    want = {a: z for a, z in made}
    assert {doc.ids[r]: doc.plane_of(r).z for r in range(len(doc.ids))} == want
    stored = [z for _a, z in sorted(((a, z) for a, z in p.conn.execute(
        "SELECT id, plane_z FROM annotations WHERE asset_id = ? ORDER BY rowid", (p.test_asset,))),
        key=lambda az: doc.row_of[az[0]])]
    assert [v[1] for v in doc.planes.values] == list(dict.fromkeys(stored))
    assert sorted(doc.ids[r] for r in doc.rows_on(Plane(1, 0, "axial")).tolist()) == sorted(
        a for a, z in made if z == 1)
    same_as_fresh(doc)


def test_an_older_snapshot_is_caught_up_with_the_ops_since_and_saved_again(project):
    """Edits of every kind after a snapshot: the next open restores it, reads again just the
    annotations those ops name, equals a read from the store, and saves the caught-up document
    (the open after that is a current snapshot, equal again)."""
    p = project
    a = create(p, [[10, 10], [60, 10], [60, 50]])
    b = create(p, [5, 5, 40, 30], z=1, kind="box")
    c = create(p, [[100, 100], [150, 100], [150, 160]], cls=p.test_class, attrs={"grade": "1"})
    d = create(p, [[1, 1], [20, 1], [20, 20]], z=2)
    e = create(p, [[3, 3], [25, 3], [25, 25], [3, 25]])
    Document(p.conn, p.test_asset)
    document_snapshot.flush()
    p.apply(OpDraft("annotation.update", a, {"set": {"geometry": {
        "kind": "polygon", "shell": [[11, 11], [70, 11], [70, 60], [11, 60]]}, "z_order": 5}}))
    p.apply(OpDraft("annotation.update", b, {"set": {"plane": {"z": 2}}}))
    p.apply(OpDraft("annotation.update", c, {"set": {"attributes": {}}}))     # now missing grade
    p.apply(OpDraft("annotation.delete", d, {}))
    p.apply(OpDraft("annotation.update", e, {"set": {"geometry": {"kind": "box", "xyxy": [2, 2, 9, 9]}}}))
    f = create(p, [[40, 40], [90, 40], [90, 90]], z=1)
    g_ = create(p, [7, 7, 17, 17], kind="box")
    p.apply(OpDraft("annotation.delete", f, {}))
    p.apply(OpDraft("annotation.restore", f, {}))
    caught = Document(p.conn, p.test_asset)
    assert caught.from_snapshot and caught.caught_up == 7
    assert caught.flags[caught.row_of[c]] is not None
    assert d not in {caught.ids[r] for r in caught.live_rows().tolist()} and g_ in caught.row_of
    same_as_fresh(caught)                  # equal to the store's read; then to the snapshot saved
    again = Document(p.conn, p.test_asset)
    assert again.from_snapshot and again.caught_up is None and len(again.ids) == 6
    same_as_fresh(again)


FORMAT_OTHER = document_snapshot.FORMAT + 1


def test_a_snapshot_of_another_schema_or_with_too_many_ops_since_is_not_caught_up(project, monkeypatch):
    p = project
    create(p, [[10, 10], [60, 10], [60, 50]])
    Document(p.conn, p.test_asset)
    document_snapshot.flush()
    for _ in range(3):
        create(p, [[1, 1], [20, 1], [20, 20]])
    monkeypatch.setattr(document_snapshot, "CATCH_UP_AT", 2)
    assert not Document(p.conn, p.test_asset).from_snapshot
    document_snapshot.flush()
    monkeypatch.setattr(document_snapshot, "CATCH_UP_AT", 20_000)
    create(p, [[1, 1], [20, 1], [20, 20]])
    stamp = document_snapshot.stamp(p.conn, p.test_asset)
    head, last, op = stamp.rsplit("/", 2)
    before = p.conn.execute("SELECT op_id FROM ops WHERE local_order = ?", (int(last) - 1,)).fetchone()[0]
    assert document_snapshot._since(p.conn, f"{FORMAT_OTHER}/{head.split('/', 1)[1]}/{last}/{op}", stamp) is None
    assert document_snapshot._since(p.conn, f"{head}/{int(last) + 5}/x", stamp) is None
    assert len(document_snapshot._since(p.conn, f"{head}/{int(last) - 1}/{before}", stamp)) == 1
    # the same position in another log (a restored backup, edited since): read the store
    assert document_snapshot._since(p.conn, f"{head}/{int(last) - 1}/not-that-op", stamp) is None


def test_gather_joins_loaded_and_rewritten_rings_in_row_order(project):
    """Rings from the load buffer and rings written since (and boxes) come out end to end in the
    order asked for, each equal to ring(row)."""
    p = project
    made = [create(p, [[i, i], [i + 20, i], [i + 20, i + 9]]) for i in range(6)]
    made.append(create(p, [1, 2, 8, 9], kind="box"))
    doc = Document(p.conn, p.test_asset)
    p.on_applied.append(doc.apply_changes)
    p.apply(OpDraft("annotation.update", made[2], {"set": {"geometry": {
        "kind": "polygon", "shell": [[50, 50], [90, 50], [90, 90], [50, 90], [40, 70]]}}}))
    rows = np.array([doc.row_of[a] for a in made[::-1]] + [doc.row_of[made[0]]])
    pts, lens = doc.gather(rows)
    want = [doc.ring(int(r)) for r in rows]
    assert lens.tolist() == [len(w) for w in want] and lens[4] == 5
    assert np.array_equal(pts, np.concatenate(want))


def test_the_layer_filter_keeps_the_rows_of_the_layers_asked_for_in_their_order():
    from labeldesk.core.document import _Codes
    doc = Document.__new__(Document)
    doc.layers = _Codes()
    rng = np.random.default_rng(3)
    names = ["L0", "L1", "L2", "L3"]
    doc.layer_code = np.array(doc.layers.encode([names[i] for i in rng.integers(0, 4, 500)]), np.int32)
    rows = rng.permutation(500)[:300]
    for layers in (["L1"], ["L0", "L3"], [], ["gone"], ["L2", "gone"], names):
        wanted = [doc.layers.code[l] for l in layers if l in doc.layers.code]
        assert doc._layer_mask(rows, layers).tolist() == rows[np.isin(doc.layer_code[rows], wanted)].tolist()
    assert doc._layer_mask(rows, None) is rows


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "short column", "bad zip member"])
def test_a_damaged_snapshot_is_read_past_and_the_store_read_instead(project, damage):
    """The snapshot is a cache inside the project folder (a sync tool or a full disk may leave it
    half there): whatever is wrong with it, the document is read from the store, as it is."""
    import zipfile
    p = project
    for i in range(12):
        create(p, [[10 + i, 10], [60 + i, 10], [60, 50 + i]])
    doc = Document(p.conn, p.test_asset)
    want = snapshot(doc)
    document_snapshot.flush()                               # the load saved its snapshot
    path = document_snapshot.path_for(p.conn, p.test_asset)
    assert path.exists() and Document(p.conn, p.test_asset).from_snapshot
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(bytes(range(256)) * 40)
    elif damage == "short column":
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        arrays["bounds"] = arrays["bounds"][:3]
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    else:                                                   # a member's bytes changed: CRC error
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("ids.npy")
        raw = bytearray(data)
        at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
        raw[at] ^= 0xFF
        path.write_bytes(bytes(raw))
    again = Document(p.conn, p.test_asset)
    assert not again.from_snapshot and snapshot(again) == want
