"""SyncPanel shows the sync status; SyncWorker runs share I/O off the GUI thread."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "sync"))

import pytest  # noqa: E402

from labeldesk.core.sync import engine  # noqa: E402
from labeldesk.core.sync.status import status  # noqa: E402
from labeldesk.qt.panels.sync_panel import SyncPanel  # noqa: E402
from labeldesk.qt.sync_worker import SyncWorker  # noqa: E402


@pytest.fixture
def team(tmp_path):
    from sync_team import Team          # tests/core/sync/sync_team.py: a real team on a temp share
    t = Team(tmp_path, 2)
    yield t
    t.close()


@pytest.fixture
def faulty(tmp_path):
    from sync_team import FaultyShare
    return lambda share: FaultyShare(share, tmp_path / "limbo")


def test_panel_shows_devices_and_emits_sync(qtbot, team, faulty):
    a, b = team.devices
    team.box(a)
    engine.sync_round(a)
    share = faulty(team.share)
    share.conflict_copy(share.segments(a.device_id)[-1])
    engine.sync_round(b)
    panel = SyncPanel()
    qtbot.addWidget(panel)
    panel.set_status(status(b))
    [row] = panel.rows()
    assert row[0] == a.device_id[:8] and row[1] == "u0" and row[7]          # alerts: the conflict copy
    assert "1 open conflicts" not in panel.summary.text() and str(team.share) in panel.header.text()
    with qtbot.waitSignal(panel.sig_sync_requested):
        panel.sync_button.click()
    panel.set_status(None)
    assert not panel.sync_button.isEnabled() and panel.rows() == []


def test_worker_syncs_off_the_gui_thread_and_reports_changes(qtbot, team):
    a, b = team.devices
    ann = team.box(a)
    engine.sync_round(a)
    worker = SyncWorker(b, interval_ms=60_000)
    panel = SyncPanel()
    qtbot.addWidget(panel)
    worker.sig_status.connect(panel.set_status)
    gate, threads = threading.Event(), []
    real = engine.exchange

    def slow_exchange(plan, **kw):                 # a sleeping NAS: blocks until released
        threads.append(threading.current_thread())
        gate.wait(10)
        return real(plan, **kw)
    engine.exchange = slow_exchange
    try:
        assert worker.sync_now()
        assert worker.busy and not worker.sync_now()       # one round at a time, never queued up
        ticks = []
        from PySide6 import QtCore
        QtCore.QTimer.singleShot(10, lambda: ticks.append(1))
        qtbot.waitUntil(lambda: bool(ticks))               # the GUI event loop keeps running
        assert b.annotation(ann) is None
        with qtbot.waitSignal(worker.sig_finished, timeout=10_000) as got:
            gate.set()
    finally:
        engine.exchange = real
    report = got.args[0]
    assert ann in report.changes.annotations and b.annotation(ann) is not None
    assert threads and threads[0] is not threading.main_thread()
    assert panel.rows() and not worker.busy


def test_worker_survives_read_only_and_offline_share(qtbot, team, tmp_path):
    a, b = team.devices
    team.box(b)
    worker = SyncWorker(b, interval_ms=60_000)
    away = team.share.rename(tmp_path / "away")
    with qtbot.waitSignal(worker.sig_finished, timeout=10_000) as got:
        worker.sync_now()
    assert got.args[0].state == "offline"
    panel = SyncPanel()
    qtbot.addWidget(panel)
    panel.set_status(status(b))
    assert panel.alert.isVisibleTo(panel) and "no project marker" in panel.alert.text()
    assert "1 changes to publish" in panel.summary.text()
    away.rename(team.share)
    with qtbot.waitSignal(worker.sig_finished, timeout=10_000) as got:
        worker.sync_now()
    assert got.args[0].published_ops == 1


def test_worker_polls_periodically(qtbot, team):
    a, b = team.devices
    ann = team.box(a)
    engine.sync_round(a)
    worker = SyncWorker(b, interval_ms=50)
    worker.start()
    qtbot.waitUntil(lambda: b.annotation(ann) is not None, timeout=10_000)
    worker.stop()
    qtbot.waitUntil(lambda: not worker.busy, timeout=10_000)


def test_worker_merges_a_large_backlog_in_slices(qtbot, team, monkeypatch):
    from labeldesk.core.sync import publisher
    from labeldesk.qt import sync_worker
    a, b = team.devices
    monkeypatch.setattr(publisher, "MAX_OPS", 5)
    monkeypatch.setattr(sync_worker, "PASS_BUDGET", 5)
    made = [team.box(a, i) for i in range(30)]
    engine.sync_round(a)
    worker = SyncWorker(b, interval_ms=60_000)
    passes = []
    real = engine.commit
    monkeypatch.setattr(engine, "commit", lambda *args: passes.append(1) or real(*args))
    with qtbot.waitSignal(worker.sig_finished, timeout=20_000):
        worker.sync_now()
    assert len(passes) >= 6
    assert all(b.annotation(x) is not None for x in made)


def test_binding_follows_the_project_and_reports_changes(qtbot, team):
    from labeldesk.qt.sync_worker import SyncBinding
    a, b = team.devices
    ann = team.box(a)
    engine.sync_round(a)
    panel = SyncPanel()
    qtbot.addWidget(panel)
    seen = []
    binding = SyncBinding(panel, on_changed=seen.append, interval_ms=60_000)
    binding.attach(b)
    assert panel.sync_button.isEnabled() and panel.rows()
    with qtbot.waitSignal(binding.worker.sig_finished, timeout=10_000):
        panel.sync_button.click()
    assert seen and ann in seen[0].annotations and panel.sync_button.text() == "Sync now"
    assert not binding.stall.isActive()                  # the stall check runs only during a round
    binding.detach()
    assert not panel.sync_button.isEnabled() and not binding.worker.timer.isActive()
    assert binding.parent() is panel                      # goes away with the panel
