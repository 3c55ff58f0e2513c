"""analyze() against the ground-truth songs in tests/fixtures/songs (scored with mir_eval)."""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from mvdirector.schemas import AudioAnalysis
from stages.analyze import AnalyzeConfig, analyze

SONGS = Path(__file__).resolve().parents[1] / "fixtures" / "songs"
NAMES = [
    "pop_120_4-4",
    "waltz_90_3-4",
    "tempo_100-140_4-4",
    "ballad_72_pickup_4-4",
    "fast_174_4-4",
    "jig_6-8_66",
    "rubato_92_4-4",
]
# songs whose form the label test checks (the jig and the rubato song have sparse lyrics)
FORM_NAMES = NAMES[:5]


@pytest.fixture(scope="module")
def analyses() -> dict[str, tuple[AudioAnalysis, dict]]:
    out = {}
    for name in NAMES:
        truth = json.loads((SONGS / f"{name}.truth.json").read_text())
        out[name] = (analyze(SONGS / f"{name}.ogg", AnalyzeConfig(asr="none")), truth)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_beats_downbeats_and_meter(analyses, name: str) -> None:
    a, truth = analyses[name]
    ref = np.array([b["t_s"] for b in truth["beats"]])
    assert mir_eval.beat.f_measure(ref, np.array(a.beat_times)) >= 0.95
    assert mir_eval.beat.f_measure(np.array(truth["downbeats"]), np.array(a.downbeats)) >= 0.85
    assert a.beats_per_bar == truth["beats_per_bar"]
    assert min(truth["bpm"]) * 0.95 <= a.bpm <= max(truth["bpm"]) * 1.05


def test_tempo_change_is_followed(analyses) -> None:
    a, _ = analyses["tempo_100-140_4-4"]
    t = np.array(a.beat_times)
    ibi_early = np.median(np.diff(t[(t > 2) & (t < 15)]))
    ibi_late = np.median(np.diff(t[t > 22]))
    assert abs(60 / ibi_early - 100) < 3 and abs(60 / ibi_late - 140) < 4


def test_pickup_and_silent_intro(analyses) -> None:
    a, truth = analyses["ballad_72_pickup_4-4"]
    assert a.beats[0].t_s > 2.3  # nothing in the 2.5 s of silence
    assert a.beats[0].bar == 0 and a.beats[0].position == 4  # the pickup beat is bar 0, beat 4
    assert a.beats[1].position == 1 and a.beats[1].bar == 1


@pytest.mark.parametrize("name", FORM_NAMES)
def test_section_boundaries_and_labels(analyses, name: str) -> None:
    a, truth = analyses[name]
    dur = a.source.duration_s
    ref = np.array([[s["start_s"], s["end_s"]] for s in truth["sections"]])
    est = np.array([[s.start_s, s.end_s] for s in a.sections])
    ref[-1, 1] = est[-1, 1] = dur
    _, _, f3 = mir_eval.segment.detection(ref, est, window=3.0, trim=True)
    assert f3 >= 0.8
    downbeats = set(a.downbeats)
    assert all(s.start_s in downbeats for s in a.sections[1:])  # boundaries sit on downbeats
    # the same labels over at least 80 % of the song
    grid = np.arange(0, dur, 0.25)
    lab = {s["label"]: s for s in truth["sections"]}
    assert lab
    ref_at = [next(s["label"] for s in reversed(truth["sections"]) if s["start_s"] <= t) for t in grid]
    est_at = [next(s.label for s in reversed(a.sections) if s.start_s <= t) for t in grid]
    assert np.mean([x == y for x, y in zip(ref_at, est_at, strict=True)]) >= 0.7


def test_six_eight_is_two_dotted_quarter_beats_per_bar(analyses) -> None:
    a, truth = analyses["jig_6-8_66"]
    assert a.beats_per_bar == 2 and abs(a.bpm - 66) < 2
    assert [s.start_s for s in a.sections][:2] == [0.0, pytest.approx(truth["sections"][1]["start_s"], abs=0.1)]


def test_repeated_choruses_share_a_group(analyses) -> None:
    a, _ = analyses["pop_120_4-4"]
    groups = {s.group for s in a.sections if s.label == "chorus"}
    assert len(groups) == 1 and sum(s.label == "chorus" for s in a.sections) == 2
    chorus_e = np.mean([s.energy for s in a.sections if s.label == "chorus"])
    intro_e = a.sections[0].energy
    assert chorus_e > intro_e + 0.2


def test_analysis_is_deterministic(analyses) -> None:
    a, _ = analyses["waltz_90_3-4"]
    again = analyze(SONGS / "waltz_90_3-4.ogg", AnalyzeConfig(asr="none"))
    assert again == a


@pytest.mark.parametrize("name", ["pop_120_4-4", "waltz_90_3-4", "ballad_72_pickup_4-4", "rubato_92_4-4"])
def test_librosa_backend_on_fixtures(name: str) -> None:
    truth = json.loads((SONGS / f"{name}.truth.json").read_text())
    a = analyze(SONGS / f"{name}.ogg", AnalyzeConfig(beats="librosa", asr="none"))
    ref = np.array([b["t_s"] for b in truth["beats"]])
    assert mir_eval.beat.f_measure(ref, np.array(a.beat_times)) >= 0.9
    assert mir_eval.beat.f_measure(np.array(truth["downbeats"]), np.array(a.downbeats)) >= 0.8
    assert "librosa" in a.provenance["beats"]
