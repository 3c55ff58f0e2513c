"""The director on synthetic songs whose beats, sections and words are known exactly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from factories import synthetic_analysis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvdirector.rules import on_frame_grid
from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    EnergyCurve,
    Face,
    ReferenceInfo,
    ShotPlan,
)
from stages.direct import DirectConfig, direct, fill_keyframes
from stages.direct.cutting import BeatGrid, CutRules, SectionSpan, choose_cuts

STYLES = ("cinematic", "performance", "lyric_video", "dreamy")


def _ref(face: bool = True) -> ReferenceInfo:
    faces = [Face(box=(400, 200, 640, 480))] if face else []
    return ReferenceInfo(
        path="singer.png", sha256="1" * 64, width=1024, height=1024, faces=faces, primary=0 if face else None
    )


def _cuts(plan: ShotPlan) -> list[float]:
    return [s.start_s for s in plan.shots[1:]]


def _snapped_beats(a: AudioAnalysis, fps: float) -> set[int]:
    return {int(round(b.t_s * fps)) for b in a.beats}


def _inside_word(t: float, a: AudioAnalysis) -> bool:
    return any(w.start_s + 0.03 < t < w.end_s - 0.03 for line in a.lyrics.lines for w in line.words)


@pytest.fixture(scope="module")
def song() -> AudioAnalysis:
    return synthetic_analysis(bpm=118.0, jitter_s=0.01, seed=3)


@pytest.fixture(scope="module")
def plans(song: AudioAnalysis) -> dict[tuple[str, int], ShotPlan]:
    return {(st_, seed): direct(song, _ref(), DirectConfig(style=st_, seed=seed)) for st_ in STYLES for seed in (0, 1)}


def test_plan_tiles_the_song_on_the_frame_grid(plans: dict, song: AudioAnalysis) -> None:
    for plan in plans.values():
        fps = plan.render.fps
        assert plan.shots[0].start_s == 0.0
        assert plan.shots[-1].end_s == pytest.approx(round(song.source.duration_s * fps) / fps, abs=1e-9)
        for a, b in zip(plan.shots, plan.shots[1:], strict=False):
            assert a.end_s == b.start_s
        assert all(on_frame_grid(s.start_s, fps) and on_frame_grid(s.end_s, fps) for s in plan.shots)
        assert ShotPlan.model_validate_json(plan.model_dump_json()) == plan


def test_every_cut_is_on_a_beat(plans: dict, song: AudioAnalysis) -> None:
    beats = _snapped_beats(song, 24.0)
    for key, plan in plans.items():
        off = [t for t in _cuts(plan) if int(round(t * 24.0)) not in beats]
        assert not off, f"{key}: cuts off the beat grid at {off}"


def test_every_section_boundary_is_a_cut(plans: dict, song: AudioAnalysis) -> None:
    for plan in plans.values():
        cuts = {int(round(t * 24)) for t in _cuts(plan)}
        for s in song.sections[1:]:
            assert int(round(s.start_s * 24)) in cuts
        labels = [s.section for s in plan.shots]
        assert [k for i, k in enumerate(labels) if i == 0 or labels[i - 1] != k] == [s.label for s in song.sections]


def test_no_cut_inside_a_sung_word_when_a_free_beat_is_in_range(plans: dict, song: AudioAnalysis) -> None:
    # The song's lines leave a free beat every 2 bars: within reach of every verse grammar and of the
    # lyric_video/dreamy choruses, but not of the 2..4-beat cinematic/performance choruses.
    for key, plan in plans.items():
        sections = ("verse", "chorus", "pre_chorus") if key[0] in ("lyric_video", "dreamy") else ("verse",)
        inside = [s.start_s for s in plan.shots[1:] if s.section in sections and _inside_word(s.start_s, song)]
        assert not inside, f"{key}: cuts inside words at {inside}"


def test_cut_moves_off_a_word_to_a_free_beat() -> None:
    grid = BeatGrid(np.arange(1, 16) * 0.5, (np.arange(15) % 4) + 1, 4, 0.5)
    span = SectionSpan(0.0, 8.0, "verse", 0, 0.5, 1)
    rules = CutRules(8.0, 8.0, 1.0, 8.0)  # exactly one cut wanted, at 4.0 s (a downbeat)
    energy = np.full(15, 0.5)
    rng = np.random.default_rng(0)
    assert choose_cuts(span, grid, rules, energy, np.zeros((0, 3)), set(), rng) == [4.0]
    words = np.array([[3.8, 4.3, 1.0]])  # a word sung across the downbeat
    assert choose_cuts(span, grid, rules, energy, words, set(), np.random.default_rng(0)) in ([3.5], [4.5])
    unsure = np.array([[3.8, 4.3, 0.05]])  # a recognised word the recogniser barely trusted
    assert choose_cuts(span, grid, rules, energy, unsure, set(), np.random.default_rng(0)) == [4.0]


def test_downbeats_preferred(plans: dict, song: AudioAnalysis) -> None:
    down = {int(round(t * 24)) for t in song.downbeats}
    for key, plan in plans.items():
        cuts = _cuts(plan)
        share = sum(int(round(t * 24)) in down for t in cuts) / len(cuts)
        assert share >= 0.6, f"{key}: only {share:.0%} of cuts on downbeats"


def test_shot_lengths_within_limits(plans: dict) -> None:
    for key, plan in plans.items():
        lo = 0.8 if key[0] == "performance" else 1.0
        hi = {"dreamy": 10.0, "performance": 6.0}.get(key[0], 8.0)
        bad = [(s.id, round(s.duration_s, 2)) for s in plan.shots if not (lo - 1e-6 <= s.duration_s <= hi + 0.7)]
        assert not bad, f"{key}: shots outside {lo}..{hi} s: {bad}"


def test_neighbours_differ_in_framing_or_move(plans: dict) -> None:
    for key, plan in plans.items():
        for a, b in zip(plan.shots, plan.shots[1:], strict=False):
            assert (a.framing, a.camera.move) != (b.framing, b.camera.move), f"{key}: {a.id} and {b.id}"


def test_ids_name_section_occurrence_and_index(plans: dict) -> None:
    plan = plans[("cinematic", 0)]
    assert plan.shots[0].id == "intro1-01"
    assert any(s.id == "chorus2-01" for s in plan.shots)
    assert all(re.fullmatch(r"[a-z_]+\d+-\d{2}", s.id) for s in plan.shots)


def test_deterministic_per_seed(song: AudioAnalysis, plans: dict) -> None:
    again = direct(song, _ref(), DirectConfig(style="cinematic", seed=0))
    assert again == plans[("cinematic", 0)]
    a, b = plans[("cinematic", 0)], plans[("cinematic", 1)]
    assert [(s.start_s, s.framing, s.camera.move) for s in a.shots] != [
        (s.start_s, s.framing, s.camera.move) for s in b.shots
    ]


def test_cut_rate_follows_the_grammar(plans: dict) -> None:
    plan = plans[("cinematic", 0)]
    mean = {lab: np.mean([s.duration_s for s in plan.shots if s.section == lab]) for lab in ("verse", "chorus")}
    assert mean["chorus"] < mean["verse"]
    dreamy = np.mean([s.duration_s for s in plans[("dreamy", 0)].shots])
    perf = np.mean([s.duration_s for s in plans[("performance", 0)].shots])
    assert perf < dreamy


def test_takes_have_a_continuous_camera(plans: dict) -> None:
    edges = 0
    for plan in plans.values():
        by_id = {s.id: s for s in plan.shots}
        for s in plan.shots:
            if s.continues_from is None:
                continue
            edges += 1
            parent = by_id[s.continues_from]
            assert plan.shots.index(parent) == plan.shots.index(s) - 1
            assert parent.framing == s.framing and parent.section == s.section
            assert s.transition_in.kind == "cut"
            a, b = parent.camera.keyframes[-1], s.camera.keyframes[0]
            assert np.allclose(a.position, b.position, atol=1e-4)
            assert np.allclose(a.rotation_deg, b.rotation_deg, atol=1e-3)
    assert edges > 0


def test_keyframes_are_expanded_and_editable(plans: dict) -> None:
    plan = plans[("cinematic", 0)]
    for s in plan.shots:
        kf = s.camera.keyframes
        assert kf and kf[0].t == 0.0 and kf[-1].t == 1.0
    push = next(s for s in plan.shots if s.camera.move == "push_in" and s.continues_from is None)
    assert push.camera.keyframes[-1].position[2] > push.camera.keyframes[0].position[2]
    # a hand edit: change the move, delete keyframes, re-expand
    edited_shot = push.model_copy(update={"camera": push.camera.model_copy(update={"move": "pan", "keyframes": []})})
    shots = [edited_shot if s.id == push.id else s for s in plan.shots]
    edited = fill_keyframes(plan.model_copy(update={"shots": shots}))
    new = edited.shot(push.id).camera.keyframes
    assert new and new[0].rotation_deg[0] != new[-1].rotation_deg[0]
    assert fill_keyframes(plan) is plan


def test_non_cut_transitions_only_on_downbeats(plans: dict, song: AudioAnalysis) -> None:
    down = {int(round(t * 24)) for t in song.downbeats}
    seen = 0
    for plan in plans.values():
        for s in plan.shots[1:]:
            if s.transition_in.kind != "cut":
                seen += 1
                assert int(round(s.start_s * 24)) in down
                assert 0 < s.transition_in.beats <= 8
    assert seen > 0


def test_prompts_and_lyrics(plans: dict) -> None:
    plan = plans[("cinematic", 0)]
    sung = [s for s in plan.shots if s.lyric is not None]
    assert sung
    for s in sung:
        assert s.lyric.line in s.prompt
        for w in s.lyric.words:
            assert 0 <= w.start_s <= w.end_s <= s.duration_s + 1e-6
    assert all("cinematic" in s.prompt and s.prompt for s in plan.shots)


def test_lyric_video_starts_shots_on_lines(plans: dict, song: AudioAnalysis) -> None:
    plan = plans[("lyric_video", 0)]
    starts = [int(round(s.start_s * 24)) for s in plan.shots]
    hit = 0
    for line in song.lyrics.lines:
        t = line.words[0].start_s
        hit += any(-0.75 * 60 / song.bpm - 0.05 <= t - f / 24 <= 0.3 for f in starts)
    assert hit / len(song.lyrics.lines) >= 0.5


def test_no_face_means_fewer_close_ups(song: AudioAnalysis) -> None:
    close = {"close_up", "extreme_close_up"}

    def share(ref: ReferenceInfo) -> float:
        shots = [s for seed in range(3) for s in direct(song, ref, DirectConfig(seed=seed)).shots]
        return sum(s.framing in close for s in shots) / len(shots)

    assert share(_ref(face=False)) < 0.5 * share(_ref(face=True))


def test_user_style_from_templates_dir(tmp_path: Path, song: AudioAnalysis) -> None:
    (tmp_path / "slow.yaml").write_text(
        "name: slow\nprompt: slow test style\nshot_s: [1.0, 30.0]\n"
        "sections:\n  default:\n    cut_beats: [16, 16]\n    framings: {wide: 1, medium: 1}\n"
        "    moves: {static: 1, pan: 1}\n"
    )
    plan = direct(song, _ref(), DirectConfig(style="slow", templates_dir=str(tmp_path)))
    assert plan.render.style == "slow"
    assert {s.framing for s in plan.shots} <= {"wide", "medium"}
    assert len(plan.shots) < len(direct(song, _ref(), DirectConfig()).shots)


def test_song_without_beats_sections_or_lyrics() -> None:
    a = AudioAnalysis(
        source=AudioSource(path="x.wav", sha256="0" * 64, duration_s=21.37, sample_rate=22050),
        bpm=100.0,
        beats_per_bar=4,
        beats=[],
        sections=[],
        energy=EnergyCurve(fps=10, values=[]),
    )
    plan = direct(a, None, DirectConfig(fps=25.0))
    grid = {int(round(k * 0.6 * 25)) for k in range(40)}
    assert all(int(round(t * 25)) in grid for t in _cuts(plan))
    assert plan.shots[-1].end_s == pytest.approx(21.36)
    assert plan.reference is None and all(s.lyric is None for s in plan.shots)


def test_unknown_style_is_a_clear_error(song: AudioAnalysis) -> None:
    from mvdirector.errors import InputError

    with pytest.raises(InputError) as e:
        direct(song, None, DirectConfig(style="nope"))
    assert "style 'nope'" in e.value.one_line() and "cinematic" in e.value.one_line()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bpm=st.floats(70, 180),
    fps=st.sampled_from([23.976, 24.0, 25.0, 30.0]),
    structure=st.lists(
        st.tuples(st.sampled_from(["verse", "chorus", "bridge", "instrumental"]), st.integers(1, 6)),
        min_size=1,
        max_size=5,
    ),
    style=st.sampled_from(STYLES),
    seed=st.integers(0, 50),
)
def test_any_song_gives_a_valid_beat_cut_plan(bpm: float, fps: float, structure: list, style: str, seed: int) -> None:
    a = synthetic_analysis(bpm=bpm, structure=structure, jitter_s=0.015, seed=seed)
    plan = direct(a, None, DirectConfig(style=style, seed=seed, fps=fps))
    beats = _snapped_beats(a, fps)
    assert all(int(round(t * fps)) in beats for t in _cuts(plan))
    assert int(round(plan.shots[-1].end_s * fps)) == int(round(a.source.duration_s * fps))
    for x, y in zip(plan.shots, plan.shots[1:], strict=False):
        assert (x.framing, x.camera.move) != (y.framing, y.camera.move)


def _chorus_echo(song: AudioAnalysis) -> float:
    agree = total = 0
    for seed in range(4):
        looks: dict[str, list[str]] = {}
        for s in direct(song, None, DirectConfig(seed=seed)).shots:
            if s.section == "chorus":
                looks.setdefault(s.id.split("-")[0], []).append(s.framing)
        for k in ("chorus2", "chorus3"):
            agree += sum(x == y for x, y in zip(looks["chorus1"], looks[k], strict=False))
            total += min(len(looks["chorus1"]), len(looks[k]))
    return agree / total


def test_repeated_sections_echo_the_first(song: AudioAnalysis, monkeypatch: pytest.MonkeyPatch) -> None:
    import stages.direct.director as director

    echoed = _chorus_echo(song)
    monkeypatch.setattr(director, "MOTIF_BOOST", 1.0)
    assert echoed > 0.45 and echoed > _chorus_echo(song) + 0.15


def test_build_ups_accelerate(tmp_path: Path) -> None:
    a = synthetic_analysis(structure=(("verse", 2), ("pre_chorus", 12), ("chorus", 2)), seed=7)
    a = a.model_copy(update={"lyrics": a.lyrics.model_copy(update={"lines": []})})
    (tmp_path / "flat.yaml").write_text("name: flat\nsections:\n  pre_chorus:\n    cut_beats: [2, 8]\n")

    def halves(style: str, templates_dir: str | None = None) -> tuple[float, float]:
        first, second = [], []
        for seed in range(4):
            plan = direct(a, None, DirectConfig(style=style, seed=seed, templates_dir=templates_dir))
            pre = [s for s in plan.shots if s.section == "pre_chorus"]
            mid = (pre[0].start_s + pre[-1].end_s) / 2
            for s in pre:
                (first if s.start_s < mid else second).append(s.duration_s)
        return float(np.mean(first)), float(np.mean(second))

    early, late = halves("cinematic")
    assert late < 0.7 * early
    early, late = halves("flat", str(tmp_path))
    assert late > 0.8 * early
