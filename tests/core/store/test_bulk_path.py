"""``Project.apply_bulk`` (store/bulk.py) keeps every rule of the single path ``apply_all``:
the same payloads, rows and op-log order, the same refusals with the same messages, a verifiable
hash chain, and history and sync see every entity."""
from __future__ import annotations

import sqlite3

import pytest

from labeldesk.core import ids
from labeldesk.core.errors import LabeldeskError, OpRejected
from labeldesk.core.ops import ChangeSet, OpDraft
from labeldesk.core.project import Project
from labeldesk.core.store import repo
from labeldesk.core.store import bulk

ASSET, LAYER, CLASS, TAGGED = "a" * 26, "l" * 26, "c" * 26, "t" * 26


def _project(path) -> Project:
    p = Project.create(path, "bulk", user_name="alice")
    p.apply_all([
        OpDraft("asset.add", ASSET, {"asset": {"kind": "image", "name": "img", "content_hash": "sha256:x",
                                                "width": 100, "height": 80}}),
        OpDraft("layer.create", LAYER, {"layer": {"name": "mine", "kind": "annotator", "owner": p.user_id}}),
        OpDraft("ontology.class.create", CLASS, {"class": {"name": "car", "color": "#123456"}}),
        OpDraft("ontology.class.create", TAGGED, {"class": {
            "name": "tagged", "color": "#654321", "kinds": ["box", "polygon"],
            "attributes": [{"key": "n", "type": "number"}]}}),
    ])
    return p


def _create(entity, geometry, **extra):
    ann = {"asset_id": ASSET, "layer_id": LAYER, "class_id": CLASS, "plane": {"z": 0, "t": 0, "axis": "axial"},
           "geometry": geometry, "attributes": {}}
    ann.update(extra)
    return OpDraft("annotation.create", entity, {"annotation": ann}, reason="imported from test")


def _star(cx, cy, r, n=12):
    import math
    return [[round(cx + (r if k % 2 else r / 2) * math.cos(k * math.pi * 2 / n), 2),
             round(cy + (r if k % 2 else r / 2) * math.sin(k * math.pi * 2 / n), 2)] for k in range(n)]


def _drafts():
    """Shapes of every sort: most take the bulk checks, some the single path (clipped, closed
    ring, holes, other kinds, attributes, no plane, a prediction's provenance)."""
    out = []
    for i in range(60):
        out.append(_create(f"box{i:022d}", {"kind": "box", "xyxy": [i % 50, 1 + i % 30, 20 + i % 50, 30 + i % 40]}))
        out.append(_create(f"pol{i:022d}", {"kind": "polygon", "shell": _star(30 + i % 40, 30 + i % 20, 10 + i % 8)}))
    out += [
        _create("clipbox" + "0" * 19, {"kind": "box", "xyxy": [-5, -5, 10, 10]}),
        _create("clippol" + "0" * 19, {"kind": "polygon", "shell": [[90, 10], [120, 10], [120, 40]]}),
        _create("closed" + "0" * 20, {"kind": "polygon", "shell": [[1, 1], [9, 1], [9, 9], [1, 1]]}),
        _create("dupvert" + "0" * 19, {"kind": "polygon", "shell": [[1, 1], [9, 1], [9, 1], [9, 9]]}),
        _create("holes" + "0" * 21, {"kind": "polygon", "shell": [[0, 0], [50, 0], [50, 50], [0, 50]],
                                     "holes": [[[10, 10], [20, 10], [20, 20]]]}),
        _create("ellipse" + "0" * 19, {"kind": "ellipse", "cxcyrxrya": [50, 40, 10, 5, 0.0]}),
        _create("reversed" + "0" * 18, {"kind": "box", "xyxy": [30, 30, 10, 10]}),
        _create("intcoords" + "0" * 17, {"kind": "polygon", "shell": [[1, 1], [9, 1], [9, 9]]}),
        _create("attrs" + "0" * 21, {"kind": "box", "xyxy": [1, 1, 5, 5]}, class_id=TAGGED, attributes={"n": 3}),
        _create("noclass" + "0" * 19, {"kind": "box", "xyxy": [1, 1, 5, 5]}, class_id=None),
        _create("zorder" + "0" * 20, {"kind": "box", "xyxy": [1, 1, 5, 5]}, z_order=2.5, track_id="trk",
                keyframe=False),
        _create("score" + "0" * 21, {"kind": "box", "xyxy": [1, 1, 5, 5]}, score=0.5),
        OpDraft("annotation.create", "noplane" + "0" * 19, {"annotation": {
            "asset_id": ASSET, "layer_id": LAYER, "geometry": {"kind": "box", "xyxy": [2, 2, 6, 6]}}}),
    ]
    return out


