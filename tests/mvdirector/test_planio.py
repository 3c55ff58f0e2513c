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
    assert any(x.startswith("shot 'verse1-02' framing = 'very_wide':") for x in problems)
    assert any(x.startswith("shot 'verse1-03' camera.move = 'spin':") for x in problems)
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


def test_with_render_re_times_re_sizes_and_refuses_a_collapsed_shot():
    from mvdirector.planio import with_render
    from mvdirector.rules import on_frame_grid

    plan = make_plan(bounds=(0.0, 1.0, 1.5, 3.0), fps=24.0, duration=3.01)  # the song ends off the 30 fps grid
    moved = with_render(plan, fps=30.0, width=320, height=180, seed=4)
    assert (moved.render.fps, moved.render.width, moved.render.height, moved.render.seed) == (30.0, 320, 180, 4)
    assert all(on_frame_grid(t, 30.0) for s in moved.shots for t in (s.start_s, s.end_s))
    assert moved.shots[-1].end_s == pytest.approx(3.0)
    assert moved.n_frames == sum(s.n_frames(30) for s in moved.shots)
    assert [s.id for s in moved.shots] == [s.id for s in plan.shots] and moved.shots[0].prompt == plan.shots[0].prompt
    assert with_render(plan) == plan
    short = make_plan(bounds=(0.0, 1 / 24, 2.0))
    with pytest.raises(PlanError, match="shot 'verse1-0[12]'"):
        with_render(short, fps=4.0)  # the 1-frame shot cannot keep a frame at 4 fps
