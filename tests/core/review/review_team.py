"""A small review team on a project made by alice (admin + annotator): annotators bob and carol,
reviewers rita and rex, adjudicator ada. Imported by the review tests of this folder."""
from __future__ import annotations

from labeldesk.core import ids
from labeldesk.core.ops import OpDraft

TEAM = {"bob": ("annotator",), "carol": ("annotator",), "rita": ("reviewer",), "rex": ("reviewer",),
        "ada": ("adjudicator",)}


def add_team(project) -> dict[str, str]:
    """User ids by name (alice included)."""
    out = {"alice": project.user_id}
    drafts = []
    for name, roles in TEAM.items():
        uid = ids.new_id()
        out[name] = uid
        drafts.append(OpDraft("user.add", uid, {"name": name}))
        drafts += [OpDraft("role.grant", uid, {"role": r}, reason="team set-up") for r in roles]
    project.apply_all(drafts)
    return out


def box(project, asset_id, layer_id, user, xyxy=(1, 2, 30, 40)) -> str:
    aid = ids.new_id()
    project.apply(OpDraft("annotation.create", aid, {"annotation": {
        "asset_id": asset_id, "layer_id": layer_id, "geometry": {"kind": "box", "xyxy": list(xyxy)}}}), user=user)
    return aid