def _rows(p: Project) -> list[tuple]:
    p.conn.row_factory = sqlite3.Row
    cols = [c[1] for c in p.conn.execute("PRAGMA table_info(annotations)") if c[1] not in ("author", "revision")]
    return [tuple(r) for r in p.conn.execute(f"SELECT {', '.join(cols)} FROM annotations ORDER BY rowid")]


def _payloads(p: Project) -> list[tuple]:
    return [(r[0], r[1], r[2], r[3], r[4]) for r in p.conn.execute(
        "SELECT type, entity, payload, base, reason FROM ops WHERE type LIKE 'annotation.%' ORDER BY local_order")]


def test_bulk_writes_what_the_single_path_writes(tmp_path, monkeypatch):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    single = one.apply_all(_drafts())
    calls = []
    real = bulk.Writer.one
    monkeypatch.setattr(bulk.Writer, "one", lambda self, d: calls.append(d.entity) or real(self, d))
    result = many.apply_bulk(iter(_drafts()))
    assert result.count == len(single) == len(_drafts())
    assert _payloads(one) == _payloads(many)
    assert _rows(one) == _rows(many)
    # the bulk checks took the plain boxes and polygons; the rest went through the single path
    # (and the run's first op, whose role check is then remembered for the user and layer)
    assert calls == [f"box{0:022d}"] + [e + "0" * (26 - len(e)) for e in (
        "clipbox", "clippol", "closed", "dupvert", "holes", "ellipse", "reversed", "score")]
    for p in (one, many):
        assert p.verify_chain().ok
        seqs = [r[0] for r in p.conn.execute("SELECT seq FROM ops ORDER BY local_order")]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert p.counts()["outbox"] == p.counts()["ops"]
    # history sees every entity: one op each, by id
    assert all(len(list(many.ops(d.entity))) == 1 for d in _drafts())
    assert result.changes.annotations == {d.entity for d in _drafts()}
    one.close()
    many.close()


def test_drafts_sharing_one_plane_dict_write_what_the_single_path_writes(tmp_path):
    """The import context hands one plane dict to every shape of a plane; the bulk path remembers
    the checks of that dict (by identity, while it is unchanged) and still writes the same."""
    def drafts():
        plane = {"z": 0, "t": 0, "axis": "axial"}
        out = _drafts()
        for d in out:
            ann = d.payload.get("annotation", {})
            if ann.get("plane") == plane:
                ann["plane"] = plane
        other = dict(plane)                 # an equal dict of another class: its own payload
        out += [_create(f"tag{i:023d}", {"kind": "box", "xyxy": [1, 1, 5 + i, 5]}, class_id=TAGGED, plane=other)
                for i in range(3)]
        out += [_create(f"bad{i:023d}", {"kind": "box", "xyxy": [1, 1, 5 + i, 5]}, plane=plane)
                for i in range(2)]
        out[-1].payload["annotation"]["geometry"]["xyxy"] = [1, 1, 500, 5]       # clipped: single path
        return out
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    single = one.apply_all(drafts())
    result = many.apply_bulk(iter(drafts()))
    assert result.count == len(single)
    assert _payloads(one) == _payloads(many)
    assert _rows(one) == _rows(many)
    assert many.verify_chain().ok
    one.close()
    many.close()


