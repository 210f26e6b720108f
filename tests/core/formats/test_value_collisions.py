"""Two devices that make a class each while apart can give both the same label value: sync keeps
both, `labeldesk classes` names the clash, exports that write values refuse, nothing is renumbered."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from sync_team import Team  # noqa: E402

from labeldesk import cli  # noqa: E402
from labeldesk.core import ids  # noqa: E402
from labeldesk.core.errors import LabeldeskError  # noqa: E402
from labeldesk.core.interchange import export  # noqa: E402
from labeldesk.core.ontology_codes import value_collisions  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402


@pytest.fixture
def team(tmp_path):
    t = Team(tmp_path)
    yield t
    t.close()


def test_a_value_made_on_two_devices_is_surfaced_not_renumbered(team, tmp_path, capsys):
    dev0, dev1 = team.devices
    made = {}
    for p, name in ((dev0, "Kidney"), (dev1, "Spleen")):          # apart: both take the next free value
        made[name] = ids.new_id()
        p.apply(OpDraft("ontology.class.create", made[name], {"class": {"name": name}}))
    values = {c.name: c.value for p in (dev0, dev1) for c in p.classes() if c.name in made}
    assert values["Kidney"] == values["Spleen"]
    team.sync_all()
    root1 = Path(dev1.root)
    dev1.close()
    capsys.readouterr()
    cli.main(["sync", str(root1)])               # the sync command names the clash after its round
    assert "ontology  label value" in capsys.readouterr().out
    from labeldesk.core.project import Project
    dev1 = team.devices[1] = Project.open(root1)
    for p in (dev0, dev1):
        [(value, clash)] = value_collisions(p.classes())
        assert value == values["Kidney"] and [c.name for c in clash] == ["Kidney", "Spleen"]
        assert {c.name: c.value for c in p.classes() if c.name in made} == values      # not renumbered
    for name in made:
        dev0.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": team.asset, "layer_id": dev0.my_layer_id, "class_id": made[name],
            "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    with pytest.raises(LabeldeskError, match="shared by classes 'Kidney' and 'Spleen'"):
        export(dev0, "coco", tmp_path / "c.json")
    root = Path(dev0.root)
    dev0.close()
    assert cli.main(["classes", str(root)]) == 1
    captured = capsys.readouterr()
    assert "value shared with Spleen" in captured.out and "shared by classes 'Kidney' and 'Spleen'" in captured.err
    assert cli.main(["classes", str(root), "--set", "Spleen", "--value", "77"]) == 0      # the user's fix
    capsys.readouterr()
    from labeldesk.core.project import Project
    with Project.open(root) as p:
        assert not value_collisions(p.classes())
        rep = export(p, "coco", tmp_path / "c.json")
        assert rep.exported == 2
