"""The photos of a plan: ``ShotPlan.references``, ``Shot.reference`` and their rules (mvdirector/schemas)."""

from __future__ import annotations

import json

import pytest
from factories import plan_dict

from mvdirector.errors import PlanError
from mvdirector.planio import parse_plan
from mvdirector.schemas import ReferenceInfo, ReferenceRef, ReferenceSet, ShotPlan

SINGER = {"id": "me", "path": "me.png", "sha256": "1" * 64, "kind": "singer", "face_px": 120, "frontal": True}
LOOK = {"id": "red", "path": "red.png", "sha256": "2" * 64, "kind": "look", "face_px": 110, "frontal": True}
SCENE = {"id": "city", "path": "city.png", "sha256": "3" * 64, "kind": "scene", "face_px": 0, "frontal": None}


def _plan(**shot_refs: str | None) -> dict:
    d = plan_dict(bounds=(0.0, 2.0, 4.0, 6.0), framing="medium")
    d["reference"], d["references"] = SINGER, [SINGER, LOOK, SCENE]
    for s in d["shots"]:
        s["reference"] = shot_refs.get(s["id"].replace("-", "_"), "me")
    return d


def test_a_plan_lists_its_photos_and_each_shot_names_one():
    plan = ShotPlan.model_validate(_plan(verse1_02="red", verse1_03="city"))
    assert [plan.reference_of(s).id for s in plan.shots] == ["me", "red", "city"]
    assert [plan.reference_of(s).shows_singer for s in plan.shots] == [True, True, False]
    again = ShotPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    schema = json.dumps(ShotPlan.model_json_schema())
    assert '"references"' in schema and '"kind"' in schema


def test_plans_made_with_one_photo_still_load():
    old = plan_dict()
    old["reference"] = {"path": "singer.png", "sha256": "a" * 64}  # what plans held before several photos
    for s in old["shots"]:
        s.pop("reference", None)
    plan, _ = parse_plan(old)
    assert plan.references == [ReferenceRef(path="singer.png", sha256="a" * 64)]
    assert all(plan.reference_of(s) == plan.references[0] for s in plan.shots)
    assert plan.references[0].kind == "singer" and plan.references[0].face_px is None
    # the render's photos: the plan's singer is the render's singer, whatever its file is called now
    assert plan.photo_for(plan.shots[0], ["astronaut", "red"]) == "astronaut"


def test_a_missing_photo_is_named_with_the_shot():
    with pytest.raises(PlanError, match=r"shot 'verse1-02' reference 'blue' is not one of the plan's photos "
                                        r"\(me, red, city\)"):
        parse_plan(_plan(verse1_02="blue"))


def test_a_close_up_needs_a_face():
    d = _plan(verse1_02="city")
    d["shots"][1]["framing"] = "close_up"
    with pytest.raises(PlanError, match=r"shot 'verse1-02' is a close_up but its reference 'city' is a scene "
                                        r"\(no singer\) — use a photo with the singer's face \(me, red\)"):
        parse_plan(d)
    d = _plan()
    d["references"][1] = {**LOOK, "face_px": 0}
    d["shots"][0]["framing"], d["shots"][0]["reference"] = "extreme_close_up", "red"
    with pytest.raises(PlanError, match="reference 'red' shows no face"):
        parse_plan(d)


def test_photo_lists_must_be_coherent():
    d = _plan()
    d["references"] = [SINGER, {**LOOK, "id": "me"}]
    with pytest.raises(PlanError, match="repeat"):
        parse_plan(d)
    d = _plan()
    d["references"] = [LOOK, SINGER]
    d["reference"] = LOOK
    with pytest.raises(PlanError, match="the first photo must be the singer's"):
        parse_plan(d)
    d = _plan()
    d["reference"] = LOOK
    with pytest.raises(PlanError, match="reference must be the singer's photo"):
        parse_plan(d)


def test_photo_for_maps_plan_ids_onto_the_photos_given():
    plan = ShotPlan.model_validate(_plan(verse1_02="red", verse1_03="city"))
    assert [plan.photo_for(s, ["singer", "red", "city"]) for s in plan.shots] == ["singer", "red", "city"]
    assert plan.photo_for(plan.shots[2], ["singer", "red"]) is None  # the scene was not given


def test_a_reference_set_has_one_singer_first():
    singer = ReferenceInfo(id="me", path="me.png", sha256="1" * 64, width=8, height=8)
    look = singer.model_copy(update={"id": "red", "kind": "look"})
    refs = ReferenceSet(photos=[singer, look])
    assert refs.singer is singer and refs.get("red") is look and refs.ids == ["me", "red"]
    with pytest.raises(KeyError):
        refs.get("blue")
    with pytest.raises(ValueError, match="first photo must be the only singer"):
        ReferenceSet(photos=[look, singer])
    with pytest.raises(ValueError, match="unique"):
        ReferenceSet(photos=[singer, singer.model_copy(update={"kind": "look"})])
