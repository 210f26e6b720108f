"""The demo project: generated data of every kind plus an example ontology, added through the
same importer a user's files go through."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from labeldesk.core.errors import LabeldeskError
from labeldesk.core.ops import OpDraft
from labeldesk.core.tasks import NO_PROGRESS, Progress


def write_demo_data(data_dir: Path, small: bool = False) -> list[Path]:
    from labeldesk.core.samples import ct, images, video, volume
    data_dir.mkdir(parents=True, exist_ok=True)
    big = (9000, 1000) if small else (20000, 10000)
    out = [
        Path(ct.write_ct_series(data_dir / "ct-abdomen", n_slices=16 if small else 96,
                                size=128 if small else 512, spacing=(0.7, 0.7, 2.5))[0].parent),
        volume.write_nifti(data_dir / "brain-phantom.nii.gz", shape=(64, 64, 32) if small else (160, 192, 128)),
        images.write_large_tiff(data_dir / "aerial-survey.tif", *big, tile=512),
        video.write_stamped_clip(data_dir / "traffic.mp4", n_frames=50 if small else 250,
                                 size=(320, 240) if small else (640, 480)),
        images.write_image(data_dir / "site-photo-1.jpg", images.scene_rgb(1024, 768, seed=1)),
        images.write_image(data_dir / "site-photo-2.png", images.scene_rgb(800, 600, seed=2, x0=5000)),
    ]
    return out


def load_ontology(project: Any, path: Path) -> int:
    """Bring the project's ontology up to a JSON file in one transaction (never deletes)."""
    from labeldesk.core.ontology_io import import_ontology
    data = json.loads(path.read_text(encoding="utf-8"))
    drafts, _notes = import_ontology(project, data)
    project.apply_all(drafts)
    if data.get("guide"):
        project.apply(OpDraft("project.settings", None, {"set": {"labeling_guide": data["guide"]}}))
    return len(drafts)


def build_demo(dest: str | Path, progress: Progress = NO_PROGRESS, small: bool = False,
               rebuild: bool = False) -> Path:
    from labeldesk.core.importer import add_paths
    from labeldesk.core.project import Project, is_project
    from labeldesk.paths import resources_dir
    dest = Path(dest).resolve()
    if is_project(dest):
        if not rebuild:
            raise LabeldeskError(f"{dest}: a project exists here already (use --rebuild)")
        shutil.rmtree(dest)
    progress.report(0, 3, "generating demo data")
    with Project.create(dest, "labeldesk demo", user_name="demo") as project:
        data = write_demo_data(dest / "source-data", small)
        load_ontology(project, resources_dir() / "ontologies" / "demo.json")
        report = add_paths(project, [str(p) for p in data], progress)
        if report.refused:
            problems = "; ".join(f"{p}: {r}" for p, r in report.refused)
            raise LabeldeskError(f"demo data could not be added: {problems}")
    progress.report(3, 3, "demo ready")
    return dest
