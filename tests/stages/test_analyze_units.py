"""Unit checks of the analyze building blocks: novelty, boundaries, labels, chunking, word refinement."""

from __future__ import annotations

import numpy as np

from stages.analyze.frames import chunked
from stages.analyze.rhythm import Rhythm, _windows, rhythm_from
from stages.analyze.section_similarity import novelty
from stages.analyze.sections import SegmentInfo, label_segments, phrase_prior, pick_boundaries
from stages.analyze.vocals import refine_word_starts, segments_from_score


def _blocks(sizes: list[int]) -> np.ndarray:
    """A self-similarity matrix of homogeneous blocks (1 inside a block, 0.2 across)."""
    ids = np.repeat(np.arange(len(sizes)), sizes)
    return np.where(ids[:, None] == ids[None, :], 1.0, 0.2)


def test_novelty_peaks_at_block_edges_and_not_at_the_song_ends() -> None:
    nov = novelty(_blocks([8, 8, 8]), half=4)
    assert set(np.argsort(nov)[-2:]) == {8, 16}
    assert nov[0] == nov[-1] == 0.0 and nov[1] < 0.5 * nov[8]


def test_pick_boundaries_respects_minimum_length() -> None:
    nov = novelty(_blocks([4, 1, 7, 8]), half=4)
    grid = np.arange(21) * 2.0  # 2 s bars
    cuts = pick_boundaries(phrase_prior(nov), grid, min_len_s=4.0)
    assert 12 in cuts and all(b - a >= 2 for a, b in zip([0, *cuts], [*cuts, 20], strict=True))


def test_labels_follow_repetition_energy_and_vocals() -> None:
    def seg(i: int, group: int, energy: float, vocal: float) -> SegmentInfo:
        return SegmentInfo(4 * i, 4 * i + 4, 8.0 * i, 8.0 * i + 8, group, energy, vocal)

    segs = [
        seg(0, 0, 0.3, 0.0),
        seg(1, 1, 0.6, 0.9),
        seg(2, 2, 0.9, 0.9),
        seg(3, 1, 0.6, 0.9),
        seg(4, 2, 0.9, 0.9),
        seg(5, 3, 0.7, 0.8),
        seg(6, 2, 0.95, 0.9),
        seg(7, 4, 0.2, 0.0),
    ]
    assert label_segments(segs) == ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"]
    instrumental = [seg(0, 0, 0.5, 0.0), seg(1, 1, 0.9, 0.0), seg(2, 0, 0.5, 0.0)]
    labels = label_segments(instrumental)
    assert labels[0] == "chorus" or "intro" in labels  # no vocals anywhere: repetition and energy decide
    solo = [seg(0, 0, 0.7, 0.9), seg(1, 1, 0.95, 0.9)]
    assert label_segments(solo) == ["verse", "chorus"]


def test_chunked_equals_whole_signal_for_local_features() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_normal(512 * 7000).astype(np.float32)

    def fn(x: np.ndarray) -> np.ndarray:
        frames = 1 + len(x) // 512
        return np.array([np.abs(x[max(0, i * 512 - 1024) : i * 512 + 1024]).mean() for i in range(frames)])

    whole = fn(y)
    parts = chunked(y, 512, fn, chunk_frames=2600, pad_frames=8)
    assert parts.shape == whole.shape
    assert np.allclose(parts, whole)


def test_rhythm_windows_and_bars() -> None:
    assert _windows(80, 60, 10) == [(0, 80, 0, 80)]
    wins = _windows(200, 60, 10)
    assert wins[0] == (0, 70, 0, 60) and wins[-1] == (170, 200, 180, 200)
    r = rhythm_from(np.arange(9) * 0.5 + 1.0, np.array([4, 1, 2, 3, 4, 1, 2, 3, 4]))
    assert isinstance(r, Rhythm) and r.beats_per_bar == 4 and abs(r.bpm - 120) < 1e-6
    beats = r.to_beats()
    assert (beats[0].bar, beats[0].position, beats[1].bar, beats[5].bar) == (0, 4, 1, 2)


def test_word_starts_snap_to_voice_onsets_in_order() -> None:
    fps = 100.0
    onset = np.zeros(1000)
    onset[[150, 420, 700]] = [1.0, 1.0, 1.0]
    starts = refine_word_starts([1.3, 4.0, 5.0], onset, fps, ends=[1.7, 4.4, 7.2])
    assert starts == [1.5, 4.2, 7.0]  # the third word was stretched back over a pause


def test_vocal_segments_merge_short_gaps_and_drop_blips() -> None:
    fps = 10.0
    score = np.zeros(100)
    score[10:30] = 5.0
    score[33:50] = 5.0  # 0.3 s gap: merged
    score[70:71] = 5.0  # 0.1 s blip: dropped
    segs = segments_from_score(score, fps)
    assert [(s.start_s, s.end_s) for s in segs] == [(1.0, 5.0)]


def test_loudness_does_not_depend_on_the_block_size() -> None:
    from stages.analyze.energy import highpass_response, loudness

    rng = np.random.default_rng(3)
    sr = 22050
    y = (rng.standard_normal(sr * 7 + 333) * np.linspace(0.01, 0.5, sr * 7 + 333)).astype(np.float32)
    ref = loudness(y, sr, block_hops=4096).db
    for blocks in (256, 37, 8):  # 8 hops: a block shorter than the filter
        np.testing.assert_allclose(loudness(y, sr, block_hops=blocks).db, ref, atol=1e-4)
    # And it is the high-passed signal's power: the direct convolution agrees.
    h = highpass_response(sr)
    direct = np.convolve(y.astype(np.float64), h)[: len(ref) * 512]
    direct = np.pad(direct, (0, len(ref) * 512 - len(direct)))
    power = (direct.reshape(-1, 512) ** 2).mean(axis=1)
    np.testing.assert_allclose(ref, 10 * np.log10(power + 1e-12), atol=1e-3)
