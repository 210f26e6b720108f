"""A cold read of an asset (no snapshot) reads the store straight into a numpy record array, the
repeating values of a row as one JSON text (``Document._read_columns``), and gives exactly what a
plain read of the store gives: every field of every live row, in the store's order, with the same
codes as the row-by-row read."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from labeldesk.core import geometry as g
from labeldesk.core import ids
from labeldesk.core.document import Document
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.store import connection

SQUARE = [[10, 10], [60, 10], [60, 50], [10, 50]]
SHAPES = [
    {"kind": "polygon", "shell": [[1.1, 2.2], [30.7, 2.2], [30.7, 40.3]]},
    {"kind": "polygon", "shell": [[0, 0], [100, 0], [100, 100], [0, 100]], "holes": [[[20, 20], [40, 20], [40, 40]]]},
    {"kind": "box", "xyxy": [5.5, 6.25, 40.125, 30.0625]},
    {"kind": "points", "points": [[3, 4], [5.5, 6.5]]},
    {"kind": "polyline", "points": [[0, 0], [10, 20], [30, 15.5]]},
    {"kind": "mask", "bbox": [2, 3, 2, 2], "counts": [1, 3]},
    {"kind": "ellipse", "cxcyrxrya": [50, 60, 10, 5, 0.3]},
    {"kind": "rotated_box", "cxcywha": [70, 80, 20, 10, 0.5]},
    {"kind": "polygon", "shell": [[0.1, 0.2], [1e-9, 7.000000000000001], [123.456789012345678, 1 / 3]]},
]


@pytest.fixture
def store(tmp_path):
    """A volume's annotations of every kind on several planes, in two layers, by two authors, with
    classes (one of them changed in between), deleted rows, tracks and attributes; another
    asset's annotations interleaved (so the store's order is the index's, not insertion)."""
    p = Project.create(tmp_path / "p", user_name="ann")
    vol, other, cls, cls2, bob, layer2 = (ids.new_id() for _ in range(6))
    p.apply_all([
        OpDraft("asset.add", vol, {"asset": {"kind": "volume", "name": "v", "content_hash": "h1",
                                             "width": 300, "height": 200, "depth": 4}}),
        OpDraft("asset.add", other, {"asset": {"kind": "image", "name": "i", "content_hash": "h2",
                                               "width": 300, "height": 200}}),
        OpDraft("ontology.class.create", cls, {"class": {"name": "lesion", "attributes": [
            {"key": "grade", "type": "enum", "options": ["1", "2"], "required": True},
            {"key": "note", "type": "text"}]}}),
        OpDraft("ontology.class.create", cls2, {"class": {"name": "organ"}}),
        OpDraft("user.add", bob, {"name": "bob"}),
        OpDraft("role.grant", bob, {"role": "annotator"}),
        OpDraft("layer.create", layer2, {"layer": {"name": "bob", "kind": "annotator", "owner": bob}}),
    ])
    mine = p.my_layer_id
    made: list[str] = []

    def create(asset: str, geometry: dict, z: int, **kw) -> str:
        ann = ids.new_id()
        user = kw.pop("user", None)
        p.apply(OpDraft("annotation.create", ann, {"annotation": {
            "asset_id": asset, "layer_id": kw.pop("layer", mine), "class_id": kw.pop("cls", None),
            "plane": {"z": z}, "geometry": geometry, "attributes": kw.pop("attrs", {}), **kw}}), user=user)
        made.append(ann)
        return ann

    track = ids.new_id()
    for i in range(40):
        shape = SHAPES[i % len(SHAPES)]
        z = (i * 3) % 4                                  # planes in no particular order
        kw: dict = {}
        if i % 5 == 1:
            kw.update(cls=cls, attrs={"grade": "1" if i % 2 else "2", "note": f"n\n{i}\t\"q\""})
        elif i % 5 == 2:
            kw.update(cls=cls2, layer=layer2, user=bob)
        elif i % 5 == 3:
            kw.update(cls=cls)                            # missing its required attribute: flagged
        if i % 7 == 0:
            kw.update(track_id=track, keyframe=bool(i % 2))
        if i % 4 == 0:
            kw.update(z_order=float(i % 3) - 0.5)
        create(vol, shape, z, **kw)
        create(other, {"kind": "polygon", "shell": SQUARE}, 0)
        if i == 20:                                      # later rows have another ontology version
            p.apply(OpDraft("ontology.class.update", cls2, {"set": {"name": "organ 2"}}))
    for ann in made[3:80:7]:
        p.apply(OpDraft("annotation.delete", ann, {}))
    p.test_asset, p.other_asset = vol, other
    yield p
    p.close()


class RowByRow(Document):
    def _load_rows(self) -> None:
        self._load_rows_by_row()


def columns_only(monkeypatch) -> None:
    """Fail the test if a load falls back to the row-by-row read."""
    def refuse(self):
        raise AssertionError("read row by row")
    monkeypatch.setattr(Document, "_load_rows_by_row", refuse)


