from __future__ import annotations

import numpy as np
import pytest

from labeldesk.core import ids
from labeldesk.core.errors import InputError
from labeldesk.core.formats import registry
from labeldesk.core.geometry import Mask
from labeldesk.core.interchange import export, import_file
from labeldesk.core.model import Plane
from labeldesk.core.ops import OpDraft
from labeldesk.core.tracks import link



def add_image_asset(project, width=100, height=80, frames=1, kind="image", depth=1):
    asset_id = ids.new_id()
    project.apply(OpDraft("asset.add", asset_id, {"asset": {
        "kind": kind, "name": f"{kind}-{asset_id[-6:]}.bin", "content_hash": "sha256:" + asset_id,
        "width": width, "height": height, "depth": depth, "frames": frames}},
        local={"locator": {"reader": "raster", "path": "/nowhere.png"}}))
    return asset_id


def _class(project, name, attributes=()):
    cid = ids.new_id()
    project.apply(OpDraft("ontology.class.create", cid, {"class": {
        "name": name, "color": "#112233", "kinds": [], "attributes": list(attributes)}}))
    return cid


def _ann(project, asset, cls, geometry, plane=None, attributes=None, z_order=None):
    aid = ids.new_id()
    ann = {"asset_id": asset, "layer_id": project.my_layer_id, "class_id": cls,
           "plane": plane or {}, "geometry": geometry, "attributes": attributes or {}}
    if z_order is not None:
        ann["z_order"] = z_order
    project.apply(OpDraft("annotation.create", aid, {"annotation": ann}))
    return project.annotation(aid)


def _layer(project, name):
    return next(l.id for l in project.layers() if l.name == name)


def _shapes(project, asset, layer_id):
    return sorted((a.plane.t, a.plane.z, a.geometry.kind, repr(a.geometry.to_dict()),
                   project.classes()[0].id and a.class_id, tuple(sorted(a.attributes.items())), a.keyframe,
                   a.z_order)
                  for a in project.annotations(asset, layer_id=layer_id))


ATTRS = [{"key": "occluded", "type": "bool"}, {"key": "colour", "type": "enum", "options": ["red", "blue"]},
         {"key": "count", "type": "number"}]


