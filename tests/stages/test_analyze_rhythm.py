"""Rhythm on every fixture song: never worse than plain madmom, and the tempo a listener taps.

Plain madmom is computed live: our network activations equal madmom's processors' (see
test_analyze_activations.py), so madmom's beats are ``DBNBeatTrackingProcessor`` on the same
beat activation — the exact output of ``RNNBeatProcessor`` + ``DBNBeatTrackingProcessor``.
"""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from mvdirector.media.audio import load_audio
from stages.analyze import activations, bars, levels, rhythm

SONGS = Path(__file__).resolve().parents[1] / "fixtures" / "songs"
NAMES = sorted(p.name.removesuffix(".truth.json") for p in SONGS.glob("*.truth.json"))
EPS = 0.005


@pytest.fixture(scope="module")
def tracked() -> dict[str, tuple[rhythm.Rhythm, np.ndarray, dict]]:
    """Per fixture: our rhythm, plain madmom's beats, the truth."""
    from madmom.features.beats import DBNBeatTrackingProcessor

    dbn = DBNBeatTrackingProcessor(fps=100)
    out = {}
    for name in NAMES:
        y, _ = load_audio(SONGS / f"{name}.ogg", sr=activations.SR)
        act = activations.activations_of(y)
        out[name] = (
            rhythm.track_madmom(act),
            np.asarray(dbn(act.beat)),
            json.loads((SONGS / f"{name}.truth.json").read_text()),
        )
    return out


def _beat_f(truth: dict, times: np.ndarray) -> float:
    return mir_eval.beat.f_measure(np.array([b["t_s"] for b in truth["beats"]]), np.asarray(times))


@pytest.mark.parametrize("name", NAMES)
def test_beats_no_worse_than_plain_madmom(tracked, name: str) -> None:
    ours, madmom_beats, truth = tracked[name]
    assert _beat_f(truth, ours.times) >= _beat_f(truth, madmom_beats) - EPS


@pytest.mark.parametrize(
    ("name", "bpm"),
    [
        ("shuffle_12-8_63", 63.0),  # not 189 (the triplets) nor 94.5 (two triplets)
        ("halftime_4-4_140", 140.0),  # the half-time chorus does not halve the song
        ("piano_rubato_4-4_70", 66.0),  # eighth-note arpeggios are not beats (truth median: 66)
        ("offbeat_4-4_100", 100.0),
        ("hiphop_4-4_88", 88.0),
        ("swing_4-4_152", 152.0),
    ],
)
def test_listener_tempo_and_beats_on_the_traps(tracked, name: str, bpm: float) -> None:
    ours, _, truth = tracked[name]
    assert abs(ours.bpm / bpm - 1) < 0.05
    assert _beat_f(truth, ours.times) >= 0.9  # the off-beat song's beats are on the kick, not on the guitar


@pytest.mark.parametrize(
    ("name", "beats_per_bar"),
    [("pop_120_4-4", 4), ("waltz_90_3-4", 3), ("jig_6-8_66", 2), ("offbeat_4-4_100", 4), ("hiphop_4-4_88", 4)],
)
def test_meter(tracked, name: str, beats_per_bar: int) -> None:
    ours, _, truth = tracked[name]
    assert ours.beats_per_bar == beats_per_bar
    if name != "offbeat_4-4_100":  # the downbeat network hears this song's chops as bar starts
        assert mir_eval.beat.f_measure(np.array(truth["downbeats"]), ours.times[ours.positions == 1]) >= 0.9


def _acts(beat: np.ndarray, joint_beat: np.ndarray, down: np.ndarray, low: np.ndarray) -> activations.Activations:
    n = len(beat)
    return activations.Activations(
        beat=beat.astype(np.float32),
        joint=np.stack([joint_beat, down], axis=1).astype(np.float32),
        low=low.astype(np.float32),
        chroma=np.ones((n, 12), np.float16),
    )


def _pulses(n: int, every: int, offset: int = 0, height: float = 1.0) -> np.ndarray:
    x = np.zeros(n)
    x[offset::every] = height
    return x


def test_level_checks_on_synthetic_activations() -> None:
    n = 3000  # 30 s at 100 fps
    beats_60 = np.arange(50, n - 50, 100) / 100  # a tracker's answer at 60 bpm (1 s)
    # real beats every 0.5 s in both networks: tracked at half tempo, so doubled
    strong = _pulses(n, 50)
    level = levels.choose_level(_acts(strong, strong, _pulses(n, 200) * 0.5, strong), beats_60, 40, 215)
    assert level.change == "doubled" and abs(np.median(np.diff(level.times)) - 0.5) < 0.02
    # the kick sits between the tracked beats and the downbeat network does not back them: move half a beat
    acts = _acts(
        _pulses(n, 100, 50), _pulses(n, 100, 50), _pulses(n, 100, 50, 0.3) + _pulses(n, 100, 0, 0.3), _pulses(n, 100)
    )
    level = levels.choose_level(acts, beats_60, 40, 215)
    assert level.change.startswith("moved") and abs(level.times[0] % 1.0) < 0.02
    # every other tracked beat weak in both networks and the kick: halve to the strong phase
    beats_120 = np.arange(50, n - 50, 50) / 100
    alt = _pulses(n, 100, 50) + _pulses(n, 100, 0, 0.3)
    level = levels.choose_level(_acts(alt, alt, _pulses(n, 400, 50) * 0.5, _pulses(n, 100, 50)), beats_120, 40, 215)
    assert level.change == "halved" and np.allclose(level.times % 1.0, 0.5, atol=0.02)
    # a plain steady beat is left alone
    level = levels.choose_level(
        _acts(strong, strong, _pulses(n, 200) * 0.5, strong), np.arange(0, n, 50) / 100, 40, 215
    )
    assert level.change == "as tracked"


def test_bar_decoding_prefers_four_unless_clearly_otherwise() -> None:
    rng = np.random.default_rng(0)
    waltz = np.tile([0.8, 0.1, 0.1], 20) + 0.05 * rng.standard_normal(60)
    assert bars.choose_meter(waltz, (2, 3, 4)) == 3
    positions, _ = bars.decode_bars(waltz, (3,))
    assert list(positions[:6]) == [1, 2, 3, 1, 2, 3]
    noise = np.clip(0.3 + 0.1 * rng.standard_normal(64), 0.05, 0.95)
    assert bars.choose_meter(noise, (2, 3, 4)) == 4
    # a beat the tracker dropped: the count slips and finds the bar again
    p = np.r_[np.tile([0.9, 0.1, 0.2, 0.1], 6), [0.9, 0.1, 0.2], np.tile([0.9, 0.1, 0.2, 0.1], 6)]
    positions, _ = bars.decode_bars(p, (4,))
    assert positions[24] == 1 and positions[27] == 1 and positions[-4] == 1