def reference(conn: sqlite3.Connection, asset_id: str) -> list[dict]:
    """Every live row of the asset, read plainly (in the store's order)."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    out = []
    for r in cur.execute("SELECT * FROM annotations WHERE asset_id = ? AND deleted = 0", (asset_id,)):
        geometry = g.geometry_from_dict(json.loads(r["geometry"]))
        if r["verts"] is not None:
            ring = np.frombuffer(r["verts"], "<f8").reshape(-1, 2).tolist()
        elif r["kind"] == "box":
            x0, y0, x1, y1 = r["x0"], r["y0"], r["x1"], r["y1"]
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        else:
            ring = None
        out.append({"id": r["id"], "layer": r["layer_id"], "class": r["class_id"],
                    "plane": Plane(r["plane_z"], r["plane_t"], r["plane_axis"]), "kind": r["kind"],
                    "bounds": [r["x0"], r["y0"], r["x1"], r["y1"]], "z_order": r["z_order"],
                    "author": r["author"], "onto": r["ontology_version"],
                    "attributes": json.loads(r["attributes"]), "track": r["track_id"],
                    "keyframe": bool(r["keyframe"]), "geometry": geometry, "ring": ring})
    return out


def seen(doc: Document) -> list[dict]:
    out = []
    for r in doc.live_rows().tolist():
        ring = doc.ring(r)
        out.append({"id": doc.ids[r], "layer": doc.layer_of(r), "class": doc.class_of(r), "plane": doc.plane_of(r),
                    "kind": doc.kinds[r], "bounds": doc.bounds[r].tolist(), "z_order": float(doc.z_order[r]),
                    "author": doc.authors[r], "onto": int(doc.onto_version[r]), "attributes": doc.attributes(r),
                    "track": doc.tracks[r], "keyframe": doc.keyframes[r], "geometry": doc.geometry(r),
                    "ring": None if ring is None else ring.tolist()})
    return out


def same_columns(a: Document, b: Document) -> None:
    """Two loads hold the same columns, codes and derived state (bit for bit)."""
    n = len(a.ids)
    assert a.ids == b.ids and a.row_of == b.row_of and n == len(b.ids)
    for name in ("alive", "bounds", "z_order", "plane_code", "layer_code", "class_code", "onto_version", "ringed",
                 "_start", "_len"):
        x, y = getattr(a, name)[:n], getattr(b, name)[:n]
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
    assert a._buf.tobytes() == b._buf.tobytes()
    for name in ("kinds", "authors", "attributes_json", "tracks", "keyframes", "revisions", "flags", "tracked",
                 "attributed", "_geoms", "_plane_count"):
        assert getattr(a, name) == getattr(b, name), name
    assert {r: v.tolist() for r, v in a._ring_new.items()} == {r: v.tolist() for r, v in b._ring_new.items()}
    for name in ("planes", "layers", "classes"):
        assert getattr(a, name).values == getattr(b, name).values, name
    assert [type(k) for k in a.keyframes] == [type(k) for k in b.keyframes]


@pytest.mark.parametrize("own", [False, True])
def test_a_cold_read_gives_every_field_the_store_holds(store, monkeypatch, own):
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    conn = connection.connect(store.root / "project.labeldesk", read_only=True) if own else store.conn
    expected = reference(conn, store.test_asset)
    slow, other_slow = RowByRow(conn, store.test_asset), RowByRow(conn, store.other_asset)
    by_rowid = [i for (i,) in conn.execute("SELECT id FROM annotations WHERE asset_id = ? AND deleted = 0"
                                           " ORDER BY rowid", (store.test_asset,))]
    assert [e["id"] for e in expected] != by_rowid           # (the index's order: plane, then rowid)
    columns_only(monkeypatch)
    doc = Document(conn, store.test_asset, own_connection=own)
    assert not doc.from_snapshot
    assert seen(doc) == expected
    assert len(expected) == 40 - 5 and {e["kind"] for e in expected} == set(g.KINDS)
    assert len({e["plane"] for e in expected}) == 4 and len({e["author"] for e in expected}) == 2
    assert len({e["onto"] for e in expected}) > 1 and any(not e["keyframe"] for e in expected)
    same_columns(doc, slow)
    assert any(doc.flags) and doc.tracked and doc.attributed
    # what a reader builds from it: the same annotations as the store's own read
    for r in doc.live_rows().tolist():
        assert doc.annotation(r) == store.annotation(doc.ids[r])
    other = Document(conn, store.other_asset, own_connection=own)
    same_columns(other, other_slow)
    assert other.count == 40 - 6
    if own:
        conn.close()


def test_an_asset_without_live_annotations_reads_empty(store, monkeypatch):
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    columns_only(monkeypatch)
    doc = Document(store.conn, ids.new_id())
    assert doc.count == 0 and doc.ids == [] and len(doc._buf) == 0 and not doc.live_rows().size


def test_sqlite_without_json_functions_is_read_row_by_row(store, monkeypatch):
    """Where SQLite has no JSON functions (a build without JSON1) the column read fails at once
    and the document is read row by row, the same."""
    from labeldesk.core import document as document_module
    monkeypatch.setenv("LABELDESK_NO_DOCUMENT_CACHE", "1")
    expected = reference(store.conn, store.test_asset)
    monkeypatch.setattr(document_module, "_ROW", document_module._ROW.replace("json_array(", "no_such_function("))
    calls = []
    monkeypatch.setattr(Document, "_load_rows_by_row",
                        lambda self, f=Document._load_rows_by_row: calls.append(1) or f(self))
    doc = Document(store.conn, store.test_asset)
    assert calls == [1] and seen(doc) == expected
