"""Frame arithmetic of the edit: transition lengths and windows, copy/re-encode runs, sample frames."""

from __future__ import annotations

import numpy as np
from factories import make_plan
from hypothesis import given, settings
from hypothesis import strategies as st

from mvdirector.schemas import ShotPlan
from stages.assemble.colour import LabStats, apply_transform, lab_stats, match_transforms, pooled
from stages.assemble.timeline import (
    Run,
    TransitionWindow,
    edit_pieces,
    runs,
    sample_frames,
    shot_frame_ranges,
    shots_touched,
    transition_length_frames,
    transition_windows,
)
from stages.assemble.transitions import compose, crossfade_alpha, effect_weight


def plan_of(frames: list[int], kinds: list[tuple[str, float]], fps: float = 24.0, bpm: float = 120.0) -> ShotPlan:
    return make_plan(frames=frames, fps=fps, bpm=bpm, size=(64, 36), ids="s{}", transitions=dict(enumerate(kinds)))


def test_transition_length_in_frames() -> None:
    assert transition_length_frames(0, 120, 24) == 0
    assert transition_length_frames(1, 120, 24) == 12
    assert transition_length_frames(0.5, 90, 30) == 10
    assert transition_length_frames(0.01, 120, 24) == 2  # never shorter than two frames


def test_windows_are_centred_on_the_cut_and_clamped_to_short_shots() -> None:
    plan = plan_of([48, 48, 6, 48], [("crossfade", 2), ("crossfade", 1), ("flash", 2), ("whip", 1)])
    w = transition_windows(plan)
    assert w[0] == TransitionWindow(index=0, kind="crossfade", cut=0, before=0, after=24)
    assert w[1] == TransitionWindow(index=1, kind="crossfade", cut=48, before=6, after=6)
    assert w[2] == TransitionWindow(index=2, kind="flash", cut=96, before=12, after=3)  # half of a 6-frame shot
    assert w[3] == TransitionWindow(index=3, kind="whip", cut=102, before=3, after=6)
    assert shots_touched(w) == {0, 1, 2, 3}


def test_runs_split_copy_and_reencode() -> None:
    assert runs(6, {1, 2, 5}) == [Run(0, 0, True), Run(1, 2, False), Run(3, 4, True), Run(5, 5, False)]
    assert runs(3, set()) == [Run(0, 2, True)]


def test_sample_frames_avoid_transitions() -> None:
    win = [TransitionWindow(1, "crossfade", 10, 3, 3), TransitionWindow(2, "flash", 30, 4, 4)]
    picks = sample_frames(10, 30, 3, win)
    assert picks and all(13 <= p < 26 for p in picks)
    assert sample_frames(0, 1, 3, []) == [0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=8),
    st.lists(
        st.tuples(st.sampled_from(["cut", "crossfade", "flash", "whip"]), st.sampled_from([0.5, 1, 2, 4])),
        min_size=8,
        max_size=8,
    ),
)
def test_windows_never_overlap_and_stay_inside_their_shots(frames: list[int], kinds: list) -> None:
    kinds = [(k, 0.0 if k == "cut" else b) for k, b in kinds[: len(frames)]]
    plan = plan_of(frames, kinds)
    ranges = shot_frame_ranges(plan)
    wins = transition_windows(plan)
    for a, b in zip(wins, wins[1:], strict=False):
        assert a.end <= b.start
    for w in wins:
        assert ranges[w.index][0] == w.cut
        assert w.cut + w.after <= ranges[w.index][1]
        if w.before:
            assert ranges[w.index - 1][0] <= w.start
        assert plan.shots[w.index].transition_in.kind == w.kind != "cut"


def test_weights_peak_on_the_cut() -> None:
    w = TransitionWindow(1, "flash", 10, 3, 3)
    assert [round(effect_weight(w, f), 3) for f in range(6, 15)] == [
        0,
        0.25,
        0.5,
        0.75,
        1,
        0.667,
        0.333,
        0,
        0,
    ]
    assert crossfade_alpha(w, 6) == 0 and crossfade_alpha(w, 13) == 1
    assert crossfade_alpha(w, 9) < 0.5 < crossfade_alpha(w, 10)
    a, b = np.zeros((4, 8, 3), np.uint8), np.full((4, 8, 3), 200, np.uint8)
    assert compose(w, 10, a, b).min() == 255
    fade = TransitionWindow(1, "crossfade", 10, 3, 3)
    assert int(compose(fade, 9, a, b).mean()) == int(200 * 2.5 / 6)  # window starts at 7: alpha = (9 - 7 + 0.5) / 6


def test_colour_transfer_hits_the_target_statistics() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(40, 120, (32, 48, 3), dtype=np.uint8)
    src = lab_stats([img])
    target = LabStats(mean=(60.0, 5.0, -5.0), std=(src.std[0] * 1.3, src.std[1] * 0.7, src.std[2] * 0.8))
    from stages.assemble.colour import transfer

    out = lab_stats([apply_transform(img, transfer(src, target))])
    assert np.allclose(out.mean, target.mean, atol=1.5)
    assert np.allclose(out.std, target.std, rtol=0.15)
    same = LabStats((50.0, 0.0, 0.0), (10.0, 2.0, 2.0))
    plan = plan_of([10, 10, 10], [("cut", 0)] * 3)
    assert match_transforms(plan, [same, same, same]) == {}
    pooled_stats = pooled([LabStats((40.0, 0, 0), (5.0, 1, 1)), LabStats((60.0, 0, 0), (5.0, 1, 1))])
    assert pooled_stats.mean[0] == 50.0 and abs(pooled_stats.std[0] - np.sqrt(125)) < 1e-9


def test_samples_snap_to_nearby_key_frames() -> None:
    assert sample_frames(0, 60, 3, [], keyframes=(0, 12, 24, 36, 48)) == [12, 24, 48]
    assert sample_frames(0, 60, 3, [], keyframes=(0,)) == [10, 30, 50]  # too far: keep the even spacing


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=7),
    st.lists(st.sampled_from(["cut", "crossfade", "flash", "whip"]), min_size=7, max_size=7),
    st.integers(1, 30),
    st.sets(st.integers(0, 6), max_size=3),
)
def test_edit_pieces_tile_the_video_and_copy_only_untouched_clean_ranges(
    frames: list[int], kinds: list[str], gop: int, redo: set[int]
) -> None:
    plan = plan_of(frames, [(k, 0.0 if k == "cut" else 1.0) for k in kinds[: len(frames)]])
    ranges = shot_frame_ranges(plan)
    wins = transition_windows(plan)
    resumes = [tuple(range(0, b - a, gop)) for a, b in ranges]
    cuts = [tuple(sorted({*range(gop, b - a, 2), b - a})) for a, b in ranges]
    pieces = edit_pieces(ranges, wins, redo, resumes, cuts)
    assert pieces[0].start == 0 and pieces[-1].end == ranges[-1][1]
    for p, q in zip(pieces, pieces[1:], strict=False):
        assert p.end == q.start and p.end > p.start
    changed = {g for w in wins for g in range(w.start, w.end)}
    for p in pieces:
        if p.shot is None:
            continue
        a, b = ranges[p.shot]
        assert p.shot not in redo and a <= p.start < p.end <= b
        assert p.start - a in resumes[p.shot] and p.end - a in cuts[p.shot]
        assert not changed & set(range(p.start, p.end))
