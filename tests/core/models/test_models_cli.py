from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from labeldesk.cli import main
from labeldesk.core.models import tiny


@pytest.fixture
def proj(tmp_path):
    import nibabel as nib
    root = tmp_path / "p"
    assert main(["init", str(root), "--user", "alice"]) == 0
    vol = np.full((48, 40, 5), 20, np.uint8)
    vol[10:30, 8:24, :] = 220
    nib.save(nib.Nifti1Image(vol, np.eye(4)), str(tmp_path / "v.nii.gz"))
    assert main(["add", str(root), str(tmp_path / "v.nii.gz"), "-q"]) == 0
    from labeldesk.core.ontology_io import import_ontology
    from labeldesk.core.project import Project
    with Project.open(root) as project:
        drafts, _ = import_ontology(project, {"classes": [{"name": "Lesion"}]})
        project.apply_all(drafts)
    return root


def test_add_predict_evaluate_and_learn_from_the_command_line(proj, tmp_path, capsys):
    seg = tiny.segmenter(tmp_path / "seg.onnx", size=64)
    manifest = tiny.write_manifest(tmp_path / "seg.json", "segmenter", {"model": seg}, input_size=[64, 64],
                                   classes={"lesion": "Lesion"}, name="lesionnet", version="3")
    assert main(["model", "add", str(proj), str(manifest)]) == 0
    assert "added segmenter lesionnet 3" in capsys.readouterr().out
    assert main(["model", "list", str(proj), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["licence"] == "CC0-1.0" and listed["classes"] == {"lesion": "Lesion"}

    assert main(["predict", str(proj), "lesionnet", "--slices", "0:3", "-q", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["planes"] == 3 and report["predictions"] == 3 and report["layer"] == "lesionnet 3"

    # truth: the prediction of slice 0 accepted as is; evaluate against my layer
    assert main(["evaluate", str(proj), "lesionnet@3"]) == 1
    assert "no reviewed truth to evaluate against" in capsys.readouterr().err
    from labeldesk.core import predictions as P
    from labeldesk.core.project import Project
    with Project.open(proj) as project:
        states = sorted(P.predictions(project), key=lambda s: s.prediction.plane.z)
        P.decide(project, states[:1], "accept")
    assert main(["evaluate", str(proj), "lesionnet@3", "--truth", "alice", "--csv", "-"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["class"] == "Lesion" and rows[0]["tp"] == "1" and rows[0]["predictions"] == "3"
    assert rows[0]["recall"] == "1.0" and rows[-1]["class"] == "(mean)"

    # the accepted copy is a label: learn from it, propose on the 4 other slices
    assert main(["learn", str(proj), "--name", "lesion-px", "--trees", "5", "-q", "--json"]) == 0
    learned = json.loads(capsys.readouterr().out)
    assert learned["version"] == "1" and learned["planes"] == 1 and learned["predictions"] == 4
    assert main(["model", "queue", str(proj), "--by", "least-confident", "--layers", "lesion-px (pixel classifier)",
                 "--save", "monday"]) == 0
    out = capsys.readouterr().out
    assert "saved as queue 'monday' (4 item(s))" in out
    assert main(["model", "queue", str(proj), "--show", "monday", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 4


def test_refusals_are_one_clear_line(proj, tmp_path, capsys):
    seg = tiny.segmenter(tmp_path / "seg.onnx", size=64)
    manifest = tiny.write_manifest(tmp_path / "seg.json", "segmenter", {"model": seg}, input_size=[64, 64],
                                   classes={"tumour": "Tumour"})
    assert main(["model", "add", str(proj), str(manifest)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("labeldesk: error: ") and "ontology lacks: 'Tumour'" in err and "\n" not in err
    assert main(["predict", str(proj), "nope", "-q"]) == 1
    assert "no model 'nope'" in capsys.readouterr().err
    assert main(["learn", str(proj), "-q"]) == 1
    assert "label some pixels first" in capsys.readouterr().err
    assert main(["model", "queue", str(proj)]) == 1
    assert "--by" in capsys.readouterr().err
    assert main(["model"]) == 2
    assert "add a model from its manifest" in capsys.readouterr().out
