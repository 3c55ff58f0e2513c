"""Director's-rule warnings for hand-edited plans."""

from __future__ import annotations

import pytest
from factories import synthetic_analysis

from mvdirector.schemas import ShotPlan, Transition
from stages.direct import DirectConfig, direct, plan_warnings


@pytest.fixture(scope="module")
def made() -> tuple:
    a = synthetic_analysis(structure=(("intro", 2), ("verse", 4), ("chorus", 4), ("outro", 2)), seed=5)
    return a, direct(a, None, DirectConfig(style="lyric_video", seed=1))


def _edit(plan: ShotPlan, i: int, **update) -> ShotPlan:
    return _edits(plan, {i: update})


def _edits(plan: ShotPlan, updates: dict[int, dict]) -> ShotPlan:
    shots = list(plan.shots)
    for i, update in updates.items():
        shots[i] = shots[i].model_copy(update=update)
    return ShotPlan.model_validate(plan.model_copy(update={"shots": shots}).model_dump())


def test_fresh_plans_have_no_warnings(made: tuple) -> None:
    a, plan = made
    assert plan_warnings(plan, a) == []
    assert plan_warnings(direct(a, None, DirectConfig(style="dreamy", seed=3)), a) == []
    # fast chorus grammars may cut inside a word when no free beat is in reach: only that is flagged
    w = plan_warnings(direct(a, None, DirectConfig(style="cinematic", seed=3)), a)
    assert all("inside the sung word" in x for x in w)


def test_moved_cut_is_off_beat_and_inside_a_word(made: tuple) -> None:
    a, plan = made
    words = [w for ln in a.lyrics.lines for w in ln.words]
    found = None
    for i in range(1, len(plan.shots)):
        for bt in a.beat_times:
            t = round((bt + 0.25) * 24) / 24  # half a beat after a beat at 120 bpm
            word = next((w for w in words if w.start_s + 0.05 < t < w.end_s - 0.05), None)
            if word and plan.shots[i - 1].start_s + 0.1 < t < plan.shots[i].end_s - 0.1:
                found = (i, t, word)
                break
        if found:
            break
    assert found is not None
    i, t, word = found
    edited = _edits(plan, {i - 1: {"end_s": t}, i: {"start_s": t}})
    w = plan_warnings(edited, a)
    sid = plan.shots[i].id
    assert any(x.startswith(f"shot '{sid}' starts at") and "off the nearest beat" in x for x in w)
    assert any(f"inside the sung word '{word.text}'" in x and "move the cut to the beat" in x for x in w)


def test_grammar_warnings_without_analysis(made: tuple) -> None:
    _, plan = made
    a, b = plan.shots[1], plan.shots[2]
    same = _edit(plan, 2, framing=a.framing, camera=a.camera)
    assert any(f"'{a.id}' and '{b.id}' are neighbours" in x for x in plan_warnings(same))
    long_fade = _edit(plan, 2, transition_in=Transition(kind="crossfade", beats=8))
    assert any(f"shot '{b.id}' transition_in crossfade" in x for x in plan_warnings(long_fade))
    kfs = [k.model_copy(update={"position": (0.0, 0.0, 0.95)}) for k in b.camera.keyframes]
    crash = _edit(plan, 2, camera=b.camera.model_copy(update={"keyframes": kfs}))
    assert any(f"shot '{b.id}' camera.keyframes[0].position z=0.95" in x for x in plan_warnings(crash))
    relabel = _edit(plan, 2, section="bridge")
    assert not plan_warnings(relabel)
    assert any("lies in the song's" in x for x in plan_warnings(relabel, made[0]))


def test_take_with_a_camera_jump(made: tuple) -> None:
    a, _ = made
    plans = (direct(a, None, DirectConfig(style="dreamy", seed=k)) for k in range(20))
    plan, i = next((p, k) for p in plans for k, s in enumerate(p.shots) if s.continues_from)
    cam = plan.shots[i].camera
    kfs = [k.model_copy(update={"position": (0.5, 0.0, 0.0)}) for k in cam.keyframes]
    jumped = _edit(plan, i, camera=cam.model_copy(update={"keyframes": kfs}))
    assert any(f"shot '{plan.shots[i].id}' continues_from" in x for x in plan_warnings(jumped))
