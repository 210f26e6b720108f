"""Segments: 3-D label maps changed by ops (paint, undo, lock), their volume in mL, the label
volume API for exports, and the migration of per-slice masks from a store of the previous schema."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core import segments as seg
from labeldesk.core.errors import OpRejected
from labeldesk.core.geometry import Mask
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.segment_migration import migrate_masks
from tests.core.conftest import add_image_asset


def _volume(project, shape=(12, 40, 50)):
    z, y, x = shape
    asset_id = add_image_asset(project, x, y, depth=z, kind="volume")
    project.conn.execute("UPDATE assets SET spacing = ? WHERE id = ?", ("[0.5, 0.5, 2.0]", asset_id))
    return asset_id


def _ball(shape, centre, r):
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= r * r


def test_paint_undo_and_volume(project):
    vol = _volume(project)
    shape = (12, 40, 50)
    create = seg.create_draft(vol, project.my_layer_id, None, "Lesion", "#ff0000")
    project.apply(create)
    sid = str(create.entity)
    ball = _ball(shape, (6, 20, 25), 4)
    paint = seg.paint_draft(sid, np.zeros(shape, bool), ball)
    assert paint.payload["origin"] == [2, 16, 21] and paint.payload["shape"] == [9, 9, 9] and "off" not in paint.payload
    applied = project.apply(paint)
    assert np.array_equal(seg.label_map(project.conn, sid), ball)
    [s] = seg.segments(project.conn, vol)
    assert s.voxels == ball.sum() and s.volume_ml((0.5, 0.5, 2.0)) == pytest.approx(ball.sum() * 0.5 / 1000)
    # erase a half: the op carries only what turned off; undo brings it back exactly
    half = ball.copy()
    half[:, :, :25] = False
    erase = project.apply(seg.paint_draft(sid, ball, half))
    assert "on" not in erase.op.payload and np.array_equal(seg.label_map(project.conn, sid), half)
    project.apply(erase.inverse)
    project.apply(applied.inverse)
    assert not seg.label_map(project.conn, sid).any() and seg.segments(project.conn, vol)[0].voxels == 0


def test_refusals_name_the_problem(project):
    image = add_image_asset(project)
    with pytest.raises(OpRejected, match="is not a volume"):
        project.apply(seg.create_draft(image, project.my_layer_id, None, "x", "#fff"))
    vol = _volume(project)
    create = seg.create_draft(vol, project.my_layer_id, None, "Liver", "#00ff00")
    project.apply(create)
    with pytest.raises(OpRejected, match="outside the volume"):
        project.apply(OpDraft("segment.paint", create.entity, {"origin": [11, 0, 0], "shape": [2, 1, 1],
                                                               "on": seg.encode_bits(np.ones((2, 1, 1), bool))}))
    project.apply(OpDraft("segment.update", create.entity, {"set": {"locked": True}}))
    one = np.zeros((12, 40, 50), bool)
    one[3, 4, 5] = True
    with pytest.raises(OpRejected, match="is locked"):
        project.apply(seg.paint_draft(str(create.entity), np.zeros_like(one), one))


def test_label_volume_for_exports(project):
    vol = _volume(project)
    shape = (12, 40, 50)
    made = []
    for name, centre in (("a", (3, 10, 10)), ("b", (8, 30, 40))):
        c = seg.create_draft(vol, project.my_layer_id, None, name, "#ff0000")
        project.apply(c)
        project.apply(seg.paint_draft(str(c.entity), np.zeros(shape, bool), _ball(shape, centre, 2)))
        made.append(str(c.entity))
    labels, legend = seg.label_volume(project.conn, vol, project.my_layer_id, values={made[1]: 7})
    assert labels.dtype == np.uint16 and set(np.unique(labels)) == {0, 1, 7}
    assert [(v, s.name) for v, s in legend] == [(1, "a"), (7, "b")]


def test_migration_of_slice_masks_from_a_store_of_the_previous_schema(tmp_path):
    root = tmp_path / "old"
    with Project.create(root, "old", user_name="alice") as p:
        vol = _volume(p)
        cls = None
        masks = {}
        for z in (4, 5, 6):
            arr = np.zeros((40, 50), bool)
            arr[10 + z:20, 10:20 + z] = True
            masks[z] = arr
            p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                "asset_id": vol, "layer_id": p.my_layer_id, "class_id": cls, "plane": {"z": z},
                "geometry": Mask.from_array(arr).to_dict(), "attributes": {}}}))
        coronal = np.zeros((12, 50), bool)          # a coronal mask lands in the same label map
        coronal[8:10, 30:35] = True
        p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": vol, "layer_id": p.my_layer_id, "class_id": cls, "plane": {"z": 25, "axis": "coronal"},
            "geometry": Mask.from_array(coronal).to_dict(), "attributes": {}}}))
        p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": vol, "layer_id": p.my_layer_id, "class_id": cls, "plane": {"z": 4},
            "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}, "attributes": {}}}))
    # make it exactly a store of the previous schema (before segments), then open it with this app
    store = sqlite3.connect(root / "project.labeldesk")
    from labeldesk.core.store.migrations import MIGRATIONS
    store.execute("DROP TABLE segment_slices")
    store.execute("DROP TABLE segments")
    store.execute(f"PRAGMA user_version = {MIGRATIONS.index('schema_segments.sql')}")
    store.commit()
    store.close()
    with Project.open(root) as p:
        report = migrate_masks(p)
        assert report.masks == 4 and report.segments_made == 1
        [s] = seg.segments(p.conn, vol)
        lm = seg.label_map(p.conn, s.id)
        want = np.zeros((12, 40, 50), bool)
        for z, arr in masks.items():
            want[z] |= arr
        want[:, 25, :] |= coronal
        assert np.array_equal(lm, want) and s.voxels == want.sum()
        kinds = sorted(a.geometry.kind for a in p.annotations(vol))
        assert kinds == ["box"]                                        # the box stays an annotation
        deleted = p.conn.execute("SELECT COUNT(*) FROM annotations WHERE deleted = 1").fetchone()[0]
        assert deleted == 4                                            # nothing lost: kept, marked deleted


def test_editor_strokes_become_one_paint_op_each(project):
    from labeldesk.core.segment_editor import SegmentEditor
    vol = _volume(project)
    create = seg.create_draft(vol, project.my_layer_id, None, "Lesion", "#ff0000")
    project.apply(create)
    sid = str(create.entity)
    ed = SegmentEditor(project.conn, vol, (0.5, 0.5, 2.0))
    ed.stamp(sid, "axial", 5, [(10, 10), (30, 10)], 3.0)
    ed.stamp(sid, "coronal", 20, [(25, 6)], 4.0, sphere=True)        # a ball over neighbouring planes
    draft = ed.pending_draft(sid)
    project.apply(draft)
    ed.committed_ok(sid)
    assert ed.pending_draft(sid) is None
    stored = seg.label_map(project.conn, sid)
    assert np.array_equal(stored, ed.map(sid))
    assert stored[5, 10, 10:30].all() and stored[6, 20, 25] and stored[6, 17, 25]
    assert stored[5:7, 20, 25].all() and not stored[4, 20, 25] and not stored[7, 20, 25]   # 2 mm radius, 2 mm rows
    assert stored[6, 19, 25] and not stored[6, 15, 25]     # ball radius 2 mm = 4 coronal planes of 0.5 mm


def test_interpolation_fills_between_painted_slices():
    from labeldesk.core.segment_editor import interpolate_gaps
    m = np.zeros((9, 40, 40), bool)
    m[2] = _ball((1, 40, 40), (0, 20, 20), 6)[0]
    m[6] = _ball((1, 40, 40), (0, 20, 20), 10)[0]
    out = interpolate_gaps(m)
    areas = [int(out[k].sum()) for k in range(9)]
    assert areas[0] == areas[1] == areas[7] == 0
    assert areas[2] < areas[3] < areas[4] < areas[5] < areas[6]
    assert np.array_equal(out[2], m[2]) and np.array_equal(out[6], m[6])


def test_segments_export_as_nifti_label_maps(project, tmp_path):
    import nibabel as nib

    from labeldesk.core.importer import add_paths
    from labeldesk.core.interchange import export
    data = np.zeros((20, 16, 6), dtype=np.int16)
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.9, 2.5, 1.0])), str(path))
    vol = add_paths(project, [path]).added[0].id
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {"name": "Tumour", "color": "#ff0000",
                                                                   "kinds": [], "attributes": []}}))
    create = seg.create_draft(vol, project.my_layer_id, cid, "Tumour", "#ff0000")
    project.apply(create)
    shape = seg.grid_shape(project.conn, vol)
    ball = _ball(shape, (3, 8, 10), 2)
    project.apply(seg.paint_draft(str(create.entity), np.zeros(shape, bool), ball))
    rep = export(project, "nifti", tmp_path / "out")
    [written] = list((tmp_path / "out").rglob("*.nii.gz"))
    labels = np.asanyarray(nib.load(str(written)).dataobj).transpose(2, 1, 0)      # (x, y, z) -> (z, y, x)
    value = next(c.value for c in project.classes() if c.id == cid) if hasattr(project.classes()[0], "value") else 1
    assert set(np.unique(labels)) == {0, value} and np.array_equal(labels > 0, ball), rep


def test_cli_lists_segments_with_ml_and_1_based_slices_and_migrates(tmp_path, capsys, monkeypatch):
    from labeldesk.cli import main
    monkeypatch.delenv("LABELDESK_USER", raising=False)
    root = tmp_path / "p"
    with Project.create(root, user_name="alice") as p:
        vol = _volume(p)
        arr = np.zeros((40, 50), bool)
        arr[5:15, 5:15] = True
        for z in (0, 1):
            p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                "asset_id": vol, "layer_id": p.my_layer_id, "class_id": None, "plane": {"z": z},
                "geometry": Mask.from_array(arr).to_dict(), "attributes": {}}}))
    assert main(["segments", "list", str(root)]) == 0 and "no segments" in capsys.readouterr().out
    assert main(["segments", "migrate", str(root)]) == 0
    assert "converted 2 slice mask(s)" in capsys.readouterr().out
    assert main(["segments", "list", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Segment (no class" in out and "0.10 mL" in out and "axial 1–2" in out   # 200 voxels × 0.5 mm³


def test_agreement_of_two_layers_segments_in_3d(project):
    from labeldesk.core.review.comparison import compare_project
    vol = _volume(project)
    shape = (12, 40, 50)
    other = ids.new_id()
    project.apply(OpDraft("layer.create", other, {"layer": {"name": "second reader", "kind": "annotator",
                                                            "owner": project.user_id}}))
    balls = {project.my_layer_id: _ball(shape, (6, 20, 25), 5), other: _ball(shape, (6, 20, 27), 5)}
    for layer, ball in balls.items():
        c = seg.create_draft(vol, layer, None, "Lesion", "#ff0000")
        project.apply(c)
        project.apply(seg.paint_draft(str(c.entity), np.zeros(shape, bool), ball))
    report = compare_project(project)
    [row] = [r for r in report.volume_rows() if r["asset_id"] == vol]
    a, b = balls.values()
    want = 2 * (a & b).sum() / (a.sum() + b.sum())
    assert row["dice"] == pytest.approx(want, abs=1e-6) and 0 < row["hd95"] <= 2 * 0.5 + 1e-6


def test_a_stroke_changes_the_layer_revision_reviews_name(project):
    from labeldesk.core.review.workflow import EMPTY_REV, layer_revision
    vol = _volume(project)
    assert layer_revision(project.conn, vol, project.my_layer_id) == EMPTY_REV
    c = seg.create_draft(vol, project.my_layer_id, None, "Lesion", "#ff0000")
    project.apply(c)
    before = layer_revision(project.conn, vol, project.my_layer_id)
    one = np.zeros((12, 40, 50), bool)
    one[2, 3, 4] = True
    project.apply(seg.paint_draft(str(c.entity), np.zeros_like(one), one))
    assert layer_revision(project.conn, vol, project.my_layer_id) not in (before, EMPTY_REV)


def test_editor_rollback_puts_back_exactly_what_the_store_holds(project):
    from labeldesk.core.segment_editor import SegmentEditor
    vol = _volume(project)
    create = seg.create_draft(vol, project.my_layer_id, None, "Lesion", "#ff0000")
    project.apply(create)
    sid = str(create.entity)
    ed = SegmentEditor(project.conn, vol, (0.5, 0.5, 2.0))
    ed.stamp(sid, "axial", 5, [(10, 10), (30, 10)], 3.0)
    project.apply(ed.pending_draft(sid))
    ed.committed_ok(sid)
    stored = seg.label_map(project.conn, sid)
    ed.stamp(sid, "coronal", 10, [(5, 2), (40, 9)], 3.0, erase=True)    # crosses several axial slices
    ed.stamp(sid, "sagittal", 20, [(5, 2), (30, 9)], 2.0)
    assert not np.array_equal(ed.map(sid), stored)
    ed.rollback(sid)
    assert np.array_equal(ed.map(sid), stored) and ed.pending_draft(sid) is None