@pytest.mark.parametrize("bad, message", [
    (_create("bowtie" + "0" * 20, {"kind": "polygon", "shell": [[0, 0], [10, 10], [10, 0], [0, 10]]}), "not valid"),
    (_create("outside" + "0" * 19, {"kind": "box", "xyxy": [200, 200, 210, 210]}), "wholly outside"),
    (_create("nan" + "0" * 23, {"kind": "polygon", "shell": [[0, 0], [float("nan"), 1], [3, 3]]}), "not finite"),
    (_create("wrongkind" + "0" * 17, {"kind": "ellipse", "cxcyrxrya": [5, 5, 2, 2, 0.0]}, class_id=TAGGED),
     "allows"),
    (_create("badattr" + "0" * 19, {"kind": "box", "xyxy": [1, 1, 5, 5]}, class_id=TAGGED, attributes={"n": "x"}),
     "annotation"),
    (_create("noclass" + "0" * 19, {"kind": "box", "xyxy": [1, 1, 5, 5]}, class_id="nope"), "no class"),
    (_create(f"box{0:022d}", {"kind": "box", "xyxy": [1, 1, 5, 5]}), "exists already"),   # taken in the run
    (_create("slice" + "0" * 21, {"kind": "box", "xyxy": [1, 1, 5, 5]}, plane={"z": 3, "t": 0, "axis": "axial"}),
     "outside the asset"),
])
def test_bulk_refuses_what_the_single_path_refuses(tmp_path, bad, message):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    drafts = _drafts()[:50] + [bad] + _drafts()[50:60]
    errors = []
    for p, apply in ((one, one.apply_all), (many, many.apply_bulk)):
        before = p.counts()
        with pytest.raises(OpRejected) as err:
            apply(drafts)
        errors.append(str(err.value))
        assert p.counts() == before                     # nothing of the run was written
        assert p.verify_chain().ok
    assert errors[0] == errors[1] and message in errors[0]
    one.close()
    many.close()


def test_bulk_checks_the_role_as_the_single_path(tmp_path):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    errors = []
    for p, apply in ((one, one.apply_all), (many, many.apply_bulk)):
        viewer = "v" * 26
        p.apply_all([OpDraft("user.add", viewer, {"name": "vic"}), OpDraft("role.grant", viewer, {"role": "reviewer"})])
        before = p.counts()
        with pytest.raises(OpRejected) as err:
            apply(_drafts()[:30], user=viewer)
        errors.append(str(err.value))
        assert p.counts() == before
    assert errors[0] == errors[1] and "vic" in errors[0]
    one.close()
    many.close()


def test_bulk_keeps_the_phi_guard_of_free_text_ops(tmp_path):
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    phi = OpDraft("ontology.class.create", "k" * 26, {"class": {"name": "Smith^John", "color": "#000000"}})
    errors = []
    for p, apply in ((one, one.apply_all), (many, many.apply_bulk)):
        before = p.counts()
        with pytest.raises(OpRejected) as err:
            apply(_drafts()[:40] + [phi] + _drafts()[40:80])
        errors.append(str(err.value))
        assert p.counts() == before
    assert errors[0] == errors[1] and "patient identifier" in errors[0]
    one.close()
    many.close()


def test_a_tampered_bulk_op_breaks_the_chain(tmp_path):
    p = _project(tmp_path / "p")
    p.apply_bulk(_drafts())
    assert p.verify_chain().ok
    p.conn.execute("DROP TRIGGER ops_no_update")
    p.conn.execute("UPDATE ops SET payload = replace(payload, '\"box\"', '\"box \"') WHERE entity = ?",
                   (f"box{7:022d}",))
    report = p.verify_chain()
    assert not report.ok and report.problem == "op content does not match its hash"
    p.close()


def test_bulk_undo_and_the_views_hear_of_every_id(tmp_path):
    p = _project(tmp_path / "p")
    heard = []
    p.on_applied.append(heard.append)
    result = p.apply_bulk(_drafts())
    assert heard and heard[0].annotations == {d.entity for d in _drafts()}
    undo = result.undo()
    assert len(undo) == len(_drafts()) and undo[0].entity == _drafts()[-1].entity
    assert all(d.type == "annotation.delete" for d in undo)
    p.apply_all(undo)
    assert p.counts()["annotations"] == 0
    p.close()


def test_changeset_sets_are_made_when_first_read():
    c = ChangeSet()
    assert not c and c.__dict__ == {}
    c.annotations.add("x")
    assert c and c == ChangeSet(annotations={"x"}) and list(c.__dict__) == ["annotations"]
    d = ChangeSet(classes={"k"})
    d.update(c)
    assert d.annotations == {"x"} and d.classes == {"k"} and not d.layers
    with pytest.raises(TypeError):
        ChangeSet(nothing={"x"})
    with pytest.raises(AttributeError):
        c.nothing