def test_images_round_trip_every_shape_exactly(project, tmp_path):
    img = add_image_asset(project, width=640, height=480)
    car = _class(project, "car", ATTRS)
    sign = _class(project, "sign")
    mask = np.zeros((30, 40), bool)
    mask[3:20, 5:17] = True
    mask[10:25, 20:33] = True
    shapes = [
        {"kind": "box", "xyxy": [10.1, 20.25, 100.7, 200.3]},
        {"kind": "rotated_box", "cxcywha": [300.3, 200.7, 80.1, 40.3, 33.3]},
        {"kind": "rotated_box", "cxcywha": [320.1, 210.9, 60.7, 20.9, -47.1]},
        {"kind": "polygon", "shell": [[1.5, 2.5], [50.1, 3.3], [40.7, 60.9], [3.1, 45.2]]},
        {"kind": "polyline", "points": [[5.5, 5.5], [60.25, 70.125], [100.1, 20.2]]},
        {"kind": "points", "points": [[7.7, 8.8], [9.9, 10.1]]},
        {"kind": "ellipse", "cxcyrxrya": [400.5, 300.25, 30.1, 15.3, 12.5]},
        Mask.from_array(mask, 200, 100).to_dict(),
    ]
    for i, g in enumerate(shapes):
        _ann(project, img, car, g, attributes={"occluded": i % 2 == 0, "colour": "blue", "count": i},
             z_order=i)
    _ann(project, img, sign, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    project.apply(OpDraft("classification.add", ids.new_id(), {
        "scope": "asset", "asset_id": img, "layer_id": project.my_layer_id, "class_id": sign}))
    out = tmp_path / "cvat.xml"
    rep = export(project, "cvat", out)
    assert rep.exported == len(shapes) + 2 and not rep.refused
    text = out.read_text()
    assert '<box label="car"' in text and 'rotation="326.7"' in text and "<tag" in text
    assert registry.sniff(out) == "cvat"

    back = import_file(project, "cvat", out, options={"layer": "round trip"})
    assert not back.refused, back.lines()
    assert back.imported == len(shapes) + 2
    mine, theirs = project.my_layer_id, _layer(project, "round trip")
    assert _shapes(project, img, mine) == _shapes(project, img, theirs)
    from labeldesk.core.op_types.classifications import classifications
    assert [c["class_id"] for c in classifications(project.conn, img) if c["layer_id"] == theirs] == [sign]


def _box(project, asset, cls, t, xyxy):
    return _ann(project, asset, cls, {"kind": "box", "xyxy": xyxy}, plane={"t": t})


def test_video_tracks_round_trip_keyframes_and_in_betweens(project, tmp_path):
    video = add_image_asset(project, width=320, height=240, frames=20, kind="video")
    car = _class(project, "car", ATTRS)
    a = _box(project, video, car, 2, [0, 0, 10, 10])
    b = _box(project, video, car, 8, [60, 30, 70, 50])
    project.apply_all(link(project, a, b))
    c = _box(project, video, car, 12, [100.5, 20.25, 130.75, 40.125])
    project.apply_all(link(project, project.annotation(b.id), c))
    _ann(project, video, car, {"kind": "polygon", "shell": [[1, 1], [30, 2], [15, 25.5]]}, plane={"t": 5})
    _ann(project, video, car, {"kind": "box", "xyxy": [5, 5, 9, 9]}, plane={"t": 19})   # last frame
    project.apply(OpDraft("classification.add", ids.new_id(), {
        "scope": "plane", "asset_id": video, "layer_id": project.my_layer_id, "class_id": car,
        "plane": {"t": 7}}))
    out = tmp_path / "video.xml"
    rep = export(project, "cvat", out)
    assert not rep.refused
    text = out.read_text()
    assert 'outside="1"' in text and 'keyframe="0"' in text and "<track" in text

    back = import_file(project, "cvat", out, options={"layer": "again"})
    assert not back.refused and not back.notes, back.lines()
    mine, theirs = project.my_layer_id, _layer(project, "again")
    assert _shapes(project, video, mine) == _shapes(project, video, theirs)
    new = project.annotations(video, layer_id=theirs)
    tracks = {a.track_id for a in new if a.track_id}
    assert len(tracks) == 1
    track = project.track(tracks.pop())
    assert [(x.plane.t, x.keyframe) for x in track] == [(t, t in (2, 8, 12)) for t in range(2, 13)]
    singles = [a for a in new if a.track_id is None]
    assert sorted(a.plane.t for a in singles) == [5, 19]
    from labeldesk.core.op_types.classifications import classifications
    tags = [c for c in classifications(project.conn, video) if c["layer_id"] == theirs]
    assert [(c["scope"], c["plane_t"]) for c in tags] == [("plane", 7)]


FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>task</name><size>15</size><mode>interpolation</mode>
    <labels><label><name>person</name><color>#aa00cc</color>
      <attributes><attribute><name>pose</name><mutable>True</mutable><input_type>select</input_type>
        <default_value>standing</default_value><values>standing\nsitting</values></attribute></attributes>
    </label></labels>
    <source>{video}</source></task></meta>
  <track id="7" label="person" source="manual">
    <box frame="0" outside="0" occluded="0" keyframe="1" xtl="0" ytl="0" xbr="10" ybr="10" z_order="0">
      <attribute name="pose">sitting</attribute></box>
    <box frame="2" outside="0" occluded="0" keyframe="0" xtl="5" ytl="5" xbr="15" ybr="15" z_order="0"/>
    <box frame="4" outside="0" occluded="1" keyframe="1" xtl="40" ytl="0" xbr="50" ybr="10" z_order="0"/>
    <box frame="6" outside="1" occluded="0" keyframe="1" xtl="40" ytl="0" xbr="50" ybr="10" z_order="0"/>
    <box frame="10" outside="0" occluded="0" keyframe="1" xtl="20" ytl="20" xbr="30" ybr="30" z_order="0"/>
    <box frame="99" outside="0" occluded="0" keyframe="1" xtl="20" ytl="20" xbr="30" ybr="30" z_order="0"/>
  </track>
  <track id="8" label="alien" source="manual">
    <box frame="1" outside="0" occluded="0" keyframe="1" xtl="0" ytl="0" xbr="10" ybr="10"/>
  </track>
  <tag frame="3" label="person" source="manual"/>
</annotations>
"""


def test_foreign_video_outside_hold_and_bad_frames(project, tmp_path):
    video = add_image_asset(project, width=100, height=100, frames=15, kind="video")
    name = project.asset(video).name
    f = tmp_path / "task.xml"
    f.write_text(FOREIGN.format(video=name))
    rep = import_file(project, "cvat", f, options={"create_classes": True})
    refused = [str(i) for i in rep.refused]
    assert any("frame 99 is outside" in r and "track 7" in r for r in refused), refused
    assert rep.created_classes == ["person", "alien"]
    anns = project.annotations(video)
    person = next(c for c in project.classes() if c.name == "person")
    assert person.color == "#aa00cc" and person.attributes[0]["options"] == ["standing", "sitting"]
    by_t = {a.plane.t: a for a in anns if a.class_id == person.id}
    # first stretch: keyframes 0 and 4, held to 5 (outside at 6); the keyframe="0" box at 2 is rebuilt
    assert sorted(by_t) == [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14]
    assert [by_t[t].keyframe for t in (0, 2, 4, 5)] == [True, False, True, True]
    assert by_t[2].geometry.to_dict()["xyxy"] == [20.0, 0.0, 30.0, 10.0]
    assert by_t[0].attributes == {"pose": "sitting"}
    assert by_t[5].geometry == by_t[4].geometry and by_t[14].geometry == by_t[10].geometry
    assert by_t[0].track_id == by_t[5].track_id == by_t[10].track_id      # left the view and came back: one object
    assert any("kept as one track" in str(n) for n in rep.notes)
    assert by_t[4].attributes.get("occluded") is True           # the class it created keeps the flag
    assert [d["key"] for d in person.attributes] == ["pose", "occluded"]
    assert any("holds the shape until frame 14" in str(n) for n in rep.notes)


def test_bad_input_is_refused_with_its_location(project, tmp_path):
    img = add_image_asset(project, width=64, height=48)
    name = project.asset(img).name
    _class(project, "car")
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?>\n<annotations>\n  <image name="a" <box/>\n</annotations>\n')
    with pytest.raises(InputError, match=r"bad.xml: malformed XML at line 3, column \d+"):
        import_file(project, "cvat", bad)
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x "xxxxxxxx">]>\n<annotations>&x;</annotations>')
    with pytest.raises(InputError, match="entity declarations are not allowed"):
        import_file(project, "cvat", bomb)
    voc = tmp_path / "voc.xml"
    voc.write_text("<annotation><object/></annotation>")
    with pytest.raises(InputError, match="not a CVAT XML file"):
        import_file(project, "cvat", voc)
    mixed = tmp_path / "mixed.xml"
    mixed.write_text(f"""<annotations><version>1.1</version>
      <image id="0" name="{name}" width="64" height="48">
        <box label="car" xtl="1" ytl="1" xbr="10" ybr="10"/>
        <box label="truck" xtl="1" ytl="1" xbr="10" ybr="10"/>
        <box label="car" xtl="one" ytl="1" xbr="10" ybr="10"/>
        <polygon label="car" points="1,1;2"/>
        <box label="car" xtl="100" ytl="100" xbr="110" ybr="110"/>
        <cuboid label="car" xtl1="1"/>
      </image>
      <image id="1" name="missing.jpg" width="10" height="10"><box label="car" xtl="1" ytl="1" xbr="2" ybr="2"/></image>
      <image id="2" name="{name}" width="640" height="480"><box label="car" xtl="1" ytl="1" xbr="2" ybr="2"/></image>
    </annotations>""")
    before = project.counts()
    rep = import_file(project, "cvat", mixed)
    assert rep.imported == 1
    reasons = [str(i) for i in rep.refused]
    assert any("box #1" in r and "'truck' is not in the ontology" in r for r in reasons), reasons
    assert any("box #2" in r and "xtl='one' is not a number" in r for r in reasons)
    assert any("polygon #0" in r and "not x,y" in r for r in reasons)
    assert any("box #3" in r and "wholly outside the 64x48 image" in r for r in reasons)
    assert any("cuboid" in r and "not supported" in r for r in reasons)
    assert any("missing.jpg" in r and "no asset named" in r for r in reasons)
    assert any("says 640x480" in r for r in reasons)
    assert project.counts()["annotations"] == before["annotations"] + 1


def test_video_without_a_matching_asset_is_refused(project, tmp_path):
    add_image_asset(project, width=100, height=100, frames=5, kind="video")
    _class(project, "person")
    f = tmp_path / "nothing.xml"
    f.write_text(FOREIGN.format(video="elsewhere.mp4"))
    rep = import_file(project, "cvat", f)
    assert rep.imported == 0
    assert any("no video in the project" in str(i) for i in rep.refused)


def test_cli_round_trip(tmp_path, capsys):
    from labeldesk.cli import main
    from labeldesk.core.project import Project
    root = tmp_path / "proj"
    assert main(["init", str(root), "--user", "alice"]) == 0
    with Project.open(root) as p:
        video = add_image_asset(p, width=50, height=40, frames=6, kind="video")
        car = _class(p, "car")
        a = _box(p, video, car, 1, [1, 1, 10, 10])
        b = _box(p, video, car, 4, [20, 10, 30, 20])
        p.apply_all(link(p, a, b))
    assert main(["export", str(root), "cvat", str(tmp_path / "t.xml"), "-q"]) == 0
    assert main(["import", str(root), str(tmp_path / "t.xml"), "--layer", "back", "-q"]) == 0
    capsys.readouterr()
    with Project.open(root) as p:
        assert _shapes(p, video, p.my_layer_id) == _shapes(p, video, _layer(p, "back"))


def test_cvat_for_images_of_a_video_task_names_frames(project, tmp_path):
    video = add_image_asset(project, width=64, height=48, frames=10, kind="video")
    _class(project, "car")
    f = tmp_path / "frames.xml"
    f.write_text(f"""<annotations><version>1.1</version>
      <meta><task><name>t</name><source>{project.asset(video).name}</source></task></meta>
      <image id="3" name="frame_000003" width="64" height="48">
        <box label="car" xtl="1" ytl="2" xbr="10" ybr="12"/><tag label="car"/></image>
      <image id="12" name="frame_000012" width="64" height="48"><box label="car" xtl="1" ytl="1" xbr="2" ybr="2"/></image>
    </annotations>""")
    rep = import_file(project, "cvat", f)
    assert rep.imported == 2
    assert [str(i) for i in rep.refused] == ["frames.xml: image 'frame_000012': frame 12 is outside "
                                             f"{project.asset(video).name} (0..9)"]
    (ann,) = project.annotations(video)
    assert ann.plane == Plane(t=3) and ann.geometry.bounds() == (1, 2, 10, 12)
    from labeldesk.core.op_types.classifications import classifications
    assert [(c["scope"], c["plane_t"]) for c in classifications(project.conn, video)] == [("plane", 3)]


def test_volume_planes_and_asset_tags_round_trip(project, tmp_path):
    vol = add_image_asset(project, width=40, height=30, depth=8, kind="volume")
    organ = _class(project, "organ", [{"key": "side", "type": "multi", "options": ["left", "right"]}])
    _ann(project, vol, organ, {"kind": "polygon", "shell": [[1.5, 1.5], [20.5, 3.5], [10.25, 25.75]]},
         plane={"z": 3}, attributes={"side": ["left", "right"]})
    _ann(project, vol, organ, {"kind": "box", "xyxy": [2, 1, 12, 7]}, plane={"z": 5, "axis": "coronal"})
    for scope, plane in (("asset", None), ("plane", {"z": 4, "axis": "sagittal"})):
        payload = {"scope": scope, "asset_id": vol, "layer_id": project.my_layer_id, "class_id": organ}
        if plane:
            payload["plane"] = plane
        project.apply(OpDraft("classification.add", ids.new_id(), payload))
    out = tmp_path / "vol.xml"
    export(project, "cvat", out)
    text = out.read_text()
    name = project.asset(vol).name
    assert f'name="{name}/coronal_0005"' in text and f'name="{name}/axial_0003"' in text
    back = import_file(project, "cvat", out, options={"layer": "v"})
    assert not back.refused, back.lines()
    assert _shapes(project, vol, project.my_layer_id) == _shapes(project, vol, _layer(project, "v"))
    from labeldesk.core.op_types.classifications import classifications
    got = sorted((c["scope"], c["plane_axis"], c["plane_z"]) for c in classifications(project.conn, vol)
                 if c["layer_id"] == _layer(project, "v"))
    assert got == [("asset", None, None), ("plane", "sagittal", 4)]


CVAT1_VIDEO = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task><name>street</name><size>4</size><mode>interpolation</mode>
      <start_frame>10</start_frame><stop_frame>19</stop_frame><frame_filter>step=3</frame_filter>
      <labels><label><name>van</name><attributes/></label>
              <label><name>rig</name><type>skeleton</type><attributes/></label></labels>
      <original_size><width>40</width><height>30</height></original_size></task>
    <source>{video}</source>
  </meta>
  <track id="0" label="van">
    <box frame="10" outside="0" occluded="0" keyframe="1" xtl="3.00" ytl="4.00" xbr="10.00" ybr="5.00" z_order="0"></box>
    <box frame="13" outside="1" occluded="0" keyframe="1" xtl="7.00" ytl="6.00" xbr="14.00" ybr="8.00" z_order="0"></box>
    <box frame="16" outside="1" occluded="0" keyframe="1" xtl="8.00" ytl="7.00" xbr="14.0" ybr="17.00" z_order="0"></box>
  </track>
  <track id="1" label="rig" source="manual">
    <skeleton frame="10" outside="0" occluded="0" keyframe="1" points="" z_order="0"></skeleton>
    <track id="0" label="1" source="manual"><points frame="10" outside="0" keyframe="1" points="4,4"/></track>
  </track>
</annotations>
"""

CVAT1_IMAGES = """<annotations><version>1.1</version>
  <meta><task><mode>annotation</mode><labels>
    <label><name>sign</name><attributes>
      <attribute><name>lit</name><input_type>checkbox</input_type><default_value>false</default_value><values>false true</values></attribute>
      <attribute><name>shape kind</name><input_type>radio</input_type><default_value>round</default_value><values>round square</values></attribute>
      <attribute><name>code</name><input_type>text</input_type><default_value>0000</default_value><values></values></attribute>
    </attributes></label></labels></task></meta>
  <image height="{h}" id="0" name="{name}" width="{w}">
    <box label="sign" occluded="1" xbr="4" xtl="0" ybr="4" ytl="2" z_order="1">
      <attribute name="lit">true</attribute><attribute name="shape kind">square</attribute><attribute name="code">0042</attribute>
    </box>
    <polyline label="" points="1.0,2;3,4;5,6"/>
    <skeleton label="sign" points=""><points label="1" points="1,1"/></skeleton>
  </image>
</annotations>"""


def test_files_in_the_style_of_cvat_1x(project, tmp_path):
    video = add_image_asset(project, width=40, height=30, frames=20, kind="video")
    f = tmp_path / "video.xml"
    f.write_text(CVAT1_VIDEO.format(video=project.asset(video).name))
    rep = import_file(project, "cvat", f, options={"create_classes": True})
    van = [a for a in project.annotations(video)]
    # the box is visible on 10 and held to 12 (outside at 13): keyframes 10, 12 and an in-between
    assert [(a.plane.t, a.keyframe) for a in sorted(van, key=lambda a: a.plane.t)] == [(10, True), (11, False), (12, True)]
    assert len({a.track_id for a in van}) == 1 and van[0].geometry.bounds() == (3, 4, 10, 5)
    assert any("skeleton" in str(r) and "track 1" in str(r) for r in rep.refused)

    img = add_image_asset(project, width=8, height=8)
    g = tmp_path / "images.xml"
    g.write_text(CVAT1_IMAGES.format(name=project.asset(img).name, w=8, h=8))
    rep = import_file(project, "cvat", g, options={"create_classes": True})
    sign = next(c for c in project.classes() if c.name == "sign")
    assert [d["options"] for d in sign.attributes if d["type"] == "enum"] == [["round", "square"]]
    anns = {a.geometry.kind: a for a in project.annotations(img)}
    assert anns["box"].attributes == {"lit": True, "shape_kind": "square", "code": "0042", "occluded": True}
    assert anns["box"].z_order == 1 and anns["polyline"].class_id is None
    assert any("skeleton" in str(r) for r in rep.refused)
    assert any("no label" in str(n) for n in rep.notes)


def test_asset_option_names_the_video(project, tmp_path):
    video = add_image_asset(project, width=100, height=100, frames=15, kind="video")
    _class(project, "person")
    f = tmp_path / "task.xml"
    f.write_text(FOREIGN.format(video="recorded-elsewhere.mp4"))
    rep = import_file(project, "cvat", f, options={"asset": project.asset(video).name})
    assert rep.imported > 0 and {a.asset_id for a in project.annotations(video)} == {video}
    rep = import_file(project, "cvat", f, options={"asset": "nope.mp4"})
    assert rep.imported == 0 and any("no asset named 'nope.mp4'" in str(r) for r in rep.refused)


def test_a_track_that_leaves_and_returns_identical_polylines_and_unlabelled_shapes_round_trip(project, tmp_path):
    video = add_image_asset(project, width=100, height=100, frames=12, kind="video")
    img = add_image_asset(project, width=64, height=48)
    name = project.asset(video).name
    line = "10,10;50,20;80,70"
    f = tmp_path / "t.xml"
    f.write_text(f"""<annotations><version>1.1</version><meta><source>{name}</source></meta>
      <track id="0" label="road">
        <polyline frame="0" keyframe="1" outside="0" occluded="0" points="{line}"/>
        <polyline frame="4" keyframe="1" outside="0" occluded="0" points="{line}"/>
        <polyline frame="5" keyframe="1" outside="1" occluded="0" points="{line}"/>
        <polyline frame="8" keyframe="1" outside="0" occluded="0" points="1,1;9,9"/>
        <polyline frame="10" keyframe="1" outside="1" occluded="0" points="1,1;9,9"/>
      </track></annotations>""")
    rep = import_file(project, "cvat", f, options={"create_classes": True})
    assert not rep.refused, rep.lines()
    anns = sorted(project.annotations(video), key=lambda a: a.plane.t)
    assert [a.plane.t for a in anns] == [0, 1, 2, 3, 4, 8, 9]
    assert len({a.track_id for a in anns}) == 1
    assert all(a.geometry.to_dict()["points"] == [[10, 10], [50, 20], [80, 70]] for a in anns[:5])
    # an unlabelled shape on an image is kept by the export and read back without a class
    from labeldesk.core import ids
    project.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": img, "layer_id": project.my_layer_id, "class_id": None, "plane": {"z": 0, "t": 0},
        "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    out = tmp_path / "out"
    exp = export(project, "cvat", out)
    assert not exp.refused, exp.lines()
    back = import_file(project, "cvat", out, options={"layer": "back"})
    assert not back.refused, back.lines()
    layer = next(l.id for l in project.layers() if l.name == "back")
    got = sorted(project.annotations(video, layer_id=layer), key=lambda a: a.plane.t)
    assert [a.plane.t for a in got] == [0, 1, 2, 3, 4, 8, 9] and len({a.track_id for a in got}) == 1
    assert [a.class_id for a in project.annotations(img, layer_id=layer)] == [None]
