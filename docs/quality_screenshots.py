"""Screenshots of the Quality panel and the team dashboard for the README, in a real window:

    xvfb-run -a -s "-screen 0 1700x1100x24" .venv/bin/python docs/quality_screenshots.py WORKDIR

Builds a small team project in WORKDIR (generated aerial images; annotators bob and carol labelling
over four weeks; planted label problems; gold items, audits, batches, objectives), then opens it.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "screenshots"


class _Clock:
    """Pretend the ops were made over past weeks (the dashboard plots weeks)."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def install(self) -> None:
        import labeldesk.core.project as project_module
        clock = self

        class _DT(dt.datetime):
            @classmethod
            def now(cls, tz=None):  # noqa: ANN001
                return clock.now

        project_module.dt = type("dtmod", (), {"datetime": _DT, "timezone": dt.timezone})


def build(root: Path) -> Path:
    from labeldesk.core import ids
    from labeldesk.core.importer import add_paths
    from labeldesk.core.ops import OpDraft
    from labeldesk.core.project import Project
    from labeldesk.core.quality import audits, dashboard, gold, organisation
    from labeldesk.core.review import assignment, workflow
    from labeldesk.core.samples.images import scene_rgb, write_image
    clock = _Clock()
    clock.install()
    start = clock.now - dt.timedelta(weeks=4)
    clock.now = start
    rng = np.random.default_rng(7)
    p = Project.create(root / "project", "aerial survey", user_name="alice")
    for k in range(16):
        write_image(root / "images" / f"tile-{k:02d}.png", scene_rgb(900, 600, seed=k, x0=700 * k, y0=300 * (k % 3)))
    add_paths(p, [root / "images"])
    cls = {}
    for name, colour in (("car", "#1f77b4"), ("truck", "#ff7f0e"), ("roof", "#d62728")):
        cls[name] = ids.new_id()
        p.apply(OpDraft("ontology.class.create", cls[name], {"class": {"name": name, "color": colour}}))
    people = {}
    for name, role in (("bob", "annotator"), ("carol", "annotator"), ("dan", "annotator"), ("rita", "reviewer"),
                       ("rex", "reviewer")):
        uid = ids.new_id()
        people[name] = uid
        p.apply_all([OpDraft("user.add", uid, {"name": name}), OpDraft("role.grant", uid, {"role": role}, reason="team")])
    assets = [a.id for a in p.assets()]
    organisation.set_tags(p, assets[:8], {"site": "north"})
    organisation.set_tags(p, assets[8:], {"site": "south"})
    organisation.save_batch(p, "week 1-2", assets[:8])
    organisation.save_batch(p, "week 3-4", assets[8:])
    truth = {}
    for a in assets[:3]:
        boxes = [(60 + 120 * j + rng.uniform(-5, 5), 80 + 90 * (j % 4), 60 + 120 * j + 60, 80 + 90 * (j % 4) + 35)
                 for j in range(6)]
        truth[a] = boxes
        p.apply_all([OpDraft("annotation.create", ids.new_id(), {"annotation": {
            "asset_id": a, "layer_id": p.my_layer_id, "class_id": cls["car"], "geometry": {"kind": "box", "xyxy": list(b)}}})
            for b in boxes])
        gold.mark(p, a, p.my_layer_id)
    assignment.assign(p, assets, to=[people["bob"], people["carol"], people["dan"]])
    skill = {"bob": 2.0, "carol": 6.0, "dan": 14.0}
    for week in range(4):
        clock.now = start + dt.timedelta(weeks=week, hours=9)
        for who in ("bob", "carol", "dan"):
            layer = next(l.id for l in p.layers() if l.owner == people[who])
            for a in assets[week * 4:(week + 1) * 4] + (assets[:3] if week == 0 else []):
                base = truth.get(a) or [(50 + 140 * j, 60 + 100 * (j % 4), 50 + 140 * j + 70, 60 + 100 * (j % 4) + 40)
                                        for j in range(5)]
                drafts = []
                for b in base[: 4 + (who != "dan") * 2]:
                    jit = rng.normal(0, skill[who], 4)
                    c = "truck" if who == "dan" and rng.random() < 0.3 else "car"
                    drafts.append(OpDraft("annotation.create", ids.new_id(), {"annotation": {
                        "asset_id": a, "layer_id": layer, "class_id": cls[c],
                        "geometry": {"kind": "box", "xyxy": [b[0] + jit[0], b[1] + jit[1], b[2] + jit[2], b[3] + jit[3]]}}}))
                    clock.now += dt.timedelta(seconds=float(rng.uniform(20, 90)))
                p.apply_all(drafts, user=people[who])
                workflow.submit(p, a, layer, user=people[who])
                ok = who != "dan" or rng.random() < 0.5
                workflow.decide(p, a, layer, "approve" if ok else "return", user=people["rita"],
                                reason=None if ok else "boxes too loose")
        clock.now += dt.timedelta(days=2)
        for audit in audits.sample(p, 0.3, reviewers=[people["rex"]], seed=week):
            audits.record(p, audit.op.entity, "pass" if rng.random() < 0.8 else "fail", user=people["rex"])
    # planted label problems
    bob_layer = next(l.id for l in p.layers() if l.owner == people["bob"])
    a = assets[5]
    p.apply_all([OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": a, "layer_id": bob_layer, "class_id": cls["car"], "geometry": {"kind": "box", "xyxy": xy}}})
        for xy in ([400, 300, 402, 330], [52, 61, 121, 101], [300, 200, 880, 590])], user=people["bob"])
    gold.set_gate(p, 0.6, 2, None)
    dashboard.set_objective(p, "gold_score", 0.7)
    dashboard.set_objective(p, "rework_rate", 0.15, "<=")
    dashboard.set_objective(p, "audit_pass_rate", 0.8)
    p.close()
    return root / "project"


