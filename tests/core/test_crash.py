"""A process killed in the middle of a burst of edits leaves a sound store holding every committed op."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from labeldesk.core.project import Project

WRITER = r"""
import sys
from labeldesk.core import ids
from labeldesk.core.ops import OpDraft
from labeldesk.core.project import Project
p = Project.open(sys.argv[1])
asset = p.assets()[0].id
layer = p.my_layer_id
print("ready", flush=True)
i = 0
while True:
    i += 1
    a = p.apply(OpDraft("annotation.create", ids.new_id(), {"annotation": {
        "asset_id": asset, "layer_id": layer,
        "geometry": {"kind": "polygon", "shell": [[1, 1], [50, 2 + i % 30], [20, 60]]}}}))
    print(a.op.op_id, flush=True)   # printed only after COMMIT returned
"""


def test_kill_during_edit_burst_keeps_every_committed_op(tmp_path, add_asset):
    root = tmp_path / "p"
    with Project.create(root) as p:
        add_asset(p)
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert proc.stdout.readline().strip() == "ready"
        committed = []
        deadline = time.monotonic() + 0.3 + 0.2 * round_
        while time.monotonic() < deadline:
            committed.append(proc.stdout.readline().strip())
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        committed += [line for line in rest.splitlines() if line]
        assert len(committed) > 5
        with Project.open(root) as p:
            assert p.integrity_check() == "ok"
            assert p.verify_chain().ok
            stored = {o.op_id for o in p.ops()}
            missing = [c for c in committed if c not in stored]
            assert not missing, f"committed ops lost after kill -9: {missing[:3]}"
