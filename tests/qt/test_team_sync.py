"""Sharing from the app: Team ▸ Share this project…, Sync now, the Sync dock, joining a shared
project, and deciding a sync conflict in the conflicts dialog."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "sync"))

import pytest  # noqa: E402

from labeldesk.core import ids  # noqa: E402
from labeldesk.core.ops import OpDraft  # noqa: E402
from labeldesk.core.sync import engine  # noqa: E402
from labeldesk.core.sync.status import conflicts  # noqa: E402
from sync_team import Team  # noqa: E402

pytestmark = pytest.mark.gui


def test_share_sync_now_and_join_from_the_menus(qtbot, window, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    assert window.team.share_project(str(share))
    assert engine.share_path(window.project) == share.resolve()
    assert list(share.glob("devices/*/segments/seg-*.jsonl"))
    assert window.team.docks["sync"].isVisible()
    p = window.project
    asset = p.assets()[0]
    ann = ids.new_id()
    p.apply(OpDraft("annotation.create", ann, {"annotation": {
        "asset_id": asset.id, "layer_id": p.my_layer_id, "geometry": {"kind": "box", "xyxy": [1, 1, 9, 9]}}}))
    with qtbot.waitSignal(window.team.sync.worker.sig_finished, timeout=20000):
        window.actions_by_id["sync_now"].trigger()
    assert ann in "".join(f.read_text() for f in share.glob("devices/*/segments/seg-*.jsonl"))
    assert "0 changes to publish" in window.team.sync_panel.summary.text()
    # a second member joins from the app: a local replica that holds the annotation
    dest = tmp_path / "replica"
    assert window.team.join_project(str(share), str(dest), user="")
    assert window.project.root == dest.resolve()
    assert window.project.annotation(ann) is not None


def test_a_share_folder_that_is_not_empty_is_refused_with_a_message(qtbot, window, tmp_path, monkeypatch):
    from PySide6 import QtWidgets
    messages = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical", lambda _w, title, text: messages.append(text))
    share = tmp_path / "busy"
    share.mkdir()
    (share / "holiday.jpg").write_bytes(b"x")
    assert not window.team.share_project(str(share))
    assert messages and engine.share_path(window.project) is None


def test_conflicts_dialog_keeps_the_chosen_value(qtbot, tmp_path):
    from labeldesk.qt.dialogs.conflicts_dialog import ConflictsDialog
    team = Team(tmp_path)
    a, b = team.devices
    ann = team.box(a, 10)
    team.sync_all()
    team.move(a, ann, 30)
    team.move(b, ann, 60)
    team.sync_all()
    dialog = ConflictsDialog(b)
    qtbot.addWidget(dialog)
    top = dialog.tree.topLevelItem(0)
    assert top.childCount() == 2 and "1 open conflict" in dialog.status.text()
    loser = next(top.child(i) for i in range(2) if top.child(i).text(5) != "✓")
    dialog.tree.setCurrentItem(loser)
    dialog.ask_reason = lambda *a: None                      # cancelled: nothing decided
    assert not dialog.keep_selected() and len(conflicts(b)) == 1
    dialog.ask_reason = lambda *a: "the other outline is right"
    with qtbot.waitSignal(dialog.sig_resolved):
        assert dialog.keep_selected()
    assert not conflicts(b) and dialog.tree.topLevelItemCount() == 0
    team.sync_all()
    assert a.annotation(ann).geometry.to_dict() == b.annotation(ann).geometry.to_dict()
    for p in team.devices:
        p.close()
