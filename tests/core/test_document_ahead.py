"""Import to usable: after an import (or a sync) the document snapshot of each large asset it
changed is written ahead of its first open, keyed and validated as any snapshot; and a small
catch-up of an older snapshot is saved when the project closes, not rewritten on every open."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from labeldesk import cli
from labeldesk.core import document_snapshot
from labeldesk.core.document import Document
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project

sys.path.insert(0, str(Path(__file__).parent / "formats"))
from format_fixtures import add_asset, add_class  # noqa: E402
from test_document import snapshot  # noqa: E402


def _cold(conn, asset_id: str) -> Document:
    os.environ["LABELDESK_NO_DOCUMENT_CACHE"] = "1"
    try:
        return Document(conn, asset_id)
    finally:
        del os.environ["LABELDESK_NO_DOCUMENT_CACHE"]


def _coco(path: Path, n: int, name: str = "a.png") -> Path:
    rng = np.random.default_rng(n)
    anns = []
    for i in range(n):
        cx, cy = rng.uniform(10, 90), rng.uniform(10, 70)
        ring = [(cx + r * np.cos(t), cy + r * np.sin(t)) for t, r in zip(np.linspace(0, 6.2, 7), rng.uniform(2, 8, 7))]
        anns.append({"id": i + 1, "image_id": 1, "category_id": 1 + i % 2, "iscrowd": 0,
                     "segmentation": [[round(v, 3) for xy in ring for v in xy]],
                     "bbox": [cx - 8, cy - 8, 16, 16], "area": 100.0})
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": name, "width": 100, "height": 80}],
                                "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "tree"}],
                                "annotations": anns}))
    return path


def _project(tmp_path: Path) -> tuple[Path, str, str]:
    root = tmp_path / "p"
    assert cli.main(["init", str(root), "--user", "alice"]) == 0
    with Project.open(root) as p:
        big, small = add_asset(p, "a.png", 100, 80), add_asset(p, "b.png", 100, 80)
        add_class(p, "car")
        add_class(p, "tree")
    return root, big, small


def test_the_first_open_after_a_cli_import_is_the_snapshot_and_equals_a_cold_read(tmp_path, monkeypatch):
    monkeypatch.setattr(document_snapshot, "AHEAD_MIN", 20)
    root, big, small = _project(tmp_path)
    assert cli.main(["import", str(root), str(_coco(tmp_path / "a.json", 60)), "-q"]) == 0
    with Project.open(root) as p:
        assert document_snapshot.path_for(p.conn, big).exists()
        first = Document(p.conn, big)
        assert first.from_snapshot and first.caught_up is None             # current: nothing read again
        cold = _cold(p.conn, big)
        assert not cold.from_snapshot and len(cold.ids) == 60
        assert snapshot(first) == snapshot(cold)
        assert np.array_equal(first.gather(first.live_rows())[0], cold.gather(cold.live_rows())[0])
    assert cli.main(["import", str(root), str(_coco(tmp_path / "b.json", 5, "b.png")), "-q"]) == 0
    with Project.open(root) as p:
        assert not document_snapshot.path_for(p.conn, small).exists()      # few shapes: read cold, fast
        later = Document(p.conn, big)              # ops on another asset since: caught up, nothing read
        assert later.from_snapshot and later.caught_up == 0 and snapshot(later) == snapshot(_cold(p.conn, big))


def test_an_import_on_top_of_a_snapshot_writes_it_again_at_the_new_stamp(tmp_path, monkeypatch):
    monkeypatch.setattr(document_snapshot, "AHEAD_MIN", 20)
    root, big, _small = _project(tmp_path)
    assert cli.main(["import", str(root), str(_coco(tmp_path / "a.json", 30)), "-q"]) == 0
    with Project.open(root) as p:
        old = str(np.load(document_snapshot.path_for(p.conn, big))["stamp"])
    assert cli.main(["import", str(root), str(_coco(tmp_path / "c.json", 25)), "--layer", "more", "-q"]) == 0
    with Project.open(root) as p:
        saved = str(np.load(document_snapshot.path_for(p.conn, big))["stamp"])
        assert saved != old and saved == document_snapshot.stamp(p.conn, big)
        doc = Document(p.conn, big)
        assert doc.from_snapshot and doc.caught_up is None and len(doc.ids) == 55
        assert snapshot(doc) == snapshot(_cold(p.conn, big))


def test_ops_merged_like_a_sync_pull_get_their_snapshot_written_ahead(tmp_path, monkeypatch):
    """write_ahead_since (what `labeldesk sync` and the app's sync worker call after a round) on
    ops appended after a mark, here applied directly: the changed asset's snapshot is current."""
    monkeypatch.setattr(document_snapshot, "AHEAD_MIN", 3)
    root, big, _small = _project(tmp_path)
    with Project.open(root) as p:
        layer = p.my_layer_id
        mark = document_snapshot.high_water(p.conn)
        from labeldesk.core import ids
        p.apply_all([OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": big, "layer_id": layer, "class_id": None,
            "geometry": {"kind": "polygon", "shell": [[i, 1], [i + 5, 1], [i + 5, 9]]}}}) for i in range(4)])
        assert document_snapshot.write_ahead_since(p.conn, mark) == [big]
        assert document_snapshot.write_ahead_since(p.conn, mark) == []         # current already: not rewritten
        doc = Document(p.conn, big)
        assert doc.from_snapshot and doc.caught_up is None and snapshot(doc) == snapshot(_cold(p.conn, big))


