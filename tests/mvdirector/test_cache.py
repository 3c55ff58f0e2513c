"""Cache keys: canonical JSON, what each key depends on, and the shot-key invalidation matrix."""

from __future__ import annotations

import pytest
from factories import flat_analysis, make_plan

from mvdirector.cache import cache_key, canonical_json, model_fingerprint
from mvdirector.schemas import (
    AudioAnalysis,
    ReferenceInfo,
    ShotPlan,
)
from mvdirector.shots import shot_keys


class FakeRenderer:
    """Only what shot_keys reads: a VERSION and a fingerprint."""

    def __init__(self, version: str = "1", **fp: str) -> None:
        self.VERSION = version
        self._fp = {"renderer": "fake", **fp}

    def fingerprint(self) -> dict[str, str]:
        return dict(self._fp)


def analysis(path: str = "s.wav", sha: str = "0" * 64, bpm: float = 120.0) -> AudioAnalysis:
    return flat_analysis(6.0, bpm=bpm, energy=0.5, label="verse", sha=sha, path=path)


def reference(path: str = "r.png", sha: str = "1" * 64) -> ReferenceInfo:
    return ReferenceInfo(path=path, sha256=sha, width=64, height=64)


def chained_plan() -> ShotPlan:
    """Four shots: 01 → 02 → 03 is one take, 04 another."""
    plan = make_plan(bounds=(0.0, 1.5, 3.0, 4.5, 6.0))
    shots = list(plan.shots)
    shots[1] = shots[1].model_copy(update={"continues_from": shots[0].id})
    shots[2] = shots[2].model_copy(update={"continues_from": shots[1].id})
    return ShotPlan.model_validate({**plan.model_dump(), "shots": [s.model_dump() for s in shots]})


def edit(plan: ShotPlan, sid: str, **update) -> ShotPlan:
    shots = [s.model_copy(update=update) if s.id == sid else s for s in plan.shots]
    return ShotPlan.model_validate({**plan.model_dump(), "shots": [s.model_dump() for s in shots]})


def changed(a: dict[str, str], b: dict[str, str]) -> set[str]:
    return {k for k in a if a[k] != b[k]}


def test_canonical_json_ignores_key_order_and_handles_models_and_paths(tmp_path):
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json(
        {"a": [1, {"c": 3, "d": 2}], "b": 1}
    )
    assert canonical_json({"p": tmp_path}) == canonical_json({"p": str(tmp_path)})
    assert canonical_json(reference()) == canonical_json(reference().model_dump(mode="json"))
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


@pytest.mark.parametrize(
    "change",
    [
        {"stage": "direct"},
        {"version": "2"},
        {"config": {"style": "dreamy"}},
        {"inputs": {"song": "f" * 64}},
        {"weights": "abc"},
    ],
)
def test_cache_key_depends_on_every_part(change):
    base = {
        "stage": "analyze",
        "version": "1",
        "config": {"style": "cinematic"},
        "inputs": {"song": "0" * 64},
    }
    assert cache_key(**base) == cache_key(**base)
    assert cache_key(**{**base, **change}) != cache_key(**base)


def test_model_fingerprint_ignores_paths_only():
    assert model_fingerprint(reference(path="a.png")) == model_fingerprint(reference(path="/x/b.png"))
    assert model_fingerprint(reference(sha="2" * 64)) != model_fingerprint(reference())
    assert model_fingerprint(analysis(path="x.wav")) == model_fingerprint(analysis())
    assert model_fingerprint(analysis(bpm=121.0)) != model_fingerprint(analysis())


def test_takes_are_the_weakly_connected_components_in_render_order():
    plan = chained_plan()
    ids = [s.id for s in plan.shots]
    assert plan.takes() == [ids[:3], ids[3:]]


# The invalidation matrix: which shot keys change for each kind of change.
def test_shot_key_matrix():
    plan, r, a, ref = chained_plan(), FakeRenderer(), analysis(), reference()
    ids = [s.id for s in plan.shots]
    base = shot_keys(plan, r, a, ref)
    assert len(set(base.values())) == 4
    assert shot_keys(plan, r, a, ref) == base  # deterministic
    cases = {
        "edit head of take": (edit(plan, ids[0], prompt="new"), r, a, ref, set(ids[:3])),
        "edit middle of take": (edit(plan, ids[1], energy=0.9), r, a, ref, set(ids[1:3])),
        "edit single shot": (edit(plan, ids[3], seed=7), r, a, ref, {ids[3]}),
        "cut the continuity edge": (edit(plan, ids[2], continues_from=None), r, a, ref, {ids[2]}),
        "new analysis": (plan, r, analysis(bpm=121.0), ref, set(ids)),
        "new reference": (plan, r, a, reference(sha="2" * 64), set(ids)),
        "moved files": (plan, r, analysis(path="/elsewhere/s.wav"), reference(path="/x.png"), set()),
        "renderer option": (plan, FakeRenderer(quality="high"), a, ref, set(ids)),
        "renderer version": (plan, FakeRenderer(version="2"), a, ref, set(ids)),
        "render settings": (
            ShotPlan.model_validate({**plan.model_dump(), "render": {**plan.render.model_dump(), "seed": 3}}),
            r,
            a,
            ref,
            set(ids),
        ),
    }
    for name, (p, rr, aa, fr, want) in cases.items():
        assert changed(base, shot_keys(p, rr, aa, fr)) == want, name
    # a vocal stem is an input of every shot; without one the keys are those of before stems existed
    assert changed(base, shot_keys(plan, r, a, ref, {"vocals": "f" * 64})) == set(ids)
    assert shot_keys(plan, r, a, ref, None) == base
