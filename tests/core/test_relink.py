"""A joiner's assets find their files: at the recorded path, or under a folder the user names,
and only when the content is the same."""
from __future__ import annotations

import shutil

from labeldesk.core.importer import add_paths
from labeldesk.core.relink import auto_link, locate, missing_assets
from labeldesk.core.samples import images


def _forget_files(project) -> None:
    """What a joiner's replica looks like: the assets, none of their files."""
    with project.transaction() as conn:
        conn.execute("DELETE FROM asset_local")


def test_files_at_the_recorded_path_are_linked(project, tmp_path):
    images.write_image(tmp_path / "in" / "a.png", images.scene_rgb(40, 30))
    images.write_image(tmp_path / "in" / "b.png", images.scene_rgb(50, 30))
    report = add_paths(project, [tmp_path / "in"])
    assert all(a.meta["source_path"].endswith(a.name) for a in report.added)
    _forget_files(project)
    assert len(missing_assets(project)) == 2
    (tmp_path / "in" / "b.png").unlink()
    result = auto_link(project)
    assert [a.name for a in result.linked] == ["a.png"] and result.missing == ["b.png"]
    assert project.locator(result.linked[0].id)["path"].endswith("a.png")
    assert project.open_source(result.linked[0].id).info.width == 40


def test_a_changed_file_at_the_recorded_path_is_not_linked(project, tmp_path):
    images.write_image(tmp_path / "a.png", images.scene_rgb(40, 30))
    add_paths(project, [tmp_path / "a.png"])
    _forget_files(project)
    images.write_image(tmp_path / "a.png", 255 - images.scene_rgb(40, 30))
    assert auto_link(project).linked == []


def test_locate_under_a_folder_matches_content_not_names(project, tmp_path):
    images.write_image(tmp_path / "in" / "a.png", images.scene_rgb(40, 30))
    images.write_image(tmp_path / "in" / "b.png", images.scene_rgb(50, 30))
    add_paths(project, [tmp_path / "in"])
    _forget_files(project)
    moved = tmp_path / "elsewhere" / "deep"
    moved.mkdir(parents=True)
    shutil.move(tmp_path / "in" / "a.png", moved / "renamed.png")
    images.write_image(moved / "b.png", images.scene_rgb(51, 30))     # same name, other content
    images.write_image(moved / "new.png", images.scene_rgb(60, 30))   # not in the project: not added
    result = locate(project, [tmp_path / "elsewhere"])
    assert [a.name for a in result.linked] == ["a.png"] and result.missing == ["b.png"]
    assert "1 asset" in result.summary() and "1 still not" in result.summary()
    assert len(project.assets()) == 2