def test_a_bulk_import_syncs_to_identical_replicas(tmp_path):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sync"))
    from sync_team import Team
    team = Team(tmp_path, 2)
    try:
        a, b = team.devices
        drafts = [OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": team.asset, "layer_id": a.my_layer_id, "class_id": team.cls,
            "geometry": {"kind": "polygon", "shell": _star(50 + i % 90, 50 + i % 70, 20)} if i % 2 else
            {"kind": "box", "xyxy": [i % 150, i % 120, i % 150 + 30, i % 120 + 40]}}}) for i in range(600)]
        a.apply_bulk(drafts)
        team.sync_all()
        assert len(set(team.digests())) == 1
        assert b.counts()["annotations"] == a.counts()["annotations"] == 600
        assert all(b.annotation(d.entity) is not None for d in drafts)
        assert a.verify_chain().ok and b.verify_chain().ok
    finally:
        team.close()


def test_an_import_goes_through_the_bulk_path_and_undoes(tmp_path):
    import json
    from labeldesk.core.interchange import import_file, undo_import
    p = _project(tmp_path / "p")
    coco = {"images": [{"id": 1, "file_name": "img", "width": 100, "height": 80}],
            "categories": [{"id": 1, "name": "car"}],
            "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [i % 50, i % 40, 10, 10],
                             "iscrowd": 0} for i in range(500)]}
    f = tmp_path / "c.json"
    f.write_text(json.dumps(coco))
    rep = import_file(p, "coco", f)
    assert rep.imported == 500 and p.counts()["annotations"] == 500 and len(rep.undo) == 500
    assert p.verify_chain().ok
    undo_import(p, rep)
    assert p.counts()["annotations"] == 0
    with pytest.raises(LabeldeskError):
        import_file(p, "coco", tmp_path / "missing.json")
    p.close()


def test_runs_split_by_other_ops_and_a_late_refusal_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "RUN", 16)              # many runs, with other ops between them
    one, many = _project(tmp_path / "one"), _project(tmp_path / "many")
    drafts = _drafts()
    mixed = drafts[:40] + [OpDraft("ontology.class.create", "n" * 26, {"class": {"name": "new", "color": "#010101"}})] \
        + [_create(f"late{i:021d}", {"kind": "box", "xyxy": [1, 1, 9, 9]}, class_id="n" * 26) for i in range(20)] \
        + drafts[40:]
    one.apply_all(mixed)
    many.apply_bulk(iter(mixed))
    assert _payloads(one) == _payloads(many) and _rows(one) == _rows(many)
    assert many.verify_chain().ok
    bad = _create("outside" + "0" * 19, {"kind": "box", "xyxy": [500, 500, 510, 510]})
    p = _project(tmp_path / "third")
    before = p.counts()
    with pytest.raises(OpRejected, match="wholly outside"):
        p.apply_bulk(iter(mixed + [bad]))          # refused in the last run: the earlier runs are undone too
    assert p.counts() == before and p.verify_chain().ok
    assert repo.next_seq(p.conn, p.device_id) == int(before["ops"]) + 1
    for q in (one, many, p):
        q.close()


def test_checked_geometry_json_is_what_canonical_json_writes():
    """The bulk path formats a checked box's and shell's floats itself (their repr, as the JSON
    encoder writes them): the same text as canonical_json, for any finite values."""
    import random

    import numpy as np

    from labeldesk.core.ops import canonical_json
    rng = random.Random(7)
    values = [0.0, 1.0, 0.1, 1e16, 1e-7, 5e-324, 2.0 ** 53 + 2, 1234.5678, 1 / 3, 4095.999999999999]
    for n in (3, 4, 12, 32, 300):
        for _ in range(50):
            shell = np.array([[rng.choice(values) * rng.random() if rng.random() < 0.5 else rng.choice(values)
                               for _ in range(2)] for _ in range(n)], dtype=np.float64)
            assert bulk._shell_json(shell) == canonical_json({"kind": "polygon", "shell": shell.tolist()})
    for _ in range(200):
        box = [rng.choice(values) * rng.random() for _ in range(4)]
        assert bulk._BOX_JSON % tuple(box) == canonical_json({"kind": "box", "xyxy": box})
