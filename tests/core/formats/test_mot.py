"""MOT Challenge tracks: one id per object (also across a gap), class = label value; a file as the
MOT benchmark ships it."""
from __future__ import annotations

from format_fixtures import add_asset, add_class, annotate, layer_named

from labeldesk.core import ids, interchange
from labeldesk.core.ops import OpDraft


def _track(proj, video, cls, frames, box, track_id):
    for t in frames:
        proj.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": video, "layer_id": proj.my_layer_id, "class_id": cls, "plane": {"z": 0, "t": t},
            "geometry": {"kind": "box", "xyxy": [box[0] + t, box[1], box[2] + t, box[3]]}, "attributes": {},
            "track_id": track_id, "keyframe": True}}))


def test_tracks_round_trip_with_their_ids_and_gaps(proj, tmp_path):
    video = add_asset(proj, "street.mp4", 320, 240, kind="video", frames=20)
    add_class(proj, "car")
    person = add_class(proj, "person", [{"key": "visibility", "type": "number"}])
    a, b = ids.new_id(), ids.new_id()
    _track(proj, video, person, [0, 1, 2, 7, 8], (10, 20, 40.5, 90), a)       # leaves after 2, back at 7
    _track(proj, video, person, [3, 4], (100, 20, 130, 90), b)
    out = tmp_path / "mot"
    rep = interchange.export(proj, "mot", out)
    assert rep.exported == 7 and not rep.refused
    lines = (out / "street/gt/gt.txt").read_text().splitlines()
    assert lines[0] == "1,1,10,20,30.5,70,1,2,1"                      # class 2 = person's label value
    assert {l.split(",")[1] for l in lines} == {"1", "2"}
    assert "seqLength=20" in (out / "street/seqinfo.ini").read_text()
    back = interchange.import_file(proj, None, out, options={"layer": "back"})
    assert back.fmt == "mot" and back.imported == 7 and not back.refused, back.lines()
    got = proj.annotations(video, layer_id=layer_named(proj, "back"))
    by_track: dict[str, list[int]] = {}
    for g in got:
        by_track.setdefault(g.track_id, []).append(g.plane.t)
    assert sorted(sorted(v) for v in by_track.values()) == [[0, 1, 2, 7, 8], [3, 4]]
    assert all(g.class_id == person for g in got)


def test_a_benchmark_style_det_file_with_a_class_option(proj, tmp_path):
    add_asset(proj, "MOT17-02.mp4", 1920, 1080, kind="video", frames=5)
    seq = tmp_path / "MOT17-02" / "det"
    seq.mkdir(parents=True)
    (seq / "det.txt").write_text("1,-1,912.0,484.0,97.0,109.0,0.99,-1,-1,-1\n2,-1,1338,418,167,379,0.2,-1,-1,-1\n"
                                 "9,-1,1,1,2,2,0.5,-1,-1,-1\n")
    rep = interchange.import_file(proj, "mot", tmp_path / "MOT17-02", options={"class": "pedestrian",
                                                                                "create_classes": True})
    assert rep.imported == 2 and any("frame 9 is outside" in i.reason for i in rep.refused)
    assert rep.created_classes == ["pedestrian"]


def test_frames_are_written_one_based_as_mot_tools_read_them(proj, tmp_path):
    import cv2
    import numpy as np

    from labeldesk.core.importer import add_paths
    from labeldesk.core.samples.video import read_stamp, write_stamped_clip
    clip = tmp_path / "street.mp4"
    write_stamped_clip(clip, n_frames=6, size=(64, 48))
    report = add_paths(proj, [clip])
    video = report.added[0].id
    cls = add_class(proj, "person")
    _track(proj, video, cls, [0, 3], (1, 1, 20, 20), ids.new_id())
    rep = interchange.export(proj, "mot", tmp_path / "mot", options={"images": "png"})
    assert not rep.refused, rep.lines()
    frames = sorted(p.name for p in (tmp_path / "mot/street/img1").iterdir())
    assert frames == [f"{t:06d}.png" for t in range(1, 7)]
    first = cv2.imread(str(tmp_path / "mot/street/img1/000001.png"))[:, :, ::-1]
    assert read_stamp(np.ascontiguousarray(first)) == 0        # 000001 is the first frame (frame 0)
    lines = (tmp_path / "mot/street/gt/gt.txt").read_text().splitlines()
    assert [l.split(",")[0] for l in lines] == ["1", "4"]
