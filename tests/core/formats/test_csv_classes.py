"""CSV classifications: asset-, frame- and slice-level round trips; bad rows refused."""
from __future__ import annotations

import pytest
from format_fixtures import add_asset, add_class, layer_named

from labeldesk.core import ids, interchange
from labeldesk.core.errors import InputError
from labeldesk.core.op_types.classifications import classifications
from labeldesk.core.ops import OpDraft


def _classify(p, asset, cls, plane=None):
    payload = {"scope": "plane" if plane else "asset", "asset_id": asset, "layer_id": p.my_layer_id, "class_id": cls}
    if plane:
        payload["plane"] = plane
    p.apply(OpDraft("classification.add", ids.new_id(), payload))


def _rows(p, layer):
    names = {a.id: a.name for a in p.assets()}
    return sorted((names[a], c["scope"], c["plane_axis"], c["plane_z"], c["plane_t"], c["class_name"])
                  for a in names for c in classifications(p.conn, a) if c["layer_id"] == layer)


def test_round_trip_of_asset_frame_and_slice_classifications(proj, tmp_path):
    img = add_asset(proj, "img1.png")
    video = add_asset(proj, "clip.mp4", kind="video", frames=50)
    vol = add_asset(proj, "ct.nii.gz", 64, 64, kind="volume", depth=30)
    normal, bad = add_class(proj, "normal"), add_class(proj, "artefact, motion")
    _classify(proj, img, normal)
    _classify(proj, img, bad, {"z": 0, "t": 0, "axis": "axial"})
    _classify(proj, video, bad, {"z": 0, "t": 42, "axis": "axial"})
    _classify(proj, vol, normal)
    _classify(proj, vol, bad, {"z": 12, "t": 0, "axis": "coronal"})
    rep = interchange.export(proj, "csv", tmp_path / "cls.csv")
    assert rep.exported == 5
    text = (tmp_path / "cls.csv").read_text()
    assert text.splitlines()[0] == "asset,frame,slice,axis,class"
    assert "clip.mp4,42,,,\"artefact, motion\"" in text and "ct.nii.gz,,12,coronal," in text
    back = interchange.import_file(proj, None, tmp_path / "cls.csv", options={"layer": "back"})
    assert back.fmt == "csv" and back.imported == 5 and not back.refused
    assert [r[1:] for r in _rows(proj, layer_named(proj, "back"))] == [r[1:] for r in _rows(proj, proj.my_layer_id)]
    again = interchange.import_file(proj, "csv", tmp_path / "cls.csv", options={"layer": "back"})
    assert again.imported == 0 and len(again.notes) == 5          # already there: skipped, not doubled


def test_bad_rows_are_refused(proj, tmp_path):
    add_asset(proj, "img1.png")
    add_asset(proj, "clip.mp4", kind="video", frames=5)
    add_class(proj, "normal")
    path = tmp_path / "c.csv"
    path.write_text("image,frame,label\nimg1.png,,normal\nclip.mp4,9,normal\nclip.mp4,x,normal\n"
                    "nope.png,,normal\nimg1.png,,weird\nimg1.png,1\n\nclip.mp4,3,normal\n")
    rep = interchange.import_file(proj, "csv", path)
    assert rep.imported == 2
    text = "\n".join(map(str, rep.refused))
    assert "c.csv line 3: frame 9 is outside clip.mp4 (0..4)" in text
    assert "c.csv line 4: frame 'x' is not a whole number" in text
    assert "c.csv line 5: no asset named 'nope.png'" in text
    assert "c.csv line 6: class 'weird' is not in the ontology" in text
    assert "c.csv line 7: 2 fields, the header has 3" in text


def test_a_file_without_the_columns_is_an_input_error(proj, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,value\na,b\n")
    with pytest.raises(InputError) as err:
        interchange.import_file(proj, "csv", path)
    assert "c.csv: line 1: no 'asset' or 'class' column" in str(err.value)
