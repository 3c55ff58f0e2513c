"""Plan files: snapping with warnings, precise errors, atomic saves."""

from __future__ import annotations

import json

import pytest
from factories import make_plan, plan_dict

from mvdirector.errors import PlanError
from mvdirector.planio import load_plan, save_plan


def test_save_and_load_round_trip(tmp_path):
    plan = make_plan()
    p = tmp_path / "plan.json"
    save_plan(plan, p)
    again, warnings = load_plan(p)
    assert again == plan and warnings == []
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")], "no temp files left behind"


def test_off_grid_times_are_snapped_with_a_warning(tmp_path):
    d = plan_dict()
    d["shots"][0]["end_s"] = 2.01
    d["shots"][1]["start_s"] = 2.01
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    plan, warnings = load_plan(p)
    assert plan.shots[0].end_s == 2.0
    assert len(warnings) == 2 and "shot 'verse1-01' end_s=2.01 snapped" in warnings[0]
    with pytest.raises(PlanError, match="not on the 24 fps frame grid"):
        load_plan(p, snap=False)


def test_all_problems_are_collected(tmp_path):
    d = plan_dict()
    d["shots"][1]["framing"] = "very_wide"
    d["shots"][2]["camera"] = {"move": "spin"}
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(d))
    with pytest.raises(PlanError) as e:
        load_plan(p)
    problems = e.value.problems  # type: ignore[attr-defined]
    assert any(x.startswith("shot 'verse1-02' framing:") for x in problems)
    assert any(x.startswith("shot 'verse1-03' camera.move:") for x in problems)
    assert "and 1 more problem" in e.value.message


@pytest.mark.parametrize(("text", "match"), [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_malformed_files(tmp_path, text, match):
    p = tmp_path / "plan.json"
    p.write_text(text)
    with pytest.raises(PlanError, match=match):
        load_plan(p)


def test_missing_file(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        load_plan(tmp_path / "nope.json")
