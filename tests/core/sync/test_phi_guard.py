"""Rule 5: patient identifiers never reach the shared folder. Typed text (issue comments, review
reasons, class names, text attributes, quality notes…) carrying one is refused before it is
written; any other op carrying one (an asset named after its file) stops publishing at that op
(seqs cannot have holes) and the status says why."""
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
    leak = ids.new_id()            # an image whose file was named after the patient (not typed here)
    p.apply(OpDraft("asset.add", leak, {"asset": {"kind": "image", "name": "CompressedSamples CT1.png",
                                                  "content_hash": "h-leak", "width": 8, "height": 8}}))
    engine.sync_round(p)
    text = "".join(f.read_text() for f in _segments(share))
    assert cid in text                        # the clean op before it was published
    assert leak not in text and "CompressedSamples" not in text
    assert sum(len(f.read_text().splitlines()) for f in _segments(share)) > published_before
    blocked = status(p, digest=False)["publish_blocked"]
    assert blocked and "patient name" in blocked and "CompressedSamples" not in blocked
    # undoing the change does not unpublish it: the op stays, so publishing stays stopped there
    p.apply(OpDraft("asset.remove", leak, {}))
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
    for i, note in enumerate(("CompressedSamples CT1", "ct1 compressedsamples", "nothing here", "Smith^John",
                              "fine 1.2.3")):
        p.apply(OpDraft("asset.add", ids.new_id(), {"asset": {"kind": "image", "name": note, "content_hash": f"h{i}",
                                                              "width": 8, "height": 8}}))
    guard = PhiGuard(p)
    rows = p.conn.execute("SELECT * FROM ops ORDER BY local_order").fetchall()
    assert guard.problems(rows) == guard.problems([row_to_op(r) for r in rows])
    assert len(guard.problems(rows)) >= 3


def test_every_typed_text_field_goes_through_the_guard(shared):
    """Notes of quality waivers and audits, tag values, batch/view/queue names, segment names, text
    attributes, a rename and any op's reason: refused before they are written."""
    from labeldesk.core.quality import audits
    p, _ = shared
    asset = p.assets()[0]
    name = "CompressedSamples CT1"
    cid = ids.new_id()
    p.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": "finding", "color": "#112233", "attributes": [{"key": "note", "type": "text"},
                                                              {"key": "grade", "type": "enum", "options": ["a", "b"]}]}}))
    ann = ids.new_id()
    box = {"asset_id": asset.id, "layer_id": p.my_layer_id, "class_id": cid, "geometry": {"kind": "box", "xyxy": [1, 1, 5, 5]}}
    p.apply(OpDraft("annotation.create", ann, {"annotation": dict(box, attributes={"grade": "a", "note": "ok"})}))
    reviewer = ids.new_id()
    layer = ids.new_id()
    p.apply_all([OpDraft("user.add", reviewer, {"name": "rex"}), OpDraft("role.grant", reviewer, {"role": "reviewer"}),
                 OpDraft("layer.create", layer, {"layer": {"name": "bob", "kind": "annotator", "owner": reviewer}})])
    audit = ids.new_id()
    p.apply(OpDraft("quality.audit.assign", audit, {"asset": asset.id, "layer": p.my_layer_id, "reviewer": reviewer,
                                                    "revision": "r1"}))
    before = p.counts()["ops"]
    leaks = [
        OpDraft("quality.waive", "tiny:x", {"check": "tiny", "subject": "x", "note": f"scan of {name}"}),
        OpDraft("quality.audit.record", audit, {"outcome": "fail", "note": f"{name} again"}),
        OpDraft("quality.tag", asset.id, {"set": {"patient": name}}),
        OpDraft("quality.batch", ids.new_id(), {"name": name, "assets": [asset.id]}),
        OpDraft("quality.view", ids.new_id(), {"name": name, "kind": "filter", "filter": {}}),
        OpDraft("queue.save", ids.new_id(), {"queue": {"name": name, "method": "m", "items": []}}),
        OpDraft("asset.rename", asset.id, {"name": name}),
        OpDraft("annotation.create", ids.new_id(), {"annotation": dict(box, attributes={"note": name})}),
        OpDraft("annotation.update", ann, {"set": {"attributes": {"grade": "b", "note": f"re {name}"}}}),
        OpDraft("project.settings", None, {"set": {"instructions": f"start with {name}"}}),
        OpDraft("role.grant", reviewer, {"role": "annotator"}, reason=f"labels {name}'s scans"),
    ]
    for draft in leaks:
        with pytest.raises(OpRejected, match="patient identifier"):
            p.apply(draft)
            pytest.fail(f"{draft.type} was written")
    assert p.counts()["ops"] == before
    with pytest.raises(OpRejected, match="patient identifier"):
        audits.record(p, audit, "pass", f"{name}", user=reviewer)
    # clean text passes (an enum value is not checked as typed text)
    p.apply(OpDraft("quality.waive", "tiny:x", {"check": "tiny", "subject": "x", "note": "border artefact"}))
    p.apply(OpDraft("annotation.update", ann, {"set": {"attributes": {"grade": "b", "note": "fine"}}}))
