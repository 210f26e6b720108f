"""Whatever JSON arrives, an importer reports (refusals, or an InputError naming the file): it never
crashes with another exception and never half-applies."""
from __future__ import annotations

import json

from format_fixtures import add_asset, add_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeldesk.core import interchange
from labeldesk.core.errors import InputError
from labeldesk.core.project import Project

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 100), st.floats(-10, 200, allow_nan=False),
                    st.sampled_from(["a.png", "car", "polygon", "rectangle", "mask", "", "x"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=8),
                                                       st.dictionaries(st.sampled_from(
                                                           ["id", "image_id", "category_id", "bbox", "segmentation",
                                                            "keypoints", "name", "file_name", "label", "points",
                                                            "shape_type", "group_id", "size", "counts", "flags",
                                                            "attributes", "width", "height"]), inner, max_size=6)),
                    max_leaves=30)
coco_docs = st.fixed_dictionaries({"images": st.lists(values, max_size=3), "annotations": st.lists(values, max_size=6),
                                   "categories": st.lists(values, max_size=3)})
labelme_docs = st.fixed_dictionaries({"shapes": st.lists(values, max_size=6), "imagePath": values,
                                      "imageWidth": values, "imageHeight": values})


def _check(tmp_path_factory, fmt, doc):
    tmp = tmp_path_factory.mktemp("h")
    with Project.create(tmp / "p", user_name="alice") as p:
        add_asset(p, "a.png", 64, 48)
        add_class(p, "car")
        before = p.counts()
        path = tmp / "in.json"
        path.write_text(json.dumps(doc))
        try:
            rep = interchange.import_file(p, fmt, path)
        except InputError as exc:
            assert "in.json" in str(exc)
            assert p.counts() == before
            return
        assert p.counts()["annotations"] == before["annotations"] + rep.imported


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=coco_docs)
def test_random_coco_documents(tmp_path_factory, doc):
    _check(tmp_path_factory, "coco", doc)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=labelme_docs)
def test_random_labelme_documents(tmp_path_factory, doc):
    _check(tmp_path_factory, "labelme", doc)
