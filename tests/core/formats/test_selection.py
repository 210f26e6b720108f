"""Export selection: layers (final, mine, by name or annotator), classes, assets, time range."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from format_fixtures import add_asset, add_class, annotate

from labeldesk.core import ids, interchange
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.formats.selection import parse_time
from labeldesk.core.ops import OpDraft


def _names(path):
    doc = json.loads(path.read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    return sorted(cats[a["category_id"]] for a in doc["annotations"])


@pytest.fixture
def layered(proj):
    img = add_asset(proj, "a.png")
    other = add_asset(proj, "b.png")
    car, bus = add_class(proj, "car"), add_class(proj, "bus")
    annotate(proj, img, car, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    annotate(proj, other, bus, {"kind": "box", "xyxy": [1, 1, 5, 5]})
    bob = ids.new_id()
    proj.apply(OpDraft("user.add", bob, {"name": "bob"}))
    bob_layer = ids.new_id()
    proj.apply(OpDraft("layer.create", bob_layer, {"layer": {"name": "bob's", "kind": "annotator", "owner": bob}}))
    annotate(proj, img, bus, {"kind": "box", "xyxy": [2, 2, 6, 6]}, layer_id=bob_layer)
    return proj


def test_layers(layered, tmp_path):
    rep = interchange.export(layered, "coco", tmp_path / "mine.json")
    assert _names(tmp_path / "mine.json") == ["bus", "car"] and "your own" in rep.notes[0].reason
    interchange.export(layered, "coco", tmp_path / "bob.json", interchange.Selection(layer="bob"))
    assert _names(tmp_path / "bob.json") == ["bus"]
    with pytest.raises(LabeldeskError, match="no final layer"):
        interchange.export(layered, "coco", tmp_path / "f.json", interchange.Selection(layer="final"))
    final = ids.new_id()
    layered.apply(OpDraft("layer.create", final, {"layer": {"name": "final", "kind": "final"}}))
    annotate(layered, layered.assets()[0].id, None, {"kind": "box", "xyxy": [3, 3, 9, 9]}, layer_id=final)
    rep = interchange.export(layered, "coco", tmp_path / "final.json")
    assert rep.exported == 0 and "has no class" in rep.refused[0].reason      # the final layer, by default
    with pytest.raises(LabeldeskError, match="no layer 'nobody'"):
        interchange.export(layered, "coco", tmp_path / "x.json", interchange.Selection(layer="nobody"))


def test_classes_assets_and_merged_classes(layered, tmp_path):
    interchange.export(layered, "coco", tmp_path / "c.json", interchange.Selection(layer="mine", classes=("car",)))
    assert _names(tmp_path / "c.json") == ["car"]
    interchange.export(layered, "coco", tmp_path / "b.json", interchange.Selection(layer="mine", assets=("b.png",)))
    assert _names(tmp_path / "b.json") == ["bus"]
    with pytest.raises(LabeldeskError, match="no asset named 'zz.png'"):
        interchange.export(layered, "coco", tmp_path / "z.json", interchange.Selection(assets=("zz.png",)))
    car = next(c for c in layered.classes() if c.name == "car")
    bus = next(c for c in layered.classes() if c.name == "bus")
    layered.apply(OpDraft("ontology.class.merge", car.id, {"into": bus.id}))
    interchange.export(layered, "coco", tmp_path / "m.json", interchange.Selection(layer="mine"))
    assert _names(tmp_path / "m.json") == ["bus", "bus"]


def test_time_range(layered, tmp_path):
    walls = [dt.datetime.fromisoformat(o.wall) for o in layered.ops() if o.type == "annotation.create"]
    first, last = walls[0], walls[-1]
    later = last + dt.timedelta(seconds=1)
    rep = interchange.export(layered, "coco", tmp_path / "a.json", interchange.Selection(layer="mine", since=later))
    assert rep.exported == 0
    rep = interchange.export(layered, "coco", tmp_path / "b.json",
                             interchange.Selection(layer="mine", since=first, until=later))
    assert rep.exported == 2
    rep = interchange.export(layered, "coco", tmp_path / "c.json", interchange.Selection(layer="mine", until=first))
    assert rep.exported == 0


def test_parse_time():
    assert parse_time("2026-03-01T14:30Z").tzinfo is not None
    assert parse_time("2026-03-01").tzinfo is not None           # local time
    with pytest.raises(LabeldeskError, match="is not a date"):
        parse_time("yesterday")
