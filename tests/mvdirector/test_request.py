"""The request: typed fields, errors that name the flag, and a --plan meeting the flags given beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import make_plan

from mvdirector.errors import InputError, PlanError
from mvdirector.planio import save_plan
from mvdirector.request import RenderRequest


def test_create_names_the_flag_and_the_output_names_the_container(tmp_path):
    req = RenderRequest.create(song=tmp_path / "s.wav", reference=tmp_path / "r.png", out=tmp_path / "v.MOV")
    assert req.container == "mov" and req.resolved_workdir() == tmp_path / "s.mvd"
    assert RenderRequest.create(song=Path("a/s.wav"), reference=Path("r.png")).resolved_out() == Path("a/s.mvd/s.mp4")
    for fields, message, hint in [
        ({"fps": 500}, "fps 500 is outside 1..120", "check --fps"),
        ({"codec": "foo"}, "codec 'foo' is unknown", "check --codec"),
        ({"width": 641}, "width 641 is odd", "check --size"),
        ({"language": "en_US"}, "language 'en_US' is not an ISO 639 code", "check --language"),
        ({"jobs": 0}, "--jobs 0", "see `mvdirector render --help` for --jobs"),
    ]:
        with pytest.raises(InputError) as e:
            RenderRequest.create(song=Path("s.wav"), reference=Path("r.png"), **fields)
        assert message in e.value.message and e.value.hint == hint
    assert RenderRequest.create(song=Path("s.wav"), reference=Path("r.png"), language="DE").language == "de"


def test_a_plan_takes_the_flags_given_and_keeps_its_own_otherwise(tmp_path):
    path = tmp_path / "plan.json"
    save_plan(make_plan(bounds=(0.0, 2.0, 6.0)), path)
    base = {"song": tmp_path / "s.wav", "reference": tmp_path / "r.png", "plan": path}
    plan, warnings = RenderRequest.create(**base).user_plan(6.0)
    assert (plan.render.fps, plan.render.width, plan.render.renderer, warnings) == (24.0, 1280, "procedural", [])
    same, warnings = RenderRequest.create(**base, style="cinematic", fps=24.0).user_plan(6.0)
    assert same == plan and warnings == []
    plan, warnings = RenderRequest.create(**base, renderer="dit", fps=30.0, seed=9).user_plan(6.0)
    assert (plan.render.renderer, plan.render.fps, plan.render.seed) == ("dit", 30.0, 9)
    assert warnings == ["rendering plan.json with --fps 30 (plan: 24; cuts moved to the new frame grid), "
                        "--seed 9 (plan: 0), --renderer dit (plan: procedural)"]
    with pytest.raises(InputError, match="--style dreamy conflicts with --plan"):
        RenderRequest.create(**base, style="dreamy").user_plan(6.0)
    with pytest.raises(PlanError, match="the plan is for a song of 6.000 s but '.*s.wav' is 7.000 s"):
        RenderRequest.create(**base).user_plan(7.0)
    assert RenderRequest.create(**base).user_plan(6.0 + 0.5 / 24)[0].render.fps == 24.0  # within a frame