def test_a_small_catch_up_is_saved_when_the_project_closes_a_large_one_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(document_snapshot, "AHEAD_MIN", 3)
    root, big, _small = _project(tmp_path)
    assert cli.main(["import", str(root), str(_coco(tmp_path / "a.json", 10)), "-q"]) == 0
    with Project.open(root) as p:
        path = document_snapshot.path_for(p.conn, big)
        written = str(np.load(path)["stamp"])
        a = p.annotations(big)[0].id
        p.apply(OpDraft("annotation.update", a, {"set": {"z_order": 3}}))
        caught = Document(p.conn, big)
        assert caught.from_snapshot and caught.caught_up == 1 and caught.snapshot_deferred
        document_snapshot._now.set()              # writers would start at once: none was started
        try:
            for t in list(document_snapshot._writers):
                t.join()
        finally:
            document_snapshot._now.clear()
        assert str(np.load(path)["stamp"]) == written        # not rewritten on this open
        again = Document(p.conn, big)                         # caught up again, equal to a cold read
        assert again.from_snapshot and again.caught_up == 1 and snapshot(again) == snapshot(_cold(p.conn, big))
    with Project.open(root) as p:                             # (the close flushed it)
        assert str(np.load(path)["stamp"]) == document_snapshot.stamp(p.conn, big)
        current = Document(p.conn, big)
        assert current.from_snapshot and current.caught_up is None
        monkeypatch.setattr(document_snapshot, "SAVE_CATCH_UP_AT", 1)
        p.apply(OpDraft("annotation.update", a, {"set": {"z_order": 4}}))
        large = Document(p.conn, big)                         # a catch-up "large" enough: saved at once
        assert large.caught_up == 1 and not large.snapshot_deferred
        document_snapshot.flush()
        assert str(np.load(path)["stamp"]) == document_snapshot.stamp(p.conn, big)


def test_writes_kept_for_the_close_are_few_older_ones_start_at_once(tmp_path, monkeypatch):
    """Each write kept for flush holds its document's copy: past DEFER_MAX the oldest starts now."""
    import threading
    monkeypatch.setattr(document_snapshot, "DEFER_MAX", 2)
    monkeypatch.setattr(document_snapshot, "_deferred", {})
    done: list[int] = []
    started = threading.Event()
    for i in range(3):
        document_snapshot._start_or_defer(tmp_path / f"{i}.npz", lambda i=i: (done.append(i), started.set()), (),
                                          "test", True)
    started.wait(5)
    assert done == [0] and list(document_snapshot._deferred) == [tmp_path / "1.npz", tmp_path / "2.npz"]
    document_snapshot.flush()
    assert sorted(done) == [0, 1, 2] and not document_snapshot._deferred
