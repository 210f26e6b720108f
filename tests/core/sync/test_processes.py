"""Two real processes edit and sync on one temporary share at the same time, then converge
(checked through the CLI: `labeldesk sync` and `labeldesk share status --json`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

WORKER = textwrap.dedent("""
    import sys
    from labeldesk.core import ids
    from labeldesk.core.ops import OpDraft
    from labeldesk.core.project import Project
    from labeldesk.core.sync import engine
    root, asset, shared_ann, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with Project.open(root) as p:
        layer = p.my_layer_id
        for i in range(n):
            p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {"asset_id": asset, "layer_id": layer,
                "geometry": {"kind": "box", "xyxy": [i, i, i + 5, i + 5]}}}))
            p.apply(OpDraft("annotation.update", shared_ann, {"set": {"geometry": {"kind": "box",
                "xyxy": [i, 2 * i % 100, i + 9, 2 * i % 100 + 9]}}}))
            engine.sync_round(p)
    print("done")
""")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    return subprocess.run([sys.executable, "-m", "labeldesk", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_two_processes_sync_concurrently_and_converge(team, tmp_path):
    a, b = team.devices
    shared = team.box(a, 50)
    team.sync_all()
    roots = [str(p.root) for p in team.devices]
    team.close()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    procs = [subprocess.Popen([sys.executable, str(script), r, team.asset, shared, "12"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in roots]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    for _ in range(2):
        for r in roots:
            done = _cli("sync", r, "--json")
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["state"] == "ok"
    states = [json.loads(_cli("share", "status", r, "--json").stdout) for r in roots]
    assert states[0]["state_digest"] == states[1]["state_digest"]
    assert all(s["outbox"] == 0 and s["pending"] == 0 for s in states)
    counts = [json.loads(_cli("info", r, "--json").stdout)["counts"]["annotations"] for r in roots]
    assert counts == [25, 25]