def main(workdir: str) -> None:
    from PySide6 import QtCore, QtWidgets

    from labeldesk.qt.main_window import MainWindow
    root = build(Path(workdir))
    app = QtWidgets.QApplication([])
    window = MainWindow()
    window.offer_guide = False
    window.resize(1600, 1000)
    window.show()
    window.open_project(root)

    def settle(ms: int = 600) -> None:
        timer = QtCore.QElapsedTimer()
        timer.start()
        while timer.elapsed() < ms or window._loading is not None:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if timer.elapsed() > 20000:
                break

    settle()
    OUT.mkdir(exist_ok=True)
    for dock in window.findChildren(QtWidgets.QDockWidget):       # room for the findings
        if dock.windowTitle() in ("Measurements", "Segments"):
            dock.hide()
    window.quality.show_checks()
    settle(300)
    window.resize(1600, 1000)
    window.resizeDocks([window.quality.docks["quality"]], [330], QtCore.Qt.Orientation.Vertical)
    panel = window.quality.quality_panel
    row = next(i for i, f in enumerate(panel.findings) if f.check == "tiny")
    panel.table.selectRow(row)
    panel.open_row(row)
    settle(1500)
    window.viewport.fit()
    settle(500)
    window.grab().save(str(OUT / "quality-panel.png"))
    window.quality.docks["quality"].hide()
    dock = window.quality.docks["dashboard"]
    window.quality.show_dashboard()
    dock.setFloating(True)
    dock.resize(1300, 760)
    settle(800)
    dock.grab().save(str(OUT / "dashboard.png"))
    dp = window.quality.dashboard_panel
    dp.tabs.setCurrentIndex(2)
    dp.baseline.setCurrentText("week 1-2")
    dp.batch.setCurrentText("week 3-4")
    dp.run_drift()
    settle(800)
    dock.grab().save(str(OUT / "drift.png"))
    window.close()


if __name__ == "__main__":
    main(sys.argv[1])
