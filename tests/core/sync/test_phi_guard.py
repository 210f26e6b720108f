"""Rule 5: patient identifiers never reach the shared folder. Typed text (issue comments, review
reasons, class names) carrying one is refused before it is written; any other op carrying one
stops publishing at that op (seqs cannot have holes) and the status says why."""
from __future__ import annotations

import shutil

import pytest
from pydicom.data import get_testdata_file

from labeldesk.core import ids
from labeldesk.core.errors import OpRejected
from labeldesk.core.importer import add_paths
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
from labeldesk.core.sync import engine
from labeldesk.core.sync.status import status


@pytest.fixture
def shared(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "ct.dcm")      # PatientName CompressedSamples^CT1
    p = Project.create(tmp_path / "p", user_name="alice")
    add_paths(p, [src])                                               # not de-identified
    engine.init_share(p, tmp_path / "share")
    yield p, tmp_path / "share"
    p.close()


def _segments(share):
    return sorted(share.glob("devices/*/segments/seg-*.jsonl"))


def test_an_issue_comment_with_a_patient_name_is_refused_before_it_is_written(shared):
    from labeldesk.core.review import issues
    p, _ = shared
    asset = p.assets()[0]
    before = p.counts()["ops"]
    with pytest.raises(OpRejected, match="patient"):
        p.apply(OpDraft("ontology.class.create", ids.new_id(), {"class": {
            "name": "CompressedSamples^CT1 lesion", "color": "#112233"}}))
    with pytest.raises(OpRejected, match="patient"):
        issues.open_issue(p, asset.id, Plane(), (3.0, 3.0), "is this CompressedSamples CT1 again?")
    assert p.counts()["ops"] == before


def test_an_op_with_a_patient_name_stops_publishing_and_the_status_says_why(shared):
    p, share = shared
    asset = p.assets()[0]
    published_before = sum(len(f.read_text().splitlines()) for f in _segments(share))
    cid = ids.new_id()
    p.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": "finding", "color": "#112233", "attributes": [{"key": "note", "type": "text"}]}}))
    leak = ids.new_id()
    p.apply(OpDraft("annotation.create", leak, {"annotation": {
        "asset_id": asset.id, "layer_id": p.my_layer_id, "class_id": cid,
        "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}, "attributes": {"note": "CompressedSamples CT1"}}}))
    engine.sync_round(p)
    text = "".join(f.read_text() for f in _segments(share))
    assert cid in text                        # the clean op before it was published
    assert leak not in text and "CompressedSamples" not in text
    assert sum(len(f.read_text().splitlines()) for f in _segments(share)) > published_before
    blocked = status(p, digest=False)["publish_blocked"]
    assert blocked and "patient name" in blocked and "CompressedSamples" not in blocked
    # undoing the change does not unpublish it: the op stays, so publishing stays stopped there
    p.apply(OpDraft("annotation.delete", leak, {}))
    engine.sync_round(p)
    assert leak not in "".join(f.read_text() for f in _segments(share))


def test_the_raw_text_prefilter_finds_what_the_full_walk_finds(shared):
    from labeldesk.core.privacy import PhiGuard
    from labeldesk.core.store.oplog import row_to_op
    p, _ = shared
    asset = p.assets()[0]
    cid = ids.new_id()
    p.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": "finding", "color": "#112233", "attributes": [{"key": "note", "type": "text"}]}}))
    for note in ("CompressedSamples CT1", "ct1 compressedsamples", "nothing here", "Smith^John", "fine 1.2.3"):
        p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": asset.id, "layer_id": p.my_layer_id, "class_id": cid,
            "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}, "attributes": {"note": note}}}))
    guard = PhiGuard(p)
    rows = p.conn.execute("SELECT * FROM ops ORDER BY local_order").fetchall()
    assert guard.problems(rows) == guard.problems([row_to_op(r) for r in rows])
    assert len(guard.problems(rows)) >= 3
